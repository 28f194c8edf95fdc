"""``soundbridge review queue``: the songs experts should answer first.

The songs whose function no one knows yet (no public label, no combined expert answer), the
ones the function model is least sure of first, spread across societies and regions
(:func:`recsys.review.review_queue`; the rule is :func:`recsys.review.review_order`). Read from
the graph's served recommender (:func:`recsys.similar.served_catalogue`), so the queue follows
the graph: a song answered there leaves it. With ``--concept``, an expert's concept (perhaps
given to no song yet) is asked about: the songs the model thinks may serve it, placed zero-shot
from its description (:mod:`recsys.concepts`), but is unsure of come first.

Usage::

    soundbridge review queue --k 10 --culture "Central Andes"
    soundbridge review queue --concept "Rice harvest song"
    soundbridge review queue --json
"""

from __future__ import annotations

import json

import click

from soundbridge.commands.params import CULTURE

__all__ = ["queue_cmd"]


@click.command("queue")
@click.option("--k", type=click.IntRange(min=1), default=20, show_default=True, help="How many.")
@click.option(
    "--culture",
    type=CULTURE,
    default=None,
    help="Only songs of this culture (and below it): name, id, Glottocode or alias.",
)
@click.option(
    "--concept",
    default=None,
    help="Ask about this active concept (name or id): songs that may serve it, least sure first.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: a list of objects (track_id, name, culture, culture_name, region, "
    "region_name, uncertainty, predicted, nearest_known).",
)
def queue_cmd(k: int, culture: str | None, concept: str | None, as_json: bool) -> None:
    """The K songs whose function the model is least sure of, spread over societies and regions."""
    from kg.config import Neo4jSettings
    from kg.connection import connect
    from kg.expert import list_concepts
    from recsys.concepts import resolve_concept
    from recsys.review import review_queue
    from recsys.similar import served_catalogue

    with connect(Neo4jSettings.from_env()) as driver:
        model = served_catalogue(driver)
        active = list_concepts(driver) if concept is not None else []
    # an unknown name is a SoundbridgeError: the CLI prints it as one line listing the active ones
    asked = resolve_concept(concept, active) if concept is not None else None
    rows = None
    where = ""
    if culture is not None:
        target = model.catalogue_.tree.resolve(culture)  # UnknownCultureError names the closest
        rows = model.rows(target.ids)
        where = f" of {target.name}"
    items = review_queue(model, k=k, culture_rows=rows, concept=asked)
    if as_json:
        click.echo(json.dumps([item.to_dict() for item in items], indent=2))
        return
    if not items:
        click.echo(f"no song{where} is waiting for an answer: every one has a known function")
        return
    for rank, item in enumerate(items, 1):
        guesses = ", ".join(f"{label} {p:.2f}" for label, p in item.predicted)
        place = item.culture_name + (f", {item.region_name}" if item.region_name else "")
        click.echo(f"{rank:>3}  {item.uncertainty:.3f}  {item.track_id}  {place}  {item.name}")
        click.echo(f"       predicted: {guesses}")
        if item.concept_score is not None and asked is not None:
            click.echo(f"       may be {asked.name}: {item.concept_score:.2f} (zero-shot)")
        if item.nearest_known:
            near = "; ".join(
                f"{n.track_id} {n.function} ({n.culture_name})" for n in item.nearest_known
            )
            click.echo(f"       nearest known: {near}")
