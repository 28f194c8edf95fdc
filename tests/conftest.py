"""Fixtures shared by the whole suite: the real Neo4j server and clean graphs on it.

The database tier runs against Neo4j Community's own server, installed and started by
:class:`kg.server.Neo4jServer` once per session on a free loopback port with a temporary
``SOUNDBRIDGE_HOME`` (never the developer's server, never a mocked driver):

- ``neo4j_server`` (session): the started :class:`~kg.server.Neo4jServer`; its ``settings`` hold
  ``uri``, ``user`` and ``password``.
- ``neo4j_driver`` (session): a driver built by :func:`kg.connection.connect`.
- ``neo4j_db`` (function): that driver, after every node, relationship, constraint and index
  (but Neo4j's own token lookup indexes) has been dropped.
- ``neo4j_server_factory`` (function): makes more servers (own home and port, not started) and
  stops them after the test.

The suite is hermetic: :func:`pytest_configure` points ``SOUNDBRIDGE_HOME`` at a temporary folder
and ``NEO4J_URI`` at a loopback port that nothing listens on (reserved, so no test server gets it),
and unsets the other connection variables, so no test reads the developer's ``~/.soundbridge``,
caches or credentials, or reaches a server the developer (or ``make demo``) left running; a test
that forgets to pass its own settings fails with "no Neo4j server answers" instead. Only the
installed Neo4j jars (``SOUNDBRIDGE_NEO4J_LIB``) and the data (``SOUNDBRIDGE_DATA``) are shared.

Tests that use them must be marked ``@pytest.mark.neo4j`` (collection fails otherwise), so that
``-m "not neo4j"`` is a complete run of the fast tier. The server's jars are installed once per
machine in ``SOUNDBRIDGE_NEO4J_LIB`` (default ``~/.cache/soundbridge/neo4j-<version>/lib``);
the memory variables ``SOUNDBRIDGE_NEO4J_HEAP_INITIAL``, ``..._HEAP_MAX``, ``..._PAGECACHE``
apply to the session server.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import neo4j
import pytest

from kg.config import (
    HOME_ENV,
    HTTP_PORT_ENV,
    PASSWORD_ENV,
    URI_ENV,
    USER_ENV,
    Neo4jSettings,
)
from kg.connection import connect
from kg.server import Neo4jServer

__all__ = ["free_port", "server_settings"]

DATA_ENV = "SOUNDBRIDGE_DATA"
REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

NEO4J_FIXTURES = ("neo4j_server", "neo4j_driver", "neo4j_db", "neo4j_server_factory")
START_TIMEOUT = 180.0

# Test-only Cypher that empties the graph between tests.
_DELETE_ALL = "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
_CONSTRAINTS = "SHOW CONSTRAINTS YIELD name RETURN name"
_INDEXES = "SHOW INDEXES YIELD name, type, owningConstraint WHERE type <> 'LOOKUP' RETURN name"
_DROP_CONSTRAINT = "DROP CONSTRAINT $name IF EXISTS"
_DROP_INDEX = "DROP INDEX $name IF EXISTS"

#: Variables the session replaces or removes, and their values before it (restored afterwards).
_ISOLATED = (
    DATA_ENV,
    HOME_ENV,
    URI_ENV,
    USER_ENV,
    PASSWORD_ENV,
    HTTP_PORT_ENV,
    "SOUNDBRIDGE_QUERY_TIMEOUT",
    "SOUNDBRIDGE_QUERY_MAX_ROWS",
    "SOUNDBRIDGE_QUERY_MAX_BYTES",
    "SOUNDBRIDGE_QUERY_MAX_PROJECTION_BYTES",
)
_saved_env: dict[str, str | None] = {}
_session_home: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Isolate the session from the developer's environment (see the module docstring).

    ``SOUNDBRIDGE_DATA`` defaults to ``<repo>/../shared/data`` when unset.
    """
    global _session_home
    _saved_env.update({name: os.environ.get(name) for name in _ISOLATED})
    for name in _ISOLATED[3:]:
        os.environ.pop(name, None)
    if not os.environ.get(DATA_ENV) and SHARED_DATA.is_dir():
        os.environ[DATA_ENV] = str(SHARED_DATA)
    _session_home = Path(tempfile.mkdtemp(prefix="soundbridge-test-home-"))
    os.environ[HOME_ENV] = str(_session_home)
    os.environ[URI_ENV] = f"bolt://127.0.0.1:{free_port()}"


def pytest_unconfigure(config: pytest.Config) -> None:
    """Put the isolated variables back as they were and remove the session's home."""
    for name, value in _saved_env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    if _session_home is not None:
        shutil.rmtree(_session_home, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse tests that use the database fixtures without the ``neo4j`` marker."""
    unmarked = [
        item.nodeid
        for item in items
        if item.get_closest_marker("neo4j") is None
        and set(NEO4J_FIXTURES) & set(getattr(item, "fixturenames", ()))
    ]
    if unmarked:
        raise pytest.UsageError(
            "these tests use the Neo4j fixtures but are not marked @pytest.mark.neo4j "
            "(add the marker, or pytestmark = pytest.mark.neo4j in the module):\n  "
            + "\n  ".join(unmarked)
        )


_given_ports: set[int] = set()


def free_port() -> int:
    """Return a loopback TCP port that nothing listens on now and this session has not handed out.

    The kernel picks it (bind to port 0); remembering the ports already given keeps two servers
    made before either has started from getting the same one.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _given_ports:
            _given_ports.add(port)
            return port


def cli_env(settings: Neo4jSettings, *, inherit: bool = True) -> dict[str, str]:
    """The environment that points a ``soundbridge`` command (a subprocess or click's runner) at
    the test server of ``settings``: this process's variables (with ``inherit``) plus the
    server's URI, credentials, home and jars."""
    return {
        **(dict(os.environ) if inherit else {}),
        URI_ENV: settings.uri,
        USER_ENV: settings.user,
        PASSWORD_ENV: settings.password,
        HOME_ENV: str(settings.home),
        "SOUNDBRIDGE_NEO4J_LIB": str(settings.lib),
    }


def operator_env(settings: Neo4jSettings, **extra: str) -> dict[str, str]:
    """An operator's shell for the local test server: its URI, home and jars, and no password
    (the command reads the one the server generated into its home); ``extra`` adds variables."""
    return {
        URI_ENV: settings.uri,
        HOME_ENV: str(settings.home),
        "SOUNDBRIDGE_NEO4J_LIB": str(settings.lib),
        PASSWORD_ENV: "",
        **extra,
    }


def gds_catalog(driver: neo4j.Driver) -> list[str]:
    """The names of the graphs in the server's GDS catalog (projections left in memory)."""
    listed = driver.execute_query("CALL gds.graph.list() YIELD graphName RETURN graphName")
    return [r["graphName"] for r in listed.records]


def server_settings(home: Path, port: int, **env: str) -> Neo4jSettings:
    """Settings for a test server at ``bolt://127.0.0.1:<port>`` living in ``home``.

    The developer's own ``NEO4J_*`` variables and HTTP port are ignored, so the password is
    generated into ``home/neo4j-password``; ``env`` adds or overrides variables (e.g. memory).
    """
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in (URI_ENV, USER_ENV, PASSWORD_ENV, HOME_ENV, HTTP_PORT_ENV)
    }
    base.update({URI_ENV: f"bolt://127.0.0.1:{port}", HOME_ENV: str(home)}, **env)
    return Neo4jSettings.from_env(base)


@pytest.fixture(scope="session")
def neo4j_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Neo4jServer]:
    """Neo4j Community, installed if needed and started once per session on a free port."""
    home = tmp_path_factory.mktemp("soundbridge-home")
    server = Neo4jServer(server_settings(home, free_port()))
    server.install()
    server.start(timeout=START_TIMEOUT, die_with_parent=True)
    try:
        yield server
    finally:
        server.stop(timeout=60.0, force=True)


@pytest.fixture(scope="session")
def neo4j_driver(neo4j_server: Neo4jServer) -> Iterator[neo4j.Driver]:
    """A driver for the session server, built the one way soundbridge builds drivers."""
    with connect(neo4j_server.settings) as driver:
        yield driver


@pytest.fixture
def neo4j_db(neo4j_driver: neo4j.Driver) -> neo4j.Driver:
    """The session driver, on a graph emptied of data, constraints and indexes."""
    wipe_graph(neo4j_driver)
    return neo4j_driver


@pytest.fixture(scope="session")
def graph_wiper() -> Callable[[neo4j.Driver], None]:
    """The function that empties a graph, for module-scoped fixtures that build their own."""
    return wipe_graph


def wipe_graph(driver: neo4j.Driver) -> None:
    """Delete every node and relationship, and drop every constraint and index we created."""
    with driver.session() as session:
        session.run(_DELETE_ALL).consume()
        for record in list(session.run(_CONSTRAINTS)):
            session.run(_DROP_CONSTRAINT, name=record["name"]).consume()
        for record in list(session.run(_INDEXES)):
            session.run(_DROP_INDEX, name=record["name"]).consume()


@pytest.fixture
def neo4j_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., Neo4jServer]]:
    """Make extra servers, each with its own temporary home and free port; stopped afterwards.

    Call it as ``make(**env)`` (``env``: variables for :meth:`Neo4jSettings.from_env`, e.g.
    ``SOUNDBRIDGE_NEO4J_HEAP_MAX="1g"``); the servers are returned unstarted. They default to a
    small memory budget, since they run beside the session server.
    """
    made: list[Neo4jServer] = []

    def make(**env: str) -> Neo4jServer:
        small = {
            "SOUNDBRIDGE_NEO4J_HEAP_INITIAL": "256m",
            "SOUNDBRIDGE_NEO4J_HEAP_MAX": "768m",
            "SOUNDBRIDGE_NEO4J_PAGECACHE": "128m",
        }
        home = tmp_path_factory.mktemp("soundbridge-extra-home")
        server = Neo4jServer(server_settings(home, free_port(), **{**small, **env}))
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            server.stop(timeout=60.0, force=True)
