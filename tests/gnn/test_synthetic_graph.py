"""The training graph of a synthetic folder: one edge per CSV row, contiguous ids, trainable."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gnn.synthetic import LABELS, RELATIONS, node_id, synthetic_graph
from gnn.train import TrainConfig, train
from loaders.errors import DataError
from loaders.synth import SynthSummary, generate

NODE_FILES = {
    "User": "users",
    "Track": "tracks",
    "Artist": "artists",
    "Playlist": "playlists",
    "Culture": "cultures",
    "Function": "functions",
}


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> SynthSummary:
    out = tmp_path_factory.mktemp("synth")
    return generate(
        out, users=300, tracks=400, artists=40, plays=6000, cultures=20, seed=3, netease_json=False
    )


def _csv(synth: SynthSummary, name: str) -> pd.DataFrame:
    return pd.read_csv(synth.bulk[name], dtype=str, keep_default_na=False)


def _index(ids: pd.Series, order: list[str]) -> np.ndarray:
    return pd.Index(order).get_indexer(ids.to_numpy())


def test_counts_equal_the_csv_rows(synth: SynthSummary) -> None:
    # a small block forces several blocks per file, so rows are not lost between them
    g = synthetic_graph(synth.out_dir, block_size=4096)
    for label, name in NODE_FILES.items():
        assert g.data[label].num_nodes == len(_csv(synth, name))
    for name, (src, rel, dst) in RELATIONS.items():
        rows = len(_csv(synth, name))
        assert g.relationships[src, rel, dst] == rows
        if src != dst:
            assert g.data[src, rel, dst].num_edges == rows
            assert g.data[dst, f"rev_{rel}", src].num_edges == rows
    # within one label: FRIEND is written in both directions, PART_OF gets its reverse added
    assert g.data["User", "FRIEND", "User"].num_edges == 2 * synth.friendships
    assert g.data["Culture", "PART_OF", "Culture"].num_edges == 2 * (
        synth.societies + synth.regions
    )
    assert g.data["User", "LISTENED", "Artist"].num_edges == synth.listened
    assert len(g.data.edge_types) == 2 * len(RELATIONS) - 2
    g.data.validate()


def test_a_relation_and_its_reverse_share_one_buffer(synth: SynthSummary) -> None:
    g = synthetic_graph(synth.out_dir)
    rows = g.relationships
    between = sum(n for (src, _, dst), n in rows.items() if src != dst)
    # int64 indices: 24 bytes a relationship between two labels ([src; dst; src]), 16 a FRIEND
    # row, 32 a PART_OF row (both directions), and the float32 factors
    expected = (
        24 * between
        + 16 * rows["User", "FRIEND", "User"]
        + 32 * rows["Culture", "PART_OF", "Culture"]
        + 4 * 48 * synth.tracks
    )
    assert g.nbytes() == expected


def test_ids_are_contiguous_indices_in_file_order(synth: SynthSummary) -> None:
    g = synthetic_graph(synth.out_dir)
    users = _csv(synth, "users").iloc[:, 0].tolist()
    artists = _csv(synth, "artists").iloc[:, 0].tolist()
    cultures = _csv(synth, "cultures").iloc[:, 0].tolist()
    assert [node_id(g, "User", i) for i in range(len(users))] == users
    assert list(g.named_ids["Culture"]) == cultures

    listened = _csv(synth, "listened")
    ei = g.data["User", "LISTENED", "Artist"].edge_index
    assert ei.dtype == torch.long
    assert ei[0].tolist() == _index(listened.iloc[:, 0], users).tolist()
    assert ei[1].tolist() == _index(listened.iloc[:, 1], artists).tolist()
    assert torch.equal(g.data["Artist", "rev_LISTENED", "User"].edge_index, ei.flip(0))

    culture = _csv(synth, "from_culture")
    fc = g.data["Track", "FROM_CULTURE", "Culture"].edge_index
    assert fc[1].tolist() == _index(culture.iloc[:, 1], cultures).tolist()
    # every track has its society: the known answer of the generator
    assert sorted(fc[0].tolist()) == list(range(synth.tracks))

    part_of = g.data["Culture", "PART_OF", "Culture"].edge_index
    pairs = set(zip(part_of[0].tolist(), part_of[1].tolist(), strict=True))
    assert all((b, a) in pairs for a, b in pairs)
    for e in g.data.edge_types:
        src, _, dst = e
        e_i = g.data[e].edge_index
        assert int(e_i[0].max()) < g.data[src].num_nodes
        assert int(e_i[1].max()) < g.data[dst].num_nodes


def test_tracks_carry_the_factors_and_other_labels_none(synth: SynthSummary) -> None:
    g = synthetic_graph(synth.out_dir)
    assert torch.equal(g.data["Track"].x, torch.from_numpy(np.load(synth.factors)))
    assert [label for label in LABELS if "x" in g.data[label]] == ["Track"]


def test_relations_filter_keeps_listened(synth: SynthSummary) -> None:
    g = synthetic_graph(synth.out_dir, relations={"PERFORMED_BY"})
    assert {rel for _, rel, _ in g.data.edge_types} == {
        "LISTENED",
        "rev_LISTENED",
        "PERFORMED_BY",
        "rev_PERFORMED_BY",
    }
    with pytest.raises(ValueError, match="unknown relationship type.*CO_COLLECTED"):
        synthetic_graph(synth.out_dir, relations={"CO_COLLECTED"})


def test_bad_folders_are_one_line_errors(synth: SynthSummary, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such folder"):
        synthetic_graph(tmp_path / "missing")
    copy = tmp_path / "copy"
    shutil.copytree(synth.out_dir, copy)
    listened = copy / "bulk" / "listened.csv"
    lines = listened.read_text().splitlines()
    lines[3] = "netease:999999," + lines[3].split(",", 1)[1]
    listened.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"listened\.csv.*line 4.*User netease:999999 does not"):
        synthetic_graph(copy)
    lines[3] = "user-7," + lines[3].split(",", 1)[1]
    listened.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"line 4.*'user-7' is not netease:<n>"):
        synthetic_graph(copy)


def test_neighbour_sampled_training_learns_on_it(synth: SynthSummary) -> None:
    g = synthetic_graph(synth.out_dir)
    config = TrainConfig(
        sampler="neighbor", num_neighbors=(5, 3), dim=16, epochs=4, patience=4, batch_size=128
    )
    result = train(g.data, valid=None, config=config, progress=False)
    losses = [row["loss"] for row in result.history]
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0]
    for label in LABELS:
        emb = result.embeddings[label]
        assert emb.shape == (g.data[label].num_nodes, 16)
        assert np.isfinite(emb).all()
