"""Training is bounded by epochs: the same seed and threads give the same model, busy or idle."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.base import Recommender
from recsys.gnn import HeteroGNN
from recsys.split import inner_split
from tests.recsys.contract import two_groups


def _blocks() -> sp.csr_matrix:
    return two_groups(users=40, items=60)


def _burn(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _model(**kw: object) -> HeteroGNN:
    params: dict[str, object] = dict(dim=8, epochs=4, patience=4, batch_size=32, seed=5, threads=1)
    params.update(kw)
    return HeteroGNN(**params)  # type: ignore[arg-type]


def test_two_runs_agree_on_an_idle_and_a_loaded_machine() -> None:
    x = _blocks()
    idle = _model().fit(x)
    # two processes spinning on the two cores while the second run trains
    ctx = mp.get_context("spawn")
    burners = [ctx.Process(target=_burn, args=(20.0,)) for _ in range(2)]
    for p in burners:
        p.start()
    try:
        loaded = _model().fit(x)
    finally:
        for p in burners:
            p.terminate()
            p.join()
    np.testing.assert_array_equal(idle.user_factors_, loaded.user_factors_)
    np.testing.assert_array_equal(idle.item_factors_, loaded.item_factors_)
    assert [h[:3].tolist() for h in idle.history_] == [h[:3].tolist() for h in loaded.history_]
    assert idle.stopped_by_ == loaded.stopped_by_ != "time"


def test_choices_are_made_on_the_inner_split_and_serving_uses_every_row() -> None:
    x = _blocks()
    model = _model(refit=False).fit(x)
    fit, check = inner_split(x, seed=5)
    assert check.nnz > 0
    _, rows = model.inner_scores(np.arange(3))
    assert rows.nnz == fit.nnz  # trained and validated without the inner rows
    assert model.interactions_.nnz == x.nnz  # the served embeddings propagate over all of them
    assert np.isfinite(model.history_[:, 2]).all()  # inner Recall@20 per epoch
    # the inner rows change the final propagation, not the learned parameters
    inner_user = model.inner_[0]
    assert not np.array_equal(inner_user, model.user_factors_)


def test_the_time_safety_is_reported_loudly(capsys: pytest.CaptureFixture[str]) -> None:
    model = _model(epochs=50, patience=50, max_seconds=1e-6).fit(_blocks())
    assert model.stopped_by_ == "time" and len(model.history_) == 1
    err = capsys.readouterr()
    assert "stopped by the 1e-06 s safety limit after 1 of 50 epochs" in err.out + err.err


def test_propagating_over_more_rows_serves_them_without_training(tmp_path: Path) -> None:
    x = _blocks()
    model = _model().fit(x)
    before = model.user_factors_.copy()
    model.propagate(x)  # the rows it served with: the same embeddings
    np.testing.assert_allclose(model.user_factors_, before, atol=1e-6)
    more = x.tolil()
    more[0, 59] = 1.0  # user 0 (first group) plays an artist of the second group
    model.propagate(more.tocsr())
    assert model.interactions_.nnz == x.nnz + 1  # now excluded as seen
    moved = np.abs(model.user_factors_ - before).sum(axis=1)
    assert moved[0] > 0 and moved[0] == moved.max()  # user 0 moved most
    loaded = Recommender.load(model.save(tmp_path / "m"))
    assert isinstance(loaded, HeteroGNN)
    with pytest.raises(ValueError, match="fitted in this process"):
        loaded.propagate(x)


def test_refit_trains_again_on_every_row_for_the_epochs_chosen() -> None:
    x = _blocks()
    plain = _model(refit=False).fit(x)
    again = _model().fit(x)  # the default
    assert plain.refit_epochs_ == 0
    assert again.refit_epochs_ == again.best_epoch_ + 1 == plain.best_epoch_ + 1
    np.testing.assert_array_equal(again.history_[:, :3], plain.history_[:, :3])  # inner curve
    assert not np.allclose(again.user_factors_, plain.user_factors_)
    # the choice was made as before: the inner model's scores are the same
    np.testing.assert_array_equal(
        again.inner_scores(np.arange(5))[0], plain.inner_scores(np.arange(5))[0]
    )
