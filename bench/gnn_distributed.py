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
import contextlib
import json
import os
import platform
import resource
import shutil
import statistics
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
        "steady_seconds_per_epoch": per_epoch,
        "listened_pairs_per_epoch": pairs,
        "pairs_per_second": pairs / per_epoch,
    }


def cpu_seconds() -> tuple[float, float, float]:
    """This machine's busy and stolen CPU seconds so far, and those of this script's children.

    Their differences over a run say how much CPU other processes (or the hypervisor) took
    while it ran: the timings are only comparable when that stays small.
    """
    fields = [float(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    busy = (sum(fields[:8]) - fields[3] - fields[4]) / tick  # all but idle and iowait
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return busy, fields[7] / tick, children.ru_utime + children.ru_stime


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def clean(row: dict[str, Any]) -> bool:
    """Whether other processes took under 5 % of the CPU a run took (unknown: not clean)."""
    others = row.get("cpu_seconds_of_others")
    return others is not None and others < 0.05 * row["cpu_seconds_of_the_run"]


def compare(one: list[dict[str, Any]], many: list[dict[str, Any]]) -> dict[str, Any]:
    """Single against distributed: every pass's recall, the clean passes' timings (medians)."""
    quiet_one, quiet_many = [r for r in one if clean(r)], [r for r in many if clean(r)]
    out: dict[str, Any] = {
        "passes": {"single": len(one), "distributed": len(many)},
        "recall": {
            "single": [r["recall"] for r in one],
            "distributed": [r["recall"] for r in many],
        },
        "largest_curve_difference": max(
            abs(a - b)
            for x in one
            for y in many
            for a, b in zip(x["curve"], y["curve"], strict=False)
        ),
        "clean_passes": {"single": len(quiet_one), "distributed": len(quiet_many)},
    }
    if not quiet_one or not quiet_many:
        return out

    def med(rows: list[dict[str, Any]], key: str) -> float:
        return median([r[key] for r in rows])

    return out | {
        "median_steady_seconds_per_epoch": {
            "single": med(quiet_one, "steady_seconds_per_epoch"),
            "distributed": med(quiet_many, "steady_seconds_per_epoch"),
        },
        "median_pairs_per_second": {
            "single": med(quiet_one, "pairs_per_second"),
            "distributed": med(quiet_many, "pairs_per_second"),
        },
        "median_wall_seconds": {
            "single": med(quiet_one, "wall_seconds"),
            "distributed": med(quiet_many, "wall_seconds"),
        },
        "speedup_steady_epoch": med(quiet_one, "steady_seconds_per_epoch")
        / med(quiet_many, "steady_seconds_per_epoch"),
        "speedup_wall": med(quiet_one, "wall_seconds") / med(quiet_many, "wall_seconds"),
    }


class _Stop(Exception):
    pass


def step_breakdown(threads: list[int], steps: int = 5) -> dict[str, Any]:
    """Seconds of a training step against those of its whole-graph propagation alone.

    The served model's inner training graph and inputs are caught where
    :class:`recsys.gnn.HeteroGNN` hands them to :func:`gnn.train.train`; a step is timed between
    two gradient averagings (forward, every loss term, backward: the median of ``steps`` after
    the first), the propagation as the encoder's forward and a backward of the sum of its
    outputs. The rest of a step is what replicas divide among themselves; the propagation is
    what each repeats.
    """
    from dataclasses import dataclass, field, replace

    import torch

    import recsys.gnn
    from audio.run import held_out_societies
    from gnn.distributed import Replicas
    from gnn.graph import read_knowledge_graph
    from gnn.model import Adjacency, HeteroLightGCN
    from gnn.train import torch_threads, train
    from kg.config import Neo4jSettings
    from kg.connection import connect
    from loaders.config import data_root
    from loaders.lastfm import load_lastfm
    from recsys.pipeline import artefacts_dir, default_model, fit_training_rows
    from recsys.split import split_lastfm

    caught: dict[str, Any] = {}

    def catch(graph: Any, **kw: Any) -> Any:
        caught.update(kw, graph=graph)
        raise _Stop

    @dataclass(frozen=True)
    class Timed(Replicas):
        marks: list[float] = field(default_factory=list)

        def average_gradients(self, params: Any) -> None:
            self.marks.append(time.perf_counter())
            if len(self.marks) > steps + 1:
                raise _Stop

    split = split_lastfm(load_lastfm(data_root() / "lastfm-hetrec2011"), seed=0)
    model = default_model()
    saved, recsys.gnn.train = recsys.gnn.train, catch  # type: ignore[assignment]
    try:
        with connect(Neo4jSettings.from_env()) as driver:
            kg = read_knowledge_graph(
                driver,
                cache=artefacts_dir() / "cache",
                held_out_societies=held_out_societies(None) or (),
            )
            fit_training_rows(model, split, kg, driver=driver)
    except _Stop:
        pass
    finally:
        recsys.gnn.train = saved
    g, config = caught["graph"], caught["config"]
    out: dict[str, Any] = {"steps_timed": steps}
    for t in threads:
        timed = Timed()
        with contextlib.suppress(_Stop):
            train(
                g,
                valid=None,
                config=replace(config, threads=t),
                expert=caught["expert"],
                track_targets=caught["track_targets"],
                progress=False,
                replicas=timed,
            )
        step = median([b - a for a, b in zip(timed.marks[1:], timed.marks[2:], strict=False)])
        torch.manual_seed(0)
        net = HeteroLightGCN(g, config.dim, config.layers, config.feature_only)
        x = {k: g[k].x for k in g.node_types if "x" in g[k]}
        adj = {
            e: Adjacency.normalised(g[e].edge_index, g[e[0]].num_nodes, g[e[2]].num_nodes)
            for e in g.edge_types
        }
        times = []
        with torch_threads(t):
            for _ in range(steps + 1):
                start = time.perf_counter()
                h = net(adj, x)
                sum(torch.nn.functional.normalize(v, dim=1).sum() for v in h.values()).backward()
                times.append(time.perf_counter() - start)
        propagation = median(times[1:])
        out[f"threads={t}"] = {
            "step_seconds": step,
            "propagation_seconds": propagation,
            "propagation_share": propagation / step,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/distributed.json"))
    parser.add_argument("--epochs", type=int, default=4, help="epochs of both (no early stop)")
    parser.add_argument("--refit", action="store_true", help="refit on every training row too")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="threads in all (split evenly)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", nargs="+", default=["single", "distributed"])
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="only time a step against its whole-graph propagation (1 and 2 threads)",
    )
    args = parser.parse_args()
    if args.breakdown:
        result = json.loads(args.out.read_text()) if args.out.is_file() else {}
        result["step_breakdown"] = {
            "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "command": "python bench/gnn_distributed.py " + " ".join(sys.argv[1:]),
            **step_breakdown([1, 2]),
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
        print(json.dumps(result["step_breakdown"], indent=2))
        return

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
    # every pass of a run is kept (a list per run), so that passes in either order can be pooled
    runs: dict[str, list[dict[str, Any]]] = entry.setdefault("runs", {})
    with tempfile.TemporaryDirectory() as tmp:
        for run in args.runs:
            out = Path(tmp) / f"{run}.json"
            cmd = command(run, args, out)
            print(f"[{run}] {' '.join(cmd)}", flush=True)
            busy, stolen, ours = cpu_seconds()
            load = os.getloadavg()[0]
            start = time.perf_counter()
            subprocess.run(cmd, check=True)
            wall = time.perf_counter() - start
            busy_after, stolen_after, ours_after = cpu_seconds()
            fitted = json.loads(out.read_text())
            runs.setdefault(run, []).append(
                {
                    "command": " ".join(Path(c).name if c.startswith("/") else c for c in cmd[:-2]),
                    "started": time.strftime("%H:%M UTC", time.gmtime(time.time() - wall)),
                    "order": args.runs,
                    "load_average_at_start": load,
                    "wall_seconds": wall,
                    "cpu_seconds_of_the_run": ours_after - ours,
                    "cpu_seconds_of_others": (busy_after - busy) - (ours_after - ours),
                    "cpu_seconds_stolen": stolen_after - stolen,
                    **figures(fitted),
                    **fitted,
                }
            )
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2))
    if "single" in runs and "distributed" in runs:
        entry["comparison"] = compare(runs["single"], runs["distributed"])
        args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(entry.get("comparison", {}), indent=2))


if __name__ == "__main__":
    main()
