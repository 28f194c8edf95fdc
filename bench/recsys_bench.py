"""Recommender figures: training seconds per epoch and recommendation latency, as JSON.

Against the Neo4j server of the environment (``NEO4J_URI``, already ingested), on the seeded
Last.fm split of :func:`recsys.split.split_lastfm`:

- ``train_seconds_per_epoch``: HeteroGNN (default configuration, and with the
  LinkNeighborLoader sampler) and LightGCN, mean over ``--epochs`` epochs (no early stopping);
- ``fit_seconds``: MostPop, ItemKNN, EASE;
- ``recommend_latency_ms``: per model, one user per call (p50, p95 over ``--calls`` users) and
  all users in one batched call (ms per user).

Usage::

    python bench/recsys_bench.py --out bench/results/recsys.json [--epochs 2] [--calls 200]

The CPU of a shared machine gives noisy figures: the JSON records ``os.cpu_count()`` and the load
average at the start.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from gnn.graph import read_knowledge_graph
from kg.config import Neo4jSettings
from kg.connection import connect
from loaders.config import data_root
from loaders.lastfm import load_lastfm
from recsys.base import Recommender
from recsys.ease import EASE
from recsys.gnn import HeteroGNN
from recsys.itemknn import ItemKNN
from recsys.lightgcn import LightGCN
from recsys.mostpop import MostPop
from recsys.split import split_lastfm


def _latency(model: Recommender, calls: int, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    users = rng.choice(model.num_users, size=min(calls, model.num_users), replace=False)
    times = []
    for u in users:
        t = time.perf_counter()
        model.recommend([int(u)], 20)
        times.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    model.recommend(np.arange(model.num_users), 20)
    batch = (time.perf_counter() - t) * 1000 / model.num_users
    return {
        "single_p50_ms": float(np.percentile(times, 50)),
        "single_p95_ms": float(np.percentile(times, 95)),
        "batched_ms_per_user": batch,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/recsys.json"))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--cache", type=Path, default=None, help="tag-embedding cache folder")
    args = parser.parse_args()

    figures: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "python": platform.python_version(),
        }
    }
    split = split_lastfm(load_lastfm(data_root() / "lastfm-hetrec2011"))
    with connect(Neo4jSettings.from_env()) as driver:
        graph = read_knowledge_graph(driver, cache=args.cache)
    side = {
        "graph": graph,
        "user_ids": split.user_ids,
        "item_ids": split.item_ids,
        "friends": split.friends_train,
    }
    models: dict[str, Recommender] = {
        "MostPop": MostPop(),
        "ItemKNN": ItemKNN(neighbours=1000),
        "EASE": EASE(l2=50.0),
        "LightGCN": LightGCN(epochs=args.epochs),
        "HeteroGNN": HeteroGNN(epochs=args.epochs),
        "HeteroGNN (neighbour sampler)": HeteroGNN(epochs=args.epochs, sampler="neighbor"),
    }
    fit, per_epoch, latency = {}, {}, {}
    for name, model in models.items():
        t = time.perf_counter()
        model.fit(split.train, **side)
        fit[name] = time.perf_counter() - t
        history = getattr(model, "history_", None)
        if history is not None and len(history):
            per_epoch[name] = float(np.diff(np.r_[0.0, history[:, 3]]).mean())
        latency[name] = _latency(model, args.calls)
        print(name, f"fit {fit[name]:.1f}s", latency[name], flush=True)
    figures.update(fit_seconds=fit, train_seconds_per_epoch=per_epoch, recommend_latency_ms=latency)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
