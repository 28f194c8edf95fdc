"""ALS and BPR (implicit, CPU) and the :class:`~recsys.tuning.Tuned` meta-estimator.

Known answers on block matrices: two groups of users, each listening to its own block of items
only, so the item a user has not heard yet in their own block is the one to recommend, and an
item's neighbours are the other items of its block.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import implicit.utils
import numpy as np
import pytest
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from loaders.errors import SoundbridgeError
from recsys.base import Recommender
from recsys.ease import EASE
from recsys.embedding import EmbeddingRecommender
from recsys.mf import ALS, BPR, log_confidence
from recsys.tuning import Tuned


def blocks(users: int = 6, items: int = 5) -> np.ndarray:
    """Two groups of ``users`` users, each group listening to every item of its own block."""
    return np.kron(np.eye(2), np.ones((users, items))).astype(np.float32)


def held_back() -> sp.csr_matrix:
    """``blocks()`` with users 0, 1 (items 0–4) and 6, 7 (items 5–9) missing one item each."""
    x = blocks()
    x[0, 0] = x[1, 1] = x[6, 5] = x[7, 6] = 0.0
    return sp.csr_matrix(x)


def small_als(**kw: Any) -> ALS:
    return ALS(**{"factors": 4, "regularization": 0.1, "iterations": 10, **kw})


def small_bpr(**kw: Any) -> BPR:
    return BPR(**{"factors": 4, "learning_rate": 0.05, "iterations": 200, **kw})


MODELS = [small_als, small_bpr]


# -- ALS and BPR ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make", MODELS, ids=["ALS", "BPR"])
def test_recommends_the_unheard_item_of_the_users_own_block(make: Any) -> None:
    model = make().fit(held_back())
    ids, scores = model.recommend([0, 1, 6, 7], k=1)
    assert ids.tolist() == [[0], [1], [5], [6]]
    assert np.isfinite(scores).all()


@pytest.mark.parametrize("make", MODELS, ids=["ALS", "BPR"])
def test_nearest_items_and_users_stay_in_their_block(make: Any) -> None:
    model = make().fit(held_back())
    items, _ = model.similar_items([2, 8], k=4)
    assert set(items[0]) == {0, 1, 3, 4} and set(items[1]) == {5, 6, 7, 9}
    users, _ = model.similar_users([3], k=5)
    assert set(users[0]) == {0, 1, 2, 4, 5}


def test_factor_shapes_and_dtype() -> None:
    x = held_back()
    als, bpr = small_als().fit(x), small_bpr().fit(x)
    assert als.user_factors_.shape == (12, 4) and als.item_factors_.shape == (10, 4)
    # implicit's BPR carries the item bias as one more dimension (users hold 1 there)
    assert bpr.user_factors_.shape == (12, 5) and bpr.item_factors_.shape == (10, 5)
    np.testing.assert_array_equal(bpr.user_factors_[:, -1], 1.0)
    for m in (als, bpr):
        assert isinstance(m, EmbeddingRecommender)
        assert m.user_factors_.dtype == m.item_factors_.dtype == np.float32


@pytest.mark.parametrize(
    "make",
    [*MODELS, lambda **kw: small_als(threads=2, **kw)],
    ids=["ALS", "BPR", "ALS-2-threads"],
)
def test_same_seed_same_factors_other_seed_other_factors(make: Any) -> None:
    x = held_back()
    a, b, c = make().fit(x), make().fit(x), make(seed=1).fit(x)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    assert not np.array_equal(a.item_factors_, c.item_factors_)


def test_log_confidence_known_values() -> None:
    x = sp.csr_matrix(np.array([[0.0, 1.0], [9.0, 0.0]], dtype=np.float32))
    c = log_confidence(x, 0.5)
    np.testing.assert_allclose(c.toarray(), [[0.0, 1 + 0.5 * np.log(2)], [1 + 0.5 * np.log(10), 0]])
    assert c.dtype == np.float32 and x[1, 0] == 9.0  # the input is left alone


def test_als_weighs_play_counts_and_bpr_ignores_them() -> None:
    x = held_back()
    counts = x.copy()
    counts.data = np.arange(1, counts.nnz + 1, dtype=np.float32)
    # alpha = 0: every listened pair has confidence 1, whatever its count
    np.testing.assert_array_equal(
        small_als(alpha=0.0).fit(counts).user_factors_, small_als(alpha=0.0).fit(x).user_factors_
    )
    assert not np.array_equal(
        small_als().fit(counts).user_factors_, small_als().fit(x).user_factors_
    )
    np.testing.assert_array_equal(
        small_bpr().fit(counts).user_factors_, small_bpr().fit(x).user_factors_
    )


def test_implicit_blas_thread_warning_does_not_escape(monkeypatch: pytest.MonkeyPatch) -> None:
    # implicit warns once per process about a multi-threaded BLAS; re-arm the check
    monkeypatch.setattr(implicit.utils, "_checked_blas_config", False)
    with threadpool_limits(2, "blas"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        AlternatingLeastSquares(factors=2)
    if not any("threads" in str(w.message) for w in caught):
        pytest.skip("this BLAS is single-threaded here: implicit has nothing to warn about")
    monkeypatch.setattr(implicit.utils, "_checked_blas_config", False)
    with threadpool_limits(2, "blas"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        small_als().fit(held_back())
        small_bpr().fit(held_back())
    assert [str(w.message) for w in caught] == []


# -- Tuned -------------------------------------------------------------------------------------


def tuning_data() -> sp.csr_matrix:
    """Blocks of 10 users × 12 items: the inner split (20%) holds back 2 of each user's 12."""
    return sp.csr_matrix(blocks(users=10, items=12))


def tuned(grid: dict[str, list[Any]], estimator: Recommender | None = None) -> Tuned:
    model = estimator or EASE(min_item_users=1)
    return Tuned(model, grid, fraction=0.2, seed=0, k=2)


def test_tuned_picks_the_value_that_ranks_on_the_inner_split() -> None:
    # a ridge of -1e6 makes (XᵀX + λI)⁻¹ ≈ -(I + XᵀX/1e6)/1e6, so EASE's weights are ≈ -XᵀX/1e6:
    # it ranks the items a user's own block co-occurs with last, and finds none of the 2 held
    # back in its top 2. A ridge of 1 finds both. The broken value comes first, so a tie rule
    # cannot rescue a search that does not score.
    t = tuned({"l2": [-1e6, 1.0]}).fit(tuning_data())
    assert t.best_params_ == {"l2": 1.0}
    assert t.tuning_ == [{"l2": -1e6, "recall": 0.0}, {"l2": 1.0, "recall": 1.0}]
    assert t.best_estimator_.get_params() == {"l2": 1.0, "min_item_users": 1}


def test_tuned_keeps_the_first_of_equal_scores_and_walks_the_grid_in_order() -> None:
    assert tuned({"l2": [2.0, 1.0]}).fit(tuning_data()).best_params_ == {"l2": 2.0}
    t = tuned({"l2": [1.0, 2.0], "min_item_users": [1, 2]}).fit(tuning_data())
    assert [(r["l2"], r["min_item_users"]) for r in t.tuning_] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert t.best_params_ == {"l2": 1.0, "min_item_users": 1}


def test_tuned_refits_on_the_whole_matrix_and_answers_with_it() -> None:
    x = tuning_data()
    x[0, 0] = 0.0
    x.eliminate_zeros()
    t = tuned({"l2": [-1e6, 1.0]}).fit(x)
    assert t.best_estimator_.interactions_.nnz == x.nnz == t.interactions_.nnz
    assert t.recommend([0], k=1)[0].tolist() == [[0]]
    for mine, theirs in zip(
        t.recommend(np.arange(20), 3), t.best_estimator_.recommend(np.arange(20), 3), strict=True
    ):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(
        t.similar_items([3], 4)[0], t.best_estimator_.similar_items([3], 4)[0]
    )


def test_tuned_save_writes_the_tuned_model(tmp_path: Path) -> None:
    t = tuned({"l2": [-1e6, 1.0]}).fit(tuning_data())
    loaded = Recommender.load(t.save(tmp_path / "tuned"))
    assert type(loaded) is EASE and loaded.get_params() == t.best_estimator_.get_params()
    users = np.arange(20)
    mine, theirs = (
        loaded.recommend(users, 3, exclude_seen=False),
        t.recommend(users, 3, exclude_seen=False),
    )
    np.testing.assert_array_equal(mine[0], theirs[0])
    np.testing.assert_allclose(mine[1], theirs[1], rtol=1e-6)


def test_tuned_params_repr_and_estimator_left_unfitted() -> None:
    base = small_als(seed=5)
    t = Tuned(base, {"factors": [2, 4]}, fraction=0.2, seed=3, k=2)
    clone = Tuned(**t.get_params())
    assert clone.get_params() == t.get_params() and repr(clone) == repr(t)
    assert repr(t).startswith("Tuned(estimator=ALS(factors=4, ")
    t.fit(tuning_data())
    # the copies are seeded by the meta-estimator; what it was given is never touched
    assert t.best_estimator_.seed == 3  # type: ignore[attr-defined]
    assert base.seed == 5 and not base.is_fitted
    assert set(vars(t)) - set(t.get_params()) == {
        "interactions_",
        "best_params_",
        "tuning_",
        "best_estimator_",
    }


class Recording(EASE):
    """EASE that notes the side information each fit receives."""

    calls: list[list[str]] = []

    def _fit(self, interactions: sp.csr_matrix, **side: Any) -> None:
        Recording.calls.append(sorted(side))
        super()._fit(interactions, **side)


def test_tuned_passes_side_information_to_every_fit() -> None:
    Recording.calls.clear()
    tuned({"l2": [1.0, 2.0]}, Recording(min_item_users=1)).fit(
        tuning_data(), valid=tuning_data(), progress=False
    )
    assert Recording.calls == [["progress", "valid"]] * 3


def test_tuned_errors_name_the_fix() -> None:
    with pytest.raises(SoundbridgeError, match="'l3' not a hyper-parameter of EASE.*l2"):
        tuned({"l3": [1.0]}).fit(tuning_data())
    with pytest.raises(SoundbridgeError, match="no user has 10 items; lower min_items"):
        tuned({"l2": [1.0]}).fit(held_back())
