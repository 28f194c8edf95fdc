"""``soundbridge review answer | link | retract | log``: experts' answers from the command line.

A thin layer over :mod:`kg.expert`, which checks who may answer what (role, scope) and stores
each answer with its provenance (``docs/experts.md``). Nobody signs in to the command line: the
operator names the expert with ``--expert``, and the expert's account decides what is allowed.
Every command prints the answer's id first on its line.

Usage::

    soundbridge review answer NHS2-5KU4 --function Lullaby --expert rosa --confidence 0.9
    soundbridge review link NHS2-5KU4 NHS2-9Y4I --must --expert rosa --rationale "same lullaby"
    soundbridge review retract ans-0123456789ab
    soundbridge review log --expert rosa --json

``review`` is a plain click group, so other modules add their commands to it (the queue).
"""

from __future__ import annotations

import json

import click

from kg.config import Neo4jSettings
from kg.connection import connect
from kg.expert import (
    Answer,
    ExpertNotFoundError,
    answer_function,
    answer_link,
    answers,
    get_answer,
    retract,
)
from soundbridge.commands.params import NonBlank

__all__ = ["review"]

_TRACK = NonBlank("a Track id such as NHS2-TBMU")
_USER = NonBlank("an account name")


@click.group("review")
def review() -> None:
    """Experts' answers: function labels, must/cannot links, the log (docs/experts.md)."""


def _what(a: Answer) -> str:
    """The answer in a few words, e.g. ``NHS2-5KU4: Lullaby (function, confidence 0.9)``."""
    if a.kind == "function":
        return (
            f"{a.tracks[0]}: {a.label} ({a.label_kind}, confidence {a.confidence:g}) by {a.expert}"
        )
    return f"{a.tracks[0]} {a.kind} {a.tracks[1]} by {a.expert}"


def _done(a: Answer) -> None:
    replaced = f" (replaces {a.replaced})" if a.replaced else ""
    click.echo(f"{a.id}  {_what(a)}{replaced}")
    if a.note:
        click.echo(f"note: {a.note}")


@review.command("answer")
@click.argument("track", type=_TRACK)
@click.option(
    "--function",
    "label",
    type=NonBlank("a function (e.g. Lullaby) or a concept"),
    required=True,
    help="A function name or an active concept (id or name); case is ignored.",
)
@click.option("--expert", type=_USER, required=True, help="The answering expert's account.")
@click.option(
    "--confidence",
    type=float,
    default=1.0,
    show_default=True,
    help="How sure the expert is: 0 < p <= 1.",
)
@click.option("--rationale", default="", help="Why (optional, up to 2,000 characters).")
def answer_cmd(track: str, label: str, expert: str, confidence: float, rationale: str) -> None:
    """Say what TRACK is for: a function or a concept."""
    with connect(Neo4jSettings.from_env()) as driver:
        a = answer_function(
            driver, track, label, expert=expert, confidence=confidence, rationale=rationale
        )
    _done(a)


@review.command("link")
@click.argument("a", type=_TRACK)
@click.argument("b", type=_TRACK)
@click.option("--must", "kind", flag_value="must_link", help="A and B belong together.")
@click.option("--cannot", "kind", flag_value="cannot_link", help="A and B must be kept apart.")
@click.option("--expert", type=_USER, required=True, help="The answering expert's account.")
@click.option(
    "--rationale",
    type=NonBlank("the reason, e.g. 'both are Quechua harvest dances'"),
    required=True,
    help="Why (required, up to 2,000 characters).",
)
def link_cmd(a: str, b: str, kind: str | None, expert: str, rationale: str) -> None:
    """Say that songs A and B must (--must) or cannot (--cannot) be linked."""
    if kind is None:
        raise click.UsageError("say which link: --must or --cannot")
    with connect(Neo4jSettings.from_env()) as driver:
        answer = answer_link(driver, a, b, kind, expert=expert, rationale=rationale)
    _done(answer)


@review.command("retract")
@click.argument("answer_id", type=NonBlank("an answer id such as ans-0123456789ab"))
@click.option(
    "--by",
    type=_USER,
    default=None,
    help="Who retracts: the answer's expert (the default) or an admin.",
)
def retract_cmd(answer_id: str, by: str | None) -> None:
    """Retract answer ANSWER_ID: the graph is as before it was given."""
    with connect(Neo4jSettings.from_env()) as driver:
        if by is None:
            found = get_answer(driver, answer_id.strip())
            if found is None:
                raise ExpertNotFoundError(
                    f"no answer {answer_id.strip()} (`soundbridge review log` lists the answers)"
                )
            by = found.expert
        a = retract(driver, answer_id.strip(), by=by)
    click.echo(f"{a.id}  retracted: {_what(a)}")


@review.command("log")
@click.option("--expert", type=_USER, default=None, help="Only this expert's answers.")
@click.option("--track", type=_TRACK, default=None, help="Only the answers about this song.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: a list of answers (id, kind, expert, created, tracks, rationale, "
    "confidence, label, label_id, label_kind).",
)
def log_cmd(expert: str | None, track: str | None, as_json: bool) -> None:
    """The answers, newest first."""
    with connect(Neo4jSettings.from_env()) as driver:
        found = answers(driver, expert=expert, track=track)
    if as_json:
        fields = ("replaced", "note")  # only meaningful when an answer is given
        rows = [{k: v for k, v in a.to_dict().items() if k not in fields} for a in found]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not found:
        narrowed = expert is not None or track is not None
        click.echo("no answers match" if narrowed else "no answers yet")
        return
    for a in found:
        why = f'  "{" ".join(a.rationale.split())[:80]}"' if a.rationale else ""
        click.echo(f"{a.id}  {a.created[:16].replace('T', ' ')}  {_what(a)}{why}")
