"""``soundbridge search "a healing song from the Amazon"``: free-text search of the catalogue.

Served by :func:`recsys.text.search_text` over the graph at ``NEO4J_URI``; the joint text–music
heads are trained on first use (seconds) and cached in ``$SOUNDBRIDGE_HOME/cache/text``.
"""

from __future__ import annotations

import json

import click

from soundbridge.commands.params import CULTURE, NonBlank

__all__ = ["search"]


@click.command("search")
@click.argument("query", type=NonBlank('what to look for, e.g. "a healing song from the Amazon"'))
@click.option("--k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option(
    "--culture",
    type=CULTURE,
    default=None,
    help="Search only this culture (name, id, Glottocode or alias); default: the one the query "
    "names, if any.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def search(query: str, k: int, culture: str | None, as_json: bool) -> None:
    """The K catalogue tracks that best fit QUERY (a function, a culture, a singing style)."""
    from kg.config import Neo4jSettings
    from kg.connection import connect
    from recsys.text import search_text

    with connect(Neo4jSettings.from_env()) as driver:
        results = search_text(query, k, target_culture=culture, driver=driver)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], ensure_ascii=False))
        return
    first = results[0].details.get("culture_filter") if results else None
    if first:
        click.echo(f"searching {first['name']} ({', '.join(first['ids'])})")
    for rank, r in enumerate(results, 1):
        function = r.function or f"{r.details.get('function', '?')}?"
        click.echo(
            f"{rank:>3}  {r.track_id:<10} {r.score:6.3f}  {function:<11} {r.culture_name}"
            f"  {r.title}"
        )
        click.echo(f"     {r.explanation}")
