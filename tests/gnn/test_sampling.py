"""The plain-torch neighbour sampler: LinkNeighborLoader contract, known answers, uniformity."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import HeteroData
from torch_geometric.loader import LinkNeighborLoader

from gnn.graph import LISTENED
from gnn.model import normalised_adjacency, propagate, sampled_adjacency
from gnn.sampling import TorchNeighborSampler, hetero_neighbor_sample
from loaders.errors import ConfigError

REV = ("Artist", "rev_LISTENED", "User")


def _graph(seed: int = 0) -> HeteroData:
    g = torch.Generator().manual_seed(seed)
    data = HeteroData()
    data["User"].num_nodes, data["Artist"].num_nodes = 40, 60
    data["User"].x = torch.arange(40.0).unsqueeze(1)
    data["Artist"].x = torch.arange(60.0).unsqueeze(1)
    ei = torch.stack(
        [torch.randint(0, 40, (300,), generator=g), torch.randint(0, 60, (300,), generator=g)]
    )
    ei = torch.unique(ei, dim=1)
    data[LISTENED].edge_index = ei
    data[REV].edge_index = ei.flip(0)
    return data


def _csc(ei: torch.Tensor, n_dst: int) -> tuple[torch.Tensor, torch.Tensor]:
    order = torch.argsort(ei[1], stable=True)
    colptr = torch.zeros(n_dst + 1, dtype=torch.long)
    colptr[1:] = torch.cumsum(torch.bincount(ei[1], minlength=n_dst), 0)
    return colptr, ei[0, order]


def test_all_neighbours_known_answer() -> None:
    # artists 0, 1 <- users; seeds: artist 1; one hop, all neighbours (-1)
    e = ("User", "LISTENED", "Artist")
    colptr, row = _csc(torch.tensor([[0, 2, 1, 2], [0, 1, 1, 0]]), 2)
    node, rows, cols, edge, n_nodes, n_edges = hetero_neighbor_sample(
        {e: colptr}, {e: row}, {"User": 3, "Artist": 2}, {"Artist": torch.tensor([1])}, {e: [-1]}
    )
    assert node["Artist"].tolist() == [1]
    assert sorted(node["User"].tolist()) == [1, 2]
    assert sorted(node["User"][rows[e]].tolist()) == [1, 2]
    assert cols[e].tolist() == [0, 0]
    assert row[edge[e]].tolist() == node["User"][rows[e]].tolist()
    assert n_nodes == {"User": [0, 2], "Artist": [1, 0]} and n_edges == {e: [2]}


def test_draws_at_most_k_distinct_neighbours() -> None:
    e = ("User", "LISTENED", "Artist")
    data = _graph()
    colptr, row = _csc(data[LISTENED].edge_index, 60)
    deg = colptr[1:] - colptr[:-1]
    seeds = torch.arange(60)
    _, rows, cols, edge, _, _ = hetero_neighbor_sample(
        {e: colptr}, {e: row}, {"User": 40, "Artist": 60}, {"Artist": seeds}, {e: [3]}
    )
    drawn = torch.bincount(cols[e], minlength=60)
    assert torch.equal(drawn, deg.clamp(max=3))
    assert len(torch.unique(edge[e])) == len(edge[e])  # without replacement


def test_draws_are_uniform() -> None:
    # one artist with four listeners, one drawn per call: each listener about a quarter of the time
    e = ("User", "LISTENED", "Artist")
    colptr, row = _csc(torch.tensor([[0, 1, 2, 3], [0, 0, 0, 0]]), 1)
    gen = torch.Generator().manual_seed(0)
    counts = torch.zeros(4)
    for _ in range(4000):
        node = hetero_neighbor_sample(
            {e: colptr},
            {e: row},
            {"User": 4, "Artist": 1},
            {"Artist": torch.tensor([0])},
            {e: [1]},
            generator=gen,
        )[0]
        counts[node["User"]] += 1
    assert torch.all((counts / 4000 - 0.25).abs() < 0.03), counts


def test_link_neighbor_loader_gives_real_edges_and_seeds() -> None:
    torch.manual_seed(0)
    data = _graph()
    ei = data[LISTENED].edge_index
    loader = LinkNeighborLoader(
        data,
        num_neighbors=[4, 2],
        edge_label_index=(LISTENED, ei),
        batch_size=16,
        shuffle=True,
        neighbor_sampler=TorchNeighborSampler(data, [4, 2]),
    )
    seen = 0
    for batch in loader:
        for et in batch.edge_types:
            local = batch[et].edge_index
            glob = torch.stack([batch[et[0]].n_id[local[0]], batch[et[2]].n_id[local[1]]])
            assert torch.equal(data[et].edge_index[:, batch[et].e_id], glob)
        lab = batch[LISTENED].edge_label_index
        pairs = torch.stack([batch["User"].n_id[lab[0]], batch["Artist"].n_id[lab[1]]])
        assert torch.equal(pairs, ei[:, batch[LISTENED].input_id])
        assert torch.equal(batch["User"].x.squeeze(1).long(), batch["User"].n_id)
        seen += lab.shape[1]
    assert seen == ei.shape[1]


def test_sampled_adjacency_is_unbiased_for_the_full_propagation() -> None:
    data = _graph()
    ei = data[REV].edge_index  # artist -> user messages
    h = torch.randn(60, 3, generator=torch.Generator().manual_seed(1))
    full = propagate(h, normalised_adjacency(ei, 60, 40), 40)
    colptr, row = _csc(ei, 40)
    deg_src, deg_dst = torch.bincount(ei[0], minlength=60), torch.bincount(ei[1], minlength=40)
    e = REV
    gen = torch.Generator().manual_seed(2)
    mean = torch.zeros(40, 3)
    runs = 3000
    for _ in range(runs):
        node, rows, cols, _, _, _ = hetero_neighbor_sample(
            {e: colptr},
            {e: row},
            {"Artist": 60, "User": 40},
            {"User": torch.arange(40)},
            {e: [2]},
            generator=gen,
        )
        adj = sampled_adjacency(
            torch.stack([rows[e], cols[e]]), node["Artist"], node["User"], deg_src, deg_dst
        )
        out = propagate(h[node["Artist"]], adj, 40)
        mean[node["User"]] += out / runs
    torch.testing.assert_close(mean, full, atol=0.05, rtol=0.05)


def test_unsupported_options_are_clear_errors() -> None:
    data = _graph()
    with pytest.raises(ConfigError, match="replace"):
        TorchNeighborSampler(data, [2], replace=True)
    with pytest.raises(ConfigError, match="same number of hops"):
        hetero_neighbor_sample(
            {}, {}, {"User": 1}, {}, {("a", "r", "b"): [1], ("b", "r", "a"): [1, 2]}
        )
