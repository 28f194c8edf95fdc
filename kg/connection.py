"""The one place soundbridge builds a Neo4j driver.

Everything else receives a :class:`neo4j.Driver` as an argument (as neo4j-graphrag's retrievers
do) and never builds its own, so credentials, timeouts and error translation live here only.
"""

from __future__ import annotations

import neo4j
from neo4j.exceptions import AuthError, ConfigurationError, DriverError, Neo4jError

from kg.config import PASSWORD_ENV, URI_ENV, USER_ENV, Neo4jSettings
from kg.errors import DatabaseAuthError, DatabaseError, DatabaseUnavailableError
from loaders.errors import ConfigError

__all__ = ["connect"]

_USER_AGENT = "soundbridge"


def connect(settings: Neo4jSettings, *, timeout: float = 10.0) -> neo4j.Driver:
    """Build a driver for ``settings`` and check that the server answers and accepts the login.

    The caller owns the driver: close it (``driver.close()`` or ``with connect(s) as driver:``).

    Args:
        settings: where the server is and how to log in (:meth:`Neo4jSettings.from_env`).
        timeout: seconds to wait for a TCP connection to the server.

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
    try:
        driver = neo4j.GraphDatabase.driver(
            settings.uri,
            auth=neo4j.basic_auth(settings.user, settings.password),
            connection_timeout=timeout,
            user_agent=_USER_AGENT,
            # The server's notifications ("property key does not exist" on a COALESCE over
            # optional properties, "unknown relationship type" before a type's first write)
            # reach Python logging as WARNINGs that say nothing actionable here.
            notifications_min_severity="OFF",
        )
    except (ConfigurationError, ValueError) as e:
        raise ConfigError(f"{URI_ENV}={settings.uri!r}: the Neo4j driver rejects it ({e})") from e
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
    except (neo4j.exceptions.ServiceUnavailable, neo4j.exceptions.SessionExpired, OSError) as e:
        driver.close()
        raise DatabaseUnavailableError(
            f"no Neo4j server answers at {settings.uri} ({_one_line(e)}); start soundbridge's "
            f"own with `soundbridge neo4j start`, or point {URI_ENV} at a running server"
        ) from e
    except (Neo4jError, DriverError) as e:
        driver.close()
        raise DatabaseError(
            f"the Neo4j server at {settings.uri} cannot be used: {_one_line(e)}"
        ) from e
    return driver


def _one_line(error: Exception) -> str:
    # The driver's messages span lines; ours read as one sentence.
    return " ".join(str(error).split())
