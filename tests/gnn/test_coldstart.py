"""Cold-start artists: embeddings predicted from features, one score offset (known answers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gnn.coldstart import choose_offset, cold_start
from recsys.base import Recommender
from recsys.gnn import HeteroGNN
from tests.recsys.contract import checkerboard


def _genres() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Six artists of two genres (one-hot features); artist 2 (genre A) and 5 (none) are cold."""
    x = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 1], [0, 0]], dtype=np.float64)
    emb = np.array([[1, 0], [1, 0], [-1, 0], [0, 1], [0, 1], [0.6, 0.8]], dtype=np.float32)
    listeners = np.array([3, 2, 0, 2, 5, 0])
    return emb, x, listeners


def test_cold_artists_get_the_embedding_their_features_predict() -> None:
    emb, x, listeners = _genres()
    out, cold = cold_start(emb, x, listeners, ridge=1e-6, min_listeners=2)
    assert cold.tolist() == [False, False, True, False, False, False]
    np.testing.assert_allclose(out[2], [1.0, 0.0], atol=1e-4)  # genre A's direction
    np.testing.assert_array_equal(out[[0, 1, 3, 4, 5]], emb[[0, 1, 3, 4, 5]])  # untouched


def test_offset_is_chosen_only_when_it_finds_held_out_items() -> None:
    emb, x, listeners = _genres()
    items, cold = cold_start(emb, x, listeners, ridge=1e-6)
    users = np.array([[1.0, 0.0], [0.0, 1.0]])
    train = np.array([[0, 0, 1, 1], [0, 1, 3, 4]])
    # user 0 (genre A) holds out the cold genre-A artist: reaching it pays
    offset, recall = choose_offset(users, items, cold, train, np.array([[0], [2]]), k=1)
    assert offset is not None and recall[offset] == 1.0 and recall[float("-inf")] == 0.0
    # user 1 holds out artist 5 (no features, never predicted): no offset helps, none is used
    offset, recall = choose_offset(users, items, cold, train, np.array([[1], [5]]), k=1)
    assert offset is None


def test_offset_moves_scores_and_survives_save(tmp_path: Path) -> None:
    x = checkerboard()
    model = HeteroGNN(dim=8, epochs=2, batch_size=64, negatives=4, seed=0).fit(x)
    # a bare graph has no features: nothing is cold-started
    assert not model.item_offset_.any() and np.isnan(model.cold_offset_)
    model.item_offset_ = np.zeros(x.shape[1], dtype=np.float32)
    model.item_offset_[3] = 100.0
    ids, _ = model.recommend(np.array([1]), k=1, exclude_seen=False)
    assert ids[0, 0] == 3
    loaded = Recommender.load(model.save(tmp_path / "gnn"))
    assert loaded.recommend(np.array([1]), k=1, exclude_seen=False)[0][0, 0] == 3
