"""A Neo4j server killed in the middle of a query: the command line says so on one line, in time.

A private server (``neo4j_server_factory``) runs a long query for ``soundbridge cypher``; the
test kills the server's process (SIGKILL, as the kernel's OOM killer or a crash would) once the
query shows in ``SHOW TRANSACTIONS``. The command must end with exit status 1 and one line that
names the server and the check to run, within the retry budget; a driver from
:func:`kg.connection.connect` must give up within its own budget; and the next command, with
the server gone, must say so at once.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import neo4j
import pytest

from kg.config import HOME_ENV, PASSWORD_ENV, URI_ENV, USER_ENV
from kg.connection import DEFAULT_RETRY_SECONDS, connect
from kg.errors import DatabaseUnavailableError, database_error
from soundbridge.cli import DEBUG_ENV, main

pytestmark = [pytest.mark.neo4j, pytest.mark.reliability]

START_TIMEOUT = 180.0
STATUS = "`soundbridge neo4j status`"
LONG_QUERY = "UNWIND range(1, 4000000000) AS x RETURN count(x) AS n"
RUNNING = (
    "SHOW TRANSACTIONS YIELD currentQuery WHERE currentQuery CONTAINS $text RETURN count(*) AS n"
)
#: The budget a dashboard asks for; the monitoring driver uses it.
SHORT_BUDGET = 3.0


def _wait_until_running(driver: neo4j.Driver, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records, _, _ = driver.execute_query(RUNNING, text=text)
        if records[0]["n"]:
            return
        time.sleep(0.1)
    raise AssertionError(f"the query {text!r} did not start within {timeout:.0f} s")


def _one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_a_server_killed_mid_query(neo4j_server_factory, monkeypatch, capsys):
    server = neo4j_server_factory()
    server.start(timeout=START_TIMEOUT, die_with_parent=True)
    settings = server.settings
    uri = settings.uri
    monkeypatch.setenv(URI_ENV, uri)
    monkeypatch.setenv(USER_ENV, settings.user)
    monkeypatch.setenv(PASSWORD_ENV, settings.password)
    monkeypatch.setenv(HOME_ENV, str(settings.home))
    monkeypatch.setenv("SOUNDBRIDGE_QUERY_TIMEOUT", "600")  # the kill, not the limit, ends it
    monkeypatch.delenv(DEBUG_ENV, raising=False)

    status: list[int] = []
    command = threading.Thread(target=lambda: status.append(main(["cypher", LONG_QUERY])))
    with connect(settings, retry_seconds=SHORT_BUDGET) as watcher:
        command.start()
        _wait_until_running(watcher, "UNWIND range(1, 4000000000)")
        pid = server.status().pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()

        command.join(timeout=DEFAULT_RETRY_SECONDS + 30)
        assert not command.is_alive(), "the command still waits after the budget"
        answered = time.monotonic() - killed
        assert status == [1]
        line = _one_line(capsys.readouterr().err)
        assert line.startswith("error: ") and uri in line and STATUS in line
        assert answered < DEFAULT_RETRY_SECONDS + 5  # it used to retry for about 60 s

        # A driver from connect() that meets the dead server retries for its budget, no longer.
        started = time.monotonic()
        with pytest.raises(
            (neo4j.exceptions.ServiceUnavailable, neo4j.exceptions.SessionExpired)
        ) as e:
            watcher.execute_query("RETURN 1")
        waited = time.monotonic() - started
        assert SHORT_BUDGET * 0.75 <= waited <= SHORT_BUDGET + 1.5
        error = database_error(e.value, uri, waited=waited)
        assert isinstance(error, DatabaseUnavailableError)
        assert str(error).startswith(f"Neo4j did not answer for 3 s at {uri} (connection refused)")

    # The next command, with the server down, is refused at once.
    started = time.monotonic()
    assert main(["cypher", "RETURN 1"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"error: no Neo4j server answers at {uri} (connection refused)")
    assert STATUS in line
    assert time.monotonic() - started < 5.0
