"""Ingestion throughput of the full real data into a local Neo4j, over Bolt.

Starts a private Neo4j Community server (a free loopback port, a temporary SOUNDBRIDGE_HOME), then:

1. a *cold* fresh ingestion into the brand-new database (the server's JIT is not warm yet: what a
   first ``soundbridge ingest`` after ``soundbridge neo4j start`` sees),
2. ``--repeats`` *warm* fresh ingestions, each after emptying the graph (the steady state),
3. one re-ingestion of an unchanged graph (the idempotent path: every write MERGEs).

Figures (relationships per second):

- ``relationship_phase``: relationship rows / seconds of the relationship write phase;
- ``write_phase``: relationship rows / seconds of all writing (schema, nodes, element-id lookup,
  relationships);
- ``end_to_end``: relationship rows / seconds of the whole ``ingest`` call (reading the files,
  deriving co-collection and style tables, writing, counting).

Usage::

    python bench/ingest_throughput.py --out bench/results/ingest_throughput.json

Needs SOUNDBRIDGE_DATA (the Makefile sets it) and Neo4j's jars (``soundbridge neo4j install``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from private_server import private_neo4j  # bench/ is not a package

from kg.connection import connect
from kg.ingest import IngestSummary, ingest

TARGET = 100_000
WIPE = "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"


def figures(s: IngestSummary) -> dict[str, float]:
    rels = s.relationships_written
    return {
        "relationships": rels,
        "nodes": s.counts.total_nodes,
        "seconds_total": round(s.total_seconds, 3),
        "seconds_write": round(s.write_seconds, 3),
        "seconds_relationship_phase": round(s.phase_seconds["relationships"], 3),
        "relationship_phase": round(rels / s.phase_seconds["relationships"]),
        "write_phase": round(rels / s.write_seconds),
        "end_to_end": round(rels / s.total_seconds),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench/results/ingest_throughput.json"))
    ap.add_argument("--repeats", type=int, default=3, help="warm fresh runs after emptying")
    ap.add_argument("--batch-size", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    with private_neo4j("soundbridge-bench-") as (server, _home, _env):
        with connect(server.settings) as driver:
            runs = []
            kw = {"batch_size": args.batch_size, "workers": args.workers, "progress": False}
            for i in range(1 + args.repeats):
                if i:
                    with driver.session() as session:
                        session.run(WIPE).consume()
                runs.append(figures(ingest(driver, **kw)))
                print(f"fresh run {i + 1}: {runs[-1]}", flush=True)
            rerun = figures(ingest(driver, **kw))
            print(f"re-ingest: {rerun}", flush=True)
        version = server.status().version

    cold, warm = runs[0], runs[1:] or runs

    def median(key: str) -> float:
        return statistics.median(r[key] for r in warm)

    result = {
        "benchmark": "ingest_throughput",
        "unit": "relationships per second over Bolt",
        "target": TARGET,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "neo4j": version},
        "config": {"batch_size": args.batch_size, "workers": args.workers},
        "warm_fresh_median": {
            k: median(k) for k in ("relationship_phase", "write_phase", "end_to_end")
        },
        "cold_fresh": cold,
        "warm_fresh_runs": warm,
        "reingest_unchanged": rerun,
        "target_met_relationship_phase": median("relationship_phase") >= TARGET,
        "target_met_write_phase": median("write_phase") >= TARGET,
        "target_met_end_to_end": median("end_to_end") >= TARGET,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["warm_fresh_median"]), "->", args.out)


if __name__ == "__main__":
    main()
