"""Bulk import at scale: synthetic data → ``neo4j-admin`` → derivations, and Bolt beside it.

For each ``--plays`` size this generates a synthetic dataset (``loaders.synth.generate``; the other
sizes follow the 50M preset of docs/scaling.md: users and tracks = plays / 50, artists = plays /
500, 410 societies, seed 1) into a temporary folder (or takes ``--data`` for one size), then

1. bulk-imports it (:func:`kg.bulk.bulk_ingest`) into a throwaway server (its own temporary home
   and free loopback port, never the developer's): relationships/s of the import tool and of the
   derivations (schema, ``CO_COLLECTED``);
2. with ``--bolt``, ingests the NetEase export of the same folder over Bolt
   (:func:`kg.ingest.ingest`, ``--source netease``) into another throwaway server: relationships/s
   of the write phase, as bench/ingest_throughput.py reports them. The export holds users,
   tracks, artists, playlists and collections (no plays, friends or cultures), so the two paths
   write different relationship sets; the rates per relationship are what compare.

Results go to ``--out`` (JSON) after every size.

Usage::

    nice -n 19 python bench/scale.py --plays 750000 --bolt
    nice -n 19 python bench/scale.py --plays 10000000 --plays 50000000

Needs Neo4j's jars (``soundbridge neo4j install``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from private_server import free_port  # bench/ is not a package

from kg.bulk import bulk_ingest
from kg.config import Neo4jSettings
from kg.connection import connect
from kg.ingest import ingest
from kg.server import Neo4jServer
from loaders.synth import generate, read_summary


@contextlib.contextmanager
def throwaway_server(workdir: Path | None) -> Iterator[Neo4jServer]:
    """A server in a temporary home on a free port, not started; stopped and removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="soundbridge-scale-home-", dir=workdir) as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEO4J_")}
        env.update({"NEO4J_URI": f"bolt://127.0.0.1:{free_port()}", "SOUNDBRIDGE_HOME": tmp})
        server = Neo4jServer(Neo4jSettings.from_env(env))
        server.install()
        try:
            yield server
        finally:
            server.stop(force=True)


def sizes_for(plays: int) -> dict[str, int]:
    """The generator's sizes for ``plays`` play events, scaled like the 50M preset."""
    return {
        "users": max(100, plays // 50),
        "tracks": max(100, plays // 50),
        "artists": max(10, plays // 500),
        "plays": plays,
        "cultures": 410,
        "seed": 1,
    }


def one_size(
    data: Path, *, bolt: bool, workdir: Path | None, generated: dict[str, Any]
) -> dict[str, Any]:
    synth = read_summary(data)
    row: dict[str, Any] = {
        "sizes": {
            k: getattr(synth, k)
            for k in ("users", "tracks", "artists", "plays", "playlists", "societies", "seed")
        },
        "generate": generated,
    }
    with throwaway_server(workdir) as server:
        s = bulk_ingest(server, data, progress=False, log=print)
        version = server.status().version
    row["neo4j"] = version
    row["bulk"] = {**s.figures(), "graph_relationships": s.counts.total_relationships}
    print(f"bulk: {row['bulk']}", flush=True)
    if bolt:
        if synth.netease is None:
            row["bolt"] = {"skipped": "the folder has no NetEase export (--bulk-only)"}
        else:
            with throwaway_server(workdir) as server:
                server.start(die_with_parent=True)
                with connect(server.settings) as driver:
                    b = ingest(driver, data, sources=["netease"], netease_path=data, progress=False)
            rels = b.relationships_written
            row["bolt"] = {
                "relationships": rels,
                "rows": b.rows,
                "write_seconds": round(b.write_seconds, 3),
                "write_relationships_per_second": round(rels / b.write_seconds),
                "relationship_phase_relationships_per_second": round(
                    rels / b.phase_seconds["relationships"]
                ),
                "total_seconds": round(b.total_seconds, 3),
                "end_to_end_relationships_per_second": round(rels / b.total_seconds),
            }
            print(f"bolt: {row['bolt']}", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--plays", type=int, action="append", help="a size, in play events (repeatable)"
    )
    ap.add_argument("--data", type=Path, help="an existing `soundbridge synth` folder (one size)")
    ap.add_argument("--bolt", action="store_true", help="also ingest the export over Bolt")
    ap.add_argument("--workdir", type=Path, help="where temporary folders go (default: $TMPDIR)")
    ap.add_argument("--out", type=Path, default=Path("bench/results/scale.json"))
    args = ap.parse_args()
    # a SIGTERM (timeout, kill) unwinds like Ctrl-C: the throwaway servers are stopped and their
    # temporary homes removed instead of being left running
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if (args.data is None) == (args.plays is None):
        ap.error("give --plays (one or more sizes) or --data (one folder)")

    result: dict[str, Any] = {
        "benchmark": "scale",
        "unit": "relationships per second",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": [],
    }

    def save() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")

    if args.data is not None:
        result["runs"].append(
            one_size(args.data, bolt=args.bolt, workdir=args.workdir, generated={})
        )
        save()
    for plays in args.plays or []:
        with tempfile.TemporaryDirectory(prefix="soundbridge-scale-", dir=args.workdir) as tmp:
            data = Path(tmp) / "synth"
            t0 = time.perf_counter()
            n = sizes_for(plays)
            generate(
                data,
                users=n["users"],
                tracks=n["tracks"],
                artists=n["artists"],
                plays=n["plays"],
                cultures=n["cultures"],
                seed=n["seed"],
                netease_json=args.bolt,
                progress=True,
            )
            generated = {"seconds": round(time.perf_counter() - t0, 3), "netease_json": args.bolt}
            result["runs"].append(
                one_size(data, bolt=args.bolt, workdir=args.workdir, generated=generated)
            )
        save()
        print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
