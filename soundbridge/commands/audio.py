"""``soundbridge audio train | export-factors | evaluate | pack`` and ``soundbridge add-track``.

Thin wrappers: the work is done by :mod:`audio.run` (train, export, evaluate, add a recording),
which the build's ``audio`` step calls too; a run folder (``--run``, default
``$SOUNDBRIDGE_HOME/audio/default``) is described there.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

__all__ = ["audio", "add_track_cmd"]


def _run_option(f):  # type: ignore[no-untyped-def]
    return click.option(
        "--run",
        "run_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Run folder (default: $SOUNDBRIDGE_HOME/audio/default).",
    )(f)


def _data_option(f):  # type: ignore[no-untyped-def]
    return click.option(
        "--data",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Data root (default: $SOUNDBRIDGE_DATA).",
    )(f)


def _resolve_run(run_dir: Path | None) -> Path:
    from audio.run import default_run

    return run_dir if run_dir is not None else default_run()


def _say(message: str) -> None:
    click.echo(message, err=True)


@click.group("audio")
def audio() -> None:
    """Disentangled audio factors z_c (content), z_s (style), z_a (function/affect)."""


@audio.command("train")
@_run_option
@_data_option
@click.option("--epochs", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=4), default=32, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--tunes",
    type=click.IntRange(min=0),
    default=400,
    show_default=True,
    help="Rendered tunes (0: none).",
)
@click.option("--test-tunes", type=click.FloatRange(0.0, 0.9), default=0.2, show_default=True)
@click.option(
    "--test-fraction",
    type=click.FloatRange(0.05, 0.5),
    default=0.25,
    show_default=True,
    help="Share of labelled songs (whole societies) held out.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=8),
    default=None,
    help="Use only the first N songs (quick runs).",
)
@click.option(
    "--backbone",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Folder of a transformers audio model (save_pretrained).",
)
@click.option("--resume", is_flag=True, help="Continue from the run's last.pt.")
def train_cmd(
    run_dir: Path | None,
    data: Path | None,
    epochs: int,
    batch_size: int,
    seed: int,
    tunes: int,
    test_tunes: float,
    test_fraction: float,
    limit: int | None,
    backbone: Path | None,
    resume: bool,
) -> None:
    """Train the factorizer (progress bar, a checkpoint per epoch, --resume, seeded)."""
    from audio.run import train_run

    train_run(
        _resolve_run(run_dir),
        data=data,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        tunes=tunes,
        test_tunes=test_tunes,
        test_fraction=test_fraction,
        limit=limit,
        backbone=backbone,
        resume=resume,
        log=_say,
    )


@audio.command("export-factors")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@_run_option
@_data_option
@click.option("--no-graph", is_flag=True, help="Only write the Parquet file, leave Neo4j alone.")
def export_factors_cmd(path: Path, run_dir: Path | None, data: Path | None, no_graph: bool) -> None:
    """Write every song's factors to PATH (Parquet) and onto its Track node in Neo4j."""
    from audio.run import export_factors

    run = _resolve_run(run_dir)
    if no_graph:
        export_factors(run, path, data=data, log=click.echo)
        return
    from kg.config import Neo4jSettings
    from kg.connection import connect

    with connect(Neo4jSettings.from_env()) as driver:
        export_factors(run, path, driver=driver, data=data, log=click.echo)


@audio.command("evaluate")
@_run_option
@_data_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Report folder (default: <run>/report).",
)
def evaluate_cmd(run_dir: Path | None, data: Path | None, out: Path | None) -> None:
    """Probes on society-grouped splits, retrieval, MIG: a Markdown report with PNG plots."""
    from audio.run import evaluate_run

    results, path = evaluate_run(_resolve_run(run_dir), data=data, out=out, log=_say)
    for k, v in results.items():
        click.echo(f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}")
    click.echo(f"report: {path}")


@audio.command("pack")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@_run_option
@_data_option
def pack_cmd(dest: Path, run_dir: Path | None, data: Path | None) -> None:
    """Copy a trained, evaluated run into DEST as the packaged run a fresh install starts from.

    `make packaged-run` retrains, evaluates and packs the one in audio/data/default_run.
    """
    from audio.run import pack_run

    run = _resolve_run(run_dir)
    command = "make packaged-run"
    folder = pack_run(run, dest, data=data, command=command)
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    click.echo(f"packed {run} into {folder} ({size / 1e6:.1f} MB)")


@click.command("add-track")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--culture", required=True, help="Culture id (CCMCcusc1236) or name ('Central Andes')."
)
@click.option("--title", default=None, help="Track name (default: the file name).")
@click.option(
    "--max-seconds",
    type=click.FloatRange(min=0.0, min_open=True),
    default=600.0,
    show_default=True,
    help="Refuse recordings longer than this.",
)
@_run_option
def add_track_cmd(
    file: Path, culture: str, title: str | None, max_seconds: float, run_dir: Path | None
) -> None:
    """Cold start: compute FILE's factors and link a new Track to its culture in the graph.

    Nothing is written unless the file decodes, is at most --max-seconds long and the culture
    exists. A file from outside the data folder is copied to $SOUNDBRIDGE_HOME/audio/added/ so
    that the dashboard can play it. Adding the same file again with another culture replaces
    the culture. A silent recording is added with a warning.
    """
    from audio.run import add_recording, read_recording
    from kg.config import Neo4jSettings
    from kg.connection import connect
    from loaders.config import DATA_ENV

    recording = read_recording(file, run=_resolve_run(run_dir), max_seconds=max_seconds)
    data = os.environ.get(DATA_ENV)
    settings = Neo4jSettings.from_env()
    with connect(settings) as driver:
        added = add_recording(
            driver,
            recording,
            culture=culture,
            home=settings.home,
            data_root=Path(data) if data else None,
            title=title,
        )
    if recording.silent:
        from audio.files import SILENCE_DBFS

        click.echo(
            f"warning: {file} is silent ({recording.level_dbfs:.0f} dBFS RMS over "
            f"{recording.seconds:.1f} s, below {SILENCE_DBFS:g} dBFS); its factors describe "
            "silence, not music",
            err=True,
        )
    c = added.culture
    click.echo(
        f"{'updated' if added.existed else 'added'} Track {added.track_id} ({added.name}) "
        f"FROM_CULTURE {c['id']} ({c['name']}, {c['level']})"
    )
    for old_id, old_name in added.replaced:
        click.echo(f"replaced culture {old_id} ({old_name}) by {c['id']} ({c['name']})")
    if added.kept is not None:
        click.echo(f"audio: copied to {added.kept}")
    else:
        click.echo(f"audio: {added.audio} in the data folder")
