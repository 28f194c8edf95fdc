"""Latency of ``recommend_similar(track, target_culture, k=10)``, p50 and p99, as JSON.

Two catalogues, each measured in its own child process (so that each reports its own peak RSS):

- ``real``: the graph of the environment's Neo4j (``NEO4J_URI``, ``NEO4J_USER``,
  ``NEO4J_PASSWORD`` / ``SOUNDBRIDGE_HOME``; ingested, with audio factors), read by
  :func:`recsys.catalogue.load_catalogue` and fitted as served (the SVM function model included).
  Also times the full API path :func:`recsys.similar.recommend_similar` with ``driver=``, which
  adds the graph-stamp query to every call.
- ``synthetic``: :func:`synthetic_catalogue`, ``--tracks`` tracks (default 1,000,000) over ~500
  societies under ~40 regions under 8 world regions, factors ``(n, 48)`` float32 clustered by
  culture, 10 functions with ~20% labelled; fitted with a Dirichlet function posterior through
  ``CrossCulturalRecommender.fit(predicted=...)`` (an SVM on a million tracks is not the point).

For each target level (society, region, world region) and alignment (``"unbalanced"``, the
default, and ``"none"``), ``explain=True`` (the API default), ``--queries`` seeded queries of a
random track into a random culture of that level holding at least ``k + 1`` tracks:

- ``first_touch``: every cache emptied before each query (the pair's plan *and* the two cultures'
  row lists): the first query after a (re)fit;
- ``cold``: the pair's plan emptied before each query, the culture rows cached: the price of
  computing one transport plan (``"unbalanced"`` only; ``"none"`` has no plan);
- ``warm``: the same queries again after one unmeasured pass (everything cached).

Every answer is checked: exactly ``k`` results, all distinct, the query excluded, each one's
society at or below the target culture. Timings are ``time.perf_counter`` around one call.

Usage::

    python bench/similar_latency.py --out bench/results/similar_latency.json

(``--part real`` or ``--part synthetic`` runs one part in this process; ``--profile`` prints a
cProfile of the slowest configurations.) The CPU of a shared machine gives noisy figures: the JSON
records ``os.cpu_count()`` and the load average at the start.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import json
import os
import platform
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from recsys.catalogue import TrackCatalogue
from recsys.cultures import LEVELS, CultureResolver
from recsys.similar import CrossCulturalRecommender, Recommendation

TARGET_P99_MS = {"real": 50.0, "synthetic": 100.0}
ALIGNMENTS = ("unbalanced", "none")
FUNCTIONS = (
    "Dance", "Healing", "Love", "Lullaby", "Mourning", "Play", "Praise", "Procession", "Story",
    "Work",
)  # fmt: skip
DIMS = (16, 16, 16)


# ---------------------------------------------------------------------- synthetic catalogue
def synthetic_catalogue(
    n_tracks: int = 1_000_000,
    n_societies: int = 500,
    n_regions: int = 40,
    n_world_regions: int = 8,
    labelled: float = 0.2,
    seed: int = 0,
) -> tuple[TrackCatalogue, np.ndarray]:
    """A synthetic catalogue and a function posterior for it.

    Societies (lognormal sizes, at least ``min(20, n_tracks // n_societies)`` tracks each) hang
    under regions, regions under world regions (every parent has at least one child). Factors are
    a world-region + region + society centre plus noise; ``z_a`` also moves with the track's true
    function, which each society draws from its own preference; a ``labelled`` share of tracks
    has that function public. The posterior is a Dirichlet draw peaked on the true function.

    Args:
        n_tracks, n_societies, n_regions, n_world_regions: sizes
            (``n_world_regions <= n_regions <= n_societies``).
        labelled: share of tracks with a public function.
        seed: random state.

    Returns:
        ``(catalogue, predicted)``. Shapes: ``predicted``: ``(n_tracks, 10)``, rows sum to 1,
        columns in ``catalogue.function_names`` order.
    """
    if not 1 <= n_world_regions <= n_regions <= n_societies <= n_tracks:
        raise ValueError("need 1 <= n_world_regions <= n_regions <= n_societies <= n_tracks")
    rng = np.random.default_rng(seed)
    d, nf = sum(DIMS), len(FUNCTIONS)
    region_wr = rng.permutation(np.arange(n_regions) % n_world_regions)
    society_region = rng.permutation(
        np.r_[np.arange(n_regions), rng.integers(0, n_regions, n_societies - n_regions)]
    )
    wr_ids = [f"SYN-WR{i:02d}" for i in range(n_world_regions)]
    region_ids = [f"SYN-R{i:03d}" for i in range(n_regions)]
    society_ids = np.array([f"SYN-S{i:04d}" for i in range(n_societies)])
    rows: list[dict[str, Any]] = [
        {"id": w, "name": f"World region {i}", "level": "world_region", "parent": None}
        for i, w in enumerate(wr_ids)
    ]
    rows += [
        {"id": r, "name": f"Region {i}", "level": "region", "parent": wr_ids[region_wr[i]]}
        for i, r in enumerate(region_ids)
    ]
    rows += [
        {"id": s, "name": f"Society {i}", "level": "society",
         "parent": region_ids[society_region[i]]}
        for i, s in enumerate(society_ids)
    ]  # fmt: skip
    tree = CultureResolver.from_rows(rows, aliases={})

    floor = min(20, n_tracks // n_societies)
    weights = rng.lognormal(0.0, 0.8, n_societies)
    counts = floor + rng.multinomial(n_tracks - floor * n_societies, weights / weights.sum())
    society_of = rng.permutation(np.repeat(np.arange(n_societies), counts))

    centre = (
        2.0 * rng.standard_normal((n_world_regions, d))[region_wr[society_region]]
        + 1.0 * rng.standard_normal((n_regions, d))[society_region]
        + 0.7 * rng.standard_normal((n_societies, d))
    ).astype(np.float32)
    factors = centre[society_of] + rng.standard_normal((n_tracks, d), dtype=np.float32)
    preference = rng.dirichlet(np.full(nf, 0.5), n_societies)
    cum = np.cumsum(preference, axis=1)[society_of]
    truth = np.minimum((rng.random((n_tracks, 1)) > cum).sum(axis=1), nf - 1)
    affect = 1.5 * rng.standard_normal((nf, DIMS[2])).astype(np.float32)
    factors[:, DIMS[0] + DIMS[1] :] += affect[truth]
    del cum, centre

    names = np.array(FUNCTIONS)
    functions = np.where(rng.random(n_tracks) < labelled, names[truth], "")
    alpha = np.full((n_tracks, nf), 0.5)
    alpha[np.arange(n_tracks), truth] += 2.0
    predicted = rng.standard_gamma(alpha)
    predicted /= predicted.sum(axis=1, keepdims=True)
    del alpha

    track_ids = np.array([f"SYN{i:07d}" for i in range(n_tracks)])
    style: dict[str, dict[str, float]] = {}
    for i in range(n_societies):  # a few STYLE_SIMILAR neighbours each, for the explanations
        for j in rng.choice(n_societies, size=min(3, n_societies), replace=False):
            if j != i:
                score = float(rng.uniform(0.5, 1.0))
                style.setdefault(society_ids[i], {})[society_ids[j]] = score
                style.setdefault(society_ids[j], {}).setdefault(society_ids[i], score)
    catalogue = TrackCatalogue(
        track_ids=track_ids,
        names=track_ids,
        cultures=society_ids[society_of],
        functions=functions,
        factors=factors,
        dims=DIMS,
        tree=tree,
        style_similar=style,
        function_names=FUNCTIONS,
    )
    return catalogue, predicted


# ---------------------------------------------------------------------- measuring
def peak_rss_mib() -> float:
    """This process's peak resident set so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def summary(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {
        "n": len(a),
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p90_ms": round(float(np.percentile(a, 90)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "max_ms": round(float(a.max()), 3),
        "mean_ms": round(float(a.mean()), 3),
    }


def culture_sizes(catalogue: TrackCatalogue) -> dict[str, int]:
    """Tracks at or below every culture of the tree (without touching any recommender cache)."""
    ids, counts = np.unique(catalogue.cultures, return_counts=True)
    per_society = dict(zip(ids.tolist(), counts.tolist(), strict=True))
    tree = catalogue.tree
    return {c: sum(per_society.get(s, 0) for s in tree.societies_of((c,))) for c in tree.ids}


def draw_queries(
    catalogue: TrackCatalogue, level: str, n: int, k: int, seed: int
) -> list[tuple[str, str]]:
    """``n`` (track id, target culture id) pairs: a random linked track, a random culture of
    ``level`` with at least ``k + 1`` tracks (so that exactly ``k`` results are due)."""
    sizes = culture_sizes(catalogue)
    tree = catalogue.tree
    targets = sorted(c for c in tree.ids if tree.level[c] == level and sizes[c] >= k + 1)
    if not targets:
        raise SystemExit(f"no {level} holds {k + 1} tracks: nothing to benchmark at that level")
    linked = np.flatnonzero(catalogue.cultures != "")
    rng = np.random.default_rng([seed, LEVELS.index(level)])
    tracks = catalogue.track_ids[rng.choice(linked, n)]
    return [
        (str(t), targets[i]) for t, i in zip(tracks, rng.integers(0, len(targets), n), strict=True)
    ]


def check(
    rec: CrossCulturalRecommender,
    track: str,
    target: str,
    k: int,
    out: list[Recommendation],
    members: dict[str, set[str]],
) -> None:
    """Exactly ``k`` distinct results, none the query, all inside the target culture."""
    inside = members.setdefault(target, rec.catalogue_.tree.societies_of((target,)))
    ids = [r.track_id for r in out]
    bad = [r.track_id for r in out if r.culture not in inside]
    if len(ids) != k or len(set(ids)) != k or track in ids or bad:
        raise AssertionError(
            f"recommend_similar({track!r}, {target!r}, k={k}) gave {len(ids)} results "
            f"({len(set(ids))} distinct, query included: {track in ids}); outside the target "
            f"culture: {bad}"
        )


def time_queries(
    rec: CrossCulturalRecommender,
    queries: list[tuple[str, str]],
    k: int,
    alignment: str,
    before: Callable[[], None] | None = None,
    members: dict[str, set[str]] | None = None,
) -> list[float]:
    """Milliseconds per call; ``before`` runs (untimed) ahead of each call."""
    members = {} if members is None else members
    out: list[float] = []
    for track, target in queries:
        if before is not None:
            before()
        t = time.perf_counter()
        res = rec.recommend_similar(track, target, k, alignment=alignment, explain=True)
        out.append((time.perf_counter() - t) * 1000)
        check(rec, track, target, k, res, members)
    return out


def forget_plans(rec: CrossCulturalRecommender) -> None:
    for al in rec.aligners_.values():
        al.plans_.clear()


def forget_all(rec: CrossCulturalRecommender) -> None:
    # ``_rows`` is the recommender's private culture → rows cache; emptying it is what a refit
    # does, which is the state a first query meets.
    forget_plans(rec)
    rec._rows.clear()


def measure(
    rec: CrossCulturalRecommender,
    catalogue: TrackCatalogue,
    k: int,
    n: int,
    n_cold: int,
    seed: int,
    part: str,
    profile: bool,
) -> dict[str, Any]:
    members: dict[str, set[str]] = {}
    results: dict[str, Any] = {}
    # (p99, what, queries, alignment, before) of the slowest warm and the slowest cold run
    worst: dict[str, tuple[float, str, list[tuple[str, str]], str, Any]] = {}
    for level in LEVELS:
        queries = draw_queries(catalogue, level, n, k, seed)
        for alignment in ALIGNMENTS:
            runs: dict[str, tuple[list[tuple[str, str]], Any]] = {
                "first_touch": (queries[:n_cold], forget_all)
            }
            if alignment != "none":
                runs["cold"] = (queries[:n_cold], forget_plans)
            cfg: dict[str, Any] = {}
            for phase, (qs, forget) in runs.items():
                ms = time_queries(rec, qs, k, alignment, functools.partial(forget, rec), members)
                cfg[phase] = summary(ms)
            time_queries(rec, queries, k, alignment, members=members)  # warms every cache
            cfg["warm"] = summary(time_queries(rec, queries, k, alignment, members=members))
            runs["warm"] = (queries, None)
            key = f"{level}/{alignment}"
            results[key] = cfg
            print(part, key, json.dumps(cfg), flush=True)
            for phase, (qs, forget) in runs.items():
                kind = "warm" if phase == "warm" else "cold"
                p99 = cfg[phase]["p99_ms"]
                if kind not in worst or p99 > worst[kind][0]:
                    worst[kind] = (p99, f"{key} {phase}", qs, alignment, forget)
    if profile:
        for p99, what, qs, alignment, forget in worst.values():
            print(f"\n== cProfile, {part} {what} (p99 {p99} ms)", flush=True)
            before = None if forget is None else functools.partial(forget, rec)
            prof = cProfile.Profile()
            prof.runcall(time_queries, rec, qs, k, alignment, before, members)
            pstats.Stats(prof).sort_stats("tottime").print_stats(20)
    return results


def verdict(results: dict[str, Any], target: float) -> dict[str, Any]:
    worst = {
        phase: max(cfg[phase]["p99_ms"] for cfg in results.values() if phase in cfg)
        for phase in ("warm", "cold", "first_touch")
    }
    return {
        "target_p99_ms": target,
        "worst_p99_ms": worst,
        "met_warm": worst["warm"] < target,
        "met_cold": worst["cold"] < target,
        "met_first_touch": worst["first_touch"] < target,
    }


def run_real(args: argparse.Namespace) -> dict[str, Any]:
    from kg.config import Neo4jSettings
    from kg.connection import connect
    from loaders.errors import SoundbridgeError
    from recsys import similar
    from recsys.catalogue import catalogue_stamp, load_catalogue

    settings = Neo4jSettings.from_env()
    try:
        driver = connect(settings)
    except SoundbridgeError as e:
        raise SystemExit(
            f"similar_latency: the real-graph part needs an ingested Neo4j with audio factors: {e}"
            " (or run `--part synthetic` only)"
        ) from e
    with driver:
        t = time.perf_counter()
        catalogue = load_catalogue(driver)
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        rec = CrossCulturalRecommender().fit(catalogue)
        fit_s = time.perf_counter() - t
        print(f"real: {len(catalogue)} tracks, load {load_s:.2f}s, fit {fit_s:.2f}s", flush=True)
        results = measure(
            rec, catalogue, args.k, args.queries, args.cold_queries, args.seed, "real", args.profile
        )

        stamp_ms = []
        for _ in range(args.queries):
            t = time.perf_counter()
            catalogue_stamp(driver)
            stamp_ms.append((time.perf_counter() - t) * 1000)
        api: dict[str, Any] = {"catalogue_stamp_query": summary(stamp_ms)}
        members: dict[str, set[str]] = {}
        first = True
        for level in LEVELS:
            queries = draw_queries(catalogue, level, args.queries, args.k, args.seed)
            for timed in (False, True):  # one pass to warm the served model's plans, one timed
                ms = []
                for track, target in queries:
                    t = time.perf_counter()
                    res = similar.recommend_similar(track, target, args.k, driver=driver)
                    ms.append((time.perf_counter() - t) * 1000)
                    check(rec, track, target, args.k, res, members)
                    if first:
                        api["first_call_with_fit_s"] = round(ms[0] / 1000, 3)
                        first = False
                if timed:
                    api[f"{level}/unbalanced/warm"] = summary(ms)
            print("real api", level, json.dumps(api[f"{level}/unbalanced/warm"]), flush=True)
    sizes = culture_sizes(catalogue)
    tree = catalogue.tree
    return {
        "catalogue": {
            "tracks": len(catalogue),
            "labelled": int(catalogue.labelled.sum()),
            "cultures": {lv: sum(tree.level[c] == lv for c in tree.ids) for lv in LEVELS},
            "targets_with_k_plus_1_tracks": {
                lv: sum(tree.level[c] == lv and sizes[c] > args.k for c in tree.ids)
                for lv in LEVELS
            },
        },
        "load_seconds": round(load_s, 3),
        "fit_seconds": round(fit_s, 3),
        "recommender": repr(rec),
        "latency": results,
        "api_recommend_similar_with_driver": api,
        "verdict": verdict(results, TARGET_P99_MS["real"]),
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }


def run_synthetic(args: argparse.Namespace) -> dict[str, Any]:
    rss_imports = peak_rss_mib()  # the packages' imports (torch among them) before any data
    t = time.perf_counter()
    catalogue, predicted = synthetic_catalogue(args.tracks, seed=args.seed)
    build_s = time.perf_counter() - t
    rss_built = peak_rss_mib()
    t = time.perf_counter()
    rec = CrossCulturalRecommender().fit(catalogue, predicted=predicted)
    fit_s = time.perf_counter() - t
    rss_fitted = peak_rss_mib()
    print(
        f"synthetic: {len(catalogue)} tracks, build {build_s:.1f}s, fit {fit_s:.1f}s, "
        f"peak RSS {rss_fitted:.0f} MiB",
        flush=True,
    )
    results = measure(
        rec, catalogue, args.k, args.queries, args.cold_queries, args.seed, "synthetic",
        args.profile,
    )  # fmt: skip
    sizes = culture_sizes(catalogue)
    tree = catalogue.tree
    by_level = {lv: [sizes[c] for c in tree.ids if tree.level[c] == lv] for lv in LEVELS}
    return {
        "catalogue": {
            "tracks": len(catalogue),
            "labelled": int(catalogue.labelled.sum()),
            "cultures": {lv: len(v) for lv, v in by_level.items()},
            "tracks_per_culture": {
                lv: {"min": min(v), "median": float(np.median(v)), "max": max(v)}
                for lv, v in by_level.items()
            },
        },
        "build_seconds": round(build_s, 3),
        "fit_seconds": round(fit_s, 3),
        "fit_note": "function posterior given via fit(predicted=...): no SVM fit",
        "recommender": repr(rec),
        "latency": results,
        "verdict": verdict(results, TARGET_P99_MS["synthetic"]),
        "peak_rss_mib": {
            "after_imports": round(rss_imports, 1),
            "after_build": round(rss_built, 1),
            "after_fit": round(rss_fitted, 1),
            "end": round(peak_rss_mib(), 1),
        },
    }


def blas_limit(threads: int | None) -> contextlib.AbstractContextManager[Any]:
    """Cap the BLAS thread pool (numpy's matrix-vector products) when asked."""
    if not threads:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency

    return threadpool_limits(limits=threads, user_api="blas")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/similar_latency.json"))
    parser.add_argument("--part", choices=("all", "real", "synthetic"), default="all")
    parser.add_argument("--tracks", type=int, default=1_000_000, help="synthetic catalogue size")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--queries", type=int, default=300, help="warm queries per configuration")
    parser.add_argument("--cold-queries", type=int, default=200, help="cold ones per configuration")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="print cProfile of the slowest")
    parser.add_argument(
        "--blas-threads", type=int, default=None, help="cap BLAS threads (threadpoolctl)"
    )
    args = parser.parse_args()

    figures: dict[str, Any] = {
        "benchmark": "similar_latency",
        "command": "python " + " ".join([sys.argv[0], *sys.argv[1:]]),
        "unit": "milliseconds per recommend_similar call (k results, explain=True)",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "python": platform.python_version(),
            "numpy": np.__version__,
        },
        "config": {
            "k": args.k,
            "queries": args.queries,
            "cold_queries": args.cold_queries,
            "seed": args.seed,
            "synthetic_tracks": args.tracks,
            "blas_threads": args.blas_threads or "library default",
        },
        "phases": {
            "first_touch": "plan and culture-row caches emptied before each query",
            "cold": "plan cache emptied before each query (culture rows cached)",
            "warm": "second pass over the same queries (everything cached)",
        },
        "targets_p99_ms": TARGET_P99_MS,
    }
    parts = ("real", "synthetic") if args.part == "all" else (args.part,)
    for part in parts:
        if args.part == "all":  # a child process per part: its own peak RSS
            with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
                cmd = [sys.executable, __file__, "--part", part, "--out", tmp.name]
                cmd += [f"--tracks={args.tracks}", f"--k={args.k}", f"--seed={args.seed}"]
                cmd += [f"--queries={args.queries}", f"--cold-queries={args.cold_queries}"]
                cmd += ["--profile"] * args.profile
                cmd += [f"--blas-threads={args.blas_threads}"] * bool(args.blas_threads)
                done = subprocess.run(cmd, check=False)
                if done.returncode:
                    raise SystemExit(f"similar_latency: the {part} part failed ({done.returncode})")
                figures[part] = json.loads(Path(tmp.name).read_text())[part]
        else:
            with blas_limit(args.blas_threads):
                figures[part] = run_real(args) if part == "real" else run_synthetic(args)
    figures["machine"]["load_average_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print({p: figures[p]["verdict"] for p in parts}, "->", args.out)


if __name__ == "__main__":
    main()
