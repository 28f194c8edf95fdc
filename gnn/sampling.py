"""Neighbour sampling for ``LinkNeighborLoader`` in plain torch.

PyG's :class:`~torch_geometric.sampler.NeighborSampler` draws neighbours with the compiled
routines of ``pyg-lib`` or ``torch-sparse``. Neither publishes wheels on PyPI for the torch this
project installs, so :class:`TorchNeighborSampler` keeps PyG's sampler (its CSC conversion, edge
permutation, link-level seeding and negative sampling) and replaces only the heterogeneous
sampling step with :func:`hetero_neighbor_sample`, vectorised torch on the CPU. Where a compiled
backend is installed, PyG's own routine runs instead.

Semantics follow PyG's "directional" sampling without replacement: hop ``h`` draws, for every
node reached in hop ``h - 1`` (the seeds for the first hop) and every relation pointing at its
label, up to ``num_neighbors[relation][h]`` distinct incoming neighbours uniformly at random
(``-1``: all of them).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch_geometric.typing as pyg_typing
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.sampler import HeteroSamplerOutput, NeighborSampler

from loaders.errors import ConfigError

__all__ = ["TorchNeighborSampler", "hetero_neighbor_sample"]

EdgeType = tuple[str, str, str]


def _segment_sample(
    deg: Tensor, k: int, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """Pick up to ``k`` distinct offsets in each segment of length ``deg[i]`` (``k < 0``: all).

    Returns the segment of every pick and its offset inside the segment, segment by segment.

    Shapes:
        deg: ``(S,)``; returns two ``(P,)`` tensors with ``P = Σ min(deg, k)``.
    """
    seg = torch.repeat_interleave(torch.arange(len(deg)), deg)
    starts = torch.cumsum(deg, 0) - deg
    offset = torch.arange(len(seg)) - starts[seg]
    if k < 0 or len(seg) == 0:
        return seg, offset
    # a random key per candidate; sorting by (segment, key) shuffles inside each segment, and the
    # first k of every segment are a uniform draw without replacement
    key = torch.rand(len(seg), generator=generator, dtype=torch.float64)
    order = torch.argsort(seg.double() + key)
    rank = torch.arange(len(seg)) - starts[seg]  # seg is sorted, so rank of the sorted position
    keep = order[rank < k]
    return seg[keep], offset[keep]


def hetero_neighbor_sample(
    colptr: dict[EdgeType, Tensor],
    row: dict[EdgeType, Tensor],
    num_nodes: dict[str, int],
    seed: dict[str, Tensor],
    num_neighbors: dict[EdgeType, list[int]],
    *,
    generator: torch.Generator | None = None,
) -> tuple[
    dict[str, Tensor],
    dict[EdgeType, Tensor],
    dict[EdgeType, Tensor],
    dict[EdgeType, Tensor],
    dict[str, list[int]],
    dict[EdgeType, list[int]],
]:
    """Sample a heterogeneous computation graph around ``seed`` nodes.

    Args:
        colptr: per relation ``(src, rel, dst)``, the CSC column pointers over ``dst`` nodes,
            ``(num_nodes[dst] + 1,)``.
        row: per relation, the source node of every CSC position, ``(E,)``.
        num_nodes: node count per label.
        seed: label → global ids of the seed nodes ``(S_label,)`` (no duplicates).
        num_neighbors: relation → neighbours to draw per node at each hop (``-1``: all); every
            relation has the same number of hops.
        generator: random source (``None``: torch's global one).

    Returns:
        ``node`` (label → global ids, seeds first, then in order of discovery), ``row`` and
        ``col`` (relation → local source / target index into ``node``), ``edge`` (relation → CSC
        position of every sampled edge), ``num_sampled_nodes`` (label → new nodes per hop, the
        seeds first) and ``num_sampled_edges`` (relation → edges per hop).

    Examples:
        >>> cp = {("a", "r", "b"): torch.tensor([0, 2, 3])}  # b0 <- a0, a1; b1 <- a1
        >>> rw = {("a", "r", "b"): torch.tensor([0, 1, 1])}
        >>> out = hetero_neighbor_sample(cp, rw, {"a": 2, "b": 2}, {"b": torch.tensor([1])},
        ...                              {("a", "r", "b"): [5]})
        >>> out[0]["a"].tolist(), out[1][("a", "r", "b")].tolist(), out[3][("a", "r", "b")].tolist()
        ([1], [0], [2])
    """
    hops = {len(v) for v in num_neighbors.values()}
    if len(hops) > 1:
        raise ConfigError(f"every relation needs the same number of hops, got {sorted(hops)}")
    n_hops = hops.pop() if hops else 0
    labels = list(num_nodes)
    nodes: dict[str, list[Tensor]] = {t: [] for t in labels}
    count = dict.fromkeys(labels, 0)
    # global -> local id, -1 where not sampled yet (only touched entries are ever written)
    local = {t: torch.full((num_nodes[t],), -1, dtype=torch.long) for t in labels}
    n_nodes: dict[str, list[int]] = {t: [] for t in labels}
    frontier: dict[str, Tensor] = {}
    for t in labels:
        ids = seed.get(t, torch.empty(0, dtype=torch.long)).long()
        local[t][ids] = torch.arange(len(ids))
        nodes[t].append(ids)
        count[t] = len(ids)
        n_nodes[t].append(len(ids))
        frontier[t] = ids

    rows: dict[EdgeType, list[Tensor]] = {e: [] for e in num_neighbors}
    cols: dict[EdgeType, list[Tensor]] = {e: [] for e in num_neighbors}
    edges: dict[EdgeType, list[Tensor]] = {e: [] for e in num_neighbors}
    n_edges: dict[EdgeType, list[int]] = {e: [] for e in num_neighbors}
    for hop in range(n_hops):
        fresh: dict[str, list[Tensor]] = {t: [] for t in labels}
        for e, ks in num_neighbors.items():
            src_t, _, dst_t = e
            dst = frontier.get(dst_t, torch.empty(0, dtype=torch.long))
            k = ks[hop]
            if k == 0 or len(dst) == 0:
                n_edges[e].append(0)
                continue
            start = colptr[e][dst]
            seg, off = _segment_sample(colptr[e][dst + 1] - start, k, generator)
            pos = start[seg] + off
            src = row[e][pos]
            unseen = local[src_t][src] < 0
            if bool(unseen.any()):
                new, inverse = torch.unique(src[unseen], return_inverse=True)
                # number the new nodes in order of first appearance, as PyG does
                first = torch.full((len(new),), len(src), dtype=torch.long)
                first.scatter_reduce_(0, inverse, torch.nonzero(unseen).squeeze(1), "amin")
                new = new[torch.argsort(first)]
                local[src_t][new] = torch.arange(count[src_t], count[src_t] + len(new))
                count[src_t] += len(new)
                nodes[src_t].append(new)
                fresh[src_t].append(new)
            rows[e].append(local[src_t][src])
            cols[e].append(local[dst_t][dst[seg]])
            edges[e].append(pos)
            n_edges[e].append(len(pos))
        for t in labels:
            frontier[t] = torch.cat(fresh[t]) if fresh[t] else torch.empty(0, dtype=torch.long)
            n_nodes[t].append(len(frontier[t]))

    node = {t: torch.cat(v) if v else torch.empty(0, dtype=torch.long) for t, v in nodes.items()}

    def cat(parts: dict[EdgeType, list[Tensor]]) -> dict[EdgeType, Tensor]:
        return {
            e: torch.cat(v) if v else torch.empty(0, dtype=torch.long) for e, v in parts.items()
        }

    return node, cat(rows), cat(cols), cat(edges), n_nodes, n_edges


class TorchNeighborSampler(NeighborSampler):
    """PyG's ``NeighborSampler`` with :func:`hetero_neighbor_sample` as its sampling step.

    Pass it to ``LinkNeighborLoader(..., neighbor_sampler=TorchNeighborSampler(data, ...))``.
    Supports what the training here uses: heterogeneous graphs, directional sampling without
    replacement, no temporal or weighted sampling, no disjoint sub-graphs.

    Args:
        data: the graph (``HeteroData``).
        num_neighbors: neighbours per hop, for every relation (a list) or per relation (a dict).
        generator: random source for the draws (``None``: torch's global one, which
            ``torch.manual_seed`` seeds).
        **kwargs: passed to :class:`~torch_geometric.sampler.NeighborSampler`.

    Raises:
        ConfigError: for homogeneous data, or options the torch path does not implement.
    """

    def __init__(
        self,
        data: HeteroData,
        num_neighbors: Any,
        *,
        generator: torch.Generator | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(data, HeteroData):
            raise ConfigError("TorchNeighborSampler samples HeteroData; got " + type(data).__name__)
        unsupported = sorted(
            k
            for k in ("time_attr", "weight_attr", "disjoint", "replace")
            if kwargs.get(k) not in (None, False)
        )
        if unsupported or kwargs.get("subgraph_type", "directional") != "directional":
            raise ConfigError(
                f"TorchNeighborSampler does not implement {unsupported or ['subgraph_type']}; "
                "install pyg-lib for those options and use PyG's NeighborSampler"
            )
        with warnings.catch_warnings():
            # PyG warns that sampling without pyg-lib is deprecated: this class is the answer
            warnings.filterwarnings("ignore", message=".*without a 'pyg-lib'.*")
            super().__init__(data, num_neighbors, **kwargs)
        self.generator = generator

    def _sample(
        self,
        seed: Tensor | dict[str, Tensor],
        seed_time: Tensor | dict[str, Tensor] | None = None,
        **kwargs: Any,
    ) -> HeteroSamplerOutput:
        if pyg_typing.WITH_PYG_LIB or pyg_typing.WITH_TORCH_SPARSE:
            return super()._sample(seed, seed_time, **kwargs)
        if not isinstance(seed, dict) or seed_time is not None:
            raise ConfigError("TorchNeighborSampler samples from node-type seeds, without time")
        mapped = self.num_neighbors.get_mapped_values(self.edge_types)
        assert isinstance(mapped, dict)
        node, row, col, edge, n_nodes, n_edges = hetero_neighbor_sample(
            {self.to_edge_type[k]: v for k, v in self.colptr_dict.items()},
            {self.to_edge_type[k]: v for k, v in self.row_dict.items()},
            self.num_nodes,
            seed,
            {self.to_edge_type[k]: list(v) for k, v in mapped.items()},
            generator=self.generator,
        )
        return HeteroSamplerOutput(
            node=node,
            row=row,
            col=col,
            edge=edge,
            batch=None,
            num_sampled_nodes=n_nodes,
            num_sampled_edges=n_edges,
        )
