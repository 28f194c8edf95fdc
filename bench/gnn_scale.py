"""GNN training past memory: neighbour-sampled mini-batches on synthetic graphs of growing size.

For each ``--plays`` size this generates a synthetic dataset (``loaders.synth.generate``, sizes
as bench/scale.py picks them: users and tracks = plays / 50, artists = plays / 500, 410
societies, seed 1; in a child process, so that the generator's memory is not counted here), or
takes ``--data`` for an existing folder, then

1. builds the training graph from the bulk CSVs (:func:`gnn.synthetic.synthetic_graph`, no
   Neo4j): seconds, peak resident memory of the build, bytes of the graph's tensors;
2. trains the gated :class:`gnn.model.HeteroLightGCN` for ``--steps`` mini-batches (after
   ``--warmup`` untimed ones) exactly as ``gnn.train.train(config=TrainConfig(sampler=
   "neighbor"))`` steps: ``LinkNeighborLoader`` over the ``LISTENED`` pairs with
   :class:`gnn.sampling.TorchNeighborSampler`, sampled edges weighed by
   :func:`gnn.model.sampled_adjacency`, the full-sub-graph softmax loss, Adam. Per step: seconds
   (sampling, forward, backward, optimiser), sampled edges and nodes; seconds per million
   sampled edges make sizes comparable; the projected seconds of one epoch over every
   ``LISTENED`` pair; the peak resident memory while training.

``train`` itself also builds the whole-graph adjacency before its first step and propagates
over the whole graph after each epoch (validation) and at the end (the embeddings it returns):
whole-graph passes, not bounded by the batch. This bench measures the sampled steps, which are
what an epoch is made of.

One row per size goes to ``--out`` (replacing an earlier row of the same size), written after
each size.

Usage::

    nice -n 10 python bench/gnn_scale.py --plays 750000
    nice -n 10 python bench/gnn_scale.py --plays 10000000 --workdir /big/disk
    python bench/gnn_scale.py --data data/synth --steps 50
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
from peak_memory import PeakMemory  # bench/ is not a package
from scale import sizes_for
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from tqdm.auto import tqdm

from gnn.graph import LISTENED
from gnn.model import HeteroLightGCN, degrees, sampled_adjacency
from gnn.synthetic import synthetic_graph
from gnn.train import TrainConfig, neighbor_loader, torch_threads
from loaders.errors import SoundbridgeError
from loaders.synth import generate, read_summary

MB = 2**20
#: The fields of TrainConfig that the neighbour-sampled steps use (the rest are train()'s).
USED = (
    "conv", "dim", "layers", "loss", "tau", "negatives", "lr", "weight_decay", "batch_size",
    "feature_only", "seed", "sampler", "threads", "num_neighbors",
)  # fmt: skip


def generate_quietly(data: Path, **kwargs: Any) -> None:
    """:func:`loaders.synth.generate`, its refusals one line on stderr (in the child process)."""
    try:
        generate(data, **kwargs)
    except SoundbridgeError as e:
        sys.exit(f"error: {e}")


def dataset(plays: int, workdir: Path) -> tuple[Path, dict[str, Any]]:
    """The synthetic folder of ``plays`` under ``workdir``: reused when it is there, else made."""
    n = sizes_for(plays)
    data = workdir / f"synth-{plays}"
    try:
        s = read_summary(data)
        if all(getattr(s, k) == n[k] for k in ("users", "tracks", "artists", "plays", "seed")):
            return data, {"reused": True}
    except SoundbridgeError:
        pass
    t0 = time.perf_counter()
    kwargs = {**n, "netease_json": False, "overwrite": True, "progress": True}
    child = multiprocessing.get_context("spawn").Process(
        target=generate_quietly, args=(data,), kwargs=kwargs
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"error: generating {plays:,} plays into {data} failed (see above)")
    return data, {"seconds": round(time.perf_counter() - t0, 3), "reused": False}


def steps_forever(loader: Any) -> Iterator[HeteroData]:
    """The loader's batches, epoch after epoch."""
    while True:
        yield from loader


def train_steps(
    graph: HeteroData, config: TrainConfig, steps: int, warmup: int, progress: bool
) -> dict[str, Any]:
    """``warmup + steps`` neighbour-sampled steps of ``gnn.train``; timings of the last ``steps``.

    Mirrors ``gnn.train._NeighborBatches`` and the softmax branch of ``gnn.train.train`` (with
    ``negatives=0``) step for step, with a clock between the phases.
    """
    torch.manual_seed(config.seed)
    hops = list(config.num_neighbors)
    model = HeteroLightGCN(graph, config.dim, config.layers, config.feature_only)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    edge_types = list(graph.edge_types)
    labels = [t for t in graph.node_types if "x" in graph[t]]
    pairs = graph[LISTENED].edge_index
    t0 = time.perf_counter()
    loader = neighbor_loader(graph, hops, config.batch_size)
    deg = {
        e: degrees(graph[e].edge_index, graph[e[0]].num_nodes, graph[e[2]].num_nodes)
        for e in edge_types
    }
    setup = time.perf_counter() - t0
    # the sampler's CSC copy of every relation (row, column pointers, permutation): graph-sized
    after_loader = PeakMemory.rss()
    phases = {"sample": 0.0, "forward": 0.0, "backward": 0.0, "optimiser": 0.0}
    edges = nodes = 0
    losses: list[float] = []
    it = steps_forever(loader)
    model.train()
    bar = tqdm(total=warmup + steps, desc="gnn steps", unit="step", disable=not progress)
    for step in range(warmup + steps):
        timed = step >= warmup
        t0 = time.perf_counter()
        batch = next(it)
        t1 = time.perf_counter()
        n_id = {t: batch[t].n_id for t in batch.node_types}
        adj = {
            e: sampled_adjacency(batch[e].edge_index, n_id[e[0]], n_id[e[2]], *deg[e])
            for e in edge_types
        }
        h = model(adj, {t: batch[t].x for t in labels}, n_id)
        h = {k: nn.functional.normalize(v, dim=1) for k, v in h.items()}
        b: Tensor = batch[LISTENED].edge_label_index
        loss = nn.functional.cross_entropy(h["User"][b[0]] @ h["Artist"].T / config.tau, b[1])
        t2 = time.perf_counter()
        opt.zero_grad()
        loss.backward()
        t3 = time.perf_counter()
        opt.step()
        t4 = time.perf_counter()
        losses.append(float(loss.detach()))
        if timed:
            for k, v in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                phases[k] += v
            edges += sum(batch[e].edge_index.shape[1] for e in batch.edge_types)
            nodes += sum(batch[t].num_nodes for t in batch.node_types)
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    bar.close()
    seconds = sum(phases.values())
    per_step = seconds / steps
    epoch_steps = math.ceil(pairs.shape[1] / config.batch_size)
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    tail = min(10, len(losses))
    return {
        "config": {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in asdict(config).items()
            if k in USED
        },
        "steps": steps,
        "warmup": warmup,
        "loader_seconds": round(setup, 3),
        "rss_after_loader_mb": round(after_loader / MB, 1),
        "seconds_per_step": round(per_step, 4),
        "phase_seconds_per_step": {k: round(v / steps, 4) for k, v in phases.items()},
        "sampled_edges_per_step": round(edges / steps),
        "sampled_nodes_per_step": round(nodes / steps),
        "sampled_edges_per_second": round(edges / seconds),
        "seconds_per_million_sampled_edges": round(seconds / (edges / 1e6), 3),
        "epoch_steps": epoch_steps,
        "projected_epoch_seconds": round(epoch_steps * per_step, 1),
        "parameter_bytes": params,
        # the parameters, their gradients (dense, id embeddings included) and Adam's two moments
        "parameter_and_optimiser_bytes": 4 * params,
        "loss_first_steps": round(sum(losses[:tail]) / tail, 4),
        "loss_last_steps": round(sum(losses[-tail:]) / tail, 4),
    }


def one_size(
    data: Path, config: TrainConfig, steps: int, warmup: int, generated: dict[str, Any]
) -> dict[str, Any]:
    """Build the graph of ``data`` and time the training steps on it: one result row."""
    with PeakMemory() as build_mem:
        t0 = time.perf_counter()
        g = synthetic_graph(data, progress=True)
        build_seconds = time.perf_counter() - t0
    after_build = PeakMemory.rss()
    s = g.summary
    print(
        f"graph: {sum(g.relationships.values()):,} relationships, "
        f"{sum(g.data[t].num_nodes for t in g.data.node_types):,} nodes, "
        f"built in {build_seconds:.1f} s, {g.nbytes() / MB:,.0f} MB",
        flush=True,
    )
    with torch_threads(config.threads), PeakMemory() as train_mem:
        training = train_steps(g.data, config, steps, warmup, progress=True)
    return {
        "plays": s.plays,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "sizes": {
            k: getattr(s, k) for k in ("users", "tracks", "artists", "playlists", "societies")
        }
        | {"seed": s.seed},
        "generate": generated,
        "graph": {
            "nodes": {t: g.data[t].num_nodes for t in g.data.node_types},
            "relationships": sum(g.relationships.values()),
            "relationships_by_type": {"/".join(e): n for e, n in g.relationships.items()},
            "edges_with_reverse": sum(g.data[e].num_edges for e in g.data.edge_types),
            "tensor_bytes": g.nbytes(),
        },
        "build": {
            "seconds": round(build_seconds, 3),
            "rss_before_mb": round(build_mem.start / MB, 1),
            "peak_rss_mb": round(build_mem.peak / MB, 1),
            "rss_after_mb": round(after_build / MB, 1),
        },
        "training": training
        | {
            "peak_rss_mb": round(train_mem.peak / MB, 1),
            "rss_added_mb": round((train_mem.peak - after_build) / MB, 1),
        },
        "process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "torch_threads": config.threads,
        "machine": {
            "cpus": os.cpu_count(),
            "memory_mb": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / MB),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "nice": os.nice(0),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "platform": platform.platform(),
        },
    }


def save(out: Path, row: dict[str, Any]) -> None:
    """Put ``row`` into ``out``, replacing the row of the same ``plays``, sorted by size."""
    result: dict[str, Any] = {"benchmark": "gnn_scale", "runs": []}
    if out.is_file():
        try:
            result = json.loads(out.read_text())
        except ValueError as e:
            raise SystemExit(
                f"error: {out} is not JSON ({e}); move it away or give another --out"
            ) from e
    runs = [r for r in result.get("runs", []) if r.get("plays") != row["plays"]]
    result["runs"] = sorted([*runs, row], key=lambda r: r["plays"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


def parse_hops(text: str) -> tuple[int, ...]:
    try:
        hops = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give neighbours per hop as integers, e.g. 10,5"
        ) from None
    if not hops or any(h == 0 or h < -1 for h in hops):
        raise argparse.ArgumentTypeError(f"{text!r}: each hop is a positive count or -1 (all)")
    return hops


def main() -> None:
    defaults = TrainConfig(sampler="neighbor")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--plays", type=int, action="append", help="a size, in play events (repeatable)"
    )
    ap.add_argument("--data", type=Path, help="an existing `soundbridge synth` folder (one size)")
    ap.add_argument(
        "--workdir",
        type=Path,
        help="keep generated folders here (synth-<plays>, reused by a later run); "
        "default: a temporary folder, removed afterwards",
    )
    ap.add_argument("--steps", type=int, default=200, help="timed steps (default 200)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps first (default 5)")
    ap.add_argument("--batch-size", type=int, default=defaults.batch_size)
    ap.add_argument("--dim", type=int, default=defaults.dim)
    ap.add_argument(
        "--num-neighbors",
        type=parse_hops,
        default=defaults.num_neighbors,
        help="neighbours per hop, e.g. 10,5 (one per layer)",
    )
    ap.add_argument("--threads", type=int, default=defaults.threads, help="torch threads")
    ap.add_argument("--seed", type=int, default=defaults.seed)
    ap.add_argument("--out", type=Path, default=Path("bench/results/gnn_scale.json"))
    args = ap.parse_args()
    if (args.data is None) == (args.plays is None):
        ap.error("give --plays (one or more sizes) or --data (one folder)")
    for name in ("steps", "batch_size", "dim", "threads"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1 (got {getattr(args, name)})")
    if args.workdir is not None and args.workdir.exists() and not args.workdir.is_dir():
        ap.error(f"--workdir {args.workdir}: is a file; give a folder to keep the datasets in")
    if args.warmup < 0:
        ap.error(f"--warmup must be at least 0 (got {args.warmup})")
    if any(p < 100 for p in args.plays or []):
        ap.error("--plays must be at least 100")
    config = replace(
        defaults,
        batch_size=args.batch_size,
        dim=args.dim,
        num_neighbors=args.num_neighbors,
        layers=len(args.num_neighbors),
        threads=args.threads,
        seed=args.seed,
    )
    try:
        if args.data is not None:
            row = one_size(args.data, config, args.steps, args.warmup, {"given": str(args.data)})
            save(args.out, row)
            print(f"wrote {args.out}", flush=True)
        for plays in args.plays or []:
            # a kept folder under --workdir, or a temporary one removed with its data
            scratch = (
                contextlib.nullcontext(str(args.workdir))
                if args.workdir
                else tempfile.TemporaryDirectory(prefix="soundbridge-gnn-scale-")
            )
            with scratch as folder:
                data, generated = dataset(plays, Path(folder))
                row = one_size(data, config, args.steps, args.warmup, generated)
            save(args.out, row)
            print(f"wrote {args.out}", flush=True)
    except SoundbridgeError as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
