"""The synthetic catalogue of bench/similar_latency.py, at a tiny size (no timing assertions)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from recsys.similar import CrossCulturalRecommender

BENCH = Path(__file__).resolve().parents[2] / "bench" / "similar_latency.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("similar_latency_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclass-free, but keep imports of itself resolvable
    spec.loader.exec_module(module)
    return module


bench = _bench()


@pytest.fixture(scope="module")
def tiny():
    return bench.synthetic_catalogue(
        n_tracks=600, n_societies=12, n_regions=4, n_world_regions=2, seed=3
    )


def test_tree_and_arrays(tiny) -> None:
    cat, predicted = tiny
    tree = cat.tree
    levels = [tree.level[c] for c in tree.ids]
    assert (levels.count("society"), levels.count("region"), levels.count("world_region")) == (
        12,
        4,
        2,
    )
    for c in tree.ids:  # society -> region -> world region, every parent used
        parent = tree.parent[c]
        if tree.level[c] == "world_region":
            assert parent is None
        else:
            up = "region" if tree.level[c] == "society" else "world_region"
            assert tree.level[parent] == up
    assert {tree.parent[c] for c in tree.ids if tree.level[c] == "society"} == {
        c for c in tree.ids if tree.level[c] == "region"
    }
    assert {tree.parent[c] for c in tree.ids if tree.level[c] == "region"} == {
        c for c in tree.ids if tree.level[c] == "world_region"
    }
    assert len(cat) == 600 and cat.factors.shape == (600, 48) and cat.factors.dtype == np.float32
    assert cat.dims == (16, 16, 16)
    societies, counts = np.unique(cat.cultures, return_counts=True)
    assert len(societies) == 12 and counts.min() >= 20 and counts.sum() == 600
    assert list(cat.track_ids) == sorted(cat.track_ids)
    assert cat.function_names == bench.FUNCTIONS
    assert set(cat.functions[cat.labelled]) <= set(bench.FUNCTIONS)
    assert 0.1 < cat.labelled.mean() < 0.3
    assert predicted.shape == (600, 10) and (predicted > 0).all()
    np.testing.assert_allclose(predicted.sum(axis=1), 1.0)


def test_seeded(tiny) -> None:
    again, predicted = bench.synthetic_catalogue(
        n_tracks=600, n_societies=12, n_regions=4, n_world_regions=2, seed=3
    )
    np.testing.assert_array_equal(again.factors, tiny[0].factors)
    np.testing.assert_array_equal(again.cultures, tiny[0].cultures)
    np.testing.assert_array_equal(predicted, tiny[1])


def test_fits_with_posterior_and_answers_inside_the_culture(tiny) -> None:
    cat, predicted = tiny
    rec = CrossCulturalRecommender().fit(cat, predicted=predicted)
    assert rec.function_model_.classes_ == bench.FUNCTIONS
    np.testing.assert_array_equal(rec.predicted_, predicted)
    members: dict[str, set[str]] = {}
    for level in ("society", "region", "world_region"):
        for track, target in bench.draw_queries(cat, level, 5, 10, seed=0):
            out = rec.recommend_similar(track, target, 10)
            bench.check(rec, track, target, 10, out, members)  # raises when not exactly k inside
            assert all(r.explanation for r in out)


def test_check_rejects_results_outside_the_target(tiny) -> None:
    cat, predicted = tiny
    rec = CrossCulturalRecommender(alignment="none").fit(cat, predicted=predicted)
    track, target = bench.draw_queries(cat, "society", 1, 10, seed=1)[0]
    other = next(c for c in cat.tree.ids if cat.tree.level[c] == "society" and c != target)
    out = rec.recommend_similar(track, other, 10)
    with pytest.raises(AssertionError, match="outside the target"):
        bench.check(rec, track, target, 10, out, {})


def test_posterior_of_the_wrong_shape_is_refused(tiny) -> None:
    cat, predicted = tiny
    with pytest.raises(ValueError, match="one column per function"):
        CrossCulturalRecommender().fit(cat, predicted=predicted[:, :3])
