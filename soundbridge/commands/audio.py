"""``soundbridge audio train | export-factors | evaluate`` and ``soundbridge add-track``.

A *run folder* (``--run``, default ``$SOUNDBRIDGE_HOME/audio/default``) holds everything one
training makes: ``split.json`` (held-out societies and tunes), ``last.pt`` (the checkpoint
``--resume`` continues from), ``model.pt`` (the trained factorizer), ``history.json``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from pathlib import Path

import click
import numpy as np

from loaders.files import replacing

__all__ = ["audio", "add_track_cmd"]


def _home() -> Path:
    from kg.config import soundbridge_home

    return soundbridge_home()


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
    from soundbridge.build import AUDIO_RUN

    return run_dir if run_dir is not None else _home() / AUDIO_RUN


def _load_run(run_dir: Path):  # type: ignore[no-untyped-def]
    from audio.errors import CheckpointError
    from audio.factorizer import AudioFactorizer

    split = run_dir / "split.json"
    if not split.is_file():
        raise CheckpointError(
            f"{run_dir}: no split.json; train first with `soundbridge audio train --run {run_dir}`"
        )
    return AudioFactorizer.load(run_dir / "model.pt"), json.loads(split.read_text())


def _ccmc(data: Path | None, limit: int | None = None):  # type: ignore[no-untyped-def]
    from audio.dataset import load_ccmc_audio
    from loaders.config import data_root

    click.echo("decoding the CCMC clips (cached after the first time)...", err=True)
    return load_ccmc_audio(data_root(data) / "ccmc", limit=limit)


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
    import torch

    from audio.dataset import audio_cache_dir, society_split
    from audio.factorizer import AudioFactorizer
    from audio.render import load_tunes, render_tunes

    run = _resolve_run(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    # One thread: on a shared 2-core CPU, OpenMP's spin-waits made two threads 2-8x slower.
    torch.set_num_threads(int(os.environ.get("SOUNDBRIDGE_TORCH_THREADS", "1")))
    ccmc = _ccmc(data, limit)
    held = society_split(ccmc.songs, test_fraction, seed)
    rendered, train_t, test_t = None, [], []
    if tunes:
        t0 = time.perf_counter()
        rendered = render_tunes(load_tunes(tunes), log=lambda m: click.echo(m, err=True))
        click.echo(
            f"rendered set: {rendered.waves.shape[0]} tunes x {len(rendered.instruments)} "
            "instruments "
            f"(rendering {rendered.seconds:.1f}s when made; {time.perf_counter() - t0:.1f}s now)",
            err=True,
        )
        perm = np.random.default_rng(seed).permutation(rendered.waves.shape[0])
        n_test = int(round(test_tunes * len(perm)))
        test_t, train_t = sorted(perm[:n_test].tolist()), sorted(perm[n_test:].tolist())
    (run / "split.json").write_text(
        json.dumps(
            {
                "held_out_societies": held,
                "rendered_train": train_t,
                "rendered_test": test_t,
                "tunes": tunes,
                "limit": limit,
            }
        )
    )
    model = AudioFactorizer(
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        held_out_societies=held,
        backbone=backbone,
    )
    t0 = time.perf_counter()

    def log(rec: dict[str, float]) -> None:
        parts = ", ".join(f"{k} {v:.3f}" for k, v in rec.items() if k not in ("epoch", "seconds"))
        click.echo(f"epoch {int(rec['epoch'])}: {rec['seconds']:.0f}s; {parts}", err=True)

    context = rendered_context = None
    if model.pretrained is not None:
        # A frozen forward pass of big convolutions: every core helps here (unlike training).
        torch.set_num_threads(os.cpu_count() or 1)
        click.echo(
            f"pretrained embeddings ({model.pretrained}, cached after the first run)", err=True
        )
        context = model.embed(ccmc.track_waves(), cache_dir=audio_cache_dir(), progress=True)
        if rendered is not None:
            rendered_context = model.embed_grid(
                rendered.waves, cache_dir=audio_cache_dir(), progress=True
            )
        torch.set_num_threads(int(os.environ.get("SOUNDBRIDGE_TORCH_THREADS", "1")))
    model.fit(
        ccmc,
        rendered,
        rendered_train=train_t or None,
        context=context,
        rendered_context=rendered_context,
        checkpoint_dir=run,
        resume=resume,
        progress=True,
        log=log,
    )
    model.save(run / "model.pt")
    (run / "history.json").write_text(json.dumps(model.history_, indent=1))
    click.echo(f"trained in {time.perf_counter() - t0:.0f}s; model: {run / 'model.pt'}")


def _song_factors(model, ccmc, run: Path) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Factors of every CCMC song, cached in the run folder next to the model."""
    cache = run / "song_factors.npz"
    stamp = (run / "model.pt").stat().st_mtime_ns
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as f:
            if int(f["stamp"]) == stamp and list(f["ids"]) == ccmc.track_ids:
                return np.asarray(f["z"])
    from audio.dataset import audio_cache_dir

    waves = ccmc.track_waves()
    context = model.embed(waves, cache_dir=audio_cache_dir(), progress=True)
    z = model.transform(waves, context=context)
    with replacing(cache) as tmp:
        np.savez(tmp, z=z, ids=np.array(ccmc.track_ids), stamp=np.int64(stamp))
    return z


@audio.command("export-factors")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@_run_option
@_data_option
@click.option("--no-graph", is_flag=True, help="Only write the Parquet file, leave Neo4j alone.")
def export_factors_cmd(path: Path, run_dir: Path | None, data: Path | None, no_graph: bool) -> None:
    """Write every song's factors to PATH (Parquet) and onto its Track node in Neo4j."""
    import pandas as pd

    run = _resolve_run(run_dir)
    model, split = _load_run(run)
    ccmc = _ccmc(data, split.get("limit"))
    z = _song_factors(model, ccmc, run)
    zc, zs, za = model.split(z)
    table = pd.DataFrame({"track_id": ccmc.track_ids})
    for name, part in (("zc", zc), ("zs", zs), ("za", za)):
        for j in range(part.shape[1]):
            table[f"{name}_{j}"] = part[:, j].astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(path, index=False)
    click.echo(f"wrote {len(table)} tracks x {z.shape[1]} factors to {path}")
    if not no_graph:
        from audio.graph import store_factors
        from kg.config import Neo4jSettings
        from kg.connection import connect

        with connect(Neo4jSettings.from_env()) as driver:
            n = store_factors(driver, ccmc.track_ids, zc, zs, za)
        click.echo(f"stored zc, zs, za on {n} Track nodes")


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
    from audio.dataset import audio_cache_dir
    from audio.evaluation import (
        format_interval,
        mutual_information_gap,
        probe,
        retrieval_top1,
        write_report,
    )
    from audio.render import load_tunes, render_tunes
    from loaders.config import data_root
    from loaders.nhs import load_mir_features

    run = _resolve_run(run_dir)
    out = out if out is not None else run / "report"
    model, split = _load_run(run)
    ccmc = _ccmc(data, split.get("limit"))
    z = _song_factors(model, ccmc, run)
    zc, zs, za = model.split(z)
    songs = ccmc.songs
    held = set(split["held_out_societies"])
    test = songs["society_id"].astype(str).isin(held).to_numpy()
    labelled = songs["function"].notna().to_numpy()
    fn = songs["function"].astype(str).to_numpy()
    region = songs["hraf_region"].astype(str).to_numpy()
    mir = load_mir_features(data_root(data) / "nhs-expanded")
    mir = mir.set_index(mir.columns[0]).reindex(ccmc.track_ids)
    has_mir = mir.notna().all(axis=1).to_numpy()
    x_mir = mir.to_numpy(dtype=float)

    society = songs["society_id"].astype(str).to_numpy()
    probes = {}
    tr, te = labelled & ~test, labelled & test
    for name, x in (("z_a", za), ("z_s", zs), ("z_c", zc)):
        probes[f"function from {name}"] = probe(
            x[tr], fn[tr], x[te], fn[te], groups_test=society[te]
        )
    trm, tem = tr & has_mir, te & has_mir
    probes["function from MIRtoolbox"] = probe(
        x_mir[trm], fn[trm], x_mir[tem], fn[tem], groups_test=society[tem]
    )
    for name, x in (("z_a", za), ("z_s", zs)):
        probes[f"region from {name}"] = probe(
            x[~test], region[~test], x[test], region[test], groups_test=society[test]
        )
    probes["region from MIRtoolbox"] = probe(
        x_mir[~test & has_mir],
        region[~test & has_mir],
        x_mir[test & has_mir],
        region[test & has_mir],
        groups_test=society[test & has_mir],
    )

    results: dict[str, object] = {
        "held-out societies": len(held),
        "labelled test songs": int(te.sum()),
        "function accuracy from z_a (target >= 0.30 and > MIRtoolbox)": probes[
            "function from z_a"
        ].accuracy,
        "function accuracy from z_a, 95% interval (societies resampled)": format_interval(
            probes["function from z_a"].accuracy_ci95, 3
        ),
        "function accuracy from MIRtoolbox": probes["function from MIRtoolbox"].accuracy,
        "region balanced accuracy from z_a / chance (target <= 1.5)": probes[
            "region from z_a"
        ].ratio,
        "region from z_a / chance, 95% interval": format_interval(
            probes["region from z_a"].ratio_ci95, 3
        ),
        "region balanced accuracy from z_s / chance (target >= 3)": probes["region from z_s"].ratio,
    }
    if split.get("tunes"):
        rendered = render_tunes(load_tunes(int(split["tunes"])))
        test_t = split["rendered_test"]
        w = rendered.waves[test_t]  # (tunes, instruments, samples)
        n_t, n_i, n_s = w.shape
        flat = w.reshape(n_t * n_i, n_s)
        ctx = model.embed(list(flat), cache_dir=audio_cache_dir(), progress=True)
        zr = model.transform_windows(flat, context=ctx)
        rc, rs, ra = (p.reshape(n_t, n_i, -1) for p in model.split(zr))
        results["held-out rendered tunes"] = n_t
        results["same-melody retrieval top-1 by z_c (target >= 0.9)"] = retrieval_top1(rc)
        results["same-melody retrieval top-1 by z_s (contrast)"] = retrieval_top1(rs)
        results["same-melody retrieval top-1 by z_a (contrast)"] = retrieval_top1(ra)
        mig = mutual_information_gap(
            zr,
            {"tune": np.repeat(np.arange(n_t), n_i), "instrument": np.tile(np.arange(n_i), n_t)},
        )
        dims = model.dims_
        owner = ["z_c"] * dims[0] + ["z_s"] * dims[1] + ["z_a"] * dims[2]
        results["MIG (tune, instrument) on held-out rendered tunes"] = mig["mig"]
        results["MIG tune / best dim in"] = (
            f"{mig['tune']:.3f} / {owner[int(mig['tune_best_dim'])]}"
        )
        results["MIG instrument / best dim in"] = (
            f"{mig['instrument']:.3f} / {owner[int(mig['instrument_best_dim'])]}"
        )
    maps = {}
    for name, x in (("z_c", zc), ("z_s", zs), ("z_a", za)):
        maps[f"{name} by region"] = (x, region)
        maps[f"{name} by function"] = (x[labelled], fn[labelled])
    path = write_report(
        out,
        results=results,
        probes=probes,
        maps=maps,
        confusions=[
            "function from z_a",
            "function from MIRtoolbox",
            "region from z_s",
            "region from z_a",
        ],
    )
    (out / "results.json").write_text(
        json.dumps(
            {
                "results": {k: v for k, v in results.items()},
                "probes": {
                    k: {
                        "accuracy": r.accuracy,
                        "balanced_accuracy": r.balanced_accuracy,
                        "accuracy_ci95": r.accuracy_ci95,
                        "balanced_over_chance_ci95": r.ratio_ci95,
                        "chance": r.chance,
                        "n_train": r.n_train,
                        "n_test": r.n_test,
                    }
                    for k, r in probes.items()
                },
            },
            indent=1,
        )
    )
    for k, v in results.items():
        click.echo(f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}")
    click.echo(f"report: {path}")


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
    from audio.errors import AudioError
    from audio.files import (
        ADDED_PREFIX,
        SILENCE_DBFS,
        added_audio_dir,
        keep_recording,
        recording_seconds,
        rms_dbfs,
    )
    from audio.frontend import load_audio
    from audio.graph import add_track, find_culture
    from kg.config import Neo4jSettings
    from kg.connection import connect
    from loaders.config import DATA_ENV

    def refuse_if_too_long(seconds: float) -> None:
        if seconds > max_seconds:
            raise AudioError(
                f"{file}: the recording is {seconds:.1f} s long, over the {max_seconds:g} s cap of "
                f"add-track; cut it, or pass --max-seconds {math.ceil(seconds)} to take it whole"
            )

    refuse_if_too_long(recording_seconds(file))  # from the header: nothing decoded yet
    run = _resolve_run(run_dir)
    model, _ = _load_run(run)
    sample_rate = model.frontend_.sample_rate
    wave = load_audio(file, sample_rate)  # raises AudioDecodeError before any write
    seconds = len(wave) / sample_rate
    refuse_if_too_long(seconds)  # a header may not know the length (some MP3s)
    level = rms_dbfs(wave)
    z = model.transform([wave])
    zc, zs, za = model.split(z)
    digest = hashlib.sha1(file.read_bytes()).hexdigest()[:16]
    track_id = f"user:{digest}"
    data = os.environ.get(DATA_ENV)
    settings = Neo4jSettings.from_env()
    with connect(settings) as driver:
        c = find_culture(driver, culture)
        audio_value = keep_recording(
            file, track_id, data_root=Path(data) if data else None, home=settings.home
        )
        added = add_track(
            driver,
            track_id,
            name=title or file.stem,
            culture_id=c["id"],
            audio=audio_value,
            zc=zc[0],
            zs=zs[0],
            za=za[0],
        )
    if level < SILENCE_DBFS:
        click.echo(
            f"warning: {file} is silent ({level:.0f} dBFS RMS over {seconds:.1f} s, below "
            f"{SILENCE_DBFS:g} dBFS); its factors describe silence, not music",
            err=True,
        )
    click.echo(
        f"{'updated' if added.existed else 'added'} Track {track_id} ({title or file.stem}) "
        f"FROM_CULTURE {c['id']} ({c['name']}, {c['level']})"
    )
    for old_id, old_name in added.replaced:
        click.echo(f"replaced culture {old_id} ({old_name}) by {c['id']} ({c['name']})")
    if audio_value.startswith(ADDED_PREFIX):
        kept = added_audio_dir(settings.home) / audio_value[len(ADDED_PREFIX) :]
        click.echo(f"audio: copied to {kept}")
    else:
        click.echo(f"audio: {audio_value} in the data folder")
