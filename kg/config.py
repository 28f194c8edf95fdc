"""How to reach Neo4j, and where soundbridge's own Neo4j server lives: read from the environment.

Every setting has an environment variable and a default, so that ``soundbridge neo4j start`` works
with none set:

====================================  ===========================================================
``NEO4J_URI``                         ``bolt://127.0.0.1:7687``
``NEO4J_USER``                        ``neo4j``
``NEO4J_PASSWORD``                    generated on first use and kept in
                                      ``$SOUNDBRIDGE_HOME/neo4j-password`` (mode 0600)
``SOUNDBRIDGE_HOME``                  ``~/.soundbridge`` (the server's conf, data, logs live in
                                      ``$SOUNDBRIDGE_HOME/neo4j/``); mode 0700, see
                                      :func:`private_folder`
``SOUNDBRIDGE_NEO4J_LIB``             ``~/.cache/soundbridge/neo4j-<version>/lib`` (Neo4j's jars)
``SOUNDBRIDGE_NEO4J_HEAP_INITIAL``    ``1g``
``SOUNDBRIDGE_NEO4J_HEAP_MAX``        ``2g``
``SOUNDBRIDGE_NEO4J_PAGECACHE``       ``1g``
``SOUNDBRIDGE_NEO4J_HTTP_PORT``       unset: the HTTP connector is off
====================================  ===========================================================

Invalid values raise :class:`~loaders.errors.ConfigError` naming the variable, the value and the
fix. The driver itself is built in :mod:`kg.connection`; the server is run by :mod:`kg.server`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from loaders.errors import ConfigError

__all__ = [
    "NEO4J_VERSION",
    "NEO4J_BROWSER_VERSION",
    "APOC_VERSION",
    "GDS_VERSION",
    "DEFAULT_URI",
    "DEFAULT_USER",
    "URI_ENV",
    "USER_ENV",
    "PASSWORD_ENV",
    "HOME_ENV",
    "soundbridge_home",
    "LIB_ENV",
    "HEAP_INITIAL_ENV",
    "HEAP_MAX_ENV",
    "PAGECACHE_ENV",
    "HTTP_PORT_ENV",
    "PASSWORD_FILE_NAME",
    "Neo4jSettings",
    "load_or_create_password",
    "private_file",
    "private_folder",
]

log = logging.getLogger(__name__)

#: The Neo4j Community release soundbridge installs and runs; server/pom.xml carries the same
#: number (a test pins the two together) and ``install`` passes this one to Maven.
NEO4J_VERSION = "5.26.30"
#: Neo4j Browser, served by the local server at ``/browser/`` when HTTP is on.
NEO4J_BROWSER_VERSION = "5.24.0"
#: APOC Core and Graph Data Science (open edition), the local server's plugins. Like the server's,
#: these numbers are in server/pom.xml too (pinned by a test); the install marker records them, so
#: changing one re-installs.
APOC_VERSION = "5.26.5"
GDS_VERSION = "2.13.9"

DEFAULT_URI = "bolt://127.0.0.1:7687"
DEFAULT_USER = "neo4j"
DEFAULT_HOME = "~/.soundbridge"
DEFAULT_HEAP_INITIAL = "1g"
DEFAULT_HEAP_MAX = "2g"
DEFAULT_PAGECACHE = "1g"

URI_ENV = "NEO4J_URI"
USER_ENV = "NEO4J_USER"
PASSWORD_ENV = "NEO4J_PASSWORD"
HOME_ENV = "SOUNDBRIDGE_HOME"
LIB_ENV = "SOUNDBRIDGE_NEO4J_LIB"
HEAP_INITIAL_ENV = "SOUNDBRIDGE_NEO4J_HEAP_INITIAL"
HEAP_MAX_ENV = "SOUNDBRIDGE_NEO4J_HEAP_MAX"
PAGECACHE_ENV = "SOUNDBRIDGE_NEO4J_PAGECACHE"
HTTP_PORT_ENV = "SOUNDBRIDGE_NEO4J_HTTP_PORT"

PASSWORD_FILE_NAME = "neo4j-password"

# The schemes the Python driver accepts; ``+s`` / ``+ssc`` mean TLS, which only a remote server
# can offer: soundbridge's own server speaks plain Bolt on loopback.
_SCHEMES = ("bolt", "neo4j", "bolt+s", "bolt+ssc", "neo4j+s", "neo4j+ssc")
_LOCAL_SCHEMES = ("bolt", "neo4j")
_DEFAULT_PORT = 7687
_SIZE = re.compile(r"^([1-9][0-9]*)([kmg])$", re.IGNORECASE)
_UNIT = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def _default_lib() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(cache).expanduser() / "soundbridge" / f"neo4j-{NEO4J_VERSION}" / "lib"


def _check_uri(uri: str, where: str) -> tuple[str, str, int]:
    """Return ``(scheme, host, port)`` of a Neo4j URI, or raise ConfigError saying what is wrong."""
    example = "e.g. bolt://127.0.0.1:7687"
    try:
        parts = urlsplit(uri)
    except ValueError as e:
        raise ConfigError(f"{where}={uri!r}: not a URI ({e}); {example}") from e
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ConfigError(
            f"{where}={uri!r}: scheme {parts.scheme or '(none)'!r} is not a Neo4j scheme; "
            f"use one of {', '.join(s + '://' for s in _SCHEMES)} ({example})"
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"{where}={uri!r}: credentials do not belong in the URI; "
            f"put the user in {USER_ENV} and the password in {PASSWORD_ENV}"
        )
    if not parts.hostname:
        raise ConfigError(f"{where}={uri!r}: no host; {example}")
    try:
        port = parts.port
    except ValueError as e:
        raise ConfigError(
            f"{where}={uri!r}: the port must be a number between 1 and 65535 ({example})"
        ) from e
    if port == 0:
        raise ConfigError(f"{where}={uri!r}: port 0 is not a port a client can connect to")
    if parts.path not in ("", "/") or parts.fragment:
        raise ConfigError(f"{where}={uri!r}: a Neo4j URI has no path; {example}")
    if parts.query and not scheme.startswith("neo4j"):
        raise ConfigError(
            f"{where}={uri!r}: only neo4j:// URIs take a routing context after '?'; remove it"
        )
    return scheme, parts.hostname, port if port is not None else _DEFAULT_PORT


def _size_bytes(value: str, where: str) -> int:
    match = _SIZE.match(value.strip())
    if match is None:
        raise ConfigError(
            f"{where}={value!r}: not a memory size; write a whole number with a unit k, m or g, "
            "e.g. 512m or 2g"
        )
    return int(match.group(1)) * _UNIT[match.group(2).lower()]


def _check_port(value: str | int, where: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = -1
    if not 1 <= port <= 65535:
        raise ConfigError(f"{where}={value!r}: not a TCP port; give a number between 1 and 65535")
    return port


def _check_resources(
    heap_initial: str,
    heap_max: str,
    pagecache: str,
    http_port: int | None,
    bolt_port: int,
    *,
    env: bool,
) -> None:
    """Check the local server's memory sizes and HTTP port, naming variables or fields."""

    def name(var: str, attr: str) -> str:
        return var if env else attr

    initial = _size_bytes(heap_initial, name(HEAP_INITIAL_ENV, "heap_initial"))
    maximum = _size_bytes(heap_max, name(HEAP_MAX_ENV, "heap_max"))
    _size_bytes(pagecache, name(PAGECACHE_ENV, "pagecache"))
    if initial > maximum:
        raise ConfigError(
            f"initial heap {heap_initial} is larger than the maximum heap {heap_max}; "
            f"lower {HEAP_INITIAL_ENV} or raise {HEAP_MAX_ENV}"
        )
    if http_port is not None:
        where = name(HTTP_PORT_ENV, "http_port")
        _check_port(http_port, where)
        if http_port == bolt_port:
            raise ConfigError(
                f"{where}={http_port} is also the Bolt port; pick another {HTTP_PORT_ENV} "
                "(or leave it unset to keep HTTP off)"
            )


def private_folder(path: Path) -> Path:
    """Make ``path`` a folder that only its owner may enter (mode 0700), creating it if needed.

    soundbridge's home and its server's folders hold secrets (the password file, Neo4j's
    ``auth.ini``, the account key), and what a folder's mode lets others list or read must not
    depend on whether the password was generated or came from ``NEO4J_PASSWORD``. A folder this
    creates is 0700 whatever the umask (missing parents get the umask's mode, as with
    ``mkdir -p``); one found open to others is tightened to 0700 with a warning, unless it is not
    ours to narrow (another user's, or a shared sticky folder such as ``/tmp``), which is only
    warned about.

    Args:
        path: the folder, e.g. ``$SOUNDBRIDGE_HOME``.

    Returns:
        ``path``.

    Raises:
        ConfigError: when it exists but is not a folder, or cannot be created or changed.

    Examples:
        >>> import tempfile, pathlib
        >>> home = private_folder(pathlib.Path(tempfile.mkdtemp()) / "home")
        >>> oct(home.stat().st_mode & 0o777)
        '0o700'
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir(mode=0o700)
            path.chmod(0o700)  # mkdir's mode is narrowed by the umask, never widened: be exact
            return path
        except FileExistsError:
            pass
        if not path.is_dir():
            raise ConfigError(f"{path}: exists but is not a folder; point {HOME_ENV} at a folder")
        st = path.stat()
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077:
            if st.st_uid == os.getuid() and not mode & stat.S_ISVTX:
                log.warning("%s was open to others (mode %o); set it to 0700", path, mode)
                path.chmod(0o700)
            else:
                log.warning(
                    "%s is open to others (mode %o) and not ours to narrow; point %s at a "
                    "private folder",
                    path,
                    mode,
                    HOME_ENV,
                )
    except OSError as e:
        raise ConfigError(f"{path}: cannot create it or make it private ({e})") from e
    return path


def private_file(path: Path) -> Path:
    """Tighten an existing file to mode 0600 (owner read/write only), warning when it was looser.

    Args:
        path: a file that holds a secret (a password, Neo4j's ``auth.ini``).

    Returns:
        ``path``.

    Raises:
        ConfigError: when it cannot be changed.

    Examples:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "secret"
        >>> _ = f.write_text("x")
        >>> oct(private_file(f).stat().st_mode & 0o777)
        '0o600'
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o177:
            if mode & 0o077:
                log.warning("%s was readable by others (mode %o); set it to 0600", path, mode)
            path.chmod(0o600)
    except OSError as e:
        raise ConfigError(f"{path}: cannot make it private ({e})") from e
    return path


def load_or_create_password(path: Path) -> str:
    """Return the password kept in ``path``, creating the file with a fresh one when missing.

    The file is created with mode 0600 (and tightened to 0600 if found looser), atomically, so two
    processes that race on first use end up with the same password. Its folder is made private
    (0700, :func:`private_folder`).

    Args:
        path: the password file, normally ``$SOUNDBRIDGE_HOME/neo4j-password``.

    Returns:
        The password (no surrounding whitespace).

    Raises:
        ConfigError: when the file cannot be read or written, or is empty.

    Examples:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "neo4j-password"
        >>> first = load_or_create_password(p)
        >>> load_or_create_password(p) == first, oct(p.stat().st_mode & 0o777)
        (True, '0o600')
    """
    fix = f"delete it to have a new one generated, or set {PASSWORD_ENV}"
    private_folder(path.parent)
    try:
        if not path.exists():
            # Write a private temp file, then link it into place: link() fails if another process
            # created the file meanwhile, and a reader never sees a half-written password.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(secrets.token_urlsafe(24) + "\n")
                try:
                    os.link(tmp, path)
                    log.info("generated a Neo4j password in %s", path)
                except FileExistsError:
                    pass
            finally:
                os.unlink(tmp)
        private_file(path)
        password = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read or create the Neo4j password file ({e})") from e
    if not password:
        raise ConfigError(f"{path}: the Neo4j password file is empty; {fix}")
    return password


@dataclass(frozen=True)
class Neo4jSettings:
    """Where Neo4j is and how to log in; where soundbridge's own server keeps its files.

    Build it with :meth:`from_env`; the constructor validates too, so a ``Neo4jSettings`` in hand is
    always usable.

    Args:
        uri: the Bolt URI, ``bolt://host:port`` (or ``neo4j://``, ``bolt+s://``, ...).
        user: the Neo4j user.
        password: that user's password (not shown by ``repr``).
        home: soundbridge's home folder; the local server lives in ``home / "neo4j"``.
        lib: the folder holding Neo4j's jars (filled by :meth:`kg.server.Neo4jServer.install`).
        password_file: the file the password was read from, or ``None`` when it came from
            ``NEO4J_PASSWORD`` or the caller.
        heap_initial: the local server's initial Java heap, e.g. ``"1g"``.
        heap_max: the local server's maximum Java heap, e.g. ``"2g"``.
        pagecache: the local server's page cache, e.g. ``"1g"``.
        http_port: the local server's HTTP port on loopback, or ``None`` to keep HTTP off.

    Raises:
        ConfigError: when a value is invalid.

    Examples:
        >>> from pathlib import Path
        >>> s = Neo4jSettings(
        ...     "bolt://127.0.0.1:7688", "neo4j", "secret-pw", Path("/tmp/sb"), Path("/tmp/lib")
        ... )
        >>> s.host, s.port, s.server_home
        ('127.0.0.1', 7688, PosixPath('/tmp/sb/neo4j'))
    """

    uri: str
    user: str
    password: str = field(repr=False)
    home: Path
    lib: Path
    password_file: Path | None = None
    heap_initial: str = DEFAULT_HEAP_INITIAL
    heap_max: str = DEFAULT_HEAP_MAX
    pagecache: str = DEFAULT_PAGECACHE
    http_port: int | None = None

    def __post_init__(self) -> None:
        _check_uri(self.uri, "uri")
        if not self.user:
            raise ConfigError(f"user is empty; set {USER_ENV} (default {DEFAULT_USER!r})")
        if not self.password:
            raise ConfigError(f"password is empty; set {PASSWORD_ENV} or leave it unset")
        _check_resources(
            self.heap_initial, self.heap_max, self.pagecache, self.http_port, self.port, env=False
        )

    @property
    def transaction_memory(self) -> str:
        """The local server's cap on one transaction's memory: half the maximum heap, so one
        runaway query fails with a clear error instead of starving every other one (``"1024m"``
        for the default 2g heap)."""
        return f"{_size_bytes(self.heap_max, 'heap_max') // 2 >> 20}m"

    @property
    def scheme(self) -> str:
        """The URI scheme, lower case (``bolt``, ``neo4j``, ``bolt+s``, ...)."""
        return _check_uri(self.uri, "uri")[0]

    @property
    def host(self) -> str:
        """The host of the URI (``[`` ``]`` stripped from IPv6 literals)."""
        return _check_uri(self.uri, "uri")[1]

    @property
    def port(self) -> int:
        """The Bolt port of the URI (7687 when the URI names none)."""
        return _check_uri(self.uri, "uri")[2]

    @property
    def server_home(self) -> Path:
        """The local server's own home: ``conf/``, ``data/``, ``logs/``, ``run/`` live here."""
        return self.home / "neo4j"

    def check_local(self) -> None:
        """Check that these settings describe a server soundbridge may run on this machine.

        soundbridge's own server speaks plain Bolt and listens on loopback only, so the URI must
        use ``bolt://`` or ``neo4j://`` and a loopback host (``127.0.0.1``, ``localhost``, ``::1``).

        Raises:
            ConfigError: when the URI names another host or a TLS scheme.

        Examples:
            >>> from pathlib import Path
            >>> Neo4jSettings(DEFAULT_URI, "neo4j", "pw", Path("/h"), Path("/l")).check_local()
        """
        if self.scheme not in _LOCAL_SCHEMES:
            raise ConfigError(
                f"{URI_ENV}={self.uri!r}: soundbridge's own Neo4j server speaks plain Bolt; use "
                f"bolt://{self._host_for_uri()}:{self.port} (TLS schemes are for remote servers)"
            )
        if not _is_loopback(self.host):
            raise ConfigError(
                f"{URI_ENV}={self.uri!r}: soundbridge's own Neo4j server listens on loopback "
                f"only, not on {self.host!r}; use bolt://127.0.0.1:{self.port} "
                "(a remote server is used as is: connect to it, don't start it)"
            )

    def _host_for_uri(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Neo4jSettings:
        """Read the settings from environment variables (see the module docstring).

        When ``NEO4J_PASSWORD`` is unset or empty, the password is read from
        ``$SOUNDBRIDGE_HOME/neo4j-password``, which is generated (mode 0600) on first use;
        :attr:`password_file` then says where it is.

        Args:
            environ: the variables to read; ``os.environ`` when ``None``.

        Raises:
            ConfigError: naming the variable, its value and the fix, when one is invalid.

        Examples:
            >>> import tempfile
            >>> env = {"NEO4J_PASSWORD": "from-env-1", "SOUNDBRIDGE_HOME": tempfile.mkdtemp()}
            >>> s = Neo4jSettings.from_env(env)
            >>> s.uri, s.user, s.password_file
            ('bolt://127.0.0.1:7687', 'neo4j', None)
        """
        env = os.environ if environ is None else environ
        uri = env.get(URI_ENV) or DEFAULT_URI
        user = env.get(USER_ENV) or DEFAULT_USER
        home = Path(env.get(HOME_ENV) or DEFAULT_HOME).expanduser().absolute()
        if home.exists() and not home.is_dir():
            raise ConfigError(
                f"{HOME_ENV}={home}: exists but is not a folder; point it at a folder"
            )
        lib_raw = env.get(LIB_ENV)
        lib = Path(lib_raw).expanduser().absolute() if lib_raw else _default_lib()
        heap_initial = env.get(HEAP_INITIAL_ENV) or DEFAULT_HEAP_INITIAL
        heap_max = env.get(HEAP_MAX_ENV) or DEFAULT_HEAP_MAX
        pagecache = env.get(PAGECACHE_ENV) or DEFAULT_PAGECACHE
        http_raw = env.get(HTTP_PORT_ENV)
        http_port = _check_port(http_raw, HTTP_PORT_ENV) if http_raw else None
        # Everything is checked before a password file may be written.
        port = _check_uri(uri, URI_ENV)[2]
        _check_resources(heap_initial, heap_max, pagecache, http_port, port, env=True)

        password = env.get(PASSWORD_ENV) or ""
        password_file: Path | None = None
        if not password:
            password_file = home / PASSWORD_FILE_NAME
            password = load_or_create_password(password_file)
        return cls(
            uri=uri,
            user=user,
            password=password,
            home=home,
            lib=lib,
            password_file=password_file,
            heap_initial=heap_initial,
            heap_max=heap_max,
            pagecache=pagecache,
            http_port=http_port,
        )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def soundbridge_home(environ: Mapping[str, str] | None = None) -> Path:
    """``$SOUNDBRIDGE_HOME`` (default ``~/.soundbridge``): models, caches, reports, the server.

    Examples:
        >>> soundbridge_home({"SOUNDBRIDGE_HOME": "/srv/sb"}).as_posix()
        '/srv/sb'
    """
    env = os.environ if environ is None else environ
    return Path(env.get(HOME_ENV) or DEFAULT_HOME).expanduser()
