"""soundbridge's own Neo4j server: Neo4j Community's real server process, installed and run locally.

:meth:`Neo4jServer.install` has Maven copy the jars of Neo4j Community (``server/pom.xml``) into the
lib folder of :class:`~kg.config.Neo4jSettings`; :meth:`~Neo4jServer.start` writes a ``neo4j.conf``
and runs ``java -cp '<lib>/*' org.neo4j.server.CommunityEntryPoint`` -- the class that Neo4j's own
``neo4j`` script (its bootloader ``org.neo4j.server.startup.Neo4jCommand``) launches -- detached,
with its files under ``$SOUNDBRIDGE_HOME/neo4j/``::

    conf/neo4j.conf   written on every start (edits are overwritten)
    data/             the databases; kept by stop()
    logs/             neo4j.log, debug.log (Neo4j's) and stdout.log (the JVM's own output)
    run/neo4j.pid     the server's process id
    import/           Neo4j's LOAD CSV folder

The plugins, APOC Core and Graph Data Science, are installed with the jars, in ``<lib>/plugins``
(``server.directories.plugins``); Neo4j Browser is on the classpath and served at ``/browser/``
when HTTP is on.

``$SOUNDBRIDGE_HOME``, this folder and its subfolders are private (mode 0700), and Neo4j runs with
umask 077, so its files (``data/dbms/auth.ini`` holds the password's hash) are 0600, whether the
password was generated or given in ``NEO4J_PASSWORD``.

The server listens on the Bolt host:port of the URI only, on loopback; HTTP is off unless
``http_port`` is set, and Neo4j Community opens no cluster, discovery or backup port (server-side
routing, which listens on a port of its own, is switched off), so servers on different Bolt ports
and homes run side by side.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import neo4j

from kg.config import (
    APOC_VERSION,
    GDS_VERSION,
    NEO4J_BROWSER_VERSION,
    NEO4J_VERSION,
    PASSWORD_ENV,
    Neo4jSettings,
    private_file,
    private_folder,
)
from kg.connection import connect
from kg.errors import DatabaseAuthError, DatabaseError
from loaders.errors import ConfigError
from loaders.files import replacing

__all__ = [
    "ENTRY_POINT",
    "ADMIN_TOOL",
    "ServerStatus",
    "Neo4jServer",
    "default_pom",
    "installed_marker",
    "served_browser_url",
]

log = logging.getLogger(__name__)

#: The main class of Neo4j Community's server process.
ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
#: The main class of ``neo4j-admin``.
ADMIN_TOOL = "org.neo4j.cli.AdminTool"

# These statements check the server, not the graph, so they stay beside the code that manages it
# rather than in kg/queries.py with the schema and ingestion Cypher.
_PING = "RETURN 1 AS ok"
_COMPONENTS = "CALL dbms.components() YIELD name, versions, edition RETURN name, versions, edition"
_APOC_VERSION = "RETURN apoc.version() AS version"
_GDS_VERSION = "RETURN gds.version() AS version"

_MARKER = ".soundbridge-neo4j-version"
# What the marker says once the lib folder is complete: every version install fetched, so that
# changing any of them (server or plugin) installs again.
_INSTALLED = (
    f"neo4j {NEO4J_VERSION}\nneo4j-browser {NEO4J_BROWSER_VERSION}\n"
    f"apoc {APOC_VERSION}\ngds {GDS_VERSION}\n"
)
#: The plugins' folder inside the lib folder (Maven profile ``plugins`` of server/pom.xml).
PLUGINS = "plugins"
# The server's folders, all private; auth.ini (written by set-initial-password) holds the password
# hash. Neo4j's processes run with this umask so that what they write is private too.
_SUBFOLDERS = ("conf", "data", "logs", "run", "import")
_AUTH_FILE = Path("data") / "dbms" / "auth.ini"
_UMASK = 0o077
_MIN_PASSWORD = 8  # dbms.security.auth_minimum_password_length, Neo4j's default
_MIN_JAVA = 17
_LOG_TAIL_LINES = 40

# Neo4j's own defaults for server.jvm.additional in the neo4j.conf of a 5.26 distribution, which
# its bootloader passes to the JVM; we launch the JVM ourselves, so we pass them. Without the
# --add-opens, Neo4j falls back to slower page-cache and transaction-log code paths.
# -XX:+AlwaysPreTouch is left out on purpose: it commits the whole heap up front, which costs
# seconds and memory on a small machine shared with the test suite.
_JVM_OPTIONS = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "-XX:FlightRecorderOptions=stackdepth=256",
    "-XX:+UnlockDiagnosticVMOptions",
    "-XX:+DebugNonSafepoints",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "-Dlog4j2.disable.jmx=true",
    "-Dlog4j.layout.jsonTemplate.maxStringLength=32768",
    "-Dfile.encoding=UTF-8",
)

# Processes this interpreter started, kept so that their exit status can be collected (otherwise
# they linger as zombies that still look alive) and so that Popen does not warn when collected.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ServerStatus:
    """What :meth:`Neo4jServer.status` found.

    Attributes:
        running: whether the server process of this home is alive.
        uri: the Bolt URI it serves (or would serve).
        version: the Neo4j Kernel version reported by ``CALL dbms.components()``, or ``None``
            when the server does not answer (stopped, or still starting).
        edition: ``"community"`` when it answers, else ``None``.
        pid: the server's process id when running.
        home: the server's home folder (conf, data, logs).
        browser_url: where the running server serves Neo4j Browser
            (``http://127.0.0.1:<port>/browser/``, from its own ``neo4j.conf`` and checked over
            HTTP), or ``None`` when it does not (not running, or HTTP off).
        apoc_version: what ``apoc.version()`` answers, or ``None`` when APOC is not loaded or
            the server does not answer.
        gds_version: what ``gds.version()`` answers, likewise.
    """

    running: bool
    uri: str
    version: str | None
    edition: str | None
    pid: int | None
    home: Path
    browser_url: str | None = None
    apoc_version: str | None = None
    gds_version: str | None = None


def installed_marker() -> str:
    """What :meth:`Neo4jServer.install` writes into the lib folder's version marker: the versions
    of Neo4j, Neo4j Browser, APOC Core and GDS, one ``name version`` a line.

    Examples:
        >>> installed_marker().splitlines()[0]
        'neo4j 5.26.30'
    """
    return _INSTALLED


def default_pom() -> Path:
    """Return ``server/pom.xml`` of the soundbridge source tree this package was loaded from.

    Examples:
        >>> default_pom().name
        'pom.xml'
    """
    return Path(__file__).resolve().parent.parent / "server" / "pom.xml"


class Neo4jServer:
    """A local Neo4j Community server: jars in ``settings.lib``, files in ``settings.server_home``.

    Args:
        settings: where the server listens (a loopback ``bolt://`` or ``neo4j://`` URI), its
            credentials, home, lib folder and memory.
        pom: the Maven descriptor :meth:`install` resolves; :func:`default_pom` when ``None``.

    Raises:
        ConfigError: when the settings name a host other than loopback or a TLS scheme.

    Examples:
        >>> from kg.config import Neo4jSettings
        >>> server = Neo4jServer(Neo4jSettings.from_env())  # doctest: +SKIP
        >>> server.install(); server.start()  # doctest: +SKIP
        >>> server.status().version  # doctest: +SKIP
        '5.26.30'
    """

    def __init__(self, settings: Neo4jSettings, pom: Path | None = None) -> None:
        settings.check_local()
        self.settings = settings
        self.pom = pom if pom is not None else default_pom()
        # Health checks talk to the server directly: with a neo4j:// URI the driver would first
        # fetch a routing table, and log a warning for each refused attempt while it starts.
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        self._direct = replace(settings, uri=f"bolt://{host}:{settings.port}")

    # -- paths -------------------------------------------------------------------------------

    @property
    def home(self) -> Path:
        """The server's home: ``conf/``, ``data/``, ``logs/``, ``run/``."""
        return self.settings.server_home

    @property
    def conf_dir(self) -> Path:
        """The folder holding the generated ``neo4j.conf``."""
        return self.home / "conf"

    @property
    def logs_dir(self) -> Path:
        """The folder holding ``neo4j.log``, ``debug.log`` and ``stdout.log``."""
        return self.home / "logs"

    @property
    def _system_db(self) -> Path:
        # Neo4j creates the system database on its first start, from the initial password.
        return self.home / "data" / "databases" / "system"

    @property
    def pid_file(self) -> Path:
        """The file holding the running server's process id."""
        return self.home / "run" / "neo4j.pid"

    # -- install -----------------------------------------------------------------------------

    @property
    def plugins_dir(self) -> Path:
        """The folder of the plugins' jars (APOC Core, GDS), inside the lib folder."""
        return self.settings.lib / PLUGINS

    def _require_installed(self) -> None:
        """Raise :class:`DatabaseError` with how to install when the jars are missing."""
        if not self.is_installed():
            raise DatabaseError(
                f"Neo4j {NEO4J_VERSION} is not installed in {self.settings.lib}; "
                "run `soundbridge neo4j install` first"
            )

    def is_installed(self) -> bool:
        """Whether ``settings.lib`` holds the jars of Neo4j :data:`~kg.config.NEO4J_VERSION`,
        Neo4j Browser and the plugins, at the versions of :mod:`kg.config`."""
        lib = self.settings.lib
        try:
            marker = (lib / _MARKER).read_text(encoding="utf-8")
        except OSError:
            return False
        return marker == _INSTALLED and (lib / f"neo4j-{NEO4J_VERSION}.jar").is_file()

    def install(self) -> bool:
        """Copy the jars of Neo4j Community into ``settings.lib`` with Maven, unless already there.

        Runs ``mvn -q -B -f <pom> dependency:copy-dependencies -DoutputDirectory=<tmp>
        -Dneo4j.version=<NEO4J_VERSION>`` (the server and Neo4j Browser), then the same with
        ``-P plugins -DoutputDirectory=<tmp>/plugins`` (APOC Core, GDS and their dependencies),
        into a temporary folder beside the lib folder, and renames it into place once complete,
        so an interrupted install leaves nothing half-done. A marker file in the lib folder
        records the versions; when they match this returns at once. Concurrent installs into the
        same folder wait for each other.

        Returns:
            ``True`` when the jars were copied, ``False`` when they were already there.

        Raises:
            ConfigError: when the pom is missing.
            DatabaseError: when Maven is missing or fails (with the tail of its output).
        """
        if self.is_installed():
            return False
        lib = self.settings.lib
        if not self.pom.is_file():
            raise ConfigError(
                f"{self.pom}: the Maven descriptor of the Neo4j server is missing; run soundbridge "
                "from its source tree (server/pom.xml) or pass pom= to Neo4jServer"
            )
        mvn = shutil.which("mvn")
        if mvn is None:
            raise DatabaseError(
                "Maven (mvn) is not on PATH; it fetches Neo4j's jars from Maven Central. "
                "Install it (Debian: apt-get install maven) and run `soundbridge neo4j install` "
                f"again, or fill {lib} with the jars of Neo4j {NEO4J_VERSION} yourself"
            )
        lib.parent.mkdir(parents=True, exist_ok=True)
        with _locked(lib.parent / f".{lib.name}.lock"):
            if self.is_installed():  # another process installed it while we waited
                return False
            tmp = Path(tempfile.mkdtemp(dir=lib.parent, prefix=f".{lib.name}.tmp-"))
            try:
                self._copy_jars(mvn, tmp)
                self._copy_jars(mvn, tmp / PLUGINS, profile="plugins")
                (tmp / _MARKER).write_text(_INSTALLED, encoding="utf-8")
                if lib.exists():
                    old = lib.with_name(f".{lib.name}.old-{os.getpid()}")
                    lib.rename(old)
                    shutil.rmtree(old, ignore_errors=True)
                tmp.rename(lib)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        log.info("installed Neo4j %s into %s", NEO4J_VERSION, lib)
        return True

    def _copy_jars(self, mvn: str, out: Path, *, profile: str | None = None) -> None:
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(self.pom),
            *(["-P", profile] if profile else []),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={out}",
            f"-Dneo4j.version={NEO4J_VERSION}",
            f"-Dneo4j-browser.version={NEO4J_BROWSER_VERSION}",
            f"-Dapoc.version={APOC_VERSION}",
            f"-Dgds.version={GDS_VERSION}",
        ]
        log.info("running %s", " ".join(cmd))
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        except OSError as e:
            raise DatabaseError(f"cannot run Maven ({mvn}): {e}") from e
        output = (done.stdout + done.stderr).strip()
        if done.returncode != 0:
            raise DatabaseError(
                f"Maven could not fetch Neo4j {NEO4J_VERSION} (exit {done.returncode}); check the "
                "network access to Maven Central (repo.maven.apache.org) and ~/.m2/settings.xml. "
                f"Command: {' '.join(cmd)}\n{_tail(output)}"
            )
        expected = (
            (
                f"apoc-core-{APOC_VERSION}-core.jar",
                f"proc-{GDS_VERSION}.jar",
                f"opengds-extension-{GDS_VERSION}.jar",
            )
            if profile == "plugins"
            else (
                f"neo4j-{NEO4J_VERSION}.jar",
                f"neo4j-command-line-{NEO4J_VERSION}.jar",
                f"neo4j-browser-{NEO4J_BROWSER_VERSION}.jar",
            )
        )
        missing = [jar for jar in expected if not (out / jar).is_file()]
        if missing:
            raise DatabaseError(
                f"Maven ran but did not produce {', '.join(missing)} in {out}; "
                f"check {self.pom}\n{_tail(output)}"
            )

    # -- start -------------------------------------------------------------------------------

    def start(self, timeout: float = 120.0, *, die_with_parent: bool = False) -> bool:
        """Start the server and wait until it answers ``RETURN 1`` with the configured login.

        Writes ``conf/neo4j.conf``; on the very first start of this home sets the initial password
        with Neo4j's admin tool (``neo4j-admin dbms set-initial-password``); then launches the
        server detached (its own session, output into ``logs/stdout.log``) and writes
        ``run/neo4j.pid``. When this home's server already runs this is a no-op; a pid file left by
        a dead process is removed.

        Args:
            timeout: seconds to wait for the server to answer; on expiry the server is stopped.
            die_with_parent: ask Linux to stop the server when this process dies (test sessions
                use this so a killed test run leaves no server behind).

        Returns:
            ``True`` when this call started the server, ``False`` when it was already running.

        Raises:
            ConfigError: when the password is too short for a first start.
            DatabaseError: when Neo4j is not installed, Java is missing or too old, the port is
                taken, or the server fails to come up (with the tail of its logs).
            DatabaseAuthError: when the server refuses the configured password (its data folder
                was initialised with another one).
        """
        if not self._system_db.exists() and len(self.settings.password) < _MIN_PASSWORD:
            raise ConfigError(
                f"{PASSWORD_ENV}: Neo4j needs a password of at least {_MIN_PASSWORD} characters "
                "for its first start; set a longer one, or unset it to have one generated"
            )
        self._require_installed()
        java = _find_java()
        self._make_folders()
        with _locked(self._lock_path()):
            pid = self._live_pid()
            if pid is not None:
                log.info("Neo4j already running (pid %d) at %s", pid, self.settings.uri)
                self._wait_until_ready(pid, timeout)
                return False
            self._check_port_free()
            self._write_conf()
            if not self._system_db.exists():  # checked again: another start may have run
                self._set_initial_password(java)
            if (self.home / _AUTH_FILE).exists():  # e.g. written 0644 by an earlier version
                private_file(self.home / _AUTH_FILE)
            pid = self._launch(java, die_with_parent=die_with_parent)
            try:
                self._wait_until_ready(pid, timeout)
            except BaseException:
                self._terminate(pid, timeout=30.0, force=True)
                raise
        log.info("Neo4j %s started (pid %d) at %s", NEO4J_VERSION, pid, self.settings.uri)
        return True

    def _check_port_free(self) -> None:
        s = self.settings
        if _port_open(s.host, s.port):
            raise DatabaseError(
                f"port {s.port} on {s.host} is already in use by another process, not by the "
                f"server of {self.home}; stop that process or pick a free port in NEO4J_URI"
            )
        if s.http_port is not None and _port_open(s.host, s.http_port):
            raise DatabaseError(
                f"HTTP port {s.http_port} on {s.host} is already in use; "
                "pick another SOUNDBRIDGE_NEO4J_HTTP_PORT or unset it"
            )

    def _make_folders(self) -> None:
        """Create ``$SOUNDBRIDGE_HOME``, the server's home and its subfolders, all mode 0700."""
        private_folder(self.settings.home)
        private_folder(self.home)
        for sub in _SUBFOLDERS:
            private_folder(self.home / sub)

    def _write_conf(self) -> None:
        text = _render_conf(self.settings, self.home)
        with replacing(self.conf_dir / "neo4j.conf") as tmp:
            tmp.write_text(text, encoding="utf-8")
            tmp.chmod(0o600)

    def _set_initial_password(self, java: str) -> None:
        password = self.settings.password
        # picocli expands "@file" into the arguments written in that file, which keeps the
        # password off the command line (and out of `ps`). "--" ends the options, so that a
        # password beginning with "-" (one generated password in 64) is not read as one.
        run_dir = self.home / "run"
        fd, arg_file = tempfile.mkstemp(dir=run_dir, prefix=".initial-password.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write("--\n" + _picocli_quote(password) + "\n")
            cmd = [
                java,
                "-Xmx256m",
                "-cp",
                f"{self.settings.lib}/*",
                ADMIN_TOOL,
                "dbms",
                "set-initial-password",
                f"@{arg_file}",
            ]
            env = dict(os.environ, NEO4J_HOME=str(self.home), NEO4J_CONF=str(self.conf_dir))
            done = subprocess.run(
                cmd, capture_output=True, text=True, env=env, check=False, umask=_UMASK
            )
        finally:
            os.unlink(arg_file)
        if done.returncode != 0:
            raise DatabaseError(
                f"neo4j-admin dbms set-initial-password failed for {self.home} "
                f"(exit {done.returncode}):\n{_tail((done.stdout + done.stderr).strip())}"
            )
        log.info("set the initial Neo4j password of %s", self.home)

    def _launch(self, java: str, *, die_with_parent: bool) -> int:
        s = self.settings
        cmd = [
            java,
            f"-Xms{s.heap_initial}",
            f"-Xmx{s.heap_max}",
            *_JVM_OPTIONS,
            "-cp",
            _classpath(s),
            ENTRY_POINT,
            f"--home-dir={self.home}",
            f"--config-dir={self.conf_dir}",
        ]
        stdout = self.logs_dir / "stdout.log"
        with open(os.open(stdout, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab") as out:
            out.write(f"\n--- soundbridge: starting {' '.join(cmd)}\n".encode())
            out.flush()
            try:
                proc = subprocess.Popen(
                    cmd,
                    cwd=self.home,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    umask=_UMASK,
                    preexec_fn=_die_with_parent if die_with_parent else None,
                )
            except OSError as e:
                raise DatabaseError(f"cannot run {java}: {e}") from e
        _CHILDREN[proc.pid] = proc
        with replacing(self.pid_file) as tmp:
            tmp.write_text(f"{proc.pid}\n", encoding="ascii")
            tmp.chmod(0o600)
        return proc.pid

    def _wait_until_ready(self, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while True:
            if not _alive(pid):
                self.pid_file.unlink(missing_ok=True)
                raise DatabaseError(
                    f"the Neo4j server (pid {pid}) exited while starting; see the logs in "
                    f"{self.logs_dir}\n{self._log_tail()}"
                )
            try:
                with connect(self._direct, timeout=2.0) as driver:
                    driver.execute_query(_PING, routing_=neo4j.RoutingControl.READ)
                return
            except DatabaseAuthError:
                raise
            except DatabaseError as e:  # not listening yet, or databases still coming up
                last = e
            if time.monotonic() >= deadline:
                raise DatabaseError(
                    f"the Neo4j server (pid {pid}) did not answer at {self.settings.uri} within "
                    f"{timeout:.0f}s (last error: {last}); it has been stopped. Give it longer "
                    f"(--timeout) or see the logs in {self.logs_dir}\n{self._log_tail()}"
                )
            time.sleep(0.25)

    def _log_tail(self) -> str:
        parts = []
        for name in ("stdout.log", "neo4j.log"):
            path = self.logs_dir / name
            with contextlib.suppress(OSError):
                text = path.read_text(encoding="utf-8", errors="replace").strip()
                if text:
                    parts.append(f"--- {path} (last lines)\n{_tail(text)}")
        return "\n".join(parts) or f"(no log output in {self.logs_dir})"

    # -- the admin tool ------------------------------------------------------------------------

    def run_admin(
        self,
        args: Sequence[str],
        *,
        heap: str = "1g",
        echo: Callable[[str], None] | None = None,
    ) -> str:
        """Run ``neo4j-admin`` from the installed jars (:data:`ADMIN_TOOL`) against this home.

        The same ``conf/neo4j.conf`` as :meth:`start` is written first, so the tool finds this
        home's data folder. Commands that write a database (``database import full``) need the
        server stopped: Neo4j Community locks the store while it runs.

        Args:
            args: the arguments after ``neo4j-admin`` (``["database", "import", "full", …]``).
            heap: the tool's JVM heap (``-Xmx``); the import's caches live off-heap.
            echo: called with each line the tool prints (its progress), as it prints it.

        Returns:
            What the tool printed (standard output and error together).

        Raises:
            DatabaseError: Neo4j is not installed, Java is missing or too old, or the tool exits
                with a non-zero status (the message ends with the tail of its output).

        Examples:
            >>> server.run_admin(["database", "info", "neo4j"])  # doctest: +SKIP
        """
        self._require_installed()
        java = _find_java()
        self._make_folders()
        self._write_conf()
        cmd = [java, f"-Xmx{heap}", *_JVM_OPTIONS, "-cp", f"{self.settings.lib}/*", ADMIN_TOOL]
        cmd += list(args)
        env = dict(os.environ, NEO4J_HOME=str(self.home), NEO4J_CONF=str(self.conf_dir))
        lines: list[str] = []
        tail: deque[str] = deque(maxlen=_LOG_TAIL_LINES)
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=self.home,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                umask=_UMASK,
            )
        except OSError as e:
            raise DatabaseError(f"cannot run {java}: {e}") from e
        with proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                lines.append(line)
                tail.append(line)
                if echo is not None:
                    echo(line)
        if proc.returncode != 0:
            shown = " ".join(a for a in args if not a.startswith("--"))
            raise DatabaseError(
                f"neo4j-admin {shown} failed for {self.home} (exit {proc.returncode}):\n"
                + "\n".join(tail)
            )
        return "\n".join(lines)

    # -- stop / status -----------------------------------------------------------------------

    def stop(self, timeout: float = 60.0, *, force: bool = False) -> bool:
        """Stop the server gracefully (SIGTERM) and wait for it to exit; the data is kept.

        Args:
            timeout: seconds to wait for the process to exit.
            force: kill it (SIGKILL) when it has not exited after ``timeout``; its databases then
                recover from their transaction logs on the next start.

        Returns:
            ``True`` when a running server was stopped, ``False`` when none was running.

        Raises:
            DatabaseError: when the server is still running after ``timeout`` and not ``force``.
        """
        with _locked(self._lock_path()):
            pid = self._live_pid()
            if pid is None:
                return False
            self._terminate(pid, timeout=timeout, force=force)
        log.info("Neo4j stopped (pid %d); data kept in %s", pid, self.home / "data")
        return True

    def _lock_path(self) -> Path:
        run = self.home / "run"
        if not run.is_dir():  # stop or status before any start: the home is made private too
            self._make_folders()
        return run / "soundbridge.lock"

    def _terminate(self, pid: int, *, timeout: float, force: bool) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not _wait_dead(pid, timeout):
            if not force:
                raise DatabaseError(
                    f"the Neo4j server (pid {pid}) did not stop within {timeout:.0f}s; wait and "
                    f"run `soundbridge neo4j stop` again, or kill it (kill -9 {pid}); its logs "
                    f"are in {self.logs_dir}"
                )
            log.warning("Neo4j (pid %d) ignored SIGTERM for %.0fs; killing it", pid, timeout)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_dead(pid, 10.0)
        self.pid_file.unlink(missing_ok=True)

    def status(self) -> ServerStatus:
        """Report whether this home's server runs, and its version when it answers.

        Returns:
            A :class:`ServerStatus`; ``version`` is ``None`` when the server does not answer.

        Raises:
            DatabaseAuthError: when the server answers but refuses the configured password.
        """
        pid = self._live_pid()
        version = edition = apoc = gds = None
        if pid is not None:
            version, edition = self._components()
            if version is not None:
                apoc = self._plugin_version(_APOC_VERSION)
                gds = self._plugin_version(_GDS_VERSION)
        return ServerStatus(
            running=pid is not None,
            uri=self.settings.uri,
            version=version,
            edition=edition,
            pid=pid,
            home=self.home,
            browser_url=served_browser_url(self.conf_dir / "neo4j.conf") if pid else None,
            apoc_version=apoc,
            gds_version=gds,
        )

    def _plugin_version(self, query: str) -> str | None:
        # A plugin that is not loaded makes the function unknown: a client error, not a failure.
        try:
            with connect(self._direct, timeout=2.0) as driver:
                records = driver.execute_query(query, routing_=neo4j.RoutingControl.READ).records
        except DatabaseAuthError:
            raise
        except DatabaseError:
            return None
        return str(records[0]["version"]) if records else None

    def _components(self) -> tuple[str | None, str | None]:
        try:
            with connect(self._direct, timeout=2.0) as driver:
                records = driver.execute_query(
                    _COMPONENTS, routing_=neo4j.RoutingControl.READ
                ).records
        except DatabaseAuthError:
            raise
        except DatabaseError:
            return None, None
        for record in records:
            if record["name"] == "Neo4j Kernel":
                return str(record["versions"][0]), str(record["edition"])
        return None, None

    def _live_pid(self) -> int | None:
        """The pid in the pid file when that process is this home's server; else remove the file."""
        try:
            pid = int(self.pid_file.read_text(encoding="ascii").strip())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            log.warning("ignoring unreadable pid file %s", self.pid_file)
            self.pid_file.unlink(missing_ok=True)
            return None
        if _alive(pid) and self._is_our_server(pid):
            return pid
        log.info("removing stale pid file %s (pid %d is not this server)", self.pid_file, pid)
        self.pid_file.unlink(missing_ok=True)
        return None

    def _is_our_server(self, pid: int) -> bool:
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return ENTRY_POINT.encode() in args and f"--home-dir={self.home}".encode() in args


# -- helpers ---------------------------------------------------------------------------------


def _classpath(s: Neo4jSettings) -> str:
    # The plugins go on the classpath as well as in the plugins folder: Neo4j finds kernel
    # extensions (GDS's, APOC's) on the classpath, procedures in the folder. The server's jars
    # come first: GDS brings older copies of libraries the server has (commons-lang3, Jackson),
    # and APOC needs the server's newer ones.
    return f"{s.lib}/*:{s.lib / PLUGINS}/*"


def served_browser_url(conf: Path, *, timeout: float = 2.0) -> str | None:
    """Where the server that runs with the configuration ``conf`` serves Neo4j Browser.

    The address comes from the server's own ``neo4j.conf`` (written when it started, so the
    environment of whoever asks does not matter), and ``/browser/`` must answer there.

    Args:
        conf: the running server's ``neo4j.conf``.
        timeout: seconds to wait for ``/browser/`` to answer.

    Returns:
        ``http://<host>:<port>/browser/``, or ``None`` when HTTP is off in ``conf`` (or ``conf``
        cannot be read) or nothing answers there with a page.

    Examples:
        >>> served_browser_url(Path("/nonexistent/neo4j.conf")) is None
        True
    """
    try:
        lines = conf.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    settings = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and not key.lstrip().startswith("#"):
            settings[key.strip()] = value.strip()
    if settings.get("server.http.enabled", "").lower() != "true":
        return None
    host, _, port = settings.get("server.http.listen_address", "").rpartition(":")
    if not port.isdigit():
        return None
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "[::]": "[::1]"}.get(host, host)
    url = f"http://{host}:{port}/browser/"
    # No proxy: the server is local, and a proxy from the environment would answer for it.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            served = response.status == 200
    except (OSError, ValueError):  # refused, timed out, an HTTP error status, a bad address
        return None
    return url if served else None


def _listen_host(s: Neo4jSettings) -> str:
    host = s.host
    listen = "127.0.0.1" if host.lower() == "localhost" else host
    return f"[{listen}]" if ":" in listen else listen  # IPv6 literal


def _render_conf(s: Neo4jSettings, home: Path) -> str:
    listen = _listen_host(s)
    http = (
        f"server.http.enabled=true\nserver.http.listen_address={listen}:{s.http_port}\n"
        f"server.http.advertised_address={listen}:{s.http_port}"
        if s.http_port is not None
        else "server.http.enabled=false"
    )
    jvm = "\n".join(f"server.jvm.additional={opt}" for opt in _JVM_OPTIONS)
    return f"""\
# Written by soundbridge (kg/server.py) on every start: edit the settings there, not here.
# Neo4j {NEO4J_VERSION} Community, started as
#   java -cp '{_classpath(s)}' {ENTRY_POINT} --home-dir={home} --config-dir={home / "conf"}

# Folders.
server.directories.data={home / "data"}
server.directories.logs={home / "logs"}
server.directories.run={home / "run"}
server.directories.import={home / "import"}
server.directories.plugins={s.lib / PLUGINS}
server.directories.lib={s.lib}

# Network: Bolt on the URI's loopback host:port only; HTTP (with Neo4j Browser at /browser/) on
# loopback too, and only when SOUNDBRIDGE_NEO4J_HTTP_PORT is set.
server.default_listen_address={listen}
server.default_advertised_address={listen}
server.bolt.enabled=true
server.bolt.listen_address={listen}:{s.port}
server.bolt.advertised_address={listen}:{s.port}
server.bolt.tls_level=DISABLED
{http}
server.https.enabled=false
# Server-side routing, when on, listens on a second port (server.routing.listen_address).
dbms.routing.enabled=false
dbms.usage_report.enabled=false

# Security.
dbms.security.auth_enabled=true

# Plugins (APOC Core {APOC_VERSION}, GDS {GDS_VERSION}): only their procedures and functions are
# loaded from the plugins folder. GDS and APOC's apoc.meta.* (the schema summary) read the store
# through internal APIs, which Neo4j allows only to "unrestricted" procedures; the rest of APOC
# Core needs no such access. What analysts may call is narrower still (kg/cypher.py).
dbms.security.procedures.allowlist=apoc.*,gds.*
dbms.security.procedures.unrestricted=gds.*,apoc.meta.*

# Memory (SOUNDBRIDGE_NEO4J_HEAP_INITIAL, SOUNDBRIDGE_NEO4J_HEAP_MAX, SOUNDBRIDGE_NEO4J_PAGECACHE).
server.memory.heap.initial_size={s.heap_initial}
server.memory.heap.max_size={s.heap_max}
server.memory.pagecache.size={s.pagecache}

# Limits on every transaction: at most half the heap each (a runaway query fails alone, with
# Neo.TransientError.General.MemoryPoolOutOfMemoryError in 5.26), and no Cypher may reach a
# network address (LOAD CSV FROM 'http://...'): soundbridge never needs it, and an analyst must
# not make the server fetch URLs (in 5.26 the block list is still an internal setting).
# Analysts' queries also carry their own timeout (kg/cypher.py).
db.memory.transaction.max={s.transaction_memory}
internal.dbms.cypher_ip_blocklist=0.0.0.0/0,::/0

# Bulk ingestion: keep one transaction log file after a checkpoint instead of two days' worth,
# and don't write every query to query.log.
db.tx_log.rotation.retention_policy=1 files
db.tx_log.rotation.size=128M
db.logs.query.enabled=OFF

# Stop in about a second rather than ten: Bolt waits 5s per connector for idle connections to
# drain by default, which only delays a local server's shutdown (the databases are already
# checkpointed and closed by then).
internal.server.bolt.thread_pool_shutdown_wait_time=1s
internal.server.bolt.connection_shutdown_wait_time=1s

# JVM options, for Neo4j's own bootloader (bin/neo4j); soundbridge passes the same ones.
{jvm}
"""


def _find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidates = [str(Path(java_home) / "bin" / "java")] if java_home else []
    found = shutil.which("java")
    if found:
        candidates.append(found)
    for java in candidates:
        if os.access(java, os.X_OK):
            break
    else:
        raise DatabaseError(
            f"Java is not installed (no java on PATH{' or in JAVA_HOME' if java_home else ''}); "
            f"Neo4j {NEO4J_VERSION} needs Java 17 or 21: install it (Debian: apt-get install "
            "openjdk-17-jre-headless) or set JAVA_HOME"
        )
    major = _java_major(java)
    if major is not None and major < _MIN_JAVA:
        raise DatabaseError(
            f"{java} is Java {major}; Neo4j {NEO4J_VERSION} needs Java 17 or 21: install one "
            "and put it first on PATH or set JAVA_HOME"
        )
    return java


def _java_major(java: str) -> int | None:
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DatabaseError(f"cannot run {java} -version: {e}") from e
    match = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def _picocli_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, or an exited child of ours, is not)."""
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _CHILDREN[pid]
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    # The state follows the parenthesised command name, which may itself contain ") ".
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _wait_dead(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _die_with_parent() -> None:
    # prctl(PR_SET_PDEATHSIG, SIGTERM): the kernel sends SIGTERM when the parent exits.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)


def _tail(text: str, lines: int = _LOG_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if missing) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
