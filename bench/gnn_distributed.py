"""The served GNN trained by one process and by torchrun's processes (gloo), side by side, as JSON.

Against the Neo4j server of the environment (``NEO4J_URI``, already ingested, the audio factors
stored), on the project's split (Last.fm, seed 0, held-out Recall@20 with
:func:`recsys.evaluate.evaluate`), the same seed and epochs for both:

- ``single``: ``soundbridge gnn train --threads T`` (one process, T torch threads);
- ``distributed``: ``torchrun --nproc-per-node P --no-python soundbridge gnn train --distributed
  --threads T/P`` (P processes sharing every batch, :mod:`gnn.distributed`).

Each run is a fresh process that reads the graph and fits; per run: held-out Recall@20 and
NDCG@20, the inner validation curve and training loss per epoch, seconds per epoch (the inner
split's training, validation included) and the training throughput — the LISTENED pairs of an
epoch's batches (``⌊pairs / batch⌋ · batch``) over the seconds of an epoch — and the wall time of
the command (reading the graph included). Run it on an otherwise idle machine.

Usage::

    python bench/gnn_distributed.py --out bench/results/distributed.json [--epochs 4] [--refit]
        [--processes 2] [--threads 2] [--seed 0] [--runs single distributed]

The output holds one entry per configuration (epochs, refit): a run with other ones adds to it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def command(run: str, args: argparse.Namespace, out: Path) -> list[str]:
    """The command line of ``run`` (``single`` or ``distributed``) writing its JSON to ``out``."""
    soundbridge = shutil.which("soundbridge") or str(Path(sys.executable).parent / "soundbridge")
    options = [
        "--seed",
        str(args.seed),
        "--epochs",
        str(args.epochs),
        "--patience",
        str(args.epochs),
    ]
    options += [] if args.refit else ["--no-refit"]
    if run == "single":
        return [
            soundbridge,
            "gnn",
            "train",
            "--threads",
            str(args.threads),
            *options,
            "--out",
            str(out),
        ]
    torchrun = str(Path(sys.executable).parent / "torchrun")
    per_process = max(1, args.threads // args.processes)
    return [
        torchrun, "--nproc-per-node", str(args.processes), "--no-python", soundbridge,
        "gnn", "train", "--distributed", "--threads", str(per_process), *options, "--out", str(out),
    ]  # fmt: skip


def figures(run: dict[str, Any]) -> dict[str, Any]:
    """Seconds per epoch and throughput of a ``soundbridge gnn train --out`` JSON."""
    seconds = run["epoch_seconds"]
    # the first epoch also builds the model and the adjacency: the steady ones when there are
    steady = seconds[1:] or seconds
    per_epoch = sum(steady) / len(steady)
    pairs = run["inner_training_pairs"] // run["batch_size"] * run["batch_size"]
    return {
        "seconds_per_epoch": per_epoch,
        "listened_pairs_per_epoch": pairs,
        "pairs_per_second": pairs / per_epoch,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/distributed.json"))
    parser.add_argument("--epochs", type=int, default=4, help="epochs of both (no early stop)")
    parser.add_argument("--refit", action="store_true", help="refit on every training row too")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="threads in all (split evenly)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", nargs="+", default=["single", "distributed"])
    args = parser.parse_args()

    # one entry per configuration (epochs, refit), so a later run with others keeps this one
    name = f"{args.epochs} epochs, " + ("refit" if args.refit else "no refit")
    result: dict[str, Any] = json.loads(args.out.read_text()) if args.out.is_file() else {}
    result["command"] = "python bench/gnn_distributed.py [--epochs E] [--refit]"
    entry: dict[str, Any] = result.setdefault("configurations", {}).setdefault(name, {})
    entry.update(
        {
            "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "command": "python bench/gnn_distributed.py " + " ".join(sys.argv[1:]),
            "machine": {
                "cpus": os.cpu_count(),
                "load_average": os.getloadavg(),
                "python": platform.python_version(),
            },
            "settings": {
                "epochs": args.epochs,
                "patience": args.epochs,
                "refit": args.refit,
                "seed": args.seed,
                "processes": args.processes,
                "threads_in_all": args.threads,
            },
        }
    )
    runs: dict[str, Any] = entry.setdefault("runs", {})
    with tempfile.TemporaryDirectory() as tmp:
        for run in args.runs:
            out = Path(tmp) / f"{run}.json"
            cmd = command(run, args, out)
            print(f"[{run}] {' '.join(cmd)}", flush=True)
            start = time.perf_counter()
            subprocess.run(cmd, check=True)
            wall = time.perf_counter() - start
            fitted = json.loads(out.read_text())
            runs[run] = {
                "command": " ".join(Path(c).name if c.startswith("/") else c for c in cmd[:-2]),
                "wall_seconds": wall,
                **figures(fitted),
                **fitted,
            }
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2))
    if "single" in runs and "distributed" in runs:
        one, many = runs["single"], runs["distributed"]
        entry["comparison"] = {
            "recall_difference": many["recall"] - one["recall"],
            "speedup_per_epoch": one["seconds_per_epoch"] / many["seconds_per_epoch"],
            "speedup_wall": one["wall_seconds"] / many["wall_seconds"],
            "largest_curve_difference": max(
                abs(a - b) for a, b in zip(one["curve"], many["curve"], strict=False)
            ),
        }
        args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(entry.get("comparison", {}), indent=2))


if __name__ == "__main__":
    main()
