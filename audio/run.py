"""An audio *run folder*: one training of the factorizer and everything derived from it.

A run folder (default ``$SOUNDBRIDGE_HOME/audio/default``) holds ``split.json`` (held-out
societies and tunes), ``last.pt`` (the checkpoint a resumed training continues from),
``model.pt`` (the trained :class:`~audio.factorizer.AudioFactorizer`), ``history.json`` and
``song_factors.npz`` (every CCMC song's factors, cached against the model file).

These functions are what ``soundbridge audio …``, ``soundbridge add-track`` and the build's
``audio`` step call; the commands only parse options and print.

The package ships one small trained run (:func:`packaged_run`, made by :func:`pack_run`): a fresh
installation copies it into the default run folder (:func:`install_packaged_run`) instead of
training for a quarter of an hour, and uses its factors when its recordings are the ones the
factors were computed from (their digest is recorded).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from audio.errors import AudioError, CheckpointError
from loaders.files import replacing

__all__ = [
    "DEFAULT_RUN",
    "AddedRecording",
    "Recording",
    "PackagedRun",
    "add_recording",
    "default_run",
    "evaluate_run",
    "export_factors",
    "factor_probes",
    "held_out_societies",
    "install_packaged_run",
    "load_run",
    "load_songs",
    "pack_run",
    "packaged_run",
    "read_recording",
    "recordings_digest",
    "song_factors",
    "train_run",
]

#: The default run folder, relative to ``$SOUNDBRIDGE_HOME``.
DEFAULT_RUN = Path("audio") / "default"
#: The file names of a packaged run (all small: the model is ~1 MB, the factors ~0.4 MB).
_PACKED = ("model.pt", "split.json", "history.json", "factors.npz", "figures.json")

Log = Callable[[str], None]


def _quiet(_message: str) -> None:
    return None


def default_run(home: Path | None = None) -> Path:
    """``home/audio/default`` (``home`` defaults to ``$SOUNDBRIDGE_HOME``)."""
    if home is None:
        from kg.config import soundbridge_home

        home = soundbridge_home()
    return home / DEFAULT_RUN


def held_out_societies(run: Path | None = None) -> list[str] | None:
    """The societies a run held out from every supervised loss (its ``split.json``), sorted;
    ``None`` when the run has no split (no trained run there).

    Args:
        run: the run folder (default :func:`default_run`).
    """
    split = (run if run is not None else default_run()) / "split.json"
    if not split.is_file():
        return None
    return sorted(map(str, json.loads(split.read_text())["held_out_societies"]))


def load_run(run: Path) -> tuple[Any, dict[str, Any]]:
    """The run's trained factorizer and its ``split.json``.

    Raises:
        CheckpointError: the folder holds no trained run.
    """
    from audio.factorizer import AudioFactorizer

    split = run / "split.json"
    if not split.is_file():
        raise CheckpointError(
            f"{run}: no split.json; train first with `soundbridge audio train --run {run}`"
        )
    return AudioFactorizer.load(run / "model.pt"), json.loads(split.read_text())


def load_songs(data: Path | None = None, limit: int | None = None, log: Log = _quiet) -> Any:
    """Every CCMC clip decoded (:func:`audio.dataset.load_ccmc_audio`, cached after the first)."""
    from audio.dataset import load_ccmc_audio
    from loaders.config import data_root

    log("decoding the CCMC clips (cached after the first time)...")
    return load_ccmc_audio(data_root(data) / "ccmc", limit=limit)


def _song_ids(data: Path | None, limit: int | None) -> list[str]:
    """The CCMC track ids in the dataset's order, read from its tables (nothing decoded)."""
    from loaders.ccmc import load_ccmc
    from loaders.config import data_root

    ids = load_ccmc(data_root(data) / "ccmc").songs["track_id"].astype(str).tolist()
    return ids if limit is None else ids[:limit]


def recordings_digest(data: Path | None = None, ids: Sequence[str] | None = None) -> str:
    """A SHA-1 over the CCMC recordings' bytes, in track order: the factors of a packaged run
    are used only for the very recordings they were computed from.

    Args:
        ids: the tracks (default: all, in the dataset's order).
    """
    from loaders.ccmc import load_ccmc
    from loaders.config import data_root

    songs = load_ccmc(data_root(data) / "ccmc").songs.set_index("track_id")
    h = hashlib.sha1()
    for track in ids if ids is not None else songs.index.astype(str):
        h.update(str(track).encode() + b"\0")
        h.update(Path(str(songs.at[track, "audio_path"])).read_bytes())
    return h.hexdigest()


def train_run(
    run: Path,
    *,
    data: Path | None = None,
    epochs: int = 16,
    batch_size: int = 32,
    seed: int = 0,
    tunes: int = 400,
    test_tunes: float = 0.2,
    test_fraction: float = 0.25,
    limit: int | None = None,
    backbone: Path | None = None,
    resume: bool = False,
    log: Log = _quiet,
) -> Any:
    """Train the factorizer into ``run`` (a checkpoint per epoch; ``resume`` continues).

    The held-out societies (``test_fraction`` of the labelled songs, whole societies) and tunes
    are written to ``split.json`` first; ``model.pt`` and ``history.json`` at the end.

    Returns:
        The fitted :class:`~audio.factorizer.AudioFactorizer`.
    """
    import torch

    from audio.dataset import audio_cache_dir, society_split
    from audio.factorizer import AudioFactorizer
    from audio.render import load_tunes, render_tunes

    run.mkdir(parents=True, exist_ok=True)
    threads = int(os.environ.get("SOUNDBRIDGE_TORCH_THREADS", "1"))
    # One thread: on a shared 2-core CPU, OpenMP's spin-waits made two threads 2-8x slower.
    torch.set_num_threads(threads)
    ccmc = load_songs(data, limit, log)
    held = society_split(ccmc.songs, test_fraction, seed)
    rendered, train_t, test_t = None, [], []
    if tunes:
        t0 = time.perf_counter()
        rendered = render_tunes(load_tunes(tunes), log=log)
        log(
            f"rendered set: {rendered.waves.shape[0]} tunes x {len(rendered.instruments)} "
            f"instruments (rendering {rendered.seconds:.1f}s when made; "
            f"{time.perf_counter() - t0:.1f}s now)"
        )
        perm = np.random.default_rng(seed).permutation(rendered.waves.shape[0])
        n_test = int(round(test_tunes * len(perm)))
        test_t, train_t = sorted(perm[:n_test].tolist()), sorted(perm[n_test:].tolist())
    split = {
        "held_out_societies": held,
        "rendered_train": train_t,
        "rendered_test": test_t,
        "tunes": tunes,
        "limit": limit,
    }
    (run / "split.json").write_text(json.dumps(split))
    model = AudioFactorizer(
        epochs=epochs, batch_size=batch_size, seed=seed, held_out_societies=held, backbone=backbone
    )
    t0 = time.perf_counter()

    def epoch_log(rec: dict[str, float]) -> None:
        parts = ", ".join(f"{k} {v:.3f}" for k, v in rec.items() if k not in ("epoch", "seconds"))
        log(f"epoch {int(rec['epoch'])}: {rec['seconds']:.0f}s; {parts}")

    context = rendered_context = None
    if model.pretrained is not None:
        # A frozen forward pass of big convolutions: every core helps here (unlike training).
        torch.set_num_threads(os.cpu_count() or 1)
        log(f"pretrained embeddings ({model.pretrained}, cached after the first run)")
        context = model.embed(ccmc.track_waves(), cache_dir=audio_cache_dir(), progress=True)
        if rendered is not None:
            rendered_context = model.embed_grid(
                rendered.waves, cache_dir=audio_cache_dir(), progress=True
            )
        torch.set_num_threads(threads)
    model.fit(
        ccmc,
        rendered,
        rendered_train=train_t or None,
        context=context,
        rendered_context=rendered_context,
        checkpoint_dir=run,
        resume=resume,
        progress=True,
        log=epoch_log,
    )
    model.save(run / "model.pt")
    (run / "history.json").write_text(json.dumps(model.history_, indent=1))
    log(f"trained in {time.perf_counter() - t0:.0f}s; model: {run / 'model.pt'}")
    return model


def _model_stamp(run: Path) -> str:
    """What the cached factors are checked against: the model file's SHA-1 (a copied or
    re-saved identical model keeps its factors; a retrained one does not)."""
    return hashlib.sha1((run / "model.pt").read_bytes()).hexdigest()


def song_factors(
    model: Any, run: Path, *, data: Path | None = None, limit: int | None = None, log: Log = _quiet
) -> tuple[list[str], np.ndarray]:
    """Every CCMC song's factors, cached in ``run/song_factors.npz`` against the model file.

    The clips are decoded and embedded only when the cache is stale (a new model, other songs).

    Returns:
        The track ids and their factors. Shapes: ``z: (tracks, dim_c + dim_s + dim_a)``.
    """
    from audio.dataset import audio_cache_dir

    ids = _song_ids(data, limit)
    cache = run / "song_factors.npz"
    stamp = _model_stamp(run)
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as f:
            if str(f["stamp"]) == stamp and list(f["ids"]) == ids:
                return ids, np.asarray(f["z"])
    ccmc = load_songs(data, limit, log)
    waves = ccmc.track_waves()
    context = model.embed(waves, cache_dir=audio_cache_dir(), progress=True)
    z = model.transform(waves, context=context)
    with replacing(cache) as tmp:
        np.savez(tmp, z=z, ids=np.array(ccmc.track_ids), stamp=np.str_(stamp))
    return list(ccmc.track_ids), z


def export_factors(
    run: Path,
    path: Path | None = None,
    *,
    driver: Any = None,
    data: Path | None = None,
    log: Log = _quiet,
) -> tuple[int, int]:
    """Write every song's factors to ``path`` (Parquet: ``track_id, zc_0…, zs_0…, za_0…``) and,
    with a ``driver``, onto the Track nodes, then recompute the tracks' similarity edges
    (:func:`audio.similarity.write_similarity_edges`).

    Returns:
        ``(tracks, factors)`` written.
    """
    import pandas as pd

    model, split = load_run(run)
    ids, z = song_factors(model, run, data=data, limit=split.get("limit"), log=log)
    zc, zs, za = model.split(z)
    if path is not None:
        table = pd.DataFrame({"track_id": ids})
        columns = {
            f"{name}_{j}": part[:, j].astype(np.float32)
            for name, part in (("zc", zc), ("zs", zs), ("za", za))
            for j in range(part.shape[1])
        }
        table = pd.concat([table, pd.DataFrame(columns)], axis=1)
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(path, index=False)
        log(f"wrote {len(table)} tracks x {z.shape[1]} factors to {path}")
    if driver is not None:
        from audio.graph import store_factors
        from audio.similarity import write_similarity_edges

        n = store_factors(driver, ids, zc, zs, za)
        log(f"stored zc, zs, za on {n} Track nodes")
        edges = write_similarity_edges(driver, log=log)
        log("similarity edges: " + ", ".join(f"{t} {c:,}" for t, c in edges.items()))
    return len(ids), int(z.shape[1])


def factor_probes(
    zc: np.ndarray,
    zs: np.ndarray,
    za: np.ndarray,
    songs: Any,
    held_out_societies: Sequence[str],
    *,
    data: Path | None = None,
) -> dict[str, Any]:
    """The linear probes of docs/audio.md: function from each factor and from MIRtoolbox, region
    from z_a, z_s and MIRtoolbox; trained on the songs of the other societies, scored on the
    held-out societies' songs (intervals resample societies).

    Args:
        zc, zs, za: Shapes: ``(songs, dim_c)``, ``(songs, dim_s)``, ``(songs, dim_a)``, in the
            order of ``songs`` (the CCMC songs table: ``track_id``, ``society_id``,
            ``function``, ``hraf_region``).
        held_out_societies: the run's held-out societies (``split.json``).

    Returns:
        Probe name (``"function from z_a"``, …) → :class:`~audio.evaluation.ProbeResult`.
    """
    from audio.evaluation import probe
    from loaders.config import data_root
    from loaders.nhs import load_mir_features

    held = set(held_out_societies)
    test = songs["society_id"].astype(str).isin(held).to_numpy()
    labelled = songs["function"].notna().to_numpy()
    fn = songs["function"].astype(str).to_numpy()
    region = songs["hraf_region"].astype(str).to_numpy()
    mir = load_mir_features(data_root(data) / "nhs-expanded")
    mir = mir.set_index(mir.columns[0]).reindex(songs["track_id"].astype(str))
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
    return probes


def evaluate_run(
    run: Path, *, data: Path | None = None, out: Path | None = None, log: Log = _quiet
) -> tuple[dict[str, object], Path]:
    """Probes on the society-grouped split, same-melody retrieval and MIG: the run's report
    (Markdown with PNG plots, ``results.json``) in ``out`` (default ``run/report``).

    Returns:
        The headline results and the report's path.
    """
    from audio.dataset import audio_cache_dir
    from audio.evaluation import (
        format_interval,
        mutual_information_gap,
        retrieval_top1,
        write_report,
    )
    from audio.render import load_tunes, render_tunes

    out = out if out is not None else run / "report"
    model, split = load_run(run)
    ccmc = load_songs(data, split.get("limit"), log)
    _, z = song_factors(model, run, data=data, limit=split.get("limit"), log=log)
    zc, zs, za = model.split(z)
    probes = factor_probes(zc, zs, za, ccmc.songs, split["held_out_societies"], data=data)
    songs = ccmc.songs
    held = set(split["held_out_societies"])
    test = songs["society_id"].astype(str).isin(held).to_numpy()
    labelled = songs["function"].notna().to_numpy()
    fn = songs["function"].astype(str).to_numpy()
    region = songs["hraf_region"].astype(str).to_numpy()
    te = labelled & test

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
                "results": dict(results),
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
    return results, path


# ----------------------------------------------------------------------------- add a recording


@dataclass(frozen=True)
class Recording:
    """A recording read and factorised by :func:`read_recording`, ready for :func:`add_recording`.

    Attributes:
        file: where it was read from.
        track_id: ``user:<sha1 of the file, 16 hex digits>``.
        seconds: its length.
        level_dbfs: its RMS level over the whole file.
        zc, zs, za: its factors. Shapes: ``(dim_c,)``, ``(dim_s,)``, ``(dim_a,)``.
    """

    file: Path
    track_id: str
    seconds: float
    level_dbfs: float
    zc: np.ndarray
    zs: np.ndarray
    za: np.ndarray

    @property
    def silent(self) -> bool:
        """Below :data:`audio.files.SILENCE_DBFS`: its factors describe silence, not music."""
        from audio.files import SILENCE_DBFS

        return self.level_dbfs < SILENCE_DBFS


@dataclass(frozen=True)
class AddedRecording:
    """What :func:`add_recording` did.

    Attributes:
        track_id: the Track's id.
        name: the Track's name.
        culture: ``id``, ``name`` and ``level`` of the culture it was linked to.
        existed: the track was already in the graph (updated).
        replaced: ``(id, name)`` of each culture link replaced by the new one.
        audio: the Track's ``audio`` value (:mod:`audio.files`).
        kept: where a copy was kept, for a recording from outside the data folder.
    """

    track_id: str
    name: str
    culture: dict[str, str]
    existed: bool
    replaced: tuple[tuple[str, str], ...]
    audio: str
    kept: Path | None


def read_recording(file: Path, *, run: Path, max_seconds: float = 600.0) -> Recording:
    """Decode ``file`` and compute its factors with the run's model; touches no database.

    The length is checked from the file's header before anything is decoded, and again after.

    Raises:
        AudioError: too long, or undecodable (:class:`~audio.errors.AudioDecodeError`).
        CheckpointError: no trained run.
    """
    import math

    from audio.files import recording_seconds, rms_dbfs
    from audio.frontend import load_audio

    def refuse_if_too_long(seconds: float) -> None:
        if seconds > max_seconds:
            raise AudioError(
                f"{file}: the recording is {seconds:.1f} s long, over the {max_seconds:g} s cap of "
                f"add-track; cut it, or pass --max-seconds {math.ceil(seconds)} to take it whole"
            )

    refuse_if_too_long(recording_seconds(file))  # from the header: nothing decoded yet
    model, _ = load_run(run)
    sample_rate = model.frontend_.sample_rate
    wave = load_audio(file, sample_rate)  # raises AudioDecodeError before any write
    seconds = len(wave) / sample_rate
    refuse_if_too_long(seconds)  # a header may not know the length (some MP3s)
    zc, zs, za = model.split(model.transform([wave]))
    return Recording(
        file=file,
        track_id=f"user:{hashlib.sha1(file.read_bytes()).hexdigest()[:16]}",
        seconds=seconds,
        level_dbfs=rms_dbfs(wave),
        zc=zc[0],
        zs=zs[0],
        za=za[0],
    )


def add_recording(
    driver: Any,
    recording: Recording,
    *,
    culture: str,
    home: Path,
    data_root: Path | None,
    title: str | None = None,
) -> AddedRecording:
    """Cold start: a new Track with the recording's factors, linked to its culture in the graph.

    Nothing is written unless the culture exists. A file from outside ``data_root`` is copied
    under ``home`` (:func:`audio.files.keep_recording`) so it can be served. Adding the same file
    again with another culture replaces the culture.

    Raises:
        UnknownCultureError: no such culture.
    """
    from audio.files import ADDED_PREFIX, added_audio_dir, keep_recording
    from audio.graph import add_track, find_culture

    name = title or recording.file.stem
    c = find_culture(driver, culture)
    value = keep_recording(recording.file, recording.track_id, data_root=data_root, home=home)
    added = add_track(
        driver,
        recording.track_id,
        name=name,
        culture_id=c["id"],
        audio=value,
        zc=recording.zc,
        zs=recording.zs,
        za=recording.za,
    )
    kept = (
        added_audio_dir(home) / value[len(ADDED_PREFIX) :]
        if value.startswith(ADDED_PREFIX)
        else None
    )
    return AddedRecording(
        track_id=recording.track_id,
        name=name,
        culture=c,
        existed=added.existed,
        replaced=added.replaced,
        audio=value,
        kept=kept,
    )


# ----------------------------------------------------------------------------- the packaged run


@dataclass(frozen=True)
class PackagedRun:
    """The trained run that ships with the package (``audio/data/default_run``).

    Attributes:
        folder: where its files are.
        figures: what :func:`pack_run` recorded: the probes of :func:`evaluate_run` on the run's
            own held-out societies, the command that reproduces it, the recordings' digest.
    """

    folder: Path
    figures: dict[str, Any]


def packaged_run() -> PackagedRun | None:
    """The packaged run, or ``None`` when this installation has none."""
    folder = Path(str(resources.files("audio") / "data" / "default_run"))
    if not all((folder / name).is_file() for name in _PACKED):
        return None
    return PackagedRun(folder, json.loads((folder / "figures.json").read_text()))


def pack_run(run: Path, dest: Path, *, data: Path | None = None, command: str = "") -> Path:
    """Copy a trained, evaluated run into ``dest`` as a packaged run: the model, its split and
    history, every song's factors (``factors.npz``: ids, z, the recordings' digest) and
    ``figures.json`` (the run's ``report/results.json`` probes and ``command``).

    Raises:
        CheckpointError: the run is not trained or not evaluated (``soundbridge audio evaluate``).
    """
    model, split = load_run(run)
    results = run / "report" / "results.json"
    if not results.is_file():
        raise CheckpointError(f"{run}: no report/results.json; evaluate it first")
    ids, z = song_factors(model, run, data=data, limit=split.get("limit"))
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("model.pt", "split.json", "history.json"):
        shutil.copyfile(run / name, dest / name)
    digest = recordings_digest(data, ids)
    np.savez_compressed(
        dest / "factors.npz", ids=np.array(ids), z=z.astype(np.float32), digest=np.str_(digest)
    )
    figures = json.loads(results.read_text())
    figures["command"] = command
    figures["recordings_sha1"] = digest
    figures["dims"] = list(model.dims_)
    (dest / "figures.json").write_text(json.dumps(figures, indent=1))
    return dest


def install_packaged_run(run: Path, *, data: Path | None = None, log: Log = _quiet) -> bool:
    """Make ``run`` the packaged run when it holds no trained model: copy the model, split and
    history, and — when the data's recordings are the ones it was computed from — its factors as
    the run's ``song_factors.npz`` (so nothing is decoded or embedded).

    Returns:
        Whether the packaged run was installed (``False``: ``run`` already has a model, or this
        installation ships none).
    """
    packed = packaged_run()
    if packed is None or (run / "model.pt").is_file():
        return False
    run.mkdir(parents=True, exist_ok=True)
    for name in ("model.pt", "split.json", "history.json"):
        shutil.copyfile(packed.folder / name, run / name)
    with np.load(packed.folder / "factors.npz", allow_pickle=False) as f:
        ids, z, digest = [str(i) for i in f["ids"]], np.asarray(f["z"]), str(f["digest"])
    if ids == _song_ids(data, None) and digest == recordings_digest(data, ids):
        with replacing(run / "song_factors.npz") as tmp:
            np.savez(tmp, z=z, ids=np.array(ids), stamp=np.str_(_model_stamp(run)))
        log(f"audio: the packaged factor model and its factors for {len(ids):,} songs installed")
    else:
        log(
            "audio: the packaged factor model installed; these recordings differ from the ones "
            "its factors were computed from, so they are computed now (about 5 minutes)"
        )
    return True
