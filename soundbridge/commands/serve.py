"""``soundbridge serve``: the dashboard, offline, on loopback unless told otherwise."""

from __future__ import annotations

import click

from kg.config import Neo4jSettings
from kg.connection import connect
from loaders.config import data_root
from loaders.errors import ConfigError

__all__ = ["serve"]


@click.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on (loopback only unless you say otherwise).",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
def serve(host: str, port: int) -> None:
    """Serve the graph-exploration dashboard (every asset local; works offline)."""
    import uvicorn

    from soundbridge.dashboard import create_app

    try:
        root = data_root()
    except ConfigError as e:
        click.echo(f"note: {e}; recordings will not play", err=True)
        root = None
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: listening on {host}: the dashboard has no login", err=True)
    settings = Neo4jSettings.from_env()
    with connect(settings) as driver:
        app = create_app(driver, root)
        click.echo(f"soundbridge dashboard on http://{host}:{port}/ (graph at {settings.uri})")
        uvicorn.run(app, host=host, port=port, log_level="warning")
