"""The heterogeneous GNN passes the recommender contract, and its parts give known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch_geometric.data import HeteroData

from gnn.graph import CO_COLLECTED, LISTENED, training_graph
from gnn.model import Adjacency, HeteroLightGCN, normalised_adjacency, propagate
from gnn.train import TrainConfig, recall_at_k, train
from kg.export import IdMap
from loaders.errors import ConfigError
from recsys.base import Recommender
from recsys.gnn import HeteroGNN
from tests.recsys.contract import RecommenderContract, checkerboard


class TestHeteroGNNLight(RecommenderContract):
    def make(self) -> Recommender:
        return HeteroGNN(dim=8, layers=2, lr=0.05, epochs=40, batch_size=64, negatives=4, seed=0)


class TestHeteroGNNSage(RecommenderContract):
    def make(self) -> Recommender:
        return HeteroGNN(
            conv="sage", dim=8, layers=2, lr=0.02, epochs=60, batch_size=64, negatives=4, seed=0
        )


class TestHeteroGNNNeighbour(RecommenderContract):
    """The same model trained on LinkNeighborLoader sub-graphs."""

    def make(self) -> Recommender:
        return HeteroGNN(
            dim=8,
            layers=2,
            lr=0.05,
            epochs=40,
            batch_size=64,
            negatives=0,
            seed=0,
            sampler="neighbor",
            num_neighbors=(5, 5),
        )


def test_fit_is_seeded() -> None:
    x = checkerboard()
    a = HeteroGNN(dim=8, epochs=3, batch_size=64, negatives=4, seed=3).fit(x)
    b = HeteroGNN(dim=8, epochs=3, batch_size=64, negatives=4, seed=3).fit(x)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)


def test_propagation_sums_weighted_neighbours() -> None:
    # two sources → one target: each message weighs 1/sqrt(1·2)
    adj = normalised_adjacency(torch.tensor([[0, 1], [0, 0]]), 2, 1)
    out = propagate(torch.tensor([[1.0, 0.0], [0.0, 2.0]]), adj, 1)
    torch.testing.assert_close(out, torch.tensor([[2**-0.5, 2 * 2**-0.5]]))


def test_sparse_adjacency_passes_and_differentiates_as_gather_and_add() -> None:
    # a random relation with repeated edges: the CSR product (whole-graph passes) and the
    # gather + index_add triple (sampled sub-graphs) give the same messages and gradients
    g = torch.Generator().manual_seed(0)
    ei = torch.stack(
        [torch.randint(0, 30, (200,), generator=g), torch.randint(0, 20, (200,), generator=g)]
    )
    ei = torch.cat([ei, ei[:, :10]], 1)  # duplicates add up
    triple = normalised_adjacency(ei, 30, 20)
    adj = Adjacency.normalised(ei, 30, 20)
    h = torch.randn(30, 4, generator=g, requires_grad=True)
    weights = torch.randn(20, 4, generator=g)
    (a,) = torch.autograd.grad((propagate(h, triple, 20) * weights).sum(), h)
    (b,) = torch.autograd.grad((propagate(h, adj, 20) * weights).sum(), h)
    torch.testing.assert_close(propagate(h, adj, 20), propagate(h, triple, 20))
    torch.testing.assert_close(b, a)


def _toy_graph() -> tuple[HeteroData, IdMap]:
    data = HeteroData()
    data["User"].num_nodes = 2
    data["Artist"].num_nodes = 3
    data["Tag"].num_nodes = 1
    data["User", "LISTENED", "Artist"].edge_index = torch.tensor([[0, 0, 1], [0, 1, 2]])
    data["Artist", "HAS_TAG", "Tag"].edge_index = torch.tensor([[0, 2], [0, 0]])
    data["Artist", "FILM_FILM_MUSIC", "Artist"].edge_index = torch.tensor([[0], [1]])
    return data, IdMap({"User": [10, 11], "Artist": [1, 2, 3], "Tag": [7]})


def test_training_graph_rebuilds_leaky_relations_from_training_rows() -> None:
    data, ids = _toy_graph()
    listened = pd.DataFrame({"user_id": [10, 11], "artist_id": [1, 3]})  # (10, 2) held out
    g = training_graph(data, ids, listened=listened, friends=None)
    assert g[LISTENED].edge_index.tolist() == [[0, 1], [0, 2]]
    assert g["Artist", "rev_LISTENED", "User"].edge_index.tolist() == [[0, 2], [0, 1]]
    # co-collection recomputed from training plays only: no two artists share a user any more
    assert CO_COLLECTED not in g.edge_types
    # KGCN relations merged, symmetrised within one label
    assert g["Artist", "KG_RELATED", "Artist"].edge_index.tolist() == [[0, 1], [1, 0]]
    assert ("Tag", "rev_HAS_TAG", "Artist") in g.edge_types


def test_recall_at_k_known_answer() -> None:
    users = torch.eye(2)
    items = torch.tensor([[1.0, 0.0], [0.9, 0.0], [0.0, 1.0]])
    train_pairs = torch.tensor([[0], [0]])
    valid = torch.tensor([[0, 1], [1, 0]])  # user 0 → item 1 (found), user 1 → item 0
    assert recall_at_k(users, items, train_pairs, valid, k=1) == pytest.approx(0.5)


def test_expert_constraints_pull_must_links_together() -> None:
    data = HeteroData()
    data["User"].num_nodes, data["Artist"].num_nodes, data["Track"].num_nodes = 2, 2, 4
    data[LISTENED].edge_index = torch.tensor([[0, 1], [0, 1]])
    data["Artist", "rev_LISTENED", "User"].edge_index = torch.tensor([[0, 1], [0, 1]])
    must = (torch.tensor([0, 0]), torch.tensor([1, 2]), torch.tensor([True, False]))
    cfg = TrainConfig(dim=8, epochs=30, lr=0.05, batch_size=2, negatives=2, expert_weight=5.0)
    t = torch.from_numpy(
        train(data, valid=None, config=cfg, expert=must, progress=False).embeddings["Track"]
    )
    assert float(t[0] @ t[1]) > float(t[0] @ t[2])


def test_gates_start_as_an_average_per_target() -> None:
    data, ids = _toy_graph()
    g = training_graph(
        data, ids, listened=pd.DataFrame({"user_id": [10], "artist_id": [1]}), friends=None
    )
    gates = HeteroLightGCN(g, dim=4).gates()
    into_artist = [w for (_, _, d), w in gates.items() if d == "Artist"]
    assert sum(into_artist) == pytest.approx(1.0)


def test_unknown_sampler_and_hop_mismatch_are_clear_errors() -> None:
    data, _ = _toy_graph()
    with pytest.raises(ConfigError, match="sampler"):
        train(data, valid=None, config=TrainConfig(sampler="random"), progress=False)
    data["Artist", "rev_LISTENED", "User"].edge_index = data[LISTENED].edge_index.flip(0)
    cfg = TrainConfig(sampler="neighbor", layers=2, num_neighbors=(5,), dim=4, epochs=1)
    with pytest.raises(ConfigError, match="num_neighbors"):
        train(data, valid=None, config=cfg, progress=False)


def test_neighbour_sampling_is_seeded() -> None:
    x = checkerboard()
    kw = dict(dim=8, epochs=2, batch_size=64, seed=3, sampler="neighbor", num_neighbors=(3, 3))
    a = HeteroGNN(**kw).fit(x)  # type: ignore[arg-type]
    b = HeteroGNN(**kw).fit(x)  # type: ignore[arg-type]
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)


def test_sage_leaves_labels_without_messages_as_they_are() -> None:
    # Tag receives nothing once HAS_TAG is left out: to_hetero must not be asked to update it
    data, ids = _toy_graph()
    g = training_graph(
        data,
        ids,
        listened=pd.DataFrame({"user_id": [10, 11], "artist_id": [1, 3]}),
        friends=None,
        relations=frozenset({"LISTENED"}),
    )
    g["Tag"].num_nodes = 1
    cfg = TrainConfig(conv="sage", dim=4, epochs=2, batch_size=2, negatives=0)
    emb = train(g, valid=None, config=cfg, progress=False).embeddings
    assert emb["Tag"].shape == (1, 4) and emb["User"].shape == (2, 4)


def test_co_top_k_keeps_the_strongest_co_collected_artists() -> None:
    data, ids = _toy_graph()
    # artist 1 shares two users with artist 2 and one with artist 3
    listened = pd.DataFrame({"user_id": [10, 10, 11, 11, 11], "artist_id": [1, 2, 1, 2, 3]})
    g = training_graph(data, ids, listened=listened, friends=None, co_top_k=1)
    co = g[CO_COLLECTED].edge_index
    assert torch.bincount(co[0]).max() == 1
    assert co[1, co[0] == 0].tolist() == [1]  # artist 1 (index 0) → artist 2 (index 1)


def test_gnn_train_names_the_module() -> None:
    # a package-level re-export of the training function once shadowed the module, so that
    # `import gnn.train as t` gave the function and patching `t.X` silently did nothing
    import importlib
    import types

    import gnn
    import gnn.train as t

    assert isinstance(t, types.ModuleType) and t is importlib.import_module("gnn.train")
    assert isinstance(gnn.train, types.ModuleType) and callable(t.train)
