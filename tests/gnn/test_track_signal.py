"""Tracks in the GNN: their audio factors are their input, their own edges train them, and the
held-out societies' function labels reach neither the loss nor the messages (tiny graphs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from torch_geometric.data import HeteroData

from gnn.features import NodeFeatures
from gnn.graph import SERVES_FUNCTION, TRACK_CULTURE, KnowledgeGraph, training_graph
from gnn.model import HeteroLightGCN, normalised_adjacency
from gnn.train import TrainConfig, track_link_loss
from kg.export import IdMap
from recsys.gnn import HeteroGNN

#: Tracks 0-11 come from society S1, tracks 12-17 from S2 (held out). Functions alternate Dance
#: (0) and Lullaby (1); the first factor says which (+1 / -1), the other three are noise.
N_TRAIN, N_HELD = 12, 6
N = N_TRAIN + N_HELD
FUNCTION = np.arange(N) % 2
SOCIETY = np.array([0] * N_TRAIN + [1] * N_HELD)
FACTORS = np.hstack(
    [
        np.where(FUNCTION == 0, 1.0, -1.0)[:, None],
        0.3 * np.random.default_rng(0).normal(size=(N, 3)),
    ]
).astype(np.float32)
TRACKS = [f"t{i:02d}" for i in range(N)]


def _graph(held_out: frozenset[str] = frozenset({"S2"})) -> KnowledgeGraph:
    data = HeteroData()
    data["User"].num_nodes, data["Artist"].num_nodes = 4, 4
    data["Track"].num_nodes, data["Function"].num_nodes, data["Culture"].num_nodes = N, 2, 2
    data["User", "LISTENED", "Artist"].edge_index = torch.tensor([[0, 1, 2, 3], [0, 1, 2, 3]])
    data["Artist", "FROM_CULTURE", "Culture"].edge_index = torch.tensor([[0, 2], [0, 1]])
    data[TRACK_CULTURE].edge_index = torch.tensor([list(range(N)), SOCIETY.tolist()])
    data[SERVES_FUNCTION].edge_index = torch.tensor([list(range(N)), FUNCTION.tolist()])
    ids = IdMap(
        {
            "User": [0, 1, 2, 3],
            "Artist": [0, 1, 2, 3],
            "Track": TRACKS,
            "Function": ["Dance", "Lullaby"],
            "Culture": ["S1", "S2"],
        }
    )
    features = {"Track": NodeFeatures(TRACKS, FACTORS, "factors")}
    expert = pd.DataFrame(columns=["src", "dst", "kind"])
    return KnowledgeGraph(data, ids, features, expert, held_out)


def test_held_out_function_edges_are_neither_targets_nor_messages() -> None:
    kg = _graph()
    held = list(range(N_TRAIN, N))
    assert kg.hidden_tracks().tolist() == held
    targets = kg.track_targets()
    assert targets[SERVES_FUNCTION].tolist() == [list(range(N_TRAIN)), FUNCTION[:N_TRAIN].tolist()]
    assert targets[TRACK_CULTURE].shape == (2, N)  # every track's culture is public
    g = training_graph(
        kg.data,
        kg.id_map,
        listened=pd.DataFrame({"user_id": [0, 1], "artist_id": [0, 1]}),
        friends=None,
        hidden_tracks=kg.hidden_tracks(),
    )
    assert g[SERVES_FUNCTION].edge_index[0].tolist() == list(range(N_TRAIN))
    back = g["Function", "rev_SERVES_FUNCTION", "Track"].edge_index[1]
    assert sorted(back.tolist()) == list(range(N_TRAIN))
    used = kg.label_used()
    assert [used[t] for t in TRACKS] == [True] * N_TRAIN + [False] * N_HELD
    # with nothing held out every label counts
    assert _graph(frozenset()).track_targets()[SERVES_FUNCTION].shape == (2, N)


def test_function_targets_pass_no_messages_while_the_term_runs() -> None:
    kg = _graph()
    on = HeteroGNN(relations=["LISTENED", "FROM_CULTURE", "SERVES_FUNCTION"])
    assert on._message_relations(kg) == frozenset({"LISTENED", "FROM_CULTURE"})
    off = HeteroGNN(relations=["LISTENED", "SERVES_FUNCTION"], track_weight=0.0)
    assert off._message_relations(kg) == frozenset({"LISTENED", "SERVES_FUNCTION"})


def test_factors_are_the_track_input_and_tracks_have_no_id_embedding() -> None:
    kg = _graph()
    g = training_graph(
        kg.data,
        kg.id_map,
        listened=pd.DataFrame({"user_id": [0], "artist_id": [0]}),
        friends=None,
        relations=frozenset({"LISTENED", "FROM_CULTURE"}),
        features=kg.aligned_features(),
    )
    np.testing.assert_array_equal(g["Track"].x.numpy(), FACTORS)
    model = HeteroLightGCN(g, dim=4, feature_only=("Track",))
    assert "Track" not in model.inputs.emb and "Track" in model.inputs.proj
    # two tracks with the same factors and the same culture get the same embedding
    x = {"Track": g["Track"].x.clone()}
    x["Track"][1] = x["Track"][0]
    adj = {
        e: normalised_adjacency(g[e].edge_index, g[e[0]].num_nodes, g[e[2]].num_nodes)
        for e in g.edge_types
    }
    h = model(adj, x)["Track"].detach()
    torch.testing.assert_close(h[0], h[1])
    assert not torch.allclose(h[0], h[2])


def test_track_link_loss_masks_the_track_itself() -> None:
    h = {"Track": torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])}
    e = ("Track", "SIMILAR_AFFECT", "Track")
    # track 0's only candidates are 1 and 2; 2 is identical to it, so predicting 2 is easy
    easy = track_link_loss(h, {e: torch.tensor([[0], [2]])}, tau=0.1)
    hard = track_link_loss(h, {e: torch.tensor([[0], [1]])}, tau=0.1)
    assert float(easy) < 1e-3 < 5.0 < float(hard)


def _fit(seed: int, graph: KnowledgeGraph | None = None, **kw: object) -> dict[str, np.ndarray]:
    x = sp.csr_matrix(np.eye(4, dtype=np.float32))
    model = HeteroGNN(
        dim=8, epochs=30, lr=0.05, batch_size=4, negatives=0, seed=seed, cold_start=False, **kw
    )  # type: ignore[arg-type]
    model.fit(x, graph=graph or _graph(), user_ids=np.arange(4), item_ids=np.arange(4))
    return model.result_.embeddings | {"history": np.array(model.result_.history)}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_held_out_tracks_are_placed_by_their_factors(seed: int) -> None:
    # S2's labels are held out; the function learnt from S1's factors still places its tracks
    emb = _fit(
        seed,
        relations=["LISTENED", "SERVES_FUNCTION"],
        track_weight=1.0,
        track_relations=("SERVES_FUNCTION",),
    )
    nearest = (emb["Track"] @ emb["Function"].T).argmax(axis=1)
    assert nearest.tolist() == FUNCTION.tolist()
    assert "track_loss" in emb["history"][0]


def test_without_the_term_the_functions_are_not_learnt() -> None:
    # the same model without the term: Function embeddings stay where they started
    hits = []
    for seed in (0, 1, 2):
        emb = _fit(seed, relations=["LISTENED"], track_weight=0.0)
        assert "track_loss" not in emb["history"][0]
        hits.append(((emb["Track"] @ emb["Function"].T).argmax(axis=1) == FUNCTION).mean())
    assert min(hits) < 0.9


def test_similarity_edges_are_symmetric_targets_drawn_a_batch_at_a_time() -> None:
    kg = _graph()
    similar = ("Track", "SIMILAR_AFFECT", "Track")
    pairs = [[i, i + 2] for i in range(N - 2)]  # songs two apart serve the same function
    kg.data[similar].edge_index = torch.tensor(pairs + [[3, 3]]).T
    targets = kg.track_targets()[similar]
    assert targets.shape == (2, 2 * len(pairs))  # both directions, no self-pair
    assert set(map(tuple, targets.T.tolist())) == {(a, b) for a, b in pairs} | {
        (b, a) for a, b in pairs
    }
    emb = _fit(0, kg, relations=["LISTENED"], track_relations=("SIMILAR_AFFECT",))
    assert np.isfinite(emb["history"][-1]["track_loss"])  # 32 edges, 4 drawn a step


@pytest.mark.parametrize("weight", [0.0, 0.5])
def test_config_carries_the_track_settings(weight: float) -> None:
    cfg = HeteroGNN(track_weight=weight, feature_only=()).config()
    assert cfg == TrainConfig(track_weight=weight, feature_only=())
