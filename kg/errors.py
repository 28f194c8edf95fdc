"""Errors of the database layer: the Neo4j server and the connection to it.

All of them derive from :class:`~loaders.errors.SoundbridgeError`, the one exception root, so the
CLI prints their message and exits 1. The two subclasses of :class:`DatabaseError` let callers tell
"not there (yet)" from "there, but refuses these credentials" (a starting server is the former
until it answers; the latter never fixes itself).

:func:`database_error` turns whatever the Neo4j driver raises (or a socket error under it) into
one of these, with a one-line message that names the server and the fix; the CLI and the dashboard
both print that message, so a failure reads the same in either.
"""

from __future__ import annotations

import errno
import re
import socket
from collections.abc import Sequence

import neo4j.exceptions as nx

from kg.config import HOME_ENV, PASSWORD_ENV, PASSWORD_FILE_NAME, URI_ENV, USER_ENV
from loaders.errors import SoundbridgeError

__all__ = [
    "DatabaseError",
    "DatabaseUnavailableError",
    "DatabaseAuthError",
    "UnknownCultureError",
    "database_error",
]


class DatabaseError(SoundbridgeError):
    """The Neo4j server cannot be installed, started, stopped or used.

    The message says what failed, where (URI, folder, log file) and how to fix it.
    """


class DatabaseUnavailableError(DatabaseError):
    """No Neo4j server answers at the configured URI (not running, still starting, wrong port)."""


class DatabaseAuthError(DatabaseError):
    """A Neo4j server answers but refuses the configured user and password."""


class UnknownCultureError(SoundbridgeError):
    """A culture name or id that matches no Culture node (or several); ``suggestions`` lists the
    closest known names when the caller could find some."""

    def __init__(self, message: str, suggestions: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.suggestions = list(suggestions)


# -- translating the driver's exceptions -----------------------------------------------------

_CHECK = (
    "is it running? `soundbridge neo4j status` (start it with `soundbridge neo4j start`, or point "
    f"{URI_ENV} at a running server)"
)
_SMALLER = "add LIMIT or aggregate less"
_LOST = "the connection was lost"
#: Server messages are quoted in ours; a syntax error quotes the whole query, so cut them here.
_MAX_QUOTE = 300
#: The memory settings a server names when it stops a query (``... threshold reached``).
_SETTING = re.compile(r"\b((?:db|dbms|server)\.memory(?:\.[A-Za-z_]+)+)")
#: Which memory limit each status code stands for, when the server's message names none.
_MEMORY_DEFAULT = {
    "TransactionOutOfMemoryError": "db.memory.transaction.max",
    "MemoryPoolOutOfMemoryError": "dbms.memory.transaction.total.max",
    "TransactionMemoryLimit": "server.memory.off_heap.transaction_max_size",
    "OutOfMemoryError": "server.memory.heap.max_size",
}
_TIMED_OUT = {
    "Neo.ClientError.Transaction.TransactionTimedOut",
    "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration",
}
_TERMINATED = {
    "Neo.ClientError.Transaction.Terminated",
    "Neo.ClientError.Transaction.LockClientStopped",
}
_READ_ONLY = ("AccessMode", "ForbiddenOnReadOnlyDatabase", "WriteOnReadOnly", "General.ReadOnly")


def database_error(error: BaseException, uri: str, *, waited: float | None = None) -> DatabaseError:
    """The :class:`DatabaseError` to raise (or print) for an exception from the Neo4j driver.

    Use it wherever a driver call can fail outside :func:`kg.connection.connect`:
    ``raise database_error(e, settings.uri) from e``. The message is one line: what failed, at
    which server, and what to do, in the same words wherever it is shown.

    - :class:`DatabaseUnavailableError`: ``ServiceUnavailable``, ``SessionExpired``, a
      connection ``OSError`` under them, the server's ``DatabaseUnavailable``;
    - :class:`DatabaseAuthError`: ``AuthError`` and the other security codes but ``Forbidden``;
    - :class:`DatabaseError`, naming the limit or the cause: the memory guards
      (``db.memory.transaction.max``, the transaction pool, the heap), time limits, terminated
      transactions and deadlocks, ``CALL { … } IN TRANSACTIONS`` in a managed transaction, any
      other ``ClientError``, ``TransientError`` or server error, and any other ``DriverError``.

    Args:
        error: what the driver raised (anything else is described by its type and message).
        uri: the server's address, as configured (``NEO4J_URI``).
        waited: seconds spent waiting for the server before giving up (retrying, connecting),
            when the caller measured them; an unavailable server's message then says how long.

    Returns:
        The error to raise; its ``__cause__`` is not set (use ``raise ... from error``).

    Examples:
        >>> from neo4j.exceptions import ServiceUnavailable
        >>> uri = "bolt://127.0.0.1:7687"
        >>> e = database_error(ServiceUnavailable("Connection refused"), uri, waited=10.2)
        >>> type(e).__name__
        'DatabaseUnavailableError'
        >>> print(e)  # doctest: +ELLIPSIS
        Neo4j did not answer for 10 s at bolt://127.0.0.1:7687 (connection refused); is it ...
        >>> refused = ConnectionRefusedError(111, "Connection refused")
        >>> print(database_error(refused, uri))  # doctest: +ELLIPSIS
        no Neo4j server answers at bolt://127.0.0.1:7687 (connection refused); is it running? ...
    """
    if isinstance(error, nx.Neo4jError):
        return _server_error(error, uri)
    if isinstance(error, nx.IncompleteCommit):
        return DatabaseUnavailableError(
            f"Neo4j at {uri} stopped answering while a write was being committed "
            f"({_reason(error)}), so it may or may not have been saved; {_CHECK}, then check "
            "the data before running the command again"
        )
    lost = nx.ServiceUnavailable | nx.SessionExpired | nx.ConnectionAcquisitionTimeoutError
    if isinstance(error, lost | OSError):
        return _unavailable(uri, _reason(error), waited)
    if isinstance(error, nx.ConfigurationError):
        return DatabaseError(
            f"the Neo4j driver rejects its configuration for {uri}: {_quote(error)}; check "
            f"{URI_ENV}, {USER_ENV} and {PASSWORD_ENV}"
        )
    if isinstance(error, nx.DriverError):
        return DatabaseError(
            f"the Neo4j driver failed while talking to {uri} ({type(error).__name__}: "
            f"{_quote(error)}); this is a bug in soundbridge: please report it"
        )
    return DatabaseError(
        f"talking to Neo4j at {uri} failed ({type(error).__name__}: {_quote(error)})"
    )


def _unavailable(uri: str, reason: str, waited: float | None) -> DatabaseUnavailableError:
    if waited is not None and waited >= 1.0:
        what = f"Neo4j did not answer for {waited:.0f} s at {uri}"
    elif reason == _LOST:
        what = f"Neo4j at {uri} stopped answering"
    else:
        what = f"no Neo4j server answers at {uri}"
    return DatabaseUnavailableError(f"{what} ({reason}); {_CHECK}")


def _server_error(error: nx.Neo4jError, uri: str) -> DatabaseError:
    """An error the server sent (it has a status code such as ``Neo.ClientError.X.Y``)."""
    code = error.code or ""
    title = code.rsplit(".", 1)[-1]
    said = _quote(error.message or error)
    if title in _MEMORY_DEFAULT:
        return DatabaseError(_memory_message(title, error.message or "", uri))
    if title == "StackOverFlowError":
        return DatabaseError(
            f"Neo4j at {uri} ran out of stack running the query (it nests too deeply); simplify it"
        )
    if code in _TIMED_OUT:
        return DatabaseError(
            f"Neo4j at {uri} stopped the query at its time limit; make it cheaper ({_SMALLER}, "
            "or match on indexed properties)"
        )
    if code in _TERMINATED:
        return DatabaseError(
            f"Neo4j at {uri} terminated the query (an operator stopped it, or the server is "
            "shutting down); run it again, and check `soundbridge neo4j status` if it repeats"
        )
    if title == "DeadlockDetected":
        return DatabaseError(
            f"Neo4j at {uri} stopped the transaction: it and another one waited on each other "
            "(deadlock); run the command again"
        )
    if title == "DatabaseUnavailable":
        return DatabaseUnavailableError(
            f"the database at {uri} is not available (starting, stopping or failed: {said}); "
            "wait a moment and run the command again, or see `soundbridge neo4j status`"
        )
    security = code.startswith("Neo.ClientError.Security.") and title != "Forbidden"
    if security or isinstance(error, nx.AuthError):
        return DatabaseAuthError(
            f"the Neo4j server at {uri} refused the credentials ({said}); set {USER_ENV} and "
            f"{PASSWORD_ENV} to the server's (soundbridge's own server keeps its password in "
            f"${HOME_ENV}/{PASSWORD_FILE_NAME})"
        )
    if any(part in code for part in _READ_ONLY):
        return DatabaseError(
            f"Neo4j at {uri} refused to write: the query runs in a read-only transaction "
            f"(server said: {said})"
        )
    if "IN TRANSACTIONS" in (error.message or ""):
        return DatabaseError(
            f"Neo4j at {uri} cannot run CALL {{ … }} IN TRANSACTIONS here: it needs an "
            "auto-commit transaction and soundbridge runs queries in managed ones; remove "
            "IN TRANSACTIONS"
        )
    if isinstance(error, nx.TransientError):
        return DatabaseError(
            f"Neo4j at {uri} could not run the query just now ({code}: {said}); run the command "
            "again in a moment"
        )
    if isinstance(error, nx.ClientError):
        return DatabaseError(f"Neo4j at {uri} refused the query ({code}: {said})")
    return DatabaseError(
        f"Neo4j at {uri} failed running the query ({code}: {said}); see the server's logs "
        "(`soundbridge neo4j status` shows its home)"
    )


def _memory_message(title: str, message: str, uri: str) -> str:
    found = _SETTING.search(message)
    setting = found.group(1) if found else _MEMORY_DEFAULT[title]
    stopped = f"Neo4j at {uri} stopped the query:"
    if setting == "db.memory.transaction.max":
        return (
            f"{stopped} it used more memory than the server allows per transaction "
            f"({setting}); {_SMALLER}"
        )
    if setting.endswith(".total.max"):
        return (
            f"{stopped} the queries running together used more memory than the server allows "
            f"({setting}); run it again when fewer run, or {_SMALLER}"
        )
    if setting == "server.memory.heap.max_size":
        return (
            f"{stopped} the server ran out of heap memory ({setting}); {_SMALLER}, or give "
            "soundbridge's own server more heap (SOUNDBRIDGE_NEO4J_HEAP_MAX) and restart it"
        )
    return f"{stopped} it needed more memory than the server allows ({setting}); {_SMALLER}"


def _reason(error: BaseException) -> str:
    """Why the connection failed, in a few words, from the socket error under the driver's."""
    seen: set[int] = set()
    cause: BaseException | None = error
    os_error: OSError | None = None
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError):
            os_error = cause  # keep the innermost
        cause = cause.__cause__ or cause.__context__
    if os_error is not None:
        if isinstance(os_error, ConnectionRefusedError) or os_error.errno == errno.ECONNREFUSED:
            return "connection refused"
        if isinstance(os_error, TimeoutError):
            return "timed out"
        if isinstance(os_error, socket.gaierror):
            return f"cannot resolve the host name: {os_error.strerror or os_error}"
        if isinstance(os_error, ConnectionError) or not os_error.errno:
            return _LOST
        return _quote(os_error.strerror or os_error)
    if isinstance(error, nx.ConnectionAcquisitionTimeoutError):
        return "no connection could be made in time"
    text = _quote(error)
    if isinstance(error, nx.SessionExpired) or "defunct" in text:
        return _LOST
    if "refused" in text.lower():
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    return text or type(error).__name__


def _quote(text: object) -> str:
    """``text`` on one line (the driver's messages span several), cut to a readable length."""
    line = " ".join(str(text).split())
    return line if len(line) <= _MAX_QUOTE else line[: _MAX_QUOTE - 1] + "…"
