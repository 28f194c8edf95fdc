"""What a person sees when a command fails: one line on stderr, an exit status, no traceback.

Run through :func:`soundbridge.cli.main`, as the ``soundbridge`` script runs it. NEO4J_URI points
at a loopback port nothing listens on (tests/conftest.py), so every command that connects is
refused at once. Commands that only a test needs (one with a bug, one that meets the driver
without :func:`kg.connection.connect`) are added to the group for the test and removed after.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import click
import neo4j
import pytest

from kg.config import URI_ENV
from soundbridge.cli import DEBUG_ENV, cli, main
from tests.conftest import free_port

STATUS = "`soundbridge neo4j status`"


@pytest.fixture
def closed_uri(monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"bolt://127.0.0.1:{free_port()}"
    monkeypatch.setenv(URI_ENV, uri)
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    return uri


@pytest.fixture
def add_command() -> Iterator[Callable[[Callable[[], None]], str]]:
    """Register a test-only command on the ``soundbridge`` group; returns its name."""
    added: list[str] = []

    def add(body: Callable[[], None]) -> str:
        name = f"test-{body.__name__.replace('_', '-')}"
        cli.add_command(click.command(name)(body))
        added.append(name)
        return name

    yield add
    for name in added:
        cli.commands.pop(name, None)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, float]:
    """Exit status, stderr and seconds taken of ``soundbridge *argv``."""
    started = time.monotonic()
    status = main(list(argv))
    took = time.monotonic() - started
    return status, capsys.readouterr().err, took


def one_error_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0]


# -- bad input: a usage error, where the argument is parsed ----------------------------------


@pytest.mark.parametrize(
    ("argv", "param", "command"),
    [
        (["search", ""], "'QUERY': empty; give what to look for", "search"),
        (["search", "   "], "'QUERY': blank; give what to look for", "search"),
        (["search", "jazz", "--culture", ""], "'--culture': empty; give a culture name", "search"),
        (
            ["recommend", "similar", "", "--culture", "Ewe"],
            "'TRACK': empty; give a track id",
            "recommend similar",
        ),
        (
            ["recommend", "similar", "NHS2-QAHO", "--culture", " "],
            "'--culture': blank",
            "recommend similar",
        ),
        (["recommend", "user", "2", "--culture", ""], "'--culture': empty", "recommend user"),
        (["export-user-recs", "--out", ""], "'--out': empty; give a path", "export-user-recs"),
        (["gnn", "evaluate", "--out", " "], "'--out': blank; give a path", "gnn evaluate"),
    ],
)
def test_empty_text_is_a_one_line_usage_error(capsys, closed_uri, argv, param, command):
    status, err, _ = run(capsys, *argv)
    assert status == 2
    line = one_error_line(err)
    assert f"Invalid value for {param}" in line
    assert line.endswith(f"(see `soundbridge {command} --help`)")


def test_an_unknown_command_is_one_line_too(capsys, closed_uri):
    status, err, _ = run(capsys, "serch", "jazz")
    assert status == 2
    line = one_error_line(err)
    assert line.startswith("error: No such command 'serch'.")
    assert line.endswith("(see `soundbridge --help`)")


def test_help_and_version_exit_0(capsys):
    assert main(["--help"]) == 0
    assert main(["--version"]) == 0
    assert "Traceback" not in capsys.readouterr().err


# -- no server -------------------------------------------------------------------------------


def test_no_server_is_one_line_naming_the_uri_and_the_check(capsys, closed_uri):
    status, err, took = run(capsys, "cypher", "RETURN 1")
    assert status == 1
    line = one_error_line(err)
    assert line.startswith(f"error: no Neo4j server answers at {closed_uri} (connection refused)")
    assert STATUS in line
    assert took < 5.0  # a refused connection is not worth the 10 s retry budget


def test_debug_adds_the_traceback(capsys, closed_uri):
    status, err, _ = run(capsys, "--debug", "cypher", "RETURN 1")
    assert status == 1
    assert "Traceback (most recent call last)" in err
    assert "ConnectionRefusedError" in err  # the chain down to the socket
    assert (
        err.strip().splitlines()[-1].startswith(f"error: no Neo4j server answers at {closed_uri}")
    )


def test_the_debug_variable_does_the_same(capsys, closed_uri, monkeypatch):
    monkeypatch.setenv(DEBUG_ENV, "1")
    status, err, _ = run(capsys, "cypher", "RETURN 1")
    assert status == 1
    assert "Traceback (most recent call last)" in err


# -- driver exceptions that escape a command -------------------------------------------------


def _raw_driver(uri: str, retry: float) -> neo4j.Driver:
    # Built here rather than by connect(), which would refuse to hand over a driver for a server
    # that does not answer: this is the driver meeting the dead server in the middle of a command.
    return neo4j.GraphDatabase.driver(
        uri, auth=("neo4j", "x"), max_transaction_retry_time=retry, connection_timeout=2.0
    )


def test_a_driver_error_escaping_a_command_is_translated(capsys, closed_uri, add_command):
    def verify() -> None:
        with _raw_driver(closed_uri, 0.0) as driver:
            driver.verify_connectivity()

    status, err, _ = run(capsys, add_command(verify))
    assert status == 1
    line = one_error_line(err)
    assert line.startswith(f"error: no Neo4j server answers at {closed_uri} (connection refused)")
    assert STATUS in line


def test_after_retrying_it_says_how_long_it_waited_and_hides_the_retries(
    capsys, closed_uri, add_command
):
    def query() -> None:
        with _raw_driver(closed_uri, 2.0) as driver:
            driver.execute_query("RETURN 1")

    status, err, took = run(capsys, add_command(query))
    assert status == 1
    line = one_error_line(err)  # the driver's "will be retried" warnings are not shown
    waited = re.match(rf"error: Neo4j did not answer for (\d+) s at {closed_uri} \(", line)
    assert waited is not None, line
    assert 1 <= int(waited.group(1)) <= round(took) + 1
    assert STATUS in line


def test_with_debug_the_retries_are_shown(capsys, closed_uri, add_command):
    def query() -> None:
        with _raw_driver(closed_uri, 1.0) as driver:
            driver.execute_query("RETURN 1")

    status, err, _ = run(capsys, "--debug", add_command(query))
    assert status == 1
    assert "will be retried" in err and "Traceback" in err


# -- bugs and interruptions ------------------------------------------------------------------


def test_a_bug_is_one_line_internal_error_exit_2(capsys, add_command, monkeypatch):
    monkeypatch.delenv(DEBUG_ENV, raising=False)

    def buggy() -> None:
        raise KeyError("culture_filter")

    status, err, _ = run(capsys, add_command(buggy))
    assert status == 2
    assert one_error_line(err) == (
        "error: internal error: KeyError: 'culture_filter' (run with --debug for the traceback)"
    )

    status, err, _ = run(capsys, "--debug", "test-buggy")
    assert status == 2
    assert "Traceback (most recent call last)" in err and "raise KeyError" in err


def test_a_multi_line_bug_message_stays_on_one_line(capsys, add_command):
    def buggy_lines() -> None:
        raise ValueError("first\nsecond")

    status, err, _ = run(capsys, add_command(buggy_lines))
    assert status == 2
    assert "ValueError: first second (run with --debug" in one_error_line(err)


def test_a_file_error_is_not_taken_for_the_database(capsys, closed_uri, add_command):
    def missing() -> None:
        open("/nonexistent/soundbridge/file")  # noqa: SIM115

    status, err, _ = run(capsys, add_command(missing))
    assert status == 2
    line = one_error_line(err)
    assert "FileNotFoundError" in line and "Neo4j" not in line


def test_ctrl_c_exits_130(capsys, add_command):
    def interrupted() -> None:
        raise KeyboardInterrupt

    status, err, _ = run(capsys, add_command(interrupted))
    assert status == 130
    assert err.strip() == "aborted" and "Traceback" not in err


def test_a_closed_pipe_ends_quietly(capsys, add_command):
    def piped() -> None:
        raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(SystemExit) as e:  # click's own handling, as `soundbridge … | head` gets
        main([add_command(piped)])
    assert e.value.code == 1
    assert capsys.readouterr().err == ""
