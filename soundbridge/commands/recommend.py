"""``soundbridge recommend …``, ``soundbridge export-user-recs`` and ``soundbridge gnn …``.

They serve the artefacts of :func:`recsys.pipeline.build` (``$SOUNDBRIDGE_HOME/recsys``), which
``soundbridge gnn evaluate`` (or ``soundbridge build``) writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from soundbridge.commands.params import CULTURE, NonBlank, NonBlankPath

__all__ = ["cross_evaluate_cmd", "export_user_recs_cmd", "gnn", "recommend"]

_ARTEFACTS = click.option(
    "--artefacts",
    type=NonBlankPath(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the built recommender (default: $SOUNDBRIDGE_HOME/recsys).",
)


def _table(rows: list[dict]) -> None:
    for rank, r in enumerate(rows, 1):
        name = f"  {r['name']}" if r.get("name") else ""
        click.echo(f"{rank:>3}  {r['id']:>6}  {r['score']:.4f}{name}")


@click.group("recommend")
def recommend() -> None:
    """Recommendations from the built model: artists for a user, similar artists, friends."""


@recommend.command("user")
@click.argument("user_id", type=int)
@click.option("--k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--include-seen", is_flag=True, help="Keep artists the user already listened to.")
@click.option(
    "--culture",
    type=CULTURE,
    default=None,
    help="Only artists of this culture: the user's history is transported onto them (needs Neo4j).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_ARTEFACTS
def user_cmd(
    user_id: int,
    k: int,
    include_seen: bool,
    culture: str | None,
    as_json: bool,
    artefacts: Path | None,
) -> None:
    """Top K artists for Last.fm user USER_ID (already-listened excluded)."""
    from recsys.api import recommend_for_user

    rows = recommend_for_user(
        user_id, k, not include_seen, target_culture=culture, artefacts=artefacts
    )
    click.echo(json.dumps(rows)) if as_json else _table(rows)


@recommend.command("artist")
@click.argument("artist_id", type=int)
@click.option("--k", type=click.IntRange(min=1), default=10, show_default=True)
@_ARTEFACTS
def artist_cmd(artist_id: int, k: int, artefacts: Path | None) -> None:
    """The K artists most similar to ARTIST_ID."""
    from recsys.api import similar_artists

    _table(similar_artists(artist_id, k, artefacts=artefacts))


@recommend.command("friends")
@click.argument("user_id", type=int)
@click.option("--k", type=click.IntRange(min=1), default=10, show_default=True)
@_ARTEFACTS
def friends_cmd(user_id: int, k: int, artefacts: Path | None) -> None:
    """K users to suggest as friends of USER_ID (current friends excluded)."""
    from recsys.api import recommend_friends

    _table(recommend_friends(user_id, k, artefacts=artefacts))


@click.command("export-user-recs")
@click.option("--k", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--out", type=NonBlankPath(dir_okay=False, path_type=Path), required=True)
@_ARTEFACTS
def export_user_recs_cmd(k: int, out: Path, artefacts: Path | None) -> None:
    """Write the top K artists of every user (user_id, rank, artist_id, score).

    CSV when OUT ends in .csv, Parquet otherwise.
    """
    from recsys.api import export_user_recs

    df = export_user_recs(out, k, artefacts=artefacts)
    click.echo(f"{len(df):,} rows for {df['user_id'].nunique():,} users written to {out}")


@click.group("gnn")
def gnn() -> None:
    """Train and evaluate the recommenders (GNN and baselines) on the knowledge graph."""


@gnn.command("evaluate")
@click.option("--out", type=NonBlankPath(file_okay=False, path_type=Path), default=None)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-write", is_flag=True, help="Do not write embeddings into Neo4j.")
@click.option(
    "--force",
    is_flag=True,
    help="With the defaults: run even when the build's record says nothing changed.",
)
@click.option(
    "--sampler",
    type=click.Choice(["full", "neighbor"]),
    default="full",
    show_default=True,
    help="HeteroGNN's batches: whole-graph propagation, or LinkNeighborLoader sub-graphs "
    "(memory follows the batch: for graphs larger than memory).",
)
def evaluate_cmd(out: Path | None, seed: int, no_write: bool, force: bool, sampler: str) -> None:
    """Fit every model on the same split, evaluate them, write the report and embeddings.

    With the defaults this is the build's `recommenders` step (skipped when nothing it reads
    changed, unless --force). --out, --seed, --sampler or --no-write make it an experiment: it
    always runs and leaves the build's record alone.
    """
    from kg.config import Neo4jSettings
    from kg.connection import connect

    settings = Neo4jSettings.from_env()
    say = lambda m: click.echo(m, err=True)  # noqa: E731
    with connect(settings) as driver:
        if out is None and seed == 0 and not no_write and sampler == "full":
            from soundbridge.build import run_build

            for r in run_build(driver, settings, force=force, only=["recommenders"], log=say):
                click.echo(f"{r.name:<10} {r.status}" + (f" ({r.detail})" if r.detail else ""))
            return
        from recsys.pipeline import DEFAULT_MODELS, SERVED, build, default_model

        models = dict(DEFAULT_MODELS)
        if sampler != "full":
            models[SERVED] = lambda: default_model(sampler=sampler)
        build(driver, models=models, out=out, seed=seed, write_graph=not no_write, log=say)


@gnn.command("train")
@click.option(
    "--distributed",
    is_flag=True,
    help="Data-parallel over the processes torchrun started (gloo, CPU): each takes a share of "
    "every batch and the gradients are averaged (docs/scaling.md), e.g. `torchrun "
    "--nproc-per-node 2 --no-python soundbridge gnn train --distributed --threads 1`.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the model.")
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=None,
    help="At most this many epochs (default: the served model's).",
)
@click.option(
    "--patience",
    type=click.IntRange(min=1),
    default=None,
    help="Epochs without a better inner Recall@20 before stopping (default: the model's).",
)
@click.option(
    "--no-refit",
    is_flag=True,
    help="Do not train again on every training row for the epochs chosen on the inner split.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="torch threads of each process (default: the model's 2; with several processes on "
    "one machine, its cores over the processes).",
)
@click.option(
    "--out",
    type=NonBlankPath(dir_okay=False, path_type=Path),
    default=None,
    help="JSON of the held-out figures, the inner curve and the timings (first process only).",
)
def train_cmd(
    distributed: bool,
    seed: int,
    epochs: int | None,
    patience: int | None,
    no_refit: bool,
    threads: int | None,
    out: Path | None,
) -> None:
    """Fit the served GNN on the project's split and score its held-out rows.

    The split is the build's (Last.fm, seed 0): every choice is made on an inner split of the
    training rows, the held-out rows are scored once; nothing is written but --out. With
    --distributed, launched by torchrun (on one machine or several), the processes train one
    model together and the first one scores and writes it.
    """
    from contextlib import ExitStack

    from gnn.distributed import LAUNCH, data_parallel, launched_by_torchrun
    from kg.config import Neo4jSettings
    from kg.connection import connect
    from loaders.errors import ConfigError
    from recsys.pipeline import fit_served, served_figures

    world = launched_by_torchrun()
    if world > 1 and not distributed:
        raise ConfigError(
            f"torchrun started {world} processes but --distributed is missing: each would "
            f"train alone; add --distributed (`{LAUNCH}`) or run `soundbridge gnn train` alone"
        )
    params: dict[str, Any] = {"seed": seed}
    for name, value in (("epochs", epochs), ("patience", patience), ("threads", threads)):
        if value is not None:
            params[name] = value
    if no_refit:
        params["refit"] = False
    with ExitStack() as stack:
        replicas = stack.enter_context(data_parallel()) if distributed else None
        driver = stack.enter_context(connect(Neo4jSettings.from_env()))
        model, split, fit_seconds = fit_served(driver, **params)
        if replicas is not None and not replicas.writes:
            return
    run = served_figures(
        model, split, fit_seconds, processes=replicas.world if replicas is not None else 1
    )
    click.echo(
        f"Recall@20 {run['recall']:.4f}  NDCG@20 {run['ndcg']:.4f}  "
        f"{run['epochs']} inner epoch{'s' if run['epochs'] != 1 else ''} "
        f"(+{run['refit_epochs']} on every row), {run['seconds_per_epoch']:.1f} s an epoch, "
        f"fit {run['fit_seconds']:.0f} s on {run['processes']} process(es)"
    )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(run, indent=2))


@recommend.command("similar")
@click.argument("track", type=NonBlank('a track id, e.g. "NHS2-QAHO"'))
@click.option(
    "--culture", type=CULTURE, required=True, help="Target culture: name, id, Glottocode or alias."
)
@click.option("--k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option(
    "--alignment",
    type=click.Choice(["unbalanced", "sinkhorn", "fgw", "none"]),
    default=None,
    help="Transport method (default: the recommender's).",
)
@click.option(
    "--space",
    type=click.Choice(["factors", "gnn"]),
    default=None,
    help="What is aligned: the audio factors' affect/function embedding, or the GNN's track "
    "embeddings (written by `soundbridge gnn evaluate`). Default: the recommender's.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def similar_cmd(
    track: str, culture: str, k: int, alignment: str | None, space: str | None, as_json: bool
) -> None:
    """Songs like TRACK from another culture, with why."""
    from kg.config import Neo4jSettings
    from kg.connection import connect
    from recsys.similar import recommend_similar

    options = {} if alignment is None else {"alignment": alignment}
    if space is not None:
        options["space"] = space
    with connect(Neo4jSettings.from_env()) as driver:
        recs = recommend_similar(track, culture, k, driver=driver, **options)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in recs], indent=2))
        return
    for rank, r in enumerate(recs, 1):
        fn = f" [{r.function}]" if r.function else ""
        click.echo(f"{rank:>3}  {r.score:.3f}  {r.track_id}  {r.culture_name}{fn}  {r.title}")
        click.echo(f"       {r.explanation}")


@click.command("evaluate")
@click.option(
    "--out",
    type=NonBlankPath(file_okay=False, path_type=Path),
    default=None,
    help="Report folder (default: $SOUNDBRIDGE_HOME/reports/crosscultural).",
)
@click.option(
    "--audio-run",
    type=NonBlankPath(file_okay=False, path_type=Path),
    default=None,
    help="Audio run whose split.json names the validation societies "
    "(default: $SOUNDBRIDGE_HOME/audio/default).",
)
@click.option("--k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--targets", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--alignment",
    "alignments",
    multiple=True,
    type=click.Choice(["unbalanced", "sinkhorn", "fgw"]),
    default=("unbalanced", "sinkhorn"),
    show_default=True,
    help="OT methods to compare (repeat the option); fgw takes ~0.3 s a query.",
)
def cross_evaluate_cmd(
    out: Path | None,
    audio_run: Path | None,
    k: int,
    targets: int,
    seed: int,
    alignments: tuple[str, ...],
) -> None:
    """Evaluate cross-cultural recommendation; write a Markdown report with plots."""
    from tqdm import tqdm

    from kg.config import Neo4jSettings
    from kg.connection import connect
    from soundbridge.build import cross_cultural_evaluation

    bar = tqdm(total=0, desc="query-region pairs", unit="pair", disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    with connect(Neo4jSettings.from_env()) as driver:
        ev, report = cross_cultural_evaluation(
            driver, audio_run=audio_run, out=out, k=k, n_targets=targets, seed=seed,
            alignments=alignments, progress=progress,
        )  # fmt: skip
    bar.close()
    for name, m in ev.methods.items():
        lo, hi = m["function_share_ci95"]
        click.echo(
            f"{name:<28} share {m['function_share']:.3f} ({lo:.3f}-{hi:.3f}; "
            f"{m['ratio_to_chance']:.2f}x chance {m['chance']:.3f})  "
            f"serendipity {m['serendipity']:.3f}  minority {m['minority_exposure']:.3f}  "
            f"calibration KL {m['calibration_kl']:.3f}"
        )
    for space, why in ev.skipped.items():
        click.echo(f"space '{space}' left out: {why}")
    for name, p in ev.probes.items():
        click.echo(
            f"probe {name:<28} accuracy {p['accuracy']:.3f}  "
            f"balanced/chance {p['balanced_over_chance']:.2f}"
        )
    click.echo(f"report: {report}")
