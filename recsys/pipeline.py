"""The recommender pipeline end to end, the function ``soundbridge build`` calls: :func:`build`.

Steps (``soundbridge build``'s ``recommenders`` step decides whether they need to run: this
function always does the work):

1. split Last.fm's public plays and friendships (:func:`recsys.split.split_lastfm`);
2. read the knowledge graph and the initial features from Neo4j (tag text embedded offline);
3. fit MostPop, ItemKNN, EASE, ALS, BPR, LightGCN, FastRP (computed by GDS in the Neo4j
   server, from the training rows only) and the served model — the heterogeneous GNN
   (:class:`recsys.gnn.HeteroGNN`) — on the same training split and evaluate every one with
   :func:`recsys.evaluate.evaluate`. The held-out rows reach no model: every choice (epochs, λ,
   factors, the cold-start offset) is made on an inner validation split carved from the
   training rows (:func:`recsys.split.inner_split`); the tuned peers and the GNN then fit again
   on all the training rows with what they chose (LightGCN propagates its kept parameters over
   them), and the held-out rows are scored once;
4. write the report (Markdown, PNG plots, ``metrics.json``);
5. propagate the served GNN's learned parameters over every public play (the held-out rows
   included, once scored: no training again), save it and every label's embeddings to disk;
6. write the embeddings back to Neo4j with a vector index per label, and on each Track whether its
   function label trained them (``embedding_label_used``).

The GNN's Track inputs are the audio factors stored on the Track nodes (MIRtoolbox while there
are none, with a message), and the function labels of the audio run's held-out societies
(``<audio run>/split.json``) never reach it: the probes of docs/audio.md and the cross-cultural
evaluation score on those songs.

Artefacts go to ``$SOUNDBRIDGE_HOME/recsys`` (or ``out``): ``metrics.json``, ``report.md``,
``*.png``, ``model.npz`` (the served recommender), ``interactions.npz`` (ids and every public
play/friendship, for excluding what users already know), ``artists.parquet`` (names),
``embeddings.npz`` + ``id_map.json``, ``checkpoints/``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import neo4j
import numpy as np
import scipy.sparse as sp

from audio.run import held_out_societies
from gnn.graph import KnowledgeGraph, read_knowledge_graph, write_label_used
from gnn.store import save_embeddings, write_embeddings
from kg.config import soundbridge_home
from loaders.config import data_root
from loaders.lastfm import load_lastfm
from recsys.base import Recommender
from recsys.blend import Blend
from recsys.ease import EASE
from recsys.evaluate import Evaluation, artist_world_regions, evaluate
from recsys.fastrp import FastRP
from recsys.gnn import HeteroGNN
from recsys.itemknn import ItemKNN
from recsys.lightgcn import LightGCN
from recsys.mf import ALS, BPR
from recsys.mostpop import MostPop
from recsys.report import write_report
from recsys.split import Interactions, split_lastfm
from recsys.tuning import Tuned

__all__ = [
    "DEFAULT_MODELS",
    "SERVED",
    "served_gnn",
    "artefacts_dir",
    "build",
    "fit_served",
    "fit_training_rows",
    "served_figures",
    "save_interactions",
]

#: EASE's ridge weights tried on the inner split.
EASE_L2 = [50.0, 100.0, 200.0, 400.0]
#: ALS's and BPR's grids, tried on the inner split.
#: (every best value inside its range on the real data, so the peers are not held back by it)
ALS_GRID: dict[str, list[Any]] = {
    "factors": [64, 128],
    "regularization": [3.0, 10.0, 30.0, 100.0],
    "alpha": [0.3, 1.0, 3.0],
}
BPR_GRID: dict[str, list[Any]] = {
    "factors": [64, 128],
    "learning_rate": [0.003, 0.01, 0.03],
    "regularization": [0.001, 0.01, 0.1],
}

#: The served model's name in the report.
SERVED = "HeteroGNN"


def default_model(**params: Any) -> HeteroGNN:
    """The served model: the knowledge-graph GNN, its choices made on the inner split.

    A blend with EASE (:class:`recsys.blend.Blend`, weights chosen on the same inner split) was
    measured and put all its weight on the GNN (docs/recommenders.md), so the GNN serves alone.

    Args:
        **params: hyper-parameters other than the defaults, e.g. ``sampler="neighbor"`` or an
            ablation's ``relations``.
    """
    return HeteroGNN(**params)


#: The models of the comparison; every hyper-parameter that is chosen is chosen on the inner
#: split of the training rows (``Tuned``, early stopping, the blend's weights). The last is served.
DEFAULT_MODELS: dict[str, Callable[[], Recommender]] = {
    "MostPop": MostPop,
    "ItemKNN": lambda: ItemKNN(neighbours=1000),
    "EASE": lambda: Tuned(EASE(), {"l2": EASE_L2}),
    "ALS": lambda: Tuned(ALS(), ALS_GRID),
    "BPR": lambda: Tuned(BPR(), BPR_GRID),
    "LightGCN": LightGCN,
    "FastRP (GDS)": FastRP,
    SERVED: default_model,
}


def fit_training_rows(
    model: Recommender,
    split: Interactions,
    graph: KnowledgeGraph,
    *,
    driver: neo4j.Driver,
    progress: bool = False,
    checkpoint_dir: Path | None = None,
) -> Recommender:
    """Fit ``model`` on the split's training rows with every side input the models use.

    No held-out row reaches the fit: the models that choose carve their own inner split.
    """
    return model.fit(
        split.train,
        graph=graph,
        user_ids=split.user_ids,
        item_ids=split.item_ids,
        friends=split.friends_train,
        checkpoint_dir=checkpoint_dir,
        progress=progress,
        driver=driver,  # for the models computed in the server (FastRP)
    )


def fit_served(
    driver: neo4j.Driver, *, progress: bool = True, **params: Any
) -> tuple[HeteroGNN, Interactions, float]:
    """Fit the served GNN on the build's split as the build does; nothing is written.

    The split is Last.fm's with seed 0 (its held-out rows reach no fit), the graph is read from
    ``driver`` with the audio run's held-out societies kept out, the tag text embedded through
    the artefacts' cache.

    Args:
        driver: an open driver on the ingested graph.
        progress: show the training's progress bars.
        **params: hyper-parameters other than the served defaults (``seed``, ``epochs``, …).

    Returns:
        The fitted model, the split and the fit's wall-clock seconds.
    """
    split = split_lastfm(load_lastfm(data_root() / "lastfm-hetrec2011"), seed=0)
    graph = read_knowledge_graph(
        driver, cache=artefacts_dir() / "cache", held_out_societies=held_out_societies(None) or ()
    )
    model = default_model(**params)
    start = time.perf_counter()
    fit_training_rows(model, split, graph, driver=driver, progress=progress)
    return model, split, time.perf_counter() - start


def served_figures(
    model: HeteroGNN, split: Interactions, fit_seconds: float, *, processes: int = 1
) -> dict[str, Any]:
    """Held-out figures, the inner curve and the timings of a GNN fitted by :func:`fit_served`.

    ``epoch_seconds`` and ``curve`` are the inner split's epochs (what chose the number of
    epochs); ``refit_epochs`` the epochs trained again on every training row (0: none).
    """
    ev = evaluate(model, split)
    epoch_seconds = np.diff(np.r_[0.0, model.history_[:, 3]])
    return {
        "processes": processes,
        "threads": model.threads,
        "seed": model.seed,
        "recall": ev.recall,
        "ndcg": ev.ndcg,
        "coverage": ev.coverage,
        "fit_seconds": fit_seconds,
        "epochs": len(model.history_),
        "best_epoch": model.best_epoch_,
        "stopped_by": model.stopped_by_,
        "refit_epochs": model.refit_epochs_,
        "epoch_seconds": epoch_seconds.tolist(),
        "seconds_per_epoch": float(epoch_seconds.mean()),
        "curve": model.history_[:, 2].tolist(),
        "losses": model.history_[:, 1].tolist(),
        "inner_training_pairs": int(model.inner_[3].nnz),
        "batch_size": model.batch_size,
        "split": {"train": int(split.train.nnz), "held_out": int(split.valid.nnz)},
    }


def served_gnn(model: Recommender) -> HeteroGNN | None:
    """The heterogeneous GNN of a served model (itself, or its blend's member), if any."""
    if isinstance(model, HeteroGNN):
        return model
    if isinstance(model, Blend):
        for _, m in model.members_:
            if isinstance(m, HeteroGNN):
                return m
    return None


def artefacts_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """Where the pipeline's artefacts live: ``path``, else ``$SOUNDBRIDGE_HOME/recsys``."""
    if path is not None:
        return Path(path)
    return soundbridge_home() / "recsys"


def save_interactions(path: Path, split: Interactions) -> None:
    """Store ids, every public play and friendship (what serving excludes) in one ``.npz``."""
    full, friends = split.full, split.friends_full
    np.savez(
        path,
        user_ids=split.user_ids,
        item_ids=split.item_ids,
        data=full.data,
        indices=full.indices,
        indptr=full.indptr,
        f_indices=friends.indices,
        f_indptr=friends.indptr,
    )


def build(
    driver: neo4j.Driver,
    *,
    data: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    models: dict[str, Callable[[], Recommender]] | None = None,
    seed: int = 0,
    k: int = 20,
    write_graph: bool = True,
    progress: bool = True,
    track_input: str = "factors",
    audio_run: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the pipeline; returns the metrics (also in ``out/metrics.json``).

    Args:
        driver: an open driver on the ingested graph (:func:`kg.connection.connect`).
        data: the data root (default ``$SOUNDBRIDGE_DATA``).
        out: the artefact folder (default :func:`artefacts_dir`).
        models: name → factory of the models to compare (default :data:`DEFAULT_MODELS`); the
            last one is served and its embeddings are written.
        seed: the split's and the models' seed.
        k: list length of the evaluation.
        write_graph: write embeddings and vector indexes into Neo4j.
        track_input: the GNN's Track inputs, ``"factors"`` (the audio factors on the Track
            nodes; MIRtoolbox while there are none) or ``"mir"``
            (:func:`gnn.features.track_features`).
        audio_run: the audio run whose held-out societies' function labels the GNN must not see
            (default ``$SOUNDBRIDGE_HOME/audio/default``; without its ``split.json`` every public
            label trains the tracks, and the cross-cultural evaluation cannot score the GNN).
    """
    root = data_root(data)
    folder = artefacts_dir(out)
    folder.mkdir(parents=True, exist_ok=True)
    models = models or DEFAULT_MODELS
    held = held_out_societies(Path(audio_run) if audio_run is not None else None)
    t0 = time.perf_counter()
    lastfm = load_lastfm(root / "lastfm-hetrec2011")
    split = split_lastfm(lastfm, seed=seed)
    log(f"split: {split.train.nnz:,} training plays, {split.valid.nnz:,} held out")
    if held is None:
        log(
            "no audio split (split.json of the audio run): every public function label trains "
            "the GNN's tracks, so the cross-cultural evaluation cannot score its embeddings; "
            "train the audio model (`soundbridge audio train`) and rebuild"
        )
    graph = read_knowledge_graph(
        driver,
        cache=folder / "cache",
        track_input=track_input,
        held_out_societies=held or (),
        log=log,
    )
    log(
        f"GNN track inputs: {graph.features['Track'].source}; {graph.held_out_labels()} function "
        f"labels of {len(held or ())} held-out societies kept out of its training"
    )
    regions = artist_world_regions(driver)
    log(f"graph read in {time.perf_counter() - t0:.1f}s")

    results: list[Evaluation] = []
    histories: dict[str, np.ndarray] = {}
    fit_seconds: dict[str, float] = {}
    served: Recommender | None = None
    cold: dict[str, dict[str, Any]] = {}
    blends: dict[str, dict[str, Any]] = {}
    tuned: dict[str, dict[str, Any]] = {}
    for name, factory in models.items():
        model = factory()
        if hasattr(model, "seed"):
            model.seed = seed
        start = time.perf_counter()
        fit_training_rows(
            model,
            split,
            graph,
            driver=driver,
            progress=progress,
            checkpoint_dir=folder / "checkpoints" / name,
        )
        fit_seconds[name] = time.perf_counter() - start
        ev = evaluate(model, split, k=k, regions=regions, name=name)
        results.append(ev)
        parts: list[tuple[str, Recommender]] = [(name, model)]
        if isinstance(model, Blend):
            names = [n for n, _ in model.members_]
            weights = dict(zip(names, model.weights_.tolist(), strict=True))
            log(f"{name}: weights chosen on the inner split {weights}")
            blends[name] = {"weights": weights, "inner": model.tuning_}
            parts = [(f"{member} (member of {name})", m) for member, m in model.members_]
            for member, m in parts:
                results.append(evaluate(m, split, k=k, regions=regions, name=member))
                fit_seconds[member] = float("nan")
        for part_name, m in parts:
            if hasattr(m, "history_"):
                histories[part_name] = m.history_
            if getattr(m, "stopped_by_", None) == "time":
                log(f"WARNING: {part_name} was cut short by its time safety limit")
            if isinstance(m, Tuned):
                tuned[part_name] = {"chosen": m.best_params_, "inner": m.tuning_}
                log(f"{part_name}: {m.best_params_} chosen on the inner split")
        gnn = served_gnn(model)
        if gnn is not None and gnn.refit_epochs_:
            log(
                f"{name}: {len(gnn.history_)} epochs on the inner split (the best: "
                f"{gnn.best_epoch_ + 1}), then trained again on every training row for "
                f"{gnn.refit_epochs_}"
            )
        if gnn is not None and gnn.cold_recall_:
            cold[name] = {
                "artists": gnn.cold_artists_,
                "offset": gnn.cold_offset_,
                "valid_recall": {str(o): r for o, r in gnn.cold_recall_.items()},
                "epochs": len(gnn.history_),
                "best_epoch": gnn.best_epoch_,
                "stopped_by": gnn.stopped_by_,
                # then trained again on every training row for this many epochs (0: no refit)
                "refit_epochs": gnn.refit_epochs_,
            }
            unreached = gnn.cold_recall_[float("-inf")]
            log(
                f"{name}: no score offset helped the artists without training listeners; "
                f"they stay out of reach (validation Recall@20 {unreached:.4f})"
                if np.isnan(gnn.cold_offset_)
                else f"{name}: {gnn.cold_artists_:,} artists without training listeners "
                f"predicted from their tags, offset {gnn.cold_offset_:g}: inner validation "
                f"Recall@20 {unreached:.4f} without them, "
                f"{gnn.cold_recall_[gnn.cold_offset_]:.4f} with"
            )
        log(
            f"{name:<12} Recall@{k} {ev.recall:.4f}  NDCG@{k} {ev.ndcg:.4f}  "
            f"coverage {ev.coverage:.3f}  friends@10 {ev.friend_hit_rate:.3f}  "
            f"fit {fit_seconds[name]:.1f}s"
        )
        served = model

    assert served is not None
    metrics = {
        "split": {"train": int(split.train.nnz), "valid": int(split.valid.nnz), "seed": seed},
        "models": [dict(r.as_dict(), fit_seconds=fit_seconds[r.model]) for r in results],
        "served": type(served).__name__,
        "served_model": list(models)[-1],
        "cold_start": cold,
        "blend": blends,
        "tuned": tuned,
    }
    gnn = served_gnn(served)
    if isinstance(served, HeteroGNN):
        # scored; now its learned parameters serve over every public play and friendship, so
        # users' embeddings gather the held-out rows too (no training again)
        served.propagate(split.full, friends=split.friends_full)
        metrics["served_over"] = {"plays": int(split.full.nnz)}
        log(f"{SERVED}: served embeddings propagated over all {split.full.nnz:,} public plays")
    write_report(folder, metrics, histories)
    served.save(folder / "model.npz")
    save_interactions(folder / "interactions.npz", split)
    lastfm.artists[["artist_id", "name"]].to_parquet(folder / "artists.parquet")
    if gnn is not None:
        save_embeddings(folder, gnn.result_.embeddings, graph.id_map)
        used = graph.label_used()
        metrics["track_embeddings"] = {
            "inputs": graph.features["Track"].source,
            "track_weight": gnn.track_weight,
            "held_out_societies": len(held or ()),
            "labels_used": int(sum(used.values())),
            "labels_held_out": graph.held_out_labels(),
        }
        if write_graph:
            written = write_embeddings(driver, gnn.result_.embeddings, graph.id_map)
            written["Track label_used"] = write_label_used(driver, graph)
            log(f"embeddings written to Neo4j: {written}")
            metrics["written"] = written
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    log(f"recsys: done in {time.perf_counter() - t0:.0f}s; artefacts in {folder}")
    return metrics


def load_interactions(path: Path) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix, sp.csr_matrix]:
    """Read :func:`save_interactions`: user ids, item ids, plays, friendships."""
    with np.load(path) as f:
        u, i = f["user_ids"], f["item_ids"]
        plays = sp.csr_matrix((f["data"], f["indices"], f["indptr"]), shape=(len(u), len(i)))
        friends = sp.csr_matrix(
            (np.ones(len(f["f_indices"]), dtype=np.float32), f["f_indices"], f["f_indptr"]),
            shape=(len(u), len(u)),
        )
    return u, i, plays, friends
