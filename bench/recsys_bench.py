"""User recommendations over seeds: every model, the served one's ablations, as JSON.

Against the Neo4j server of the environment (``NEO4J_URI``, already ingested, the audio factors
stored), on the project's split (:func:`recsys.split.split_lastfm`, seed 0: its held-out rows are
scored once per fit and reach no model):

- every model of :data:`recsys.pipeline.DEFAULT_MODELS` is fitted once per ``--seeds`` seed (the
  seed of the inner validation split and of the model), and a served blend's members are
  scored alone too; per model: Recall@20 and NDCG@20 per seed, their mean and 95% interval
  (Student's t over seeds), fit seconds, seconds per epoch and epochs for the models that train
  in epochs, and the peak resident memory of the process while it fitted (sampled every 20 ms);
- ``--ablations``: the served GNN with one of its inputs taken away (seed 0);
- ``ratio``: the served model's mean Recall@20 over the best peer's, and whether their intervals
  overlap.

Usage::

    python bench/recsys_bench.py --out bench/results/recsys.json [--seeds 0 1 2] [--ablations]
        [--only EASE ALS] [--plot docs/recommenders_curves.png]
    python bench/recsys_bench.py --out bench/results/recsys.json --merge a.json b.json

``--merge`` fits nothing: it gathers the runs of outputs written side by side (e.g. two
processes with ``--threads 1``, each with its own ``--out``) into ``--out`` — a model's runs
replace those already there — and summarises them again.

Results are written after every fit, so an interrupted run keeps what it measured. The machine's
CPU count and load average at the start are recorded: fit seconds depend on them, the figures
do not (training is bounded by epochs, not by time).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from peak_memory import PeakMemory  # bench/ is not a package
from scipy import stats

from audio.run import held_out_societies
from gnn.graph import read_knowledge_graph
from kg.config import Neo4jSettings
from kg.connection import connect
from loaders.config import data_root
from loaders.lastfm import load_lastfm
from recsys.base import Recommender
from recsys.blend import Blend
from recsys.evaluate import evaluate
from recsys.gnn import DEFAULT_RELATIONS
from recsys.pipeline import DEFAULT_MODELS, SERVED, default_model, fit_training_rows
from recsys.split import split_lastfm

#: The served GNN with one of its inputs taken away (or, for co-collection, added).
ABLATIONS: dict[str, Callable[[], Recommender]] = {
    "− tags (artists' tag text)": lambda: default_model(without_features=("Artist",)),
    "− audio factors (tracks)": lambda: default_model(without_features=("Track",)),
    "− friends": lambda: default_model(
        relations=[r for r in DEFAULT_RELATIONS if r != "FRIEND"], friend_weight=0.0
    ),
    "− KGCN relations": lambda: default_model(
        relations=[r for r in DEFAULT_RELATIONS if r != "KG_RELATED"]
    ),
    "− cultures": lambda: default_model(
        relations=[
            r for r in DEFAULT_RELATIONS if r not in ("FROM_CULTURE", "PART_OF", "STYLE_SIMILAR")
        ]
    ),
    "+ co-collection (top 10 per artist)": lambda: default_model(
        relations=[*DEFAULT_RELATIONS, "CO_COLLECTED"], co_top_k=10
    ),
}


#: Variants of the served model measured beside it (not peers: ``--only`` picks them).
VARIANTS: dict[str, Callable[[], Recommender]] = {
    f"{SERVED} (no refit)": lambda: default_model(refit=False),
}


def set_threads(model: Recommender, threads: int) -> None:
    """Give ``model`` (and a blend's or a tuned model's parts) ``threads`` torch threads."""
    if hasattr(model, "threads"):
        model.threads = threads
    for _, m in getattr(model, "members", ()):
        set_threads(m, threads)
    inner = getattr(model, "estimator", None)
    if isinstance(inner, Recommender):
        set_threads(inner, threads)


def interval(values: list[float]) -> list[float]:
    """95% Student's t interval of the mean (the value itself twice for one seed)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        return [float(v.mean()), float(v.mean())]
    half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return [float(v.mean() - half), float(v.mean() + half)]


def epochs_of(model: Recommender) -> dict[str, Any]:
    """Epochs, seconds per epoch and stop reason of the models that train in epochs."""
    history = getattr(model, "history_", None)
    if history is None or not len(history):
        return {}
    seconds = np.diff(np.r_[0.0, history[:, 3]])
    return {
        "epochs": len(history),
        "seconds_per_epoch": float(seconds.mean()),
        "stopped_by": getattr(model, "stopped_by_", None),
        "curve": history[:, 2].tolist(),  # inner validation Recall@20 per epoch
        # the epochs trained again on every row with the chosen count (HeteroGNN's refit)
        **({"refit_epochs": refit} if (refit := getattr(model, "refit_epochs_", 0)) else {}),
    }


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Mean and interval per model, and the served model against the best peer."""
    table: dict[str, dict[str, Any]] = {}
    for name, rows in runs.items():
        recall = [r["recall"] for r in rows]
        table[name] = {
            "seeds": [r["seed"] for r in rows],
            "recall": recall,
            "recall_mean": float(np.mean(recall)),
            "recall_interval": interval(recall),
            "ndcg_mean": float(np.mean([r["ndcg"] for r in rows])),
            "ndcg_interval": interval([r["ndcg"] for r in rows]),
            "fit_seconds_mean": float(np.nanmean([r["fit_seconds"] for r in rows])),
            "peak_rss_mb": float(max(r["peak_rss_mb"] for r in rows)),
        }
        per_epoch = [r["seconds_per_epoch"] for r in rows if "seconds_per_epoch" in r]
        if per_epoch:
            table[name]["seconds_per_epoch_mean"] = float(np.mean(per_epoch))
            table[name]["epochs"] = [r["epochs"] for r in rows]
            table[name]["stopped_by"] = [r["stopped_by"] for r in rows]
    out: dict[str, Any] = {"models": table}
    peers = {n: t for n, t in table.items() if not n.startswith(SERVED) and "(member of" not in n}
    if SERVED in table and peers:
        best = max(peers, key=lambda n: float(peers[n]["recall_mean"]))
        s, p = table[SERVED], peers[best]
        out["ratio"] = {
            "served": SERVED,
            "best_peer": best,
            "recall_ratio": s["recall_mean"] / p["recall_mean"],
            "target": 1.05,
            "intervals_overlap": s["recall_interval"][0] <= p["recall_interval"][1],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/recsys.json"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        help="names of DEFAULT_MODELS, VARIANTS or (with --ablations) ABLATIONS to fit",
    )
    parser.add_argument("--ablations", action="store_true", help="also the served ablations")
    parser.add_argument(
        "--ablations-only", action="store_true", help="only the ablations (e.g. in a second run)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads of every model (default: each model's own; two runs side by side "
        "with 1 each use the 2 cores better than one run with 2)",
    )
    parser.add_argument("--cache", type=Path, default=None, help="tag-embedding cache folder")
    parser.add_argument("--plot", type=Path, default=None, help="PNG of the training curves")
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=None,
        help="fit nothing: gather the runs of these outputs into --out and summarise again",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="keep the runs already in --out and replace those of the models fitted now",
    )
    args = parser.parse_args()

    figures: dict[str, Any] = {
        "measured": time.strftime("%Y-%m-%d"),
        "command": "python bench/recsys_bench.py " + " ".join(sys.argv[1:]),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "python": platform.python_version(),
        },
    }
    if args.merge:
        merge(args.merge, args.out, figures, args.plot)
        return
    split = split_lastfm(load_lastfm(data_root() / "lastfm-hetrec2011"), seed=0)
    figures["split"] = {"train": int(split.train.nnz), "held_out": int(split.valid.nnz)}
    if args.threads is not None:
        torch.set_num_threads(args.threads)
        figures["threads"] = args.threads
    models = {n: f for n, f in DEFAULT_MODELS.items() if args.only is None or n in args.only}
    models |= {n: f for n, f in VARIANTS.items() if args.only is not None and n in args.only}
    jobs = [(name, factory, seed) for seed in args.seeds for name, factory in models.items()]
    if args.ablations_only:
        jobs = []
    if args.ablations or args.ablations_only:
        jobs += [
            (name, factory, args.seeds[0])
            for name, factory in ABLATIONS.items()
            if args.only is None or name in args.only
        ]
    runs: dict[str, list[dict[str, Any]]] = {}
    ablations: dict[str, list[dict[str, Any]]] = {}
    if args.update and args.out.is_file():
        before = json.loads(args.out.read_text())
        refit = {name for name, _, _ in jobs}
        runs = {n: r for n, r in before.get("runs", {}).items() if n not in refit}
        ablations = {n: r for n, r in before.get("ablations", {}).items() if n not in refit}
        figures["updated"] = {"earlier": before.get("measured"), "refitted": sorted(refit)}
    with connect(Neo4jSettings.from_env()) as driver:
        graph = read_knowledge_graph(
            driver, cache=args.cache, held_out_societies=held_out_societies(None) or ()
        )
        for i, (name, factory, seed) in enumerate(jobs, 1):
            print(f"[{i}/{len(jobs)}] {name}, seed {seed}", flush=True)
            model = factory()
            if hasattr(model, "seed"):
                model.seed = seed
            if args.threads is not None:
                set_threads(model, args.threads)
            start = time.perf_counter()
            with PeakMemory() as mem:
                fit_training_rows(model, split, graph, driver=driver)
            fitted = time.perf_counter() - start
            parts: list[tuple[str, Recommender, float]] = [(name, model, fitted)]
            if isinstance(model, Blend) and name == SERVED:
                parts += [(f"{m} (member of {name})", r, float("nan")) for m, r in model.members_]
            for part, m, seconds in parts:
                ev = evaluate(m, split, name=part)
                row = {
                    "seed": seed,
                    "recall": ev.recall,
                    "ndcg": ev.ndcg,
                    "coverage": ev.coverage,
                    "fit_seconds": seconds,
                    "peak_rss_mb": mem.peak / 2**20,
                    **epochs_of(m),
                }
                if isinstance(m, Blend):
                    row["weights"] = m.weights_.tolist()
                chosen = getattr(m, "best_params_", None)
                if chosen is not None:
                    row["chosen"] = chosen
                target = ablations if name in ABLATIONS else runs
                target.setdefault(part, []).append(row)
                print(f"    {part}: Recall@20 {ev.recall:.4f} NDCG@20 {ev.ndcg:.4f}", flush=True)
            figures["runs"] = runs
            figures["ablations"] = ablations
            figures.update(summarise(runs))
            figures["ablation_table"] = summarise(ablations)["models"] if ablations else {}
            figures["seconds"] = time.perf_counter() - start
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(figures, indent=2, default=float))
    if args.plot:
        plot_curves(runs, args.plot)
    print(json.dumps(figures.get("ratio", {}), indent=2))


def merge(parts: list[Path], out: Path, figures: dict[str, Any], plot: Path | None) -> None:
    """Gather the runs of ``parts`` (bench outputs) into ``out``, later parts winning."""
    before = json.loads(out.read_text()) if out.is_file() else {}
    runs, ablations = before.get("runs", {}), before.get("ablations", {})
    sources = []
    for part in parts:
        d = json.loads(part.read_text())
        runs |= d.get("runs", {})
        ablations |= d.get("ablations", {})
        sources.append(
            {
                "command": d.get("command"),
                "measured": d.get("measured"),
                "machine": d.get("machine"),
                "threads": d.get("threads"),
                "models": sorted([*d.get("runs", {}), *d.get("ablations", {})]),
                **({"note": d["note"]} if "note" in d else {}),
            }
        )
    for key in ("split", "threads"):
        if key in before:
            figures[key] = before[key]
    figures["merged"] = {"earlier": before.get("measured"), "from": sources}
    figures["runs"], figures["ablations"] = runs, ablations
    figures.update(summarise(runs))
    figures["ablation_table"] = summarise(ablations)["models"] if ablations else {}
    out.write_text(json.dumps(figures, indent=2, default=float))
    if plot:
        plot_curves(runs, plot)
    print(json.dumps(figures.get("ratio", {}), indent=2))


def plot_curves(runs: dict[str, list[dict[str, Any]]], path: Path) -> None:
    """Inner validation Recall@20 per epoch of the models that train in epochs, every seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    colours = iter(plt.rcParams["axes.prop_cycle"].by_key()["color"])
    for name, rows in runs.items():
        # a variant of the served model chooses its epochs as the served one does: the same curve
        curves = [r["curve"] for r in rows if "curve" in r and name not in VARIANTS]
        if not curves:
            continue
        colour = next(colours)
        for j, c in enumerate(curves):
            ax.plot(range(1, len(c) + 1), c, color=colour, label=name if j == 0 else None)
    ax.set_xlabel("epoch")
    ax.set_ylabel("inner validation Recall@20")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
