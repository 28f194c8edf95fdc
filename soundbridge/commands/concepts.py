"""``soundbridge concepts add | list | retire | merge``: concepts the ontology lacks.

A thin layer over :mod:`kg.expert`. ``add`` embeds the description with the shipped MiniLM
(:func:`gnn.features.embed_texts`, offline), after the name, the account and the description have
been checked, so a refused concept costs no model load. Retiring and merging need an admin.

Usage::

    soundbridge concepts add "Harvest song" --description "Sung while bringing in the taro" \\
        --expert rosa --kind function
    soundbridge concepts list --all --json
    soundbridge concepts retire concept-harvest-song --admin ana
    soundbridge concepts merge concept-taro-song concept-harvest-song --admin ana
"""

from __future__ import annotations

import json

import click

from kg.config import Neo4jSettings
from kg.connection import connect
from kg.expert import (
    CONCEPT_KINDS,
    MAX_RATIONALE,
    add_concept,
    check_concept,
    list_concepts,
    merge_concepts,
    retire_concept,
)
from soundbridge.commands.params import NonBlank

__all__ = ["concepts"]

_ID = NonBlank("a concept id such as concept-harvest-song")
_USER = NonBlank("an account name")


@click.group("concepts")
def concepts() -> None:
    """Concepts experts add where the functions fall short (docs/experts.md)."""


@concepts.command("add")
@click.argument("name", type=NonBlank("a short name, e.g. 'Harvest song'"))
@click.option(
    "--description",
    type=NonBlank("what the concept means, in a sentence or two"),
    required=True,
    help=f"What it means (1-{MAX_RATIONALE:,} characters); its embedding places the concept.",
)
@click.option("--expert", type=_USER, required=True, help="Who proposes it (expert or admin).")
@click.option("--kind", type=click.Choice(CONCEPT_KINDS), default="function", show_default=True)
def add_cmd(name: str, description: str, expert: str, kind: str) -> None:
    """Add concept NAME; prints its id."""
    if len(description.strip()) > MAX_RATIONALE:
        raise click.BadParameter(
            f"{len(description.strip()):,} characters; keep it to {MAX_RATIONALE:,}",
            param_hint="'--description'",
        )
    with connect(Neo4jSettings.from_env()) as driver:
        check_concept(driver, name, description, expert=expert, kind=kind)
        from gnn.features import embed_texts

        vector = [float(x) for x in embed_texts([description.strip()])[0]]
        c = add_concept(driver, name, description, expert=expert, kind=kind, embedding=vector)
    click.echo(f"{c.id}  added {c.name!r} ({c.kind}) by {c.expert}")


@concepts.command("list")
@click.option("--all", "everything", is_flag=True, help="Retired and merged concepts too.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: a list of concepts (id, name, description, kind, expert, created, status, "
    "merged_into); no embeddings.",
)
def list_cmd(everything: bool, as_json: bool) -> None:
    """The active concepts (with --all, every one), by name."""
    with connect(Neo4jSettings.from_env()) as driver:
        found = list_concepts(driver, include_retired=everything)
    if as_json:
        click.echo(json.dumps([c.to_dict() for c in found], indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo(
            "no concepts yet; add one with: soundbridge concepts add NAME --description TEXT "
            "--expert USER"
        )
        return
    width = max(len(c.id) for c in found)
    for c in found:
        status = f"merged into {c.merged_into}" if c.merged_into else c.status
        about = " ".join(c.description.split())
        about = about if len(about) <= 60 else about[:59] + "…"
        click.echo(f"{c.id:<{width}}  {c.kind:<8}  {status:<8}  {c.name}: {about} (by {c.expert})")


@concepts.command("retire")
@click.argument("concept_id", metavar="ID", type=_ID)
@click.option("--admin", type=_USER, required=True, help="The admin who retires it.")
def retire_cmd(concept_id: str, admin: str) -> None:
    """Retire concept ID: no new answers may name it, and its answers stop counting."""
    with connect(Neo4jSettings.from_env()) as driver:
        c = retire_concept(driver, concept_id.strip(), admin=admin)
    click.echo(f"{c.id}  retired by {admin}")


@concepts.command("merge")
@click.argument("source", type=_ID)
@click.argument("into", type=_ID)
@click.option("--admin", type=_USER, required=True, help="The admin who merges them.")
def merge_cmd(source: str, into: str, admin: str) -> None:
    """Merge concept SOURCE into INTO: SOURCE's answers count for INTO from now on."""
    with connect(Neo4jSettings.from_env()) as driver:
        c = merge_concepts(driver, source.strip(), into.strip(), admin=admin)
    click.echo(f"{c.id}  merged into {c.merged_into} by {admin}")
