"""soundbridge's own Neo4j server: configuration (unit tier) and the real server (neo4j tier)."""

from __future__ import annotations

import http.server
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from kg.config import NEO4J_VERSION, Neo4jSettings, load_or_create_password
from kg.connection import connect
from kg.errors import DatabaseAuthError, DatabaseError, DatabaseUnavailableError
from kg.server import (
    ENTRY_POINT,
    Neo4jServer,
    default_pom,
    installed_marker,
    served_browser_url,
)
from loaders.errors import ConfigError
from soundbridge.cli import cli
from tests.conftest import free_port, operator_env

REPO = Path(__file__).resolve().parents[2]

# Test-only Cypher.
_CREATE_MARK = "CREATE (:Mark {name: $name})"
_COUNT_MARKS = "MATCH (m:Mark {name: $name}) RETURN count(m) AS n"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Settings for a server of this test: its own home, and a free port unless ``extra`` names
    one (never the default 7687, where the developer's own server may be running)."""
    uri = f"bolt://127.0.0.1:{free_port()}"
    return {"SOUNDBRIDGE_HOME": str(tmp_path / "home"), "NEO4J_URI": uri, **extra}


def _default_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Like :func:`_env` but with the default URI, for tests of the defaults themselves."""
    return {"SOUNDBRIDGE_HOME": str(tmp_path / "home"), **extra}


def _fake_lib(tmp_path: Path) -> Path:
    """A lib folder that passes the installed check but holds no real jar."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / ".soundbridge-neo4j-version").write_text(installed_marker())
    (lib / f"neo4j-{NEO4J_VERSION}.jar").write_bytes(b"")
    return lib


def _listening_ports(pid: int) -> set[int]:
    """TCP ports process ``pid`` listens on (Linux: its socket inodes matched in /proc/net)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


# -- configuration (no server) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"NEO4J_URI": "http://127.0.0.1:7474"},
            r"NEO4J_URI='http://127.0.0.1:7474'.*scheme 'http'.*bolt://",
        ),
        ({"NEO4J_URI": "127.0.0.1:7687"}, r"NEO4J_URI=.*scheme.*bolt://"),
        (
            {"NEO4J_URI": "bolt://127.0.0.1:99999"},
            r"NEO4J_URI=.*port must be a number between 1 and 65535",
        ),
        ({"NEO4J_URI": "bolt://127.0.0.1:abc"}, r"NEO4J_URI=.*port must be a number"),
        ({"NEO4J_URI": "bolt://127.0.0.1:0"}, r"NEO4J_URI=.*port 0"),
        ({"NEO4J_URI": "bolt://"}, r"NEO4J_URI=.*no host"),
        ({"NEO4J_URI": "bolt://neo4j:pw@127.0.0.1"}, r"credentials.*NEO4J_USER.*NEO4J_PASSWORD"),
        ({"NEO4J_URI": "bolt://127.0.0.1:7687/db"}, r"no path"),
        ({"SOUNDBRIDGE_NEO4J_HEAP_MAX": "lots"}, r"SOUNDBRIDGE_NEO4J_HEAP_MAX='lots'.*512m or 2g"),
        (
            {"SOUNDBRIDGE_NEO4J_PAGECACHE": "1.5g"},
            r"SOUNDBRIDGE_NEO4J_PAGECACHE='1.5g'.*memory size",
        ),
        (
            {"SOUNDBRIDGE_NEO4J_HEAP_INITIAL": "4g", "SOUNDBRIDGE_NEO4J_HEAP_MAX": "1g"},
            r"initial heap 4g is larger than the maximum heap 1g.*SOUNDBRIDGE_NEO4J_HEAP_INITIAL",
        ),
        (
            {"SOUNDBRIDGE_NEO4J_HTTP_PORT": "0"},
            r"SOUNDBRIDGE_NEO4J_HTTP_PORT='0'.*between 1 and 65535",
        ),
        (
            {"SOUNDBRIDGE_NEO4J_HTTP_PORT": "7687"},
            r"SOUNDBRIDGE_NEO4J_HTTP_PORT=7687 is also the Bolt port",
        ),
    ],
)
def test_invalid_settings_name_variable_value_and_fix(tmp_path, env, expected):
    with pytest.raises(ConfigError, match=expected):
        Neo4jSettings.from_env(_default_env(tmp_path, **env))
    assert not (tmp_path / "home").exists()  # nothing is written when the settings are invalid


def test_home_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "home").write_text("")
    with pytest.raises(ConfigError, match=r"SOUNDBRIDGE_HOME=.*not a folder"):
        Neo4jSettings.from_env(_env(tmp_path))


def test_defaults(tmp_path):
    s = Neo4jSettings.from_env(_default_env(tmp_path, NEO4J_PASSWORD="from-the-env"))
    assert (s.uri, s.user, s.password, s.password_file) == (
        "bolt://127.0.0.1:7687",
        "neo4j",
        "from-the-env",
        None,
    )
    assert (s.host, s.port, s.scheme) == ("127.0.0.1", 7687, "bolt")
    assert s.server_home == tmp_path / "home" / "neo4j"
    assert s.lib.parts[-2:] == (f"neo4j-{NEO4J_VERSION}", "lib")
    assert (s.heap_initial, s.heap_max, s.pagecache, s.http_port) == ("1g", "2g", "1g", None)
    assert "from-the-env" not in repr(s)


def test_port_defaults_to_7687_and_lib_follows_env(tmp_path):
    s = Neo4jSettings.from_env(
        _env(
            tmp_path,
            NEO4J_URI="neo4j://localhost",
            NEO4J_PASSWORD="x" * 8,
            SOUNDBRIDGE_NEO4J_LIB=str(tmp_path / "jars"),
        )
    )
    assert (s.scheme, s.host, s.port, s.lib) == ("neo4j", "localhost", 7687, tmp_path / "jars")


def test_password_is_generated_once_into_a_private_file(tmp_path):
    first = Neo4jSettings.from_env(_env(tmp_path, NEO4J_PASSWORD=""))  # empty counts as unset
    path = tmp_path / "home" / "neo4j-password"
    assert first.password_file == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == first.password
    assert len(first.password) >= 24
    again = Neo4jSettings.from_env(_env(tmp_path))
    assert again.password == first.password


def test_password_file_too_open_is_tightened_and_empty_is_refused(tmp_path):
    path = tmp_path / "neo4j-password"
    path.write_text("kept-password\n")
    path.chmod(0o644)
    assert load_or_create_password(path) == "kept-password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("\n")
    with pytest.raises(ConfigError, match=r"neo4j-password: .*empty; delete it"):
        load_or_create_password(path)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("bolt://10.1.2.3:7687", r"loopback only, not on '10.1.2.3'.*bolt://127.0.0.1:7687"),
        ("bolt://db.example.org", r"loopback only, not on 'db.example.org'"),
        ("bolt+s://127.0.0.1:7687", r"plain Bolt; use bolt://127.0.0.1:7687"),
    ],
)
def test_local_server_needs_a_loopback_plain_bolt_uri(tmp_path, uri, expected):
    settings = Neo4jSettings.from_env(_env(tmp_path, NEO4J_URI=uri, NEO4J_PASSWORD="x" * 8))
    with pytest.raises(ConfigError, match=expected):
        Neo4jServer(settings)


@pytest.mark.parametrize("uri", ["bolt://localhost:7999", "neo4j://127.0.0.1", "bolt://[::1]:7999"])
def test_loopback_uris_are_accepted(tmp_path, uri):
    Neo4jServer(Neo4jSettings.from_env(_env(tmp_path, NEO4J_URI=uri, NEO4J_PASSWORD="x" * 8)))


def test_pom_pins_the_same_neo4j_version():
    pom = ET.parse(default_pom())
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    assert pom.findtext("m:properties/m:neo4j.version", namespaces=ns) == NEO4J_VERSION
    assert default_pom() == REPO / "server" / "pom.xml"


def test_short_password_is_refused_before_first_start(tmp_path):
    settings = Neo4jSettings.from_env(_env(tmp_path, NEO4J_PASSWORD="short"))
    with pytest.raises(ConfigError, match=r"NEO4J_PASSWORD: .*at least 8 characters"):
        Neo4jServer(settings).start()


def test_start_without_install_says_to_install(tmp_path):
    env = _env(tmp_path, SOUNDBRIDGE_NEO4J_LIB=str(tmp_path / "nothing"))
    server = Neo4jServer(Neo4jSettings.from_env(env))
    assert not server.is_installed()
    with pytest.raises(DatabaseError, match=r"not installed in .*soundbridge neo4j install"):
        server.start()


def test_missing_java_is_reported(tmp_path, monkeypatch):
    env = _env(tmp_path, SOUNDBRIDGE_NEO4J_LIB=str(_fake_lib(tmp_path)))
    server = Neo4jServer(Neo4jSettings.from_env(env))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(DatabaseError, match=r"Java is not installed.*Java 17 or 21.*JAVA_HOME"):
        server.start()


def test_missing_maven_is_reported(tmp_path, monkeypatch):
    env = _env(tmp_path, SOUNDBRIDGE_NEO4J_LIB=str(tmp_path / "lib"))
    server = Neo4jServer(Neo4jSettings.from_env(env))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(DatabaseError, match=r"Maven \(mvn\) is not on PATH.*apt-get install maven"):
        server.install()


def test_server_that_cannot_come_up_reports_its_log(tmp_path):
    # The jars are empty files, so the JVM cannot find Neo4j's entry point and exits at once.
    env = _env(tmp_path, SOUNDBRIDGE_NEO4J_LIB=str(_fake_lib(tmp_path)))
    settings = Neo4jSettings.from_env(env)
    (settings.server_home / "data" / "databases" / "system").mkdir(parents=True)
    server = Neo4jServer(settings)
    with pytest.raises(DatabaseError, match=r"exited while starting") as info:
        server.start(timeout=60)
    assert ENTRY_POINT in str(info.value)  # "Could not find or load main class ..."
    assert str(server.logs_dir) in str(info.value)
    assert not server.pid_file.exists()


def test_taken_port_is_reported(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = _env(
            tmp_path,
            NEO4J_URI=f"bolt://127.0.0.1:{port}",
            SOUNDBRIDGE_NEO4J_LIB=str(_fake_lib(tmp_path)),
        )
        server = Neo4jServer(Neo4jSettings.from_env(env))
        with pytest.raises(DatabaseError, match=rf"port {port} .* already in use .*NEO4J_URI"):
            server.start()


def test_stale_pid_file_is_ignored_and_removed(tmp_path):
    server = Neo4jServer(Neo4jSettings.from_env(_env(tmp_path)))
    server.pid_file.parent.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()
    for pid in (dead.pid, os.getpid()):  # a dead process; a live one that is not Neo4j
        server.pid_file.write_text(f"{pid}\n")
        st = server.status()
        assert (st.running, st.pid, st.version) == (False, None, None)
        assert not server.pid_file.exists()
    assert server.stop() is False


def test_connect_to_nothing_says_how_to_start(tmp_path):
    with socket.socket() as s:  # a port that was free a moment ago and is closed now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Neo4jSettings.from_env(_env(tmp_path, NEO4J_URI=f"bolt://127.0.0.1:{port}"))
    with pytest.raises(DatabaseUnavailableError, match=r"no Neo4j server answers.*neo4j start"):
        connect(settings, timeout=2.0)


def test_status_of_a_stopped_server_exits_0(tmp_path):
    # the default address: a NEO4J_URI of the caller's shell must not leak in (None unsets it)
    env: dict[str, str | None] = {**_default_env(tmp_path), "NEO4J_URI": None}
    result = CliRunner().invoke(cli, ["neo4j", "status"], env=env)
    assert result.exit_code == 0, result.output
    assert "status:   not running" in result.output
    assert "uri:      bolt://127.0.0.1:7687" in result.output


class _BrowserPage(http.server.BaseHTTPRequestHandler):
    """Answers /browser/ with a page and anything else with 404, as Neo4j's HTTP connector."""

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        self.send_response(200 if self.path == "/browser/" else 404)
        self.end_headers()
        self.wfile.write(b"<title>Neo4j Browser</title>")

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_browser_url_is_read_from_the_server_s_conf_and_checked_over_http(tmp_path):
    conf = tmp_path / "neo4j.conf"
    assert served_browser_url(conf) is None  # no conf: no server has started here
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BrowserPage) as web:
        threading.Thread(target=web.serve_forever, daemon=True).start()
        try:
            port = web.server_address[1]
            enabled = (
                "server.http.enabled=true\n"
                f"server.http.listen_address=127.0.0.1:{port}\n"
                "server.https.enabled=false\n"
            )
            conf.write_text(enabled, encoding="utf-8")
            assert served_browser_url(conf) == f"http://127.0.0.1:{port}/browser/"
            conf.write_text(enabled.replace("=true", "=false", 1), encoding="utf-8")
            assert served_browser_url(conf) is None  # HTTP off: not asked, whatever listens
        finally:
            web.shutdown()
    # HTTP on in the conf, but nothing answers there (the server is gone, or still starting)
    conf.write_text(enabled, encoding="utf-8")
    assert served_browser_url(conf, timeout=1.0) is None


# -- the real server -------------------------------------------------------------------------


@pytest.mark.neo4j
def test_session_server_runs_5_26_with_a_generated_password(neo4j_server):
    st = neo4j_server.status()
    assert st.running
    assert st.version == NEO4J_VERSION and re.fullmatch(r"5\.26\.\d+", st.version)
    assert st.edition == "community"
    assert st.pid == int(neo4j_server.pid_file.read_text())
    assert (st.uri, st.home) == (neo4j_server.settings.uri, neo4j_server.home)
    password_file = neo4j_server.settings.password_file
    assert password_file is not None and stat.S_IMODE(password_file.stat().st_mode) == 0o600


@pytest.mark.neo4j
def test_second_start_is_a_quick_no_op(neo4j_server):
    pid = neo4j_server.status().pid
    started = time.monotonic()
    assert neo4j_server.start() is False
    assert time.monotonic() - started < 5
    assert neo4j_server.status().pid == pid


@pytest.mark.neo4j
def test_install_is_a_quick_no_op_when_installed(neo4j_server):
    started = time.monotonic()
    assert neo4j_server.install() is False
    assert time.monotonic() - started < 1


@pytest.mark.neo4j
def test_only_the_bolt_port_listens(neo4j_server):
    assert _listening_ports(neo4j_server.status().pid) == {neo4j_server.settings.port}


@pytest.mark.neo4j
def test_wrong_password_is_refused_with_a_hint(neo4j_server):
    from dataclasses import replace

    wrong = replace(neo4j_server.settings, password="not-the-password", password_file=None)
    with pytest.raises(DatabaseAuthError, match=r"refuses user 'neo4j'.*NEO4J_PASSWORD"):
        connect(wrong)


@pytest.mark.neo4j
def test_neo4j_db_leaves_data_and_schema_behind(neo4j_db):
    neo4j_db.execute_query("CREATE CONSTRAINT mark_name FOR (m:Mark) REQUIRE m.name IS UNIQUE")
    neo4j_db.execute_query("CREATE INDEX mark_size FOR (m:Mark) ON (m.size)")
    neo4j_db.execute_query(_CREATE_MARK, name="left over")


@pytest.mark.neo4j
def test_neo4j_db_was_wiped(neo4j_db):
    # Runs after the test above (file order), which left data and schema behind.
    assert neo4j_db.execute_query("MATCH (n) RETURN count(n) AS n").records[0]["n"] == 0
    assert neo4j_db.execute_query("SHOW CONSTRAINTS").records == []
    kinds = {r["type"] for r in neo4j_db.execute_query("SHOW INDEXES YIELD type").records}
    assert kinds <= {"LOOKUP"}


@pytest.mark.neo4j
def test_cli_status_and_start_on_a_running_server(neo4j_server):
    s = neo4j_server.settings
    env = operator_env(s)
    status = CliRunner().invoke(cli, ["neo4j", "status"], env=env)
    assert status.exit_code == 0, status.output
    assert f"status:   running (pid {neo4j_server.status().pid})" in status.output
    assert f"version:  {NEO4J_VERSION} (community)" in status.output
    start = CliRunner().invoke(cli, ["neo4j", "start"], env=env)
    assert start.exit_code == 0, start.output
    assert "already running" in start.output
    assert f"uri:      {s.uri}" in start.output
    assert "user:     neo4j" in start.output
    assert f"password: stored in {s.password_file}" in start.output


@pytest.mark.neo4j
@pytest.mark.slow
def test_two_servers_run_side_by_side(
    neo4j_server: Neo4jServer, neo4j_server_factory: Callable[..., Neo4jServer]
):
    # A password that begins with a dash and holds quotes, a backslash and a space must reach
    # neo4j-admin as one value, not as an option (a generated one begins with "-" 1 time in 64).
    other = neo4j_server_factory(NEO4J_PASSWORD='-dash "quoted" \\ and space')
    assert other.settings.port != neo4j_server.settings.port
    assert other.start(timeout=180, die_with_parent=True) is True
    assert other.status().version == NEO4J_VERSION
    assert _listening_ports(other.status().pid) == {other.settings.port}
    with connect(other.settings) as a, connect(neo4j_server.settings) as b:
        a.execute_query(_CREATE_MARK, name="side by side")
        assert a.execute_query(_COUNT_MARKS, name="side by side").records[0]["n"] == 1
        assert b.execute_query(_COUNT_MARKS, name="side by side").records[0]["n"] == 0
    assert neo4j_server.status().running


@pytest.mark.neo4j
@pytest.mark.slow
def test_stop_keeps_data(neo4j_server_factory: Callable[..., Neo4jServer]):
    server = neo4j_server_factory()
    assert server.start(timeout=180, die_with_parent=True) is True
    with connect(server.settings) as driver:
        driver.execute_query(_CREATE_MARK, name="kept")
    pid = server.status().pid
    assert server.stop() is True
    st = server.status()
    assert (st.running, st.pid, st.version) == (False, None, None)
    assert not server.pid_file.exists()
    assert server.stop() is False

    # A pid file naming a live process that is not this server (here: pytest) must not fool it.
    server.pid_file.write_text(f"{os.getpid()}\n")
    assert server.start(timeout=180, die_with_parent=True) is True
    assert server.status().pid not in (pid, os.getpid())
    with connect(server.settings) as driver:
        assert driver.execute_query(_COUNT_MARKS, name="kept").records[0]["n"] == 1
