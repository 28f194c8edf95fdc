"""``soundbridge serve``: the dashboard, offline, on loopback unless told otherwise."""

from __future__ import annotations

import os

import click

from kg.config import Neo4jSettings, soundbridge_home
from kg.connection import connect
from loaders.config import data_root
from loaders.errors import ConfigError

__all__ = ["serve"]

ALLOWED_HOSTS_ENV = "SOUNDBRIDGE_ALLOWED_HOSTS"
#: How long a dashboard request waits for a Neo4j that does not answer before it says so (503).
DASHBOARD_RETRY_SECONDS = 3.0


@click.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on (loopback only unless you say otherwise).",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="A host name people type to reach the dashboard (repeatable; default: loopback names, "
    "or SOUNDBRIDGE_ALLOWED_HOSTS, comma-separated). Requests naming any other Host get 400.",
)
@click.option(
    "--secure-cookies",
    is_flag=True,
    help="Send the session cookie over HTTPS only (when a TLS proxy serves the dashboard).",
)
def serve(host: str, port: int, allowed_hosts: tuple[str, ...], secure_cookies: bool) -> None:
    """Serve the graph-exploration dashboard (sign-in required; every asset local; offline)."""
    import uvicorn

    from kg.accounts import count_accounts
    from soundbridge.dashboard import LOOPBACK_HOSTS, create_app

    hosts = list(allowed_hosts) or [
        h.strip() for h in os.environ.get(ALLOWED_HOSTS_ENV, "").split(",") if h.strip()
    ]
    loopback = host in ("127.0.0.1", "localhost", "::1")
    if not hosts:
        if not loopback:
            raise click.UsageError(
                f"listening on {host} needs the names people will type to reach it: "
                f"--allowed-host NAME (or {ALLOWED_HOSTS_ENV}); see docs/security.md"
            )
        hosts = list(LOOPBACK_HOSTS)
    try:
        root = data_root()
    except ConfigError as e:
        click.echo(f"note: {e}; recordings will not play", err=True)
        root = None
    settings = Neo4jSettings.from_env()
    with connect(settings, retry_seconds=DASHBOARD_RETRY_SECONDS) as driver:
        if count_accounts(driver) == 0:
            click.echo(
                "note: there is no account yet, so nobody can sign in; create the first admin "
                "with: soundbridge users add NAME --role admin",
                err=True,
            )
        app = create_app(
            driver,
            root,
            soundbridge_home(),
            allowed_hosts=hosts,
            secure_cookies=secure_cookies,
            neo4j_uri=settings.uri,
        )
        shown = host if ":" not in host else f"[{host}]"
        click.echo(f"soundbridge dashboard on http://{shown}:{port}/ (graph at {settings.uri})")
        uvicorn.run(app, host=host, port=port, log_level="warning")
