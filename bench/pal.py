"""Does the experts' loop pay? A simulated expert answers the review queue on a held-out split.

What is simulated: ethnomusicologists who answer "what is this song for?" about the songs the
review queue (:func:`recsys.review.review_order`) puts first. The expert is an *oracle* that gives
the song's public CCMC label. The songs it can be asked about are those of **validation
societies**: a seeded 20% of the societies that have public labels, whose public labels are
hidden from the recommender (``CrossCulturalRecommender.fit(..., hide=...)``) until answered.
The songs whose labels the dataset withholds stay unlabelled and are never asked about (no
oracle knows them here) nor scored.

Protocol, per seed (the seed draws the validation societies, the evaluation's target regions
and the random strategy's order):

* Strategies choose the songs to answer among the hidden, unanswered ones:
  ``queue`` — :func:`~recsys.review.review_order` on the entropy of the function posterior
  (most uncertain first, spread over societies and HRAF regions), recomputed after every batch;
  ``uncertainty`` — the same entropy without the spreading (an ablation of the queue);
  ``random`` — a seeded random order; ``popularity`` — songs of the societies with the most
  songs in the catalogue first (ties: society id, then track id).
* Answers arrive in batches of ``--batch`` (5); after each batch the recommender is refitted
  with the answered labels known (as answers count as known labels, docs/experts.md).
* At each budget (``--budgets``, default 0, 5, 10, 20, 50 answers):

  (a) **accuracy**: top-1 of the function posterior on the hidden songs not yet answered;
  (b) **function share** of cross-cultural recommendations, the measure of
      ``soundbridge evaluate`` (:mod:`recsys.cultural_eval`): every hidden song is a query
      against ``--targets`` (5) other HRAF regions (seeded, among regions with at least 10
      public labels); candidates are the target region's songs with a public label; the share of
      the top 10 that serve the query's function, divided by chance (the share of candidates that
      do). Scored with the unaligned recommender, ``p_q · p_t + 0.05 · cos(z_a)`` (the default
      OT alignment ties it on this data, docs/alignment.md, and costs a plan per pair per
      refit). Reported over all hidden queries (an answered query's function is then known) and
      over the still-unanswered ones.

* Intervals: the mean over seeds and a 95% Student-t interval over seeds (each seed is one
  draw of validation societies, so the interval covers the split's variation). ``paired``
  gives, per budget, the per-seed difference of each strategy from ``random`` with its t-interval.

Representation: the audio factors of a trained run (``--audio-run``, default
``$SOUNDBRIDGE_HOME/audio/default``) when it holds ``factors.parquet`` (``soundbridge audio
export-factors``) and ``split.json`` — the validation societies are then drawn among the run's
held-out societies, whose labels the factors never trained on; otherwise the 38 MIRtoolbox
features (standardised over all songs), which then stand for z_a and feed the function model
(what ``soundbridge evaluate`` reports as the MIRtoolbox baseline). The JSON says which.

The catalogue is built from the data files as ingestion reads them (:func:`loaders.ccmc.load_ccmc`,
:func:`kg.culture.build_culture_tree`: the same track and culture ids as the graph), so no Neo4j
server is needed.

Usage::

    SOUNDBRIDGE_DATA=../shared/data python bench/pal.py \\
        --out bench/results/pal.json --plot docs/pal.png

(``--seeds 3 --budgets 0 5 10`` for a quick look.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recsys.catalogue import TrackCatalogue
from recsys.cultural_metrics import function_share
from recsys.cultures import CultureResolver
from recsys.review import review_order, uncertainty
from recsys.similar import CrossCulturalRecommender

STRATEGIES = ("queue", "uncertainty", "random", "popularity")
BUDGETS = (0, 5, 10, 20, 50)
METRICS = (
    "accuracy",
    "accuracy_gain",
    "accuracy_all",
    "share_all",
    "chance_all",
    "ratio_all",
    "share_unanswered",
    "chance_unanswered",
    "ratio_unanswered",
    "ratio_unanswered_gain",
    "asked_base_wrong",
)


# ---------------------------------------------------------------------- the real catalogue
def real_catalogue(
    data: Path | None = None, audio_run: Path | None = None
) -> tuple[TrackCatalogue, str, list[str] | None]:
    """The CCMC songs as a :class:`~recsys.catalogue.TrackCatalogue`, read from the data files.

    Args:
        data: the datasets' root (default ``SOUNDBRIDGE_DATA``).
        audio_run: a run folder with ``factors.parquet`` and ``split.json``; its factors are used
            when both exist, else the MIRtoolbox features.

    Returns:
        ``(catalogue, representation, pool)``: ``representation`` says which features the
        factors are; ``pool`` the societies validation societies may be drawn from (the run's
        held-out ones), ``None`` for any.
    """
    import pandas as pd

    from kg.culture import build_culture_tree
    from loaders.ccmc import load_ccmc
    from loaders.config import data_root
    from loaders.nhs import load_mir_features

    root = data_root(data)
    ccmc = load_ccmc(root / "ccmc")
    songs = ccmc.songs.sort_values("track_id").reset_index(drop=True)  # the graph's order
    ids = songs["track_id"].astype(str).to_numpy()
    culture = build_culture_tree(ccmc.societies)
    parent = dict(zip(culture.part_of["child"], culture.part_of["parent"], strict=True))
    nodes = culture.nodes
    glotto = nodes["glottocode"] if "glottocode" in nodes else pd.Series([None] * len(nodes))
    tree = CultureResolver.from_rows(
        [
            {
                "id": i,
                "name": n,
                "level": lv,
                "parent": parent.get(i),
                "glottocode": g if isinstance(g, str) else None,
            }
            for i, n, lv, g in zip(nodes["id"], nodes["name"], nodes["level"], glotto, strict=True)
        ],
        aliases={},
    )
    mir = load_mir_features(root / "nhs-expanded").set_index("track_id").reindex(ids)
    x_mir = mir.to_numpy(dtype=np.float64)
    ok = np.isfinite(x_mir).all(axis=1)
    mu, sd = x_mir[ok].mean(axis=0), x_mir[ok].std(axis=0) + 1e-9
    z_mir = np.where(ok[:, None], (x_mir - mu) / sd, 0.0)
    names = dict(zip(ccmc.societies["society_id"], ccmc.societies["name"], strict=True))
    functions = songs["function"].fillna("").astype(str).to_numpy()
    societies = songs["society_id"].astype(str).to_numpy()
    common: dict[str, Any] = {
        "track_ids": ids,
        # no function in the title (the graph's titles name public functions)
        "names": np.array([f"{names[s]} song ({t})" for s, t in zip(societies, ids, strict=True)]),
        "cultures": societies,
        "functions": functions,
        "tree": tree,
        "function_names": tuple(sorted(ccmc.functions["name"].astype(str))),
    }
    run = audio_run
    if run is not None and (run / "factors.parquet").is_file() and (run / "split.json").is_file():
        table = pd.read_parquet(run / "factors.parquet").set_index("track_id").reindex(ids)
        parts = [_columns(table.columns, p) for p in ("zc", "zs", "za")]
        factors = np.hstack([table[cols].to_numpy(np.float32) for cols in parts])
        split = json.loads((run / "split.json").read_text())
        cat = TrackCatalogue(
            factors=factors,
            dims=(len(parts[0]), len(parts[1]), len(parts[2])),
            mir=np.where(ok[:, None], z_mir, np.nan),
            **common,
        )
        return cat, f"audio factors of {run} + MIRtoolbox", list(split["held_out_societies"])
    cat = TrackCatalogue(factors=z_mir.astype(np.float32), dims=(0, 0, z_mir.shape[1]), **common)
    return cat, "MIRtoolbox features (standardised; no audio run)", None


def _columns(names: Any, prefix: str) -> list[str]:
    """``prefix_0, prefix_1, …`` in numeric order (export-factors' column names)."""
    own = [str(c) for c in names if str(c).startswith(f"{prefix}_")]
    return sorted(own, key=lambda c: int(c.rsplit("_", 1)[1]))


# ---------------------------------------------------------------------- the simulation
def _regions(catalogue: TrackCatalogue) -> np.ndarray:
    tree = catalogue.tree
    of = {c: tree.ancestor(c, "region") or "" for c in set(catalogue.cultures.tolist())}
    return np.array([of[c] for c in catalogue.cultures.tolist()], dtype=object).astype(str)


def validation_split(
    catalogue: TrackCatalogue, seed: int, share: float = 0.2, pool: Sequence[str] | None = None
) -> np.ndarray:
    """Society ids whose public labels are hidden: ``share`` of the labelled societies (of
    ``pool`` when given), drawn with ``seed``; sorted."""
    labelled = sorted(set(catalogue.cultures[catalogue.labelled].tolist()) - {""})
    if pool is not None:
        labelled = sorted(set(labelled) & set(pool))
    n = max(1, round(share * len(labelled)))
    rng = np.random.default_rng([seed, 0])
    return np.sort(rng.choice(np.array(labelled), size=n, replace=False))


def _pairs(
    catalogue: TrackCatalogue,
    queries: np.ndarray,
    region_of: np.ndarray,
    n_targets: int,
    min_judged: int,
    seed: int,
) -> list[tuple[int, np.ndarray]]:
    """(query, candidate rows) pairs as :func:`recsys.cultural_eval.evaluate_cross_cultural`
    draws them: per query, ``n_targets`` other regions with at least ``min_judged`` public
    labels; candidates are the region's songs with a public label."""
    labelled = catalogue.labelled
    regions = sorted(
        r
        for r in set(region_of.tolist())
        if r and (labelled & (region_of == r)).sum() >= min_judged
    )
    judged = {r: np.flatnonzero((region_of == r) & labelled) for r in regions}
    rng = np.random.default_rng([seed, 1])
    out = []
    for q in queries.tolist():
        others = [r for r in regions if r != region_of[q]]
        for r in rng.choice(others, size=min(n_targets, len(others)), replace=False):
            rows = judged[str(r)]
            out.append((int(q), rows[rows != q]))
    return out


def _measure(
    model: CrossCulturalRecommender, truth: np.ndarray, pairs: list[tuple[int, np.ndarray]], k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's top-1 function per track, and per (query, region) pair the share of the top
    ``k`` serving the query's function and chance.

    Shapes: returns ``(n,)`` str, ``(pairs,)``, ``(pairs,)``.
    """
    dist, za = model.distribution_, model.za_
    guess = np.array(model.function_model_.classes_)[dist.argmax(axis=1)]
    tids = model.catalogue_.track_ids
    share, chance = np.empty(len(pairs)), np.empty(len(pairs))
    for i, (q, rows) in enumerate(pairs):
        s = dist[rows] @ dist[q] + model.affect_weight * (za[rows] @ za[q])
        top = rows[np.lexsort((tids[rows], -s))[:k]]
        share[i] = function_share(truth[top].tolist(), truth[q])
        chance[i] = float((truth[rows] == truth[q]).mean())
    return guess, share, chance


def _metrics(
    measured: tuple[np.ndarray, np.ndarray, np.ndarray],
    base: tuple[np.ndarray, np.ndarray, np.ndarray],
    truth: np.ndarray,
    hidden: np.ndarray,
    answered: np.ndarray,
    query_of: np.ndarray,
) -> dict[str, float]:
    """The figures of one budget; ``base`` is what the model without answers measured, so that
    ``*_gain`` compares both on the same still-unanswered songs (the songs a strategy removed
    from the set are not what makes the difference)."""
    guess, share, chance = measured
    guess0, share0, _ = base
    nan = float("nan")
    open_ = hidden & ~answered
    right = guess == truth
    out: dict[str, float] = {"n_unanswered": int(open_.sum())}
    out["accuracy"] = out["accuracy_gain"] = nan
    if open_.any():
        out["accuracy"] = float(right[open_].mean())
        out["accuracy_gain"] = out["accuracy"] - float((guess0 == truth)[open_].mean())
    known = right | answered  # an answered song's function is known
    out["accuracy_all"] = float(known[hidden].mean())
    pair_open = open_[query_of]
    for key, sel in (("all", np.ones_like(pair_open)), ("unanswered", pair_open)):
        if not sel.any():
            out[f"share_{key}"] = out[f"chance_{key}"] = out[f"ratio_{key}"] = nan
            continue
        a, c = float(share[sel].mean()), float(chance[sel].mean())
        out[f"share_{key}"], out[f"chance_{key}"] = a, c
        out[f"ratio_{key}"] = a / c if c > 0 else nan
    out["ratio_unanswered_gain"] = nan
    if pair_open.any():
        gain = float(share[pair_open].mean()) - float(share0[pair_open].mean())
        out["ratio_unanswered_gain"] = gain / float(chance[pair_open].mean())
    return out


def simulate(
    catalogue: TrackCatalogue,
    *,
    seed: int = 0,
    budgets: Sequence[int] = BUDGETS,
    strategies: Sequence[str] = STRATEGIES,
    batch: int = 5,
    share: float = 0.2,
    pool: Sequence[str] | None = None,
    k: int = 10,
    n_targets: int = 5,
    min_judged: int = 10,
    params: dict[str, Any] | None = None,
    log: Callable[[str], None] = lambda m: None,
) -> dict[str, Any]:
    """One seed of the protocol (module docstring) on ``catalogue``.

    Returns:
        ``{"validation_societies", "hidden_songs", "results": {strategy: {budget: metrics}}}``
        where metrics holds ``accuracy`` (still-unanswered hidden songs), ``accuracy_all``
        (every hidden song, an answered one counting as known), ``accuracy_gain`` (over the
        model without answers, on the same unanswered songs), ``share_*``, ``chance_*``,
        ``ratio_*`` (``all`` / ``unanswered`` queries), ``ratio_unanswered_gain`` (over the
        model without answers on the same queries, in units of chance), ``n_unanswered``,
        ``societies`` / ``regions`` (how many distinct ones the answered songs span) and
        ``asked_base_wrong`` (share of the asked songs the model without answers got wrong).
    """
    bad = sorted(set(strategies) - set(STRATEGIES))
    if bad:
        raise ValueError(f"unknown strategies {bad}; known: {', '.join(STRATEGIES)}")
    budgets = sorted(set(int(b) for b in budgets) | {0})
    truth = catalogue.functions.astype(str)
    val = validation_split(catalogue, seed, share, pool)
    hidden = np.isin(catalogue.cultures, val) & catalogue.labelled
    region_of = _regions(catalogue)
    pairs = _pairs(catalogue, np.flatnonzero(hidden), region_of, n_targets, min_judged, seed)
    query_of = np.array([q for q, _ in pairs], dtype=np.int64)
    params = {"alignment": "none", "seed": seed, **(params or {})}

    def fit(answered: np.ndarray) -> CrossCulturalRecommender:
        return CrossCulturalRecommender(**params).fit(catalogue, hide=hidden & ~answered)

    def record(model: CrossCulturalRecommender, answered: np.ndarray) -> dict[str, float]:
        m = _metrics(_measure(model, truth, pairs, k), base, truth, hidden, answered, query_of)
        m["societies"] = len(set(catalogue.cultures[answered].tolist()))
        m["regions"] = len(set(region_of[answered].tolist()))
        # how often the model without answers was wrong on the songs a strategy asked about
        m["asked_base_wrong"] = (
            float((base[0][answered] != truth[answered]).mean()) if answered.any() else nan
        )
        return m

    nan = float("nan")
    none = np.zeros(len(catalogue), dtype=bool)
    base_model = fit(none)
    base = _measure(base_model, truth, pairs, k)
    first = record(base_model, none)
    sizes = dict(zip(*np.unique(catalogue.cultures, return_counts=True), strict=True))
    results: dict[str, dict[int, dict[str, float]]] = {}
    for strategy in strategies:
        t0 = time.perf_counter()
        answered = none.copy()
        model = base_model
        out = {0: first}
        pool_rows = np.flatnonzero(hidden)
        if strategy == "random":
            fixed = np.random.default_rng([seed, 2]).permutation(pool_rows)
        elif strategy == "popularity":
            soc = catalogue.cultures[pool_rows]
            size = np.array([sizes[s] for s in soc.tolist()])
            fixed = pool_rows[np.lexsort((catalogue.track_ids[pool_rows], soc, -size))]
        adaptive = strategy in ("queue", "uncertainty")
        for target in budgets[1:]:
            while answered.sum() < target:
                open_rows = np.flatnonzero(hidden & ~answered)
                if len(open_rows) == 0:
                    break
                n = min(batch, target - int(answered.sum()))
                if adaptive:
                    u = uncertainty(model.distribution_[open_rows])
                    if strategy == "queue":
                        pick = open_rows[
                            review_order(u, catalogue.cultures[open_rows], region_of[open_rows], n)
                        ]
                    else:
                        pick = open_rows[np.lexsort((open_rows, -u))[:n]]
                else:
                    pick = fixed[~answered[fixed]][:n]
                answered[pick] = True
                if adaptive and answered.sum() < target:
                    model = fit(answered)  # the queue is recomputed after every batch
            model = fit(answered)
            out[target] = record(model, answered)
        results[strategy] = out
        log(f"seed {seed} {strategy}: {time.perf_counter() - t0:.1f} s")
    return {
        "validation_societies": val.tolist(),
        "hidden_songs": int(hidden.sum()),
        "queries": len(pairs) // max(n_targets, 1),
        "results": results,
    }


# ---------------------------------------------------------------------- summary and output
def _interval(x: np.ndarray) -> dict[str, float]:
    from scipy import stats

    x = x[np.isfinite(x)]
    if len(x) == 0:
        return {"mean": float("nan"), "lo": float("nan"), "hi": float("nan"), "n": 0}
    m = float(x.mean())
    if len(x) < 2:
        return {"mean": m, "lo": m, "hi": m, "n": 1}
    h = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return {"mean": m, "lo": m - h, "hi": m + h, "n": len(x)}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and 95% t-interval over seeds per strategy, budget and metric, and the paired
    differences from ``random``."""
    strategies = list(runs[0]["results"])
    budgets = sorted(runs[0]["results"][strategies[0]], key=int)
    keys = [*METRICS, "societies", "regions", "n_unanswered"]

    def values(strategy: str, budget: int, key: str) -> np.ndarray:
        return np.array([r["results"][strategy][budget][key] for r in runs], dtype=np.float64)

    summary = {
        s: {b: {key: _interval(values(s, b, key)) for key in keys} for b in budgets}
        for s in strategies
    }
    paired: dict[str, Any] = {}
    if "random" in strategies:
        for s in strategies:
            if s == "random":
                continue
            paired[s] = {
                b: {key: _interval(values(s, b, key) - values("random", b, key)) for key in METRICS}
                for b in budgets
            }
    return {"summary": summary, "paired_vs_random": paired}


def per_seed(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Every seed's figures, column-wise: ``{strategy: {metric: [[value per budget] per seed]}}``
    with the budgets and each seed's number of hidden songs and validation societies."""
    strategies = list(runs[0]["results"])
    budgets = sorted(runs[0]["results"][strategies[0]], key=int)
    keys = [*METRICS, "societies", "regions", "n_unanswered"]
    return {
        "budgets": [int(b) for b in budgets],
        "hidden_songs": [r["hidden_songs"] for r in runs],
        "validation_societies": [len(r["validation_societies"]) for r in runs],
        "values": {
            s: {key: [[r["results"][s][b][key] for b in budgets] for r in runs] for key in keys}
            for s in strategies
        },
    }


def plot(result: dict[str, Any], path: Path) -> None:
    """Accuracy and function share vs answers, one line per strategy with its interval band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = result["summary"]
    panels = (
        ("accuracy", "(a) accuracy on the still-unanswered hidden songs"),
        ("accuracy_gain", "(a') same songs: accuracy gain over the model without answers"),
        ("ratio_all", "(b) function share / chance, all hidden songs as queries"),
        ("ratio_unanswered_gain", "(b') unanswered queries: share gain over no answers (x chance)"),
    )
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    for ax, (key, title) in zip(axes.ravel(), panels, strict=True):
        for strategy, by_budget in summary.items():
            b = sorted(by_budget, key=int)
            x = np.array([int(v) for v in b])
            m = np.array([by_budget[v][key]["mean"] for v in b])
            lo = np.array([by_budget[v][key]["lo"] for v in b])
            hi = np.array([by_budget[v][key]["hi"] for v in b])
            (line,) = ax.plot(x, m, marker="o", label=strategy)
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.12)
        if key.endswith("gain"):
            ax.axhline(0.0, color="k", lw=0.8)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("answers")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    cfg = result["config"]
    fig.suptitle(
        f"Simulated expert on {result['hidden_songs_mean']:.0f} hidden songs per seed: "
        f"{cfg['seeds']} seeds, batches of {cfg['batch']}; mean and 95% t-interval over seeds\n"
        f"representation: {result['representation']}",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> None:
    from kg.config import soundbridge_home

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench/results/pal.json"))
    ap.add_argument("--plot", type=Path, default=Path("docs/pal.png"))
    ap.add_argument("--seeds", type=int, default=20, help="seeds 0 .. N-1")
    ap.add_argument("--budgets", type=int, nargs="+", default=list(BUDGETS))
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    ap.add_argument("--batch", type=int, default=5)
    ap.add_argument("--share", type=float, default=0.2, help="share of labelled societies hidden")
    ap.add_argument("--targets", type=int, default=5)
    ap.add_argument("--data", type=Path, default=None, help="datasets root (SOUNDBRIDGE_DATA)")
    ap.add_argument("--audio-run", type=Path, default=None)
    args = ap.parse_args(argv)

    started = time.perf_counter()
    run = args.audio_run or soundbridge_home() / "audio" / "default"
    catalogue, representation, pool = real_catalogue(args.data, run)
    print(f"catalogue: {len(catalogue)} tracks; representation: {representation}", flush=True)
    runs = []
    for seed in range(args.seeds):
        runs.append(
            simulate(
                catalogue,
                seed=seed,
                budgets=args.budgets,
                strategies=args.strategies,
                batch=args.batch,
                share=args.share,
                pool=pool,
                n_targets=args.targets,
                log=lambda m: print(m, flush=True),
            )
        )
    result: dict[str, Any] = {
        "benchmark": "pal",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "representation": representation,
        "command": "python bench/pal.py " + " ".join(argv if argv is not None else _argv()),
        "config": {
            "seeds": args.seeds,
            "budgets": sorted(set(args.budgets) | {0}),
            "strategies": args.strategies,
            "batch": args.batch,
            "validation_share": args.share,
            "n_targets": args.targets,
            "k": 10,
            "scorer": "unaligned: p_q . p_t + 0.05 cos(z_a)",
            "interval": "95% Student-t over seeds",
            "tracks": len(catalogue),
        },
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "hidden_songs_mean": float(np.mean([r["hidden_songs"] for r in runs])),
        **summarise(runs),
        "per_seed": per_seed(runs),
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps(result) + "\n")
    plot(json.loads(dumps(result)), args.plot)
    print(_table(result))
    print(f"{result['seconds']} s -> {args.out}, {args.plot}")


def _argv() -> list[str]:
    import sys

    return sys.argv[1:]


def dumps(obj: Any, indent: str = "") -> str:
    """JSON with one line per innermost object (a seed's figures at one budget, an interval)
    and floats to 4 decimals, so the file stays small and readable."""
    if isinstance(obj, dict) and obj and any(isinstance(v, dict | list) for v in obj.values()):
        inner = indent + " "
        items = [f"{inner}{json.dumps(str(k))}: {dumps(v, inner)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    return json.dumps(_rounded(obj), separators=(", ", ": "), default=_json)


def _rounded(obj: Any) -> Any:
    if isinstance(obj, float | np.floating):
        return round(float(obj), 4)
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_rounded(v) for v in obj]
    return obj


def _json(x: Any) -> Any:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    raise TypeError(type(x))


def _table(result: dict[str, Any]) -> str:
    """The Markdown table of docs/pal.md: mean [95% interval] per strategy and budget."""
    cols = (
        ("accuracy", "(a) accuracy, unanswered"),
        ("accuracy_gain", "(a') gain, same songs"),
        ("ratio_all", "(b) share / chance, all hidden"),
        ("ratio_unanswered_gain", "(b') gain, unanswered (x chance)"),
    )
    lines = [
        "| strategy | answers | " + " | ".join(t for _, t in cols) + " | asked songs the model "
        "had wrong | societies / regions asked |",
        "|---|---|" + "---|" * len(cols) + "---|---|",
    ]

    def f(d: dict[str, float]) -> str:
        return f"{d['mean']:.3f} [{d['lo']:.3f}, {d['hi']:.3f}]"

    for s, by in result["summary"].items():
        for b in sorted(by, key=int):
            if int(b) == 0 and s != next(iter(result["summary"])):
                continue  # the same model for every strategy
            m = by[b]
            wrong = m["asked_base_wrong"]["mean"]
            lines.append(
                f"| {s if int(b) else 'any (no answers)'} | {b} | "
                + " | ".join(f(m[key]) for key, _ in cols)
                + f" | {'' if int(b) == 0 else f'{wrong:.2f}'} | "
                f"{m['societies']['mean']:.1f} / {m['regions']['mean']:.1f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
