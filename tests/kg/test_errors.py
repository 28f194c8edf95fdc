"""What the driver raises becomes one DatabaseError subclass with a one-line message.

The exceptions are built the way the driver builds them: connection errors from their message
(chained to the socket error under them, as the driver chains them), and the server's errors
from their status code with the driver's own constructor (``Neo4jError._hydrate_neo4j``), so the
class each code maps to is the driver's, not the test's.
"""

from __future__ import annotations

import errno
import socket

import neo4j.exceptions as nx
import pytest

from kg.errors import (
    DatabaseAuthError,
    DatabaseError,
    DatabaseUnavailableError,
    database_error,
)
from loaders.errors import SoundbridgeError

URI = "bolt://127.0.0.1:7699"
STATUS = "`soundbridge neo4j status`"


def server_error(code: str, message: str) -> nx.Neo4jError:
    """The exception the driver raises for a FAILURE message from the server."""
    return nx.Neo4jError._hydrate_neo4j(code=code, message=message)


def chained(error: BaseException, cause: BaseException) -> BaseException:
    error.__cause__ = cause
    return error


def refused() -> nx.ServiceUnavailable:
    # The driver's own wording and chain for a port nothing listens on.
    inner = chained(
        nx.ServiceUnavailable(
            "Failed to establish connection to ResolvedIPv4Address(('127.0.0.1', 7699)) "
            "(reason [Errno 111] Connection refused)"
        ),
        ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
    )
    outer = nx.ServiceUnavailable(
        "Couldn't connect to 127.0.0.1:7699 (resolved to ('127.0.0.1:7699',)):\n"
        "Failed to establish connection to ResolvedIPv4Address(('127.0.0.1', 7699)) "
        "(reason [Errno 111] Connection refused)"
    )
    return chained(outer, inner)  # type: ignore[return-value]


def one_line(error: DatabaseError) -> str:
    message = str(error)
    assert "\n" not in message and message == message.strip(), message
    assert isinstance(error, SoundbridgeError)
    return message


# -- the server is not there ------------------------------------------------------------------


def test_a_refused_connection_names_the_uri_the_reason_and_the_check():
    e = database_error(refused(), URI)
    assert type(e) is DatabaseUnavailableError
    assert one_line(e) == (
        f"no Neo4j server answers at {URI} (connection refused); is it running? {STATUS} "
        "(start it with `soundbridge neo4j start`, or point NEO4J_URI at a running server)"
    )


def test_after_waiting_the_message_says_for_how_long():
    e = database_error(refused(), URI, waited=9.6)
    assert type(e) is DatabaseUnavailableError
    assert one_line(e).startswith(
        f"Neo4j did not answer for 10 s at {URI} (connection refused); is it running? {STATUS}"
    )
    # under a second is no wait worth reporting
    assert one_line(database_error(refused(), URI, waited=0.02)).startswith("no Neo4j server")


def test_a_connection_lost_mid_query_says_the_server_stopped_answering():
    # What a command sees at once when the server is killed under a query it is reading.
    lost = chained(
        nx.SessionExpired(
            "Failed to read from defunct connection IPv4Address(('127.0.0.1', 7699))"
        ),
        OSError("No data"),
    )
    e = database_error(lost, URI)
    assert type(e) is DatabaseUnavailableError
    assert one_line(e).startswith(
        f"Neo4j at {URI} stopped answering (the connection was lost); is it running? {STATUS}"
    )


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (nx.SessionExpired("Failed to read from defunct connection"), "the connection was lost"),
        (
            chained(nx.ServiceUnavailable("Failed to read"), OSError("No data")),
            "the connection was lost",
        ),
        (chained(nx.ServiceUnavailable("timed out"), TimeoutError("timed out")), "timed out"),
        (
            chained(
                nx.ServiceUnavailable("Failed to DNS resolve address"),
                socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            ),
            "cannot resolve the host name: Name or service not known",
        ),
        (nx.ConnectionAcquisitionTimeoutError("failed to obtain a connection"), "no connection"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "connection refused"),
        (
            ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
            "the connection was lost",
        ),
        (TimeoutError("timed out"), "timed out"),
    ],
)
def test_every_way_of_not_answering_is_unavailable(error, reason):
    e = database_error(error, URI, waited=10.0)
    assert type(e) is DatabaseUnavailableError
    message = one_line(e)
    assert message.startswith(f"Neo4j did not answer for 10 s at {URI} ({reason}")
    assert STATUS in message


def test_a_commit_cut_short_says_the_write_may_or_may_not_have_happened():
    e = database_error(chained(nx.IncompleteCommit("lost"), OSError("No data")), URI)
    assert type(e) is DatabaseUnavailableError
    message = one_line(e)
    assert URI in message and "may or may not have been saved" in message and STATUS in message


def test_a_database_that_is_not_available_yet():
    error = server_error(
        "Neo.TransientError.General.DatabaseUnavailable", "Database 'neo4j' is unavailable."
    )
    assert isinstance(error, nx.DatabaseUnavailable)  # the driver's class for that code
    e = database_error(error, URI)
    assert type(e) is DatabaseUnavailableError
    assert URI in one_line(e) and STATUS in one_line(e)


# -- the server answers but refuses ----------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "Neo.ClientError.Security.Unauthorized",
        "Neo.ClientError.Security.AuthenticationRateLimit",
        "Neo.ClientError.Security.TokenExpired",
    ],
)
def test_refused_credentials_say_which_variables_to_set(code):
    e = database_error(
        server_error(code, "The client is unauthorized due to authentication failure."), URI
    )
    assert type(e) is DatabaseAuthError
    message = one_line(e)
    assert message.startswith(f"the Neo4j server at {URI} refused the credentials (")
    assert "NEO4J_USER" in message and "NEO4J_PASSWORD" in message
    assert "$SOUNDBRIDGE_HOME/neo4j-password" in message


def test_a_forbidden_operation_is_not_a_credentials_problem():
    e = database_error(
        server_error("Neo.ClientError.Security.Forbidden", "Permission denied."), URI
    )
    assert type(e) is DatabaseError
    assert "Permission denied." in one_line(e)


# -- the memory guards, named by the limit that stopped the query ----------------------------


def test_the_per_transaction_memory_guard():
    # What Neo4j 5.26 sends when db.memory.transaction.max stops a query (seen from the server).
    error = server_error(
        "Neo.TransientError.General.MemoryPoolOutOfMemoryError",
        "The allocation of an extra 2.0 MiB would use more than the limit 384.0 MiB. Currently "
        "using 383.1 MiB. db.memory.transaction.max threshold reached",
    )
    assert isinstance(error, nx.TransientError)
    e = database_error(error, URI)
    assert type(e) is DatabaseError
    assert one_line(e) == (
        f"Neo4j at {URI} stopped the query: it used more memory than the server allows per "
        "transaction (db.memory.transaction.max); add LIMIT or aggregate less"
    )


@pytest.mark.parametrize(
    "code",
    [
        "Neo.TransientError.General.TransactionOutOfMemoryError",  # Neo4j 4's classification
        "Neo.ClientError.General.TransactionOutOfMemoryError",  # Neo4j 5's
    ],
)
def test_transaction_out_of_memory_without_a_setting_in_the_message(code):
    e = database_error(
        server_error(code, "The transaction used more memory than was allowed."), URI
    )
    assert "per transaction (db.memory.transaction.max); add LIMIT or aggregate less" in one_line(e)


def test_the_shared_transaction_pool():
    error = server_error(
        "Neo.TransientError.General.MemoryPoolOutOfMemoryError",
        "The allocation of an extra 8.0 MiB would use more than the limit 1.4 GiB. Currently "
        "using 1.4 GiB. dbms.memory.transaction.total.max threshold reached",
    )
    message = one_line(database_error(error, URI))
    assert "the queries running together" in message
    assert "(dbms.memory.transaction.total.max)" in message and "add LIMIT" in message


def test_the_heap():
    error = server_error(
        "Neo.TransientError.General.OutOfMemoryError", "There is not enough memory"
    )
    message = one_line(database_error(error, URI))
    assert "heap" in message and "server.memory.heap.max_size" in message
    assert "SOUNDBRIDGE_NEO4J_HEAP_MAX" in message


# -- other refusals --------------------------------------------------------------------------


def test_call_in_transactions_in_a_managed_transaction():
    error = server_error(
        "Neo.DatabaseError.Transaction.TransactionStartFailed",
        "A query with 'CALL { ... } IN TRANSACTIONS' can only be executed in an implicit "
        "transaction, but tried to execute in an explicit transaction.",
    )
    assert isinstance(error, nx.DatabaseError)
    message = one_line(database_error(error, URI))
    assert "CALL { … } IN TRANSACTIONS" in message and "remove IN TRANSACTIONS" in message


def test_a_write_in_a_read_transaction():
    error = server_error(
        "Neo.ClientError.Statement.AccessMode", "Writing in read access mode not allowed."
    )
    message = one_line(database_error(error, URI))
    assert "read-only transaction" in message and "Writing in read access mode" in message


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration", "time limit"),
        ("Neo.ClientError.Transaction.TransactionTimedOut", "time limit"),
        ("Neo.ClientError.Transaction.Terminated", "terminated the query"),
        ("Neo.TransientError.Transaction.Terminated", "terminated the query"),  # 4.x code
        ("Neo.TransientError.Transaction.DeadlockDetected", "deadlock"),
        ("Neo.TransientError.General.StackOverFlowError", "simplify it"),
    ],
)
def test_limits_and_interruptions_say_what_happened(code, words):
    message = one_line(
        database_error(server_error(code, "The transaction has been terminated."), URI)
    )
    assert message.startswith(f"Neo4j at {URI} ") and words in message


def test_a_syntax_error_quotes_the_server_on_one_line():
    error = server_error(
        "Neo.ClientError.Statement.SyntaxError",
        "Invalid input '': expected an expression (line 1, column 11 (offset: 10))\n"
        '"RETURN 1 +"\n           ^',
    )
    assert isinstance(error, nx.CypherSyntaxError)
    message = one_line(database_error(error, URI))
    assert message.startswith(f"Neo4j at {URI} refused the query (Neo.ClientError.Statement.")
    assert "Invalid input '': expected an expression" in message


def test_a_long_server_message_is_cut():
    error = server_error("Neo.ClientError.Statement.SyntaxError", "x" * 5000)
    assert len(one_line(database_error(error, URI))) < 500


def test_an_unknown_server_error_points_at_the_logs():
    error = server_error("Neo.DatabaseError.General.UnknownError", "Something broke.")
    message = one_line(database_error(error, URI))
    assert "Something broke." in message and "logs" in message and STATUS in message


# -- the driver itself -----------------------------------------------------------------------


def test_other_driver_errors_keep_their_type_name():
    message = one_line(database_error(nx.ResultConsumedError(object(), "already consumed"), URI))
    assert "ResultConsumedError" in message and URI in message


def test_a_configuration_error_points_at_the_settings():
    message = one_line(database_error(nx.ConfigurationError("bad option"), URI))
    assert "NEO4J_URI" in message and "bad option" in message
