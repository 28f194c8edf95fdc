"""The one place soundbridge builds a Neo4j driver.

Everything else receives a :class:`neo4j.Driver` as an argument (as neo4j-graphrag's retrievers
do) and never builds its own, so credentials, timeouts and error translation live here only.
"""

from __future__ import annotations

import time

import neo4j
from neo4j.exceptions import AuthError, ConfigurationError, DriverError, Neo4jError

from kg.config import PASSWORD_ENV, URI_ENV, USER_ENV, Neo4jSettings
from kg.errors import DatabaseAuthError, database_error
from loaders.errors import ConfigError

__all__ = ["DEFAULT_RETRY_SECONDS", "connect"]

#: Seconds a driver keeps retrying against a server that went away (or is busy) before it gives
#: up: the command line's budget. The dashboard asks :func:`connect` for less.
DEFAULT_RETRY_SECONDS = 10.0

_USER_AGENT = "soundbridge"

# The driver retries a failed transaction with a back-off that doubles (1, 2, 4, 8 … s) until
# its retry time has passed, so its last sleep can overrun that time by as much again: its default
# 30 s gave up after 64 s against a killed server. A steady delay keeps the overrun to one short
# sleep, which the retry time leaves room for, so the whole wait stays within the budget.
_RETRY_DELAY = 1.0
_RETRY_JITTER = 0.2  # each sleep is the delay ± 20 % (the driver's default)


def connect(
    settings: Neo4jSettings,
    *,
    timeout: float = 10.0,
    retry_seconds: float = DEFAULT_RETRY_SECONDS,
) -> neo4j.Driver:
    """Build a driver for ``settings`` and check that the server answers and accepts the login.

    The caller owns the driver: close it (``driver.close()`` or ``with connect(s) as driver:``).

    Args:
        settings: where the server is and how to log in (:meth:`Neo4jSettings.from_env`).
        timeout: seconds to wait for one connection to open (TCP and Bolt handshake); at most
            ``retry_seconds`` of them are used.
        retry_seconds: the budget for a server that does not answer: how long a transaction
            that failed because the server went away or was busy is retried, and how long a
            query waits for a connection. The command line keeps the default; the dashboard
            asks for 3 so that a page answers in time. When it runs out the driver's last error
            is raised (:func:`kg.errors.database_error` words it, with the time waited).

    Returns:
        A driver whose connectivity and credentials have been verified.

    Raises:
        ConfigError: when the driver rejects the URI or an option.
        DatabaseUnavailableError: when no server answers at ``settings.uri``.
        DatabaseAuthError: when the server refuses the user or password.
        DatabaseError: for any other failure to reach the server.

    Examples:
        >>> from kg.config import Neo4jSettings
        >>> with connect(Neo4jSettings.from_env()) as driver:  # doctest: +SKIP
        ...     driver.execute_query("RETURN 1 AS one").records[0]["one"]
        1
    """
    delay = min(_RETRY_DELAY, retry_seconds / 10)
    opening = min(timeout, retry_seconds) if retry_seconds > 0 else timeout
    try:
        driver = neo4j.GraphDatabase.driver(
            settings.uri,
            auth=neo4j.basic_auth(settings.user, settings.password),
            connection_timeout=opening,
            connection_acquisition_timeout=opening,
            max_transaction_retry_time=max(retry_seconds - delay * (1 + _RETRY_JITTER), 0.0),
            # Documented by the driver as unsupported tuning; see _RETRY_DELAY for why.
            initial_retry_delay=delay,
            retry_delay_multiplier=1.0,
            retry_delay_jitter_factor=_RETRY_JITTER,
            user_agent=_USER_AGENT,
            # The server's notifications ("property key does not exist" on a COALESCE over
            # optional properties, "unknown relationship type" before a type's first write)
            # reach Python logging as WARNINGs that say nothing actionable here.
            notifications_min_severity="OFF",
        )
    except (ConfigurationError, ValueError) as e:
        raise ConfigError(f"{URI_ENV}={settings.uri!r}: the Neo4j driver rejects it ({e})") from e
    started = time.monotonic()
    try:
        driver.verify_connectivity()
    except AuthError as e:
        driver.close()
        where = (
            f"the password file {settings.password_file}"
            if settings.password_file is not None
            else PASSWORD_ENV
        )
        raise DatabaseAuthError(
            f"the Neo4j server at {settings.uri} refuses user {settings.user!r} with the password "
            f"from {where} ({e.message or _one_line(e)}); set {USER_ENV}/{PASSWORD_ENV} to the "
            "server's credentials (soundbridge's own server keeps the password of its first "
            f"start: to start over, stop it and delete {settings.server_home / 'data'})"
        ) from e
    except (Neo4jError, DriverError, OSError) as e:
        driver.close()
        raise database_error(e, settings.uri, waited=time.monotonic() - started) from e
    return driver


def _one_line(error: Exception) -> str:
    # The driver's messages span lines; ours read as one sentence.
    return " ".join(str(error).split())
