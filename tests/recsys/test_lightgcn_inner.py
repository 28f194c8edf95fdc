"""LightGCN chooses its epoch on an inner split of its own rows, reproducibly.

The data: eight blocks of 6 users, each user listening to every one of its block's 12 artists
and, at random (seed 0), to one artist in ten of the others. The inner split holds back 10% of
each user's rows; the validation curve climbs for a few epochs, then early stopping ends it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from gnn.lightgcn import train_lightgcn
from recsys.base import Recommender
from recsys.lightgcn import LightGCN
from recsys.split import inner_split
from tests.recsys.contract import checkerboard

SMALL: dict[str, Any] = {"dim": 8, "layers": 2, "lr": 0.02, "batch_size": 64, "seed": 0}


def noisy_blocks() -> sp.csr_matrix:
    blocks = np.kron(np.eye(8), np.ones((6, 12)))
    noise = np.random.default_rng(0).random(blocks.shape) < 0.1
    return sp.csr_matrix(np.maximum(blocks, noise).astype(np.float32))


def small(**kw: Any) -> LightGCN:
    return LightGCN(**{**SMALL, "epochs": 30, "patience": 3, **kw})


def recall_at_20(scores: np.ndarray, seen: sp.csr_matrix, truth: sp.csr_matrix) -> float:
    scores = scores.copy()
    scores[seen.nonzero()] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :20]
    found = [len(set(top[u]) & set(truth[u].indices)) / truth[u].nnz for u in range(len(top))]
    return float(np.mean(found))


@pytest.fixture(scope="module")
def fitted() -> LightGCN:
    return small().fit(noisy_blocks())


def test_same_seed_gives_the_same_factors(fitted: LightGCN) -> None:
    again = small().fit(noisy_blocks())
    np.testing.assert_array_equal(again.user_factors_, fitted.user_factors_)
    np.testing.assert_array_equal(again.item_factors_, fitted.item_factors_)
    np.testing.assert_array_equal(again.history_[:, :3], fitted.history_[:, :3])


def test_the_epoch_is_chosen_on_the_inner_split(fitted: LightGCN) -> None:
    x = noisy_blocks()
    fit_x, check_x = inner_split(x, fraction=0.1, seed=0)
    recall = fitted.history_[:, 2]
    assert np.isfinite(recall).all() and recall[-1] < recall.max()
    assert fitted.best_epoch_ == int(np.argmax(recall)) > 0
    assert fitted.stopped_by_ == "patience" and len(recall) == fitted.best_epoch_ + 1 + 3
    users = np.arange(x.shape[0])
    scores, rows = fitted.inner_scores(users)
    assert scores.shape == x.shape
    assert rows.nnz == x.nnz - check_x.nnz and (rows != fit_x).nnz == 0
    # the inner state is the one validated: its scores give the best epoch's recall
    assert recall_at_20(scores, rows, check_x) == pytest.approx(recall[fitted.best_epoch_])


def test_the_final_factors_are_the_kept_state_propagated_over_every_row(
    fitted: LightGCN,
) -> None:
    x = noisy_blocks()
    fit_x, check_x = inner_split(x, fraction=0.1, seed=0)
    r = train_lightgcn(fit_x, check_x, infer=x, epochs=30, patience=3, **SMALL)
    np.testing.assert_array_equal(fitted.user_factors_, r.users)
    np.testing.assert_array_equal(fitted.item_factors_, r.items)
    np.testing.assert_array_equal(fitted.inner_[0], r.train_users)
    assert not np.allclose(r.users, r.train_users)


def test_without_inner_rows_every_epoch_trains_on_everything() -> None:
    x = checkerboard()  # 4 artists a user: too few to hold any back
    model = small(epochs=5).fit(x)
    assert model.stopped_by_ == "epochs" and model.best_epoch_ == 4
    assert len(model.history_) == 5 and np.isnan(model.history_[:, 2]).all()
    _, rows = model.inner_scores(np.arange(8))
    assert (rows != x).nnz == 0
    np.testing.assert_array_equal(model.inner_[0], model.user_factors_)


def test_given_pairs_replace_the_inner_split() -> None:
    fit_x, check_x = inner_split(noisy_blocks(), fraction=0.1, seed=0)
    model = small(epochs=3, patience=5).fit(fit_x, valid=check_x)
    _, rows = model.inner_scores(np.arange(4))
    assert (rows != fit_x).nnz == 0
    assert len(model.history_) == 3 and np.isfinite(model.history_[:, 2]).all()


def test_the_time_safety_is_loud(capsys: pytest.CaptureFixture[str]) -> None:
    model = small(epochs=5, max_seconds=0.0).fit(noisy_blocks())
    assert model.stopped_by_ == "time" and len(model.history_) == 1
    out = capsys.readouterr().out
    assert "WARNING" in out and "0 s safety limit after 1 of 5 epochs" in out


def test_inner_state_is_not_saved(fitted: LightGCN, tmp_path: Path) -> None:
    loaded = Recommender.load(fitted.save(tmp_path / "m"))
    assert isinstance(loaded, LightGCN) and loaded.best_epoch_ == fitted.best_epoch_
    with pytest.raises(ValueError, match="after fit in this process"):
        loaded.inner_scores(np.arange(2))


def test_infer_only_changes_the_final_propagation() -> None:
    x = noisy_blocks()
    fit_x, _ = inner_split(x, fraction=0.1, seed=0)
    plain = train_lightgcn(fit_x, epochs=2, **SMALL)
    np.testing.assert_array_equal(plain.users, plain.train_users)
    wide = train_lightgcn(fit_x, infer=x, epochs=2, **SMALL)
    np.testing.assert_array_equal(wide.train_users, plain.users)
    assert not np.allclose(wide.users, plain.users)
    with pytest.raises(ValueError, match="infer has shape"):
        train_lightgcn(fit_x, infer=x[:3], epochs=2, **SMALL)
