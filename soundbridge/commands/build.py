"""``soundbridge build`` and ``soundbridge demo``."""

from __future__ import annotations

from pathlib import Path

import click
import neo4j

from kg.config import Neo4jSettings
from kg.connection import connect
from kg.cypher import format_table, run_read
from kg.errors import DatabaseUnavailableError
from kg.server import Neo4jServer
from kg.stats import graph_counts
from soundbridge.build import STEPS, run_build

__all__ = ["build", "demo"]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "queries"


def _connect_starting_local(settings: Neo4jSettings) -> neo4j.Driver:
    """Connect; when nothing answers and NEO4J_URI is on loopback, start the local server first."""
    try:
        return connect(settings)
    except DatabaseUnavailableError:
        if settings.host not in ("127.0.0.1", "localhost", "::1"):
            raise
    click.echo(f"no Neo4j answers at {settings.uri}: starting the local server …", err=True)
    server = Neo4jServer(settings)
    server.install()
    server.start()
    return connect(settings)


@click.command("build")
@click.option("--force", is_flag=True, help="Run every step even if its inputs did not change.")
@click.option(
    "--step",
    "steps",
    multiple=True,
    type=click.Choice([s.name for s in STEPS]),
    help="Run only this step (repeatable).",
)
def build(force: bool, steps: tuple[str, ...]) -> None:
    """Run the whole pipeline (ingest, audio, recommenders, alignment), skipping steps whose
    inputs did not change."""
    settings = Neo4jSettings.from_env()
    with _connect_starting_local(settings) as driver:
        results = run_build(
            driver, settings, force=force, only=steps or None, log=lambda m: click.echo(m, err=True)
        )
        counts = graph_counts(driver)
    for r in results:
        click.echo(f"{r.name:<10} {r.status}" + (f" ({r.detail})" if r.detail else ""))
    click.echo(
        f"graph: {counts.total_nodes:,} nodes, {counts.total_relationships:,} relationships, "
        f"{counts.societies} societies"
    )


@click.command("demo")
def demo() -> None:
    """Build (if needed) and show what the graph answers: the Andean songs and Ewe's style kin."""
    settings = Neo4jSettings.from_env()
    with _connect_starting_local(settings) as driver:
        # The demo needs the graph and the audio factors (from the packaged factor model: seconds).
        # `soundbridge build` also trains the user recommenders.
        run_build(driver, settings, only=["ingest", "audio"], log=lambda m: click.echo(m, err=True))
        counts = graph_counts(driver)
        click.echo(
            f"\nThe graph holds {counts.nodes.get('Track', 0):,} songs from "
            f"{counts.societies} societies, {counts.nodes.get('Artist', 0):,} artists and "
            f"{counts.nodes.get('User', 0):,} listeners "
            f"({counts.total_relationships:,} relationships).\n"
        )
        click.echo("== Songs of the Central Andes and what they are for")
        q = (DOCS / "andean_functions.cypher").read_text()
        click.echo(format_table(run_read(driver, q)))
        click.echo("\n== Societies whose singing style is closest to the Ewe (Cantometrics)")
        q = (DOCS / "style_neighbours.cypher").read_text()
        click.echo(format_table(run_read(driver, q, {"society": "Ewe"})))
        _demo_similar(driver)
    _demo_user()


def _demo_similar(driver: neo4j.Driver) -> None:
    from recsys.similar import served_catalogue

    model = served_catalogue(driver)
    cat = model.catalogue_
    rows = model.rows(cat.tree.resolve("Ewe").ids)
    if len(rows) == 0:
        raise click.ClickException("no Ewe song with audio factors in the graph")
    song = str(cat.track_ids[rows[0]])
    click.echo(f"\n== Songs like the Ewe song {song} ({cat.names[rows[0]]}) from the Central Andes")
    for rank, r in enumerate(model.recommend_similar(song, "Central Andes", 5), 1):
        fn = f" [{r.function}]" if r.function else ""
        click.echo(f"{rank}. {r.track_id}  {r.culture_name}{fn}  score {r.score:.3f}")
        click.echo(f"   {r.explanation}")


def _demo_user(user_id: int = 2) -> None:
    """The served user recommender's top five for one listener, once `build` has trained it."""
    from recsys.api import recommend_for_user
    from recsys.pipeline import artefacts_dir

    if not (artefacts_dir(None) / "model.npz").is_file():
        click.echo(
            "\n== Artists for a listener: `soundbridge build` trains the user recommenders once "
            f"(about eleven minutes); then `soundbridge recommend user {user_id}` shows them"
        )
        return
    click.echo(f"\n== Artists for Last.fm listener {user_id} (the served recommender)")
    for rank, r in enumerate(recommend_for_user(user_id, k=5), 1):
        click.echo(f"{rank}. {r['name']}  score {r['score']:.3f}")
