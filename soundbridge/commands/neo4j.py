"""``soundbridge neo4j``: install, start, stop and inspect soundbridge's own Neo4j server.

The settings come from the environment (:meth:`kg.config.Neo4jSettings.from_env`): ``NEO4J_URI``,
``NEO4J_USER``, ``NEO4J_PASSWORD``, ``SOUNDBRIDGE_HOME``, ``SOUNDBRIDGE_NEO4J_LIB`` and the memory
variables. Failures are raised as :class:`~loaders.errors.SoundbridgeError` subclasses, which
:func:`soundbridge.cli.main` prints.
"""

from __future__ import annotations

import json
import time

import click

from kg.config import HTTP_PORT_ENV, NEO4J_VERSION, PASSWORD_ENV, Neo4jSettings
from kg.server import Neo4jServer

__all__ = ["neo4j"]


def _server() -> Neo4jServer:
    return Neo4jServer(Neo4jSettings.from_env())


def _password_source(settings: Neo4jSettings) -> str:
    if settings.password_file is not None:
        return f"stored in {settings.password_file}"
    return f"from {PASSWORD_ENV}"


def _install(server: Neo4jServer) -> None:
    lib = server.settings.lib
    if server.is_installed():
        click.echo(f"Neo4j {NEO4J_VERSION} already installed in {lib}")
        return
    click.echo(
        f"installing Neo4j {NEO4J_VERSION}, Neo4j Browser, APOC and GDS into {lib} "
        "(Maven fetches about 175 MB once)"
    )
    started = time.monotonic()
    server.install()
    click.echo(f"installed in {time.monotonic() - started:.1f}s")


@click.group()
def neo4j() -> None:
    """Run soundbridge's own Neo4j Community server (local, loopback only)."""


@neo4j.command()
def install() -> None:
    """Fetch Neo4j's jars with Maven (a no-op when they are already there)."""
    _install(_server())


@neo4j.command()
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=120.0,
    show_default=True,
    help="Seconds to wait for the server to answer.",
)
def start(timeout: float) -> None:
    """Start the server (installing it first if needed) and wait until it answers."""
    server = _server()
    settings = server.settings
    if not server.is_installed():
        _install(server)
    started = time.monotonic()
    if server.start(timeout=timeout):
        click.echo(f"Neo4j {NEO4J_VERSION} started in {time.monotonic() - started:.1f}s")
    else:
        click.echo("Neo4j is already running; nothing to do")
    click.echo(f"uri:      {settings.uri}")
    click.echo(f"user:     {settings.user}")
    click.echo(f"password: {_password_source(settings)}")
    click.echo(f"home:     {server.home} (logs in {server.logs_dir})")


@neo4j.command()
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds to wait for the server to exit.",
)
@click.option("--force", is_flag=True, help="Kill the server if it has not exited in time.")
def stop(timeout: float, force: bool) -> None:
    """Stop the server gracefully; its data is kept."""
    server = _server()
    if server.stop(timeout=timeout, force=force):
        click.echo(f"Neo4j stopped; data kept in {server.home / 'data'}")
    else:
        click.echo("Neo4j is not running; nothing to do")


@neo4j.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
def status(as_json: bool) -> None:
    """Say whether the server runs, where, and which version (exit status 0 either way).

    The Browser's address is the running server's own (its neo4j.conf, checked over HTTP), not
    what this shell's SOUNDBRIDGE_NEO4J_HTTP_PORT would give a server started now.
    """
    server = _server()
    st = server.status()
    if as_json:
        fields = {
            "running": st.running,
            "pid": st.pid,
            "uri": st.uri,
            "version": st.version,
            "edition": st.edition,
            "home": str(st.home),
            "browser_url": st.browser_url,
            "apoc_version": st.apoc_version,
            "gds_version": st.gds_version,
        }
        click.echo(json.dumps(fields, indent=2))
        return
    if st.running:
        state = f"running (pid {st.pid})"
        if st.version is None:
            state += ", not answering yet"
    else:
        state = "not running"
    click.echo(f"status:   {state}")
    click.echo(f"uri:      {st.uri}")
    click.echo(f"version:  {st.version or '-'}{f' ({st.edition})' if st.edition else ''}")
    click.echo(f"home:     {st.home}")
    if st.browser_url:
        browser = st.browser_url
    elif st.running:
        browser = f"- (not served: stop the server and start it again with {HTTP_PORT_ENV} set)"
    else:
        browser = f"- (served when the server runs with {HTTP_PORT_ENV} set)"
    click.echo(f"browser:  {browser}")
    click.echo(f"apoc:     {st.apoc_version or '-'}")
    click.echo(f"gds:      {st.gds_version or '-'}")
    click.echo(f"password: {_password_source(server.settings)}")
