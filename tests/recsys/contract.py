"""The one test mixin every recommender passes: the contract, with known answers.

The data is implicit's checkerboard: user u liked item i when u + i is even, except that user 0's
item 0 is held back. Every personalised model must put item 0 first for user 0; the nearest items
of an even item are even, the nearest users of an even user are even.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.base import NotFittedError, Recommender

__all__ = ["RecommenderContract", "checkerboard", "two_groups"]


def checkerboard(n: int = 8) -> sp.csr_matrix:
    """``(n, n)`` checkerboard with user 0's item 0 held back."""
    u, i = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    x = ((u + i) % 2 == 0).astype(np.float32)
    x[0, 0] = 0.0
    return sp.csr_matrix(x)


def two_groups(users: int = 24, items: int = 30, seed: int = 0) -> sp.csr_matrix:
    """Two taste groups of 12 artists a user: the first half of the users like the first half
    of the items. Every user has enough rows for an inner split."""
    rng = np.random.default_rng(seed)
    x = np.zeros((users, items), dtype=np.float32)
    for u in range(users):
        block = np.arange(items // 2) + (0 if u < users // 2 else items // 2)
        x[u, rng.choice(block, size=12, replace=False)] = 1.0
    return sp.csr_matrix(x)


class RecommenderContract:
    """Subclass with ``make()`` returning an unfitted model (tiny hyper-parameters)."""

    def make(self) -> Recommender:
        raise NotImplementedError

    def fit(self, model: Recommender, x: sp.csr_matrix) -> Recommender:
        return model.fit(x)

    def params(self, model: Recommender) -> object:
        """What a saved and loaded model must keep of ``model``'s hyper-parameters."""
        return model.get_params()

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls) -> Recommender:
        return cls().fit(cls().make(), checkerboard())

    def test_fit_returns_self_and_learns_state_ending_in_underscore(self) -> None:
        model = self.make()
        before = set(vars(model))
        assert self.fit(model, checkerboard()) is model
        learned = set(vars(model)) - before
        assert learned and all(n.endswith("_") for n in learned)

    def test_init_stores_params_as_given(self) -> None:
        model = self.make()
        clone = type(model)(**model.get_params())
        assert clone.get_params() == model.get_params()
        assert repr(clone) == repr(model)

    def test_unfitted_model_refuses_to_answer(self) -> None:
        with pytest.raises(NotFittedError, match="not fitted"):
            self.make().recommend([0], 3)

    def test_recommend_known_answer(self, fitted: Recommender) -> None:
        ids, scores = fitted.recommend([0], k=1)
        # personalised: the held-back item; MostPop: the most popular unseen item (odd items
        # have 4 users, item 0 only 3), ties to the smaller index
        assert ids.tolist() == ([[0]] if fitted.personalised else [[1]])
        assert np.isfinite(scores).all()

    def test_recommend_excludes_seen_and_sorts(self, fitted: Recommender) -> None:
        x = checkerboard()
        ids, scores = fitted.recommend(np.arange(8), k=4)
        assert ids.shape == scores.shape == (8, 4)
        for u in range(8):
            assert not set(ids[u]) & set(x[u].indices)
            assert (np.diff(scores[u]) <= 1e-6).all()
        seen_ids, _ = fitted.recommend([0], k=8, exclude_seen=False)
        assert set(seen_ids[0]) == set(range(8))

    def test_batches_do_not_change_answers(self, fitted: Recommender) -> None:
        whole = fitted.recommend(np.arange(8), k=3)
        batched = fitted.recommend(np.arange(8), k=3, batch_size=3)
        np.testing.assert_array_equal(whole[0], batched[0])
        np.testing.assert_allclose(whole[1], batched[1], rtol=1e-5)

    def test_similar_items_known_answer(self, fitted: Recommender) -> None:
        ids, scores = fitted.similar_items([2, 3], k=3)
        assert set(ids[0]) <= {0, 4, 6} and set(ids[1]) <= {1, 5, 7}
        assert 2 not in ids[0] and 3 not in ids[1]

    def test_similar_users_known_answer(self, fitted: Recommender) -> None:
        ids, _ = fitted.similar_users([2], k=3)
        assert set(ids[0]) <= {0, 4, 6}
        excluded, _ = fitted.similar_users([2], k=3, exclude=sp.csr_matrix(np.eye(8)[[4] * 8]))
        assert 4 not in excluded[0]

    def test_save_load_round_trip(self, fitted: Recommender, tmp_path: Path) -> None:
        path = fitted.save(tmp_path / "model")
        loaded = Recommender.load(path)
        assert type(loaded) is type(fitted) and self.params(loaded) == self.params(fitted)
        mine, theirs = loaded.recommend(np.arange(8), 3), fitted.recommend(np.arange(8), 3)
        np.testing.assert_array_equal(mine[0], theirs[0])
        np.testing.assert_allclose(mine[1], theirs[1], rtol=1e-6)
        np.testing.assert_array_equal(
            loaded.similar_items([2], 3)[0], fitted.similar_items([2], 3)[0]
        )

    def test_out_of_range_index_is_a_clear_error(self, fitted: Recommender) -> None:
        with pytest.raises(Exception, match="out of range"):
            fitted.recommend([99], 3)
