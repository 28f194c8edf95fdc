"""The blend passes the recommender contract and chooses its weights on the inner split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from loaders.errors import ConfigError
from recsys.base import Recommender
from recsys.blend import Blend, standardise
from recsys.ease import EASE
from recsys.gnn import HeteroGNN
from recsys.itemknn import ItemKNN
from recsys.mostpop import MostPop
from recsys.split import inner_split
from tests.recsys.contract import RecommenderContract, two_groups


class TestBlend(RecommenderContract):
    def make(self) -> Recommender:
        return Blend(
            [("knn", ItemKNN()), ("ease", EASE(l2=1.0, min_item_users=1))], min_items=2, seed=1
        )

    def params(self, model: Recommender) -> object:
        return repr(model)  # the members are objects: equal when they print the same


def blocks() -> sp.csr_matrix:
    return two_groups()


def test_standardise_counts_unscorable_items_as_the_minimum() -> None:
    z = standardise(np.array([[2.0, -np.inf, 4.0], [-np.inf, -np.inf, -np.inf]]))
    np.testing.assert_allclose(z[0], [-0.7071, -0.7071, 1.4142], atol=1e-4)
    assert np.isfinite(z).all()


def test_weights_go_to_the_member_that_ranks_the_inner_rows() -> None:
    # EASE with a negative ridge reverses its ranking: the inner split must find it useless
    good, bad = EASE(l2=1.0, min_item_users=1), EASE(l2=-1e6, min_item_users=1)
    blend = Blend([("bad", bad), ("good", good)], step=0.25, k=3).fit(blocks())
    assert blend.weights_.tolist() == [0.0, 1.0]
    assert len(blend.tuning_) == 5  # 0, .25, .5, .75, 1 on the first member
    assert blend.tuning_[0]["recall"] > blend.tuning_[-1]["recall"]
    # the members end fitted on every row
    assert all(m.interactions_.nnz == blocks().nnz for _, m in blend.members_)


def test_the_report_rows_are_never_seen_by_the_choice() -> None:
    x = blocks()
    fit, check = inner_split(x, seed=0)
    blend = Blend([("knn", ItemKNN()), ("pop", MostPop())], step=0.5).fit(x)
    assert check.nnz > 0
    # the members' inner copies saw fit only; the choice scored check users only
    assert blend.tuning_ and all(np.isfinite(r["recall"]) for r in blend.tuning_)


def test_fixed_weights_and_bad_configurations() -> None:
    blend = Blend([("knn", ItemKNN()), ("pop", MostPop())], weights=[0.5, 0.5]).fit(blocks())
    assert blend.weights_.tolist() == [0.5, 0.5]
    with pytest.raises(ConfigError, match="2 members got 1 weights"):
        Blend([("knn", ItemKNN()), ("pop", MostPop())], weights=[1.0]).fit(blocks())
    with pytest.raises(ConfigError, match="at least one member"):
        Blend().fit(blocks())
    small = sp.csr_matrix(np.eye(4, dtype=np.float32))
    with pytest.raises(ConfigError, match="no user has 10 rows"):
        Blend([("knn", ItemKNN())]).fit(small)


def test_a_gnn_member_is_trained_once_and_weighed_as_validated(tmp_path: Path) -> None:
    x = blocks()
    gnn = HeteroGNN(dim=8, epochs=3, batch_size=64, negatives=4, cold_start=False)
    blend = Blend([("gnn", gnn), ("ease", EASE(l2=1.0, min_item_users=1))], step=0.5).fit(x)
    fitted = blend.member("gnn")
    assert isinstance(fitted, HeteroGNN)
    fit, _ = inner_split(x, seed=0)
    _, rows = fitted.inner_scores(np.arange(3))
    assert rows.nnz == fit.nnz  # validated without the inner rows
    assert fitted.interactions_.nnz == x.nnz  # serves with all of them
    with pytest.raises(KeyError, match="the members are"):
        blend.member("nope")
    # the saved blend answers like the fitted one
    path = blend.save(tmp_path / "blend.npz")
    loaded = Recommender.load(path)
    assert isinstance(loaded, Blend)
    np.testing.assert_array_equal(
        loaded.recommend(np.arange(24), 5)[0], blend.recommend(np.arange(24), 5)[0]
    )
