"""Data-parallel training (gnn.distributed): two gloo processes on a tiny graph train the model one
process trains — the same gradient at a step, the same parameters on both — and bad launches are
refused in one line."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
import torch.multiprocessing as tmp
from torch import nn
from torch_geometric.data import HeteroData

from gnn.distributed import Replicas, current, data_parallel
from gnn.features import NodeFeatures
from gnn.graph import SERVES_FUNCTION, TRACK_CULTURE, KnowledgeGraph, training_graph
from gnn.train import TrainConfig, train
from kg.export import IdMap
from loaders.errors import ConfigError
from recsys.gnn import HeteroGNN
from soundbridge.cli import main
from tests.conftest import free_port

#: 8 users in two taste groups of 12 artists, each listening to 11 of their group's; 18 tracks of
#: 2 cultures with 4 audio factors; friends within a group; 5 expert constraints. Odd sizes
#: everywhere, so that the two replicas' shares differ in size (3 and 4 pairs of a batch of 7).
USERS, ARTISTS, TRACKS = 8, 24, 18
LISTENED = [
    (u, a) for u in range(USERS) for a in range(ARTISTS) if (a < 12) == (u < 4) and a % 12 != u % 4
]
FRIENDS = [(0, 1), (1, 2), (2, 3), (4, 5), (5, 6), (6, 7), (0, 3)]
EXPERT = pd.DataFrame(
    {
        "src": ["t00", "t02", "t04", "t01", "t03"],
        "dst": ["t06", "t08", "t05", "t07", "t10"],
        "kind": ["must_link", "must_link", "cannot_link", "must_link", "cannot_link"],
    }
)
CONFIG = TrainConfig(dim=8, batch_size=7, epochs=2, patience=2, seed=3, threads=1)


def _kg() -> KnowledgeGraph:
    data = HeteroData()
    data["User"].num_nodes, data["Artist"].num_nodes, data["Track"].num_nodes = (
        USERS,
        ARTISTS,
        TRACKS,
    )
    data["Function"].num_nodes, data["Culture"].num_nodes = 2, 2
    data["User", "LISTENED", "Artist"].edge_index = torch.tensor(LISTENED).T
    data["Artist", "FROM_CULTURE", "Culture"].edge_index = torch.tensor(
        [list(range(ARTISTS)), [a % 2 for a in range(ARTISTS)]]
    )
    data[TRACK_CULTURE].edge_index = torch.tensor([list(range(TRACKS)), [t % 2 for t in range(18)]])
    data[SERVES_FUNCTION].edge_index = torch.tensor(
        [list(range(TRACKS)), [t % 3 % 2 for t in range(18)]]
    )
    names = [f"t{i:02d}" for i in range(TRACKS)]
    ids = IdMap(
        {
            "User": list(range(USERS)),
            "Artist": list(range(ARTISTS)),
            "Track": names,
            "Function": ["Dance", "Lullaby"],
            "Culture": ["S1", "S2"],
        }
    )
    factors = np.random.default_rng(0).normal(size=(TRACKS, 4)).astype(np.float32)
    features = {"Track": NodeFeatures(names, factors, "factors")}
    return KnowledgeGraph(data, ids, features, EXPERT)


def _inputs() -> dict[str, Any]:
    """What :func:`train` gets: the training graph (every pair listened), expert, targets."""
    kg = _kg()
    graph = training_graph(
        kg.data,
        kg.id_map,
        listened=pd.DataFrame(LISTENED, columns=["user_id", "artist_id"]),
        friends=pd.DataFrame(
            FRIENDS + [(b, a) for a, b in FRIENDS], columns=["user_id", "friend_id"]
        ),
        features=kg.aligned_features(),
        relations=frozenset({"LISTENED", "FRIEND", "FROM_CULTURE"}),
    )
    valid = torch.tensor([[0, 4], [0, 12]])  # users 0 and 4: their group's unlistened artist
    return {
        "graph": graph,
        "valid": valid,
        "expert": kg.expert_tensors(),
        "track_targets": kg.track_targets(),
    }


def _interactions() -> tuple[sp.csr_matrix, sp.csr_matrix]:
    u, a = np.array(LISTENED).T
    x = sp.csr_matrix((np.ones(len(u), np.float32), (u, a)), shape=(USERS, ARTISTS))
    f, g = np.array(FRIENDS).T
    friends = sp.csr_matrix((np.ones(len(f)), (f, g)), shape=(USERS, USERS))
    return x, (friends + friends.T).tocsr()


def _recommender() -> HeteroGNN:
    return HeteroGNN(
        dim=8, batch_size=7, epochs=3, patience=3, seed=3, threads=1, inner_fraction=0.25,
        relations=["LISTENED", "FRIEND", "FROM_CULTURE"], cold_start=False,
    )  # fmt: skip


@dataclass(frozen=True)
class _Recording(Replicas):
    """Replicas that keep every step's averaged gradients (in parameter order)."""

    steps: list[list[torch.Tensor | None]] = field(default_factory=list)

    def average_gradients(self, params: Any) -> None:
        ps = list(params)
        super().average_gradients(ps)
        self.steps.append([None if p.grad is None else p.grad.clone() for p in ps])


def _replica(rank: int, world: int, port: int, out: Path) -> None:
    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    with data_parallel() as joined:
        rec = _Recording(rank=joined.rank, world=joined.world)
        result = train(
            **_inputs(),
            config=CONFIG,
            replicas=rec,
            progress=False,
            checkpoint_dir=out / f"ck{rank}",
        )
        # the recommender under the block: inner split, refit, every train() call distributed
        x, friends = _interactions()
        model = _recommender().fit(x, graph=_kg(), friends=friends)
        try:  # replicas that read different data are stopped, every one of them
            joined.check_same("graph size", [100.0 + rank])
            differ = ""
        except ConfigError as e:
            differ = str(e)
        torch.save(
            {
                "differ": differ,
                "steps": rec.steps,
                "embeddings": result.embeddings,
                "history": result.history,
                "factors": (model.user_factors_, model.item_factors_),
                "model_history": model.history_,
            },
            out / f"rank{rank}.pt",
        )


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """What each of two gloo replicas trained (spawned processes)."""
    out = tmp_path_factory.mktemp("replicas")
    tmp.spawn(_replica, args=(2, free_port(), out), nprocs=2, join=True)
    return [torch.load(out / f"rank{r}.pt", weights_only=False) | {"dir": out} for r in range(2)]


def test_the_averaged_gradient_is_the_single_process_gradient_of_the_whole_step(
    two: list[dict[str, Any]],
) -> None:
    one = _Recording()
    train(**_inputs(), config=CONFIG, replicas=one, progress=False)
    # the first step: the same parameters, the whole batch of 7 pairs shared out 3 + 4, the
    # friend draws 3 + 4, the expert constraints 2 + 3, the track edges 3 + 4 per relation
    first = one.steps[0]
    assert sum(g is not None for g in first) >= 3
    for rank in two:
        for g1, g2 in zip(first, rank["steps"][0], strict=True):
            assert (g1 is None) == (g2 is None)
            if g1 is not None:
                torch.testing.assert_close(g2, g1, atol=1e-6, rtol=1e-5)
    assert len(two[0]["steps"]) == len(one.steps)  # the same number of steps (2 epochs of 5)


def test_the_replicas_end_with_the_same_parameters(two: list[dict[str, Any]]) -> None:
    a, b = two
    for label, emb in a["embeddings"].items():
        np.testing.assert_array_equal(emb, b["embeddings"][label])
    assert a["history"] == b["history"]  # replica 0's recall and clock, the mean loss
    np.testing.assert_array_equal(a["factors"][0], b["factors"][0])
    np.testing.assert_array_equal(a["factors"][1], b["factors"][1])
    np.testing.assert_array_equal(a["model_history"][:, :3], b["model_history"][:, :3])


def test_two_replicas_train_the_single_process_model(two: list[dict[str, Any]]) -> None:
    single = train(**_inputs(), config=CONFIG, progress=False)
    for label, emb in single.embeddings.items():
        np.testing.assert_allclose(two[0]["embeddings"][label], emb, atol=1e-4)
    assert [h["recall"] for h in two[0]["history"]] == [h["recall"] for h in single.history]
    np.testing.assert_allclose(
        [h["loss"] for h in two[0]["history"]], [h["loss"] for h in single.history], rtol=1e-5
    )
    x, friends = _interactions()
    model = _recommender().fit(x, graph=_kg(), friends=friends)
    assert model.refit_epochs_ > 0
    np.testing.assert_allclose(two[0]["factors"][1], model.item_factors_, atol=1e-4)


def test_only_the_first_replica_writes_checkpoints(two: list[dict[str, Any]]) -> None:
    out = two[0]["dir"]
    assert (out / "ck0" / "best.pt").is_file()
    assert not (out / "ck1").exists()


def test_replicas_that_read_different_data_all_stop(two: list[dict[str, Any]]) -> None:
    for rank in two:
        assert rank["differ"].startswith(
            "replica 1's graph size ([101.0]) differs from replica 0's ([100.0]): every process "
            "must read the same data"
        )


def test_shares_cover_the_batch_and_weigh_to_its_mean() -> None:
    t = torch.arange(7)
    shares = [Replicas(rank=r, world=3).own(t).tolist() for r in range(3)]
    assert shares == [[0, 1], [2, 3], [4, 5, 6]]
    # per-share means of 0..6 weighed and averaged: the mean of the whole, 3
    means = [
        Replicas(rank=r, world=3).mean(torch.tensor(float(np.mean(s))), 7)
        for r, s in enumerate(shares)
    ]
    assert float(sum(means) / 3) == pytest.approx(3.0)
    assert float(Replicas(rank=0, world=8).mean(torch.tensor(float("nan")), 7)) == 0.0


def test_outside_torchrun_the_launch_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for v in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK"):
        monkeypatch.delenv(v, raising=False)
    launch = r"torchrun --nproc-per-node 2 --no-python soundbridge"
    with pytest.raises(ConfigError, match=launch), data_parallel():
        pass
    assert current() is None


def test_bad_launches_are_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for v in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(v, raising=False)
    assert main(["gnn", "train", "--distributed"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("error: --distributed needs the variables torchrun sets (RANK, ")
    assert "launch it with torchrun, e.g. `torchrun --nproc-per-node 2" in err
    # torchrun's processes without --distributed would each train alone
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["gnn", "train"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--distributed is missing" in err
    monkeypatch.setenv("WORLD_SIZE", "two")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "1")
    assert main(["gnn", "train", "--distributed"]) == 1
    assert "must be whole numbers" in capsys.readouterr().err


def test_what_one_process_alone_can_do_is_refused_on_several() -> None:
    two = Replicas(rank=0, world=2)
    with pytest.raises(ConfigError, match="'neighbor' sampler runs in one process only"):
        train(**_inputs(), config=TrainConfig(sampler="neighbor"), replicas=two, progress=False)
    with pytest.raises(ConfigError, match="batch_size 1 is smaller than the 2 replicas"):
        train(**_inputs(), config=TrainConfig(batch_size=1), replicas=two, progress=False)


def test_one_process_is_the_identity() -> None:
    one = Replicas()
    t = torch.arange(5)
    assert one.own(t) is t and one.agree([1.5, 2.0]) == [1.5, 2.0]
    p = nn.Parameter(torch.ones(2))
    p.grad = torch.full((2,), 3.0)
    one.average_gradients([p])
    assert p.grad.tolist() == [3.0, 3.0]
