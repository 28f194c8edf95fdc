"""Load on the signed-in dashboard: latency, errors and memory under concurrent clients, as JSON.

Starts a private Neo4j Community server (a free loopback port, a temporary SOUNDBRIDGE_HOME;
never port 7687 or ``~/.soundbridge``), ingests CCMC and Cantometrics for real, gives every Track
synthetic audio factors (seeded: the benchmark measures serving, not recommendation quality),
creates one viewer account per client, then serves the dashboard with ``soundbridge serve`` in a
child process on another free loopback port, pointed at that server.

Before the clock: one request per route (the first ``/api/recommend`` fits the served model,
timed on its own as ``warmup.recommend_fit_ms``), each region and world-region name of
``/api/cultures`` tried once as a target (only those that answer 200 are used: a culture with no
recordings answers 422 by design, which is the error path, not the serving path), then every
client signs in at once (``POST /api/login``; Argon2id per sign-in, timed as the ``login`` route).

The load: ``--clients`` clients (default 50), each with its own session cookie and CSRF token,
loop for ``--seconds`` (default 60) over

- ``GET /api/recommend?track=<random track with factors>&culture=<random usable culture>&k=10``
- ``GET /api/search?q=<random short word of a society name>``
- ``GET /api/tracks?q=<another such word>``

and stop by themselves: no request starts after the deadline, and each one is bounded by
``--timeout``. Per route: requests, answers by status class (2xx, 4xx, 5xx, 503), exceptions
and timeouts, latency p50/p99/max in ms over the answered requests, and throughput over the load
window. The dashboard process's memory (VmRSS from ``/proc/<pid>/status``) is read after start,
after the warm-up (``before``), after sign-in, every second during the load (``max_sampled``) and
after it, beside its peak (VmHWM) and its CPU seconds during the load.

Usage::

    python bench/load.py --out bench/results/load.json

Needs SOUNDBRIDGE_DATA (default: the shared data folder beside the repository) and Neo4j's jars
(``soundbridge neo4j install``). The clients run in this process (asyncio + httpx) on the same
CPUs as the dashboard and Neo4j, so on a small shared machine the figures include that contention:
the JSON records ``os.cpu_count()`` and the load average at the start and the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import platform
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import neo4j
import numpy as np
from private_server import free_port, private_neo4j  # bench/ is not a package

from audio.graph import store_factors
from kg.accounts import account_key, add_account
from kg.connection import connect
from kg.ingest import ingest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
ROUTES = ("recommend", "search", "tracks")
DIM = 16
PASSWORD = "bench-load-password-1"
READY_TIMEOUT = 60.0

# Bench-only Cypher: the tracks the synthetic factors are drawn for.
_TRACKS = "MATCH (t:Track) RETURN t.id AS id, t.function AS function, t.hraf_region AS region"


# ---------------------------------------------------------------------- the graph
def store_synthetic_factors(driver: neo4j.Driver, seed: int = 0) -> list[str]:
    """Give every Track seeded ``zc``/``zs``/``za`` factors; return the track ids.

    Synthetic, as the dashboard tests make them: ``za`` clusters by public function and ``zs`` by
    HRAF region, so the function model has labels to learn and the served model fits as it would
    on real factors; ``zc`` is noise.
    """
    records, _, _ = driver.execute_query(_TRACKS, routing_=neo4j.RoutingControl.READ)
    rows = sorted((r["id"], r["function"] or "", r["region"] or "") for r in records)
    rng = np.random.default_rng(seed)
    functions = sorted({r[1] for r in rows if r[1]})
    regions = sorted({r[2] for r in rows})
    f_centre = {f: 3.0 * rng.normal(size=DIM) for f in functions} | {"": np.zeros(DIM)}
    r_centre = {r: 3.0 * rng.normal(size=DIM) for r in regions}
    n = len(rows)
    za = np.array([f_centre[r[1]] for r in rows]) + 0.5 * rng.normal(size=(n, DIM))
    zs = np.array([r_centre[r[2]] for r in rows]) + 0.5 * rng.normal(size=(n, DIM))
    zc = rng.normal(size=(n, DIM))
    ids = [r[0] for r in rows]
    store_factors(driver, ids, zc, zs, za)
    return ids


# ---------------------------------------------------------------------- processes
def _die_with_parent() -> None:
    """In the child: get SIGTERM when the benchmark dies, however it dies (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def dashboard(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``soundbridge serve`` on ``127.0.0.1:port`` in a child process; stopped on the way out."""
    cmd = [sys.executable, "-m", "soundbridge.cli", "serve", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the dashboard exited ({proc.returncode}):\n{log.read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard did not listen within {READY_TIMEOUT:.0f} s")
            time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (MiB) and Threads of a process, from ``/proc/<pid>/status``."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = round(int(value.split()[0]) / 1024)
        elif name == "Threads":
            found[name] = int(value)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------- the clients
@dataclass
class RouteStats:
    """What one route answered during the load."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    timeouts: int = 0
    exceptions: int = 0
    samples: list[str] = field(default_factory=list)  # the first few failures, for the report

    def record(self, status: int, ms: float, detail: str = "") -> None:
        self.latencies_ms.append(ms)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if not 200 <= status < 300 and len(self.samples) < 5:
            self.samples.append(f"{status}: {detail[:200]}")

    def fail(self, e: Exception) -> None:
        if isinstance(e, httpx.TimeoutException):
            self.timeouts += 1
        else:
            self.exceptions += 1
        if len(self.samples) < 5:
            self.samples.append(f"{type(e).__name__}: {str(e)[:200]}")

    def summary(self, seconds: float) -> dict[str, Any]:
        def count(lo: int, hi: int) -> int:
            return sum(n for s, n in self.statuses.items() if lo <= s < hi)

        lat = np.array(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        answered = len(self.latencies_ms)
        ok = count(200, 300)
        requests = answered + self.timeouts + self.exceptions
        return {
            "requests": requests,
            "ok": ok,
            "errors": requests - ok,
            "errors_4xx": count(400, 500),
            "errors_5xx": count(500, 600),
            "status_503": self.statuses.get(503, 0),
            "timeouts": self.timeouts,
            "exceptions": self.exceptions,
            "statuses": {str(s): n for s, n in sorted(self.statuses.items())},
            "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p99_ms": round(float(np.percentile(lat, 99)), 1),
            "max_ms": round(float(lat.max()), 1),
            "mean_ms": round(float(lat.mean()), 1),
            "throughput_rps": round(requests / seconds, 1),
            "failure_samples": self.samples,
        }


async def timed(
    client: httpx.AsyncClient, stats: RouteStats, method: str, url: str, **kw: Any
) -> httpx.Response | None:
    start = time.perf_counter()
    try:
        r = await client.request(method, url, **kw)
    except httpx.HTTPError as e:
        stats.fail(e)
        return None
    ms = 1000 * (time.perf_counter() - start)
    stats.record(r.status_code, ms, "" if r.is_success else r.text)
    return r


async def sign_in(
    client: httpx.AsyncClient, name: str, stats: RouteStats | None = None
) -> httpx.Response | None:
    """``POST /api/login``; on success the client keeps the cookie and sends the CSRF token."""
    body = {"username": name, "password": PASSWORD}
    if stats is None:
        r: httpx.Response | None = await client.post("/api/login", json=body)
    else:
        r = await timed(client, stats, "POST", "/api/login", json=body)
    if r is not None and r.status_code == 200:
        client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return r


async def client_loop(
    client: httpx.AsyncClient,
    stats: dict[str, RouteStats],
    deadline: float,
    rng: random.Random,
    tracks: list[str],
    cultures: list[str],
    words: list[str],
) -> None:
    while time.monotonic() < deadline:
        params = {"track": rng.choice(tracks), "culture": rng.choice(cultures), "k": 10}
        await timed(client, stats["recommend"], "GET", "/api/recommend", params=params)
        if time.monotonic() >= deadline:
            break
        await timed(client, stats["search"], "GET", "/api/search", params={"q": rng.choice(words)})
        if time.monotonic() >= deadline:
            break
        await timed(client, stats["tracks"], "GET", "/api/tracks", params={"q": rng.choice(words)})


async def run_load(
    base: str, pid: int, accounts: list[str], tracks: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    """Warm up, sign every client in, run the load; every figure measured against ``base``."""
    timeout = httpx.Timeout(args.timeout)
    memory: dict[str, Any] = {"started": proc_status(pid)}
    warm: dict[str, Any] = {}

    async with httpx.AsyncClient(base_url=base, timeout=timeout) as c:
        r = await sign_in(c, accounts[0])
        assert r is not None and r.status_code == 200, r and r.text
        cultures_all = (await c.get("/api/cultures")).json()
        societies = (await c.get("/api/societies")).json()
        start = time.perf_counter()
        r = await c.get("/api/recommend", params={"track": tracks[0], "culture": "Central Andes"})
        warm["recommend_fit_ms"] = round(1000 * (time.perf_counter() - start), 1)
        warm["recommend_fit_status"] = r.status_code
        for route in ("search", "tracks"):
            start = time.perf_counter()
            r = await c.get(f"/api/{route}", params={"q": "ewe"})
            warm[f"{route}_ms"] = round(1000 * (time.perf_counter() - start), 1)
            warm[f"{route}_status"] = r.status_code
        memory["before"] = proc_status(pid)

        # Target names people would pick: regions and world regions, those that have recordings.
        candidates = [x["name"] for x in cultures_all if x["kind"] in args.culture_kinds]
        cultures = []
        for name in candidates:
            r = await c.get("/api/recommend", params={"track": tracks[0], "culture": name})
            if r.status_code == 200:
                cultures.append(name)
        memory["after_culture_probe"] = proc_status(pid)
    if not cultures:
        raise RuntimeError(f"no {'/'.join(args.culture_kinds)} culture answered 200")
    words = sorted(
        {w for s in societies for w in re.findall(r"[a-z]+", (s["name"] or "").lower())}
        - {"and", "the", "of"}
    )
    words = [w for w in words if 3 <= len(w) <= 8]

    clients = [httpx.AsyncClient(base_url=base, timeout=timeout) for _ in range(args.clients)]
    try:
        login = RouteStats()
        start = time.perf_counter()
        await asyncio.gather(
            *(sign_in(c, a, login) for c, a in zip(clients, accounts[1:], strict=True))
        )
        login_seconds = time.perf_counter() - start
        memory["after_sign_in"] = proc_status(pid)
        if login.statuses.get(200, 0) != args.clients:
            raise RuntimeError(f"sign-in failed: {login.summary(login_seconds)}")

        stats = {route: RouteStats() for route in ROUTES}
        sampled: list[int] = []

        async def sample_memory() -> None:
            while True:
                sampled.append(proc_status(pid)["VmRSS"])
                await asyncio.sleep(1.0)

        sampler = asyncio.create_task(sample_memory())
        cpu0 = cpu_seconds(pid)
        start = time.monotonic()
        deadline = start + args.seconds
        await asyncio.gather(
            *(
                client_loop(
                    c, stats, deadline, random.Random(args.seed + i), tracks, cultures, words
                )
                for i, c in enumerate(clients)
            )
        )
        elapsed = time.monotonic() - start
        cpu = cpu_seconds(pid) - cpu0
        sampler.cancel()
        memory["after"] = proc_status(pid)
        memory["max_sampled_rss_mib"] = max(sampled)
    finally:
        for c in clients:
            await c.aclose()

    routes = {route: s.summary(elapsed) for route, s in stats.items()}
    total = sum(r["requests"] for r in routes.values())
    return {
        "warmup": warm,
        "cultures": {"candidates": len(candidates), "used": len(cultures), "names": cultures},
        "search_words": len(words),
        "login": login.summary(login_seconds) | {"seconds_all_clients": round(login_seconds, 2)},
        "load_seconds": round(elapsed, 2),
        "routes": routes,
        "total": {
            "requests": total,
            "errors": sum(r["errors"] for r in routes.values()),
            "status_503": sum(r["status_503"] for r in routes.values()),
            "throughput_rps": round(total / elapsed, 1),
        },
        "dashboard_cpu_seconds": round(cpu, 1),
        "memory_mib": memory,
    }


# ---------------------------------------------------------------------- main
def _terminated(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # so that the finally blocks stop both servers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench/results/load.json"))
    ap.add_argument("--clients", type=int, default=50, help="concurrent signed-in clients")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the load")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per request at most")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--culture-kinds",
        default="region,world_region",
        help="kinds of /api/cultures names used as targets (comma-separated)",
    )
    args = ap.parse_args()
    args.culture_kinds = tuple(k.strip() for k in args.culture_kinds.split(",") if k.strip())
    if args.clients < 1 or args.seconds <= 0:
        ap.error("--clients and --seconds must be positive")
    signal.signal(signal.SIGTERM, _terminated)
    if not os.environ.get("SOUNDBRIDGE_DATA") and SHARED_DATA.is_dir():
        os.environ["SOUNDBRIDGE_DATA"] = str(SHARED_DATA)
    load_average = os.getloadavg()

    with private_neo4j("soundbridge-bench-load-") as (server, home, env):
        settings = server.settings
        with connect(settings) as driver:
            start = time.perf_counter()
            ingest(driver, sources=["ccmc", "cantometrics"], progress=False)
            setup = {"ingest": time.perf_counter() - start}
            tracks = store_synthetic_factors(driver, args.seed)
            # One account per client (and one for the warm-up), so each session is its own.
            key = account_key(home)
            accounts = [f"bench-{i:03d}" for i in range(args.clients + 1)]
            for name in accounts:
                add_account(driver, name, PASSWORD, "viewer", key=key)
            setup["factors_and_accounts"] = time.perf_counter() - start - setup["ingest"]
        print(f"graph ready: {len(tracks)} tracks, {setup}", flush=True)
        env["NEO4J_PASSWORD"] = settings.password
        port = free_port()
        with dashboard(env, port, home / "dashboard.log") as proc:
            figures = asyncio.run(
                run_load(f"http://127.0.0.1:{port}", proc.pid, accounts, tracks, args)
            )
        log_lines = (home / "dashboard.log").read_text(errors="replace").splitlines()
        version = server.status().version

    result = {
        "benchmark": "load",
        "command": "python bench/load.py " + " ".join(sys.argv[1:]),
        "unit": "milliseconds per HTTP request, requests per second, MiB",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": load_average,
            "load_average_end": os.getloadavg(),
            "python": platform.python_version(),
            "neo4j": version,
            "httpx": httpx.__version__,
        },
        "config": {
            "clients": args.clients,
            "seconds": args.seconds,
            "timeout_s": args.timeout,
            "seed": args.seed,
            "culture_kinds": list(args.culture_kinds),
            "sources": ["ccmc", "cantometrics"],
            "factors": f"synthetic, seeded ({DIM} dims each)",
            "tracks": len(tracks),
            "role": "viewer",
            "server": "soundbridge serve (one uvicorn process)",
            "latency": "answered requests (any status); timeouts and exceptions counted apart",
        },
        "setup_seconds": {k: round(v, 1) for k, v in setup.items()},
        **figures,
        "dashboard_log_lines": len(log_lines),
        "dashboard_log_tail": log_lines[-10:],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    mem = figures["memory_mib"]
    print(f"warm-up fit: {figures['warmup']['recommend_fit_ms']:.0f} ms")
    for route, r in figures["routes"].items():
        print(
            f"{route:9s} {r['requests']:6d} req  {r['errors']:4d} err "
            f"(4xx {r['errors_4xx']}, 5xx {r['errors_5xx']}, 503 {r['status_503']}, "
            f"timeouts {r['timeouts']}, exc {r['exceptions']})  "
            f"p50 {r['p50_ms']:.0f} ms  p99 {r['p99_ms']:.0f} ms  {r['throughput_rps']:.1f}/s"
        )
    print(
        f"dashboard RSS {mem['before']['VmRSS']} -> {mem['after']['VmRSS']} MiB "
        f"(peak {mem['after']['VmHWM']} MiB) -> {args.out}"
    )


if __name__ == "__main__":
    main()
