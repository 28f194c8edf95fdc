"""Latency of ``recommend_similar`` while experts answer, p50 and p99, as JSON.

Starts a private Neo4j Community server (a free loopback port, a temporary SOUNDBRIDGE_HOME;
never port 7687 or ``~/.soundbridge``), ingests CCMC and Cantometrics for real, gives every Track
seeded synthetic audio factors (``bench/load.py``'s: the benchmark measures serving, not
recommendation quality), and makes one expert account per world region (scoped to it) and one
admin. Then, in this process, with one driver:

1. warm-up: the first :func:`recsys.similar.recommend_similar` fits the served model (timed
   apart), and one untimed pass over the queries computes their transport plans;
2. ``quiet``: the queries timed with no answer arriving (the baseline);
3. two answers phases of ``--seconds`` each: a thread gives an answer every ``--interval``
   seconds through :mod:`kg.expert` — the code path the dashboard's review queue uses, and the
   one the catalogue stamp sees — mostly function labels on songs without a public one (by the
   expert of the song's world region, a random function), every fifth a must-link or cannot-link
   between two random songs, every seventh a retraction of an earlier answer; meanwhile this
   thread asks random queries of the same set, ``closed_loop`` one after the other as fast as
   they go, then ``paced`` at ``--rate`` per second. Calls that picked up a new answer (paid for
   refreshing the served model) are also summarised apart. In the closed loop each function
   answer's *visibility* is timed too: from ``answer_function`` returning to the served model
   knowing it (the answer thread asks :func:`~recsys.similar.served_catalogue` itself, as the
   next request would, so few of the loop's calls are the first to see an answer); in the paced
   phase the queries alone see the answers (about one call in four is the first to see one).

Queries: ``--queries`` seeded (track, target culture) pairs per level (society, region, world
region) as ``bench/similar_latency.py`` draws them, ``k=10``, ``explain=True``, the full API path
(``driver=``: the stamp query on every call). Timings are ``time.perf_counter`` around one call.
Every answer is checked: ``k`` results, none the query, none cannot-linked with it, a must-link
partner of the target culture first. After the run the background refits are waited for and the
served model is compared with a fresh fit on the graph (labels, posterior).

Usage::

    python bench/answers_latency.py --out bench/results/answers_latency.json

Needs SOUNDBRIDGE_DATA (default: the shared data folder beside the repository) and Neo4j's jars
(``soundbridge neo4j install``). Neo4j, the queries, the answers and the background refits share
the machine's CPUs: the JSON records ``os.cpu_count()`` and the load average at the start and end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import neo4j
import numpy as np

from kg.accounts import account_key, add_account
from kg.connection import connect
from kg.ingest import ingest
from recsys import similar
from recsys.catalogue import TrackCatalogue, load_catalogue
from recsys.cultures import LEVELS
from recsys.similar import CrossCulturalRecommender

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import store_synthetic_factors  # noqa: E402  (bench/ is not a package)
from private_server import private_neo4j  # noqa: E402
from similar_latency import draw_queries, summary  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
TARGET_P99_MS = 50.0
PASSWORD = "bench-answers-password-1"
ADMIN = "bench-admin"
K = 10


# ---------------------------------------------------------------------- the experts
def expert_accounts(driver: neo4j.Driver, home: Path, catalogue: TrackCatalogue) -> dict[str, str]:
    """One expert per world region (scoped to it) and one admin; world region id -> account."""
    key = account_key(home)
    tree = catalogue.tree
    regions = sorted(c for c in tree.ids if tree.level[c] == "world_region")
    experts = {}
    for i, region in enumerate(regions):
        name = f"bench-expert-{i}"
        add_account(driver, name, PASSWORD, "expert", key=key, scopes=[region])
        experts[region] = name
    add_account(driver, ADMIN, PASSWORD, "admin", key=key)
    return experts


class Answers:
    """The answer thread: one answer every ``interval`` seconds until ``stop`` is set."""

    def __init__(
        self,
        driver: neo4j.Driver,
        catalogue: TrackCatalogue,
        experts: dict[str, str],
        functions: list[str],
        interval: float,
        seed: int,
        visible: bool,
    ) -> None:
        self.driver = driver
        self.visible = visible
        self.catalogue = catalogue
        self.experts = experts
        self.functions = functions
        self.interval = interval
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.given: list[tuple[str, str]] = []  # (answer id, expert), to retract from
        self.counts = {"function": 0, "must_link": 0, "cannot_link": 0, "retract": 0}
        self.write_ms: list[float] = []
        self.visible_ms: list[float] = []
        self.errors: list[str] = []
        tree = catalogue.tree
        self.open = [
            int(i)
            for i in np.flatnonzero(~catalogue.labelled & (catalogue.cultures != ""))
            if tree.ancestor(str(catalogue.cultures[i]), "world_region") in experts
        ]

    def keep(self, answer_id: str, by: str, replaced: str | None) -> None:
        """Remember an answer to retract later (and forget the one it replaced)."""
        self.given = [g for g in self.given if g[0] != replaced]
        self.given.append((answer_id, by))

    def expert_of(self, row: int) -> str:
        society = str(self.catalogue.cultures[row])
        return self.experts[str(self.catalogue.tree.ancestor(society, "world_region"))]

    def run(self) -> None:
        from kg.expert import answer_function, answer_link, retract

        n = 0
        next_at = time.perf_counter()
        while not self.stop.is_set():
            n += 1
            t = time.perf_counter()
            try:
                if n % 7 == 0 and self.given:
                    answer_id, by = self.given.pop(self.rng.randrange(len(self.given)))
                    retract(self.driver, answer_id, by=by)
                    self.counts["retract"] += 1
                    self.write_ms.append(1000 * (time.perf_counter() - t))
                elif n % 5 == 0:
                    a, b = self.rng.sample(range(len(self.catalogue)), 2)
                    kind = self.rng.choice(("must_link", "cannot_link"))
                    ids = self.catalogue.track_ids
                    ans = answer_link(self.driver, str(ids[a]), str(ids[b]), kind, expert=ADMIN,
                                      rationale="benchmark link")  # fmt: skip
                    self.keep(ans.id, ADMIN, ans.replaced)
                    self.counts[kind] += 1
                    self.write_ms.append(1000 * (time.perf_counter() - t))
                else:
                    row = self.rng.choice(self.open)
                    by = self.expert_of(row)
                    label = self.rng.choice(self.functions)
                    track = str(self.catalogue.track_ids[row])
                    ans = answer_function(self.driver, track, label, expert=by)
                    written = time.perf_counter()
                    self.write_ms.append(1000 * (written - t))
                    self.keep(ans.id, by, ans.replaced)
                    self.counts["function"] += 1
                    if self.visible:
                        similar.served_catalogue(self.driver)  # what the next request does
                        self.visible_ms.append(1000 * (time.perf_counter() - written))
            except Exception as e:  # recorded: the benchmark reports, it does not stop
                self.errors.append(f"{type(e).__name__}: {e}"[:300])
            next_at += self.interval
            self.stop.wait(max(0.0, next_at - time.perf_counter()))


# ---------------------------------------------------------------------- the queries
def check(
    model: CrossCulturalRecommender, track: str, target: str, out: list[Any], members: set[str]
) -> str | None:
    """Why ``out`` is wrong, or ``None``: ``k`` distinct results in the target, none the query,
    none cannot-linked with it, a must-link partner of the target first."""
    cat = model.catalogue_
    q = cat.index(track)
    ids = [r.track_id for r in out]
    if len(ids) != K or len(set(ids)) != K or track in ids:
        return f"{track} -> {target}: {len(ids)} results"
    if any(r.culture not in members for r in out):
        return f"{track} -> {target}: a result outside the target"
    links = similar._query_links(cat, q)
    kinds = {str(cat.track_ids[j]): link.kind for j, link in links.items()}
    if any(kinds.get(i) == "cannot_link" for i in ids):
        return f"{track} -> {target}: a cannot-linked result"
    partners = {i for i, kind in kinds.items() if kind == "must_link"}
    inside = {i for i in partners if str(cat.cultures[cat.index(i)]) in members}
    if inside and ids[0] not in inside:
        return f"{track} -> {target}: a must-link partner is not first"
    return None


def timed_pass(
    driver: neo4j.Driver, queries: list[tuple[str, str]], members: dict[str, set[str]]
) -> tuple[list[float], list[bool], list[str]]:
    """Each query once: latency, whether it picked up a change (a refresh), what was wrong."""
    ms: list[float] = []
    refreshed: list[bool] = []
    wrong: list[str] = []
    for track, target in queries:
        before = similar._SERVED.get(_key(driver))
        t = time.perf_counter()
        out = similar.recommend_similar(track, target, K, driver=driver)
        ms.append(1000 * (time.perf_counter() - t))
        after = similar._SERVED.get(_key(driver))
        refreshed.append(before is not after)
        model = after[1] if after else similar.served_catalogue(driver)
        bad = check(model, track, target, out, members[target])
        if bad:
            wrong.append(bad)
    return ms, refreshed, wrong


def _key(driver: neo4j.Driver) -> str:
    """served_catalogue's cache key for ``driver`` and the default parameters."""
    return "[]@" + str(id(driver))


class Fits:
    """Every CrossCulturalRecommender.fit: which thread, how long (seconds)."""

    def __init__(self) -> None:
        self.done: list[tuple[str, float]] = []
        original = CrossCulturalRecommender.fit

        def fit(model: CrossCulturalRecommender, *args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return original(model, *args, **kwargs)
            finally:
                self.done.append((threading.current_thread().name, time.perf_counter() - t))

        CrossCulturalRecommender.fit = fit  # type: ignore[method-assign]

    def by_thread(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for name in sorted({n for n, _ in self.done}):
            s = [d for n, d in self.done if n == name]
            out[name] = {"fits": len(s), "mean_s": round(float(np.mean(s)), 3),
                         "max_s": round(float(np.max(s)), 3)}  # fmt: skip
        return out


def run(driver: neo4j.Driver, home: Path, args: argparse.Namespace) -> dict[str, Any]:
    fits = Fits()
    t = time.perf_counter()
    model = similar.served_catalogue(driver)
    first_fit_s = time.perf_counter() - t
    catalogue = model.catalogue_
    experts = expert_accounts(driver, home, catalogue)
    queries = [q for lv in LEVELS for q in draw_queries(catalogue, lv, args.queries, K, args.seed)]
    members = {target: catalogue.tree.societies_of((target,)) for _, target in queries}
    timed_pass(driver, queries, members)  # warm: every plan computed
    quiet, _, wrong_quiet = timed_pass(driver, queries, members)
    print("quiet", summary(quiet), flush=True)

    phases = {}
    for i, rate in enumerate((0.0, args.rate)):
        answers = Answers(driver, catalogue, experts, list(model.function_model_.classes_),
                          args.interval, args.seed + i, visible=rate == 0)  # fmt: skip
        fits.done.clear()
        name = "closed_loop" if rate == 0 else f"paced_{rate:g}_per_s"
        phases[name] = answers_phase(driver, queries, members, answers, args.seconds, rate, fits)
        print(name, json.dumps(phases[name]["latency"]["all"]), flush=True)
    t = time.perf_counter()
    settled = similar.wait_for_refits(timeout=300)
    settle_s = time.perf_counter() - t
    final = similar.served_catalogue(driver)
    fresh = CrossCulturalRecommender().fit(load_catalogue(driver))
    consistent = {
        name: bool(np.array_equal(getattr(final, name), getattr(fresh, name)))
        for name in ("labels_", "predicted_", "distribution_")
    }
    worst = max(p["latency"]["all"]["p99_ms"] for p in phases.values())
    return {
        "tracks": len(catalogue),
        "labelled_public": int((catalogue.label_source == "dataset").sum()),
        "queries_per_level": args.queries,
        "first_call_with_fit_s": round(first_fit_s, 3),
        "quiet": summary(quiet),
        **phases,
        "settled_after_s": round(settle_s, 3) if settled else None,
        "final_model_matches_a_fresh_fit": consistent,
        "final_expert_labels": int((final.catalogue_.label_source == "expert").sum()),
        "final_links": len(final.catalogue_.links),
        "wrong_answers_quiet": wrong_quiet[:10],
        "verdict": {
            "target_p99_ms": TARGET_P99_MS,
            "quiet_p99_ms": summary(quiet)["p99_ms"],
            "answers_p99_ms": {n: p["latency"]["all"]["p99_ms"] for n, p in phases.items()},
            "met": worst < TARGET_P99_MS,
        },
    }


def answers_phase(
    driver: neo4j.Driver,
    queries: list[tuple[str, str]],
    members: dict[str, set[str]],
    answers: Answers,
    seconds: float,
    rate: float,
    fits: Fits,
) -> dict[str, Any]:
    """The queries for ``seconds`` while ``answers`` arrive: as fast as they go (``rate`` 0), or
    ``rate`` per second on a fixed schedule (a late query starts at once, none is skipped)."""
    thread = threading.Thread(target=answers.run, name="bench-answers", daemon=True)
    busy: list[float] = []
    refreshes: list[bool] = []
    wrong: list[str] = []
    rng = random.Random(answers.rng.random())
    start = time.perf_counter()
    thread.start()
    n = 0
    while time.perf_counter() - start < seconds:
        if rate:
            time.sleep(max(0.0, start + n / rate - time.perf_counter()))
        ms, refreshed, bad = timed_pass(driver, [rng.choice(queries)], members)
        n += 1
        busy += ms
        refreshes += refreshed
        wrong += bad
    answers.stop.set()
    thread.join(timeout=60)
    window = time.perf_counter() - start
    picked = [m for m, r in zip(busy, refreshes, strict=True) if r]
    others = [m for m, r in zip(busy, refreshes, strict=True) if not r]
    return {
        "rate_per_s": rate or "as fast as they go (one thread)",
        "window_s": round(window, 1),
        "latency": {
            "all": summary(busy),
            "calls_that_picked_up_answers": summary(picked) if picked else None,
            "other_calls": summary(others) if others else None,
        },
        "throughput_qps": round(len(busy) / window, 1),
        "answers_given": answers.counts,
        "answer_write_ms": summary(answers.write_ms) if answers.write_ms else None,
        "answer_visible_ms": summary(answers.visible_ms) if answers.visible_ms else None,
        "answer_errors": answers.errors[:10],
        "background_refits": fits.by_thread(),
        "wrong_answers": wrong[:10],
    }


def _terminated(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # so that the finally block stops the server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench/results/answers_latency.json"))
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the answers phase")
    ap.add_argument("--interval", type=float, default=0.2, help="seconds between answers")
    ap.add_argument("--queries", type=int, default=100, help="queries per target level")
    ap.add_argument("--rate", type=float, default=20.0, help="queries per second, paced phase")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, _terminated)
    if not os.environ.get("SOUNDBRIDGE_DATA") and SHARED_DATA.is_dir():
        os.environ["SOUNDBRIDGE_DATA"] = str(SHARED_DATA)
    load_average = os.getloadavg()
    with private_neo4j("soundbridge-bench-answers-") as (server, home, _env):
        with connect(server.settings) as driver:
            t = time.perf_counter()
            ingest(driver, sources=["ccmc", "cantometrics"], progress=False)
            tracks = store_synthetic_factors(driver, args.seed)
            print(f"graph ready: {len(tracks)} tracks in {time.perf_counter() - t:.0f}s")
            figures = run(driver, home, args)
        version = server.status().version
    result = {
        "benchmark": "answers_latency",
        "command": "python bench/answers_latency.py " + " ".join(sys.argv[1:]),
        "unit": "milliseconds per recommend_similar call (k=10, explain=True, driver=)",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": load_average,
            "load_average_end": os.getloadavg(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "neo4j": version,
        },
        "config": {
            "seconds": args.seconds,
            "interval_s": args.interval,
            "paced_rate_per_s": args.rate,
            "refit_interval_s": similar.REFIT_INTERVAL_S,
            "queries_per_level": args.queries,
            "seed": args.seed,
            "sources": ["ccmc", "cantometrics"],
            "factors": "synthetic, seeded (bench/load.py)",
            "answers": "every 5th a link (admin), every 7th a retraction, else a function label "
            "by the expert of the song's world region",
        },
        **figures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["verdict"]), "->", args.out)


if __name__ == "__main__":
    main()
