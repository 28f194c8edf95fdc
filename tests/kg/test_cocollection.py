"""Known-answer tests for NetEase-style directed co-collection weights."""

import pandas as pd
import pytest

from kg.cocollection import co_collection_weights


def _pairs(rows):
    return pd.DataFrame(rows, columns=["user_id", "item_id"])


def test_directed_weights_on_a_hand_checked_example():
    # a: users {1,2,3}; b: {1,2}; c: {3,4}; d: {4}
    df = _pairs([(1, "a"), (2, "a"), (3, "a"), (1, "b"), (2, "b"), (3, "c"), (4, "c"), (4, "d")])
    got = {(r.src, r.dst): (r.weight, r.common) for r in co_collection_weights(df).itertuples()}
    assert got == {
        ("a", "b"): (pytest.approx(2 / 3), 2),
        ("a", "c"): (pytest.approx(1 / 3), 1),
        ("b", "a"): (1.0, 2),
        ("c", "a"): (0.5, 1),
        ("c", "d"): (0.5, 1),
        ("d", "c"): (1.0, 1),
    }


def test_weight_is_asymmetric_share_of_source_audience():
    df = _pairs([(u, "star") for u in range(10)] + [(0, "niche")])
    out = co_collection_weights(df).set_index(["src", "dst"])["weight"]
    assert out[("niche", "star")] == 1.0
    assert out[("star", "niche")] == pytest.approx(0.1)


def test_duplicates_count_once_and_top_k_keeps_strongest_then_smallest_id():
    df = _pairs([(1, "a"), (1, "a"), (1, "b"), (2, "a"), (2, "c"), (3, "a"), (3, "c"), (1, "d")])
    out = co_collection_weights(df, top_k=2)
    a = out[out.src == "a"]
    # a shares 2 users with c, 1 with b, 1 with d: keep c, then b (tie with d → smaller id)
    assert a.dst.tolist() == ["c", "b"]
    assert a.common.tolist() == [2, 1]


def test_min_common_drops_weak_pairs():
    df = _pairs([(1, "a"), (1, "b"), (2, "a"), (2, "c"), (3, "a"), (3, "c")])
    out = co_collection_weights(df, min_common=2)
    assert set(zip(out.src, out.dst, strict=True)) == {("a", "c"), ("c", "a")}


def test_no_pairs_gives_empty_typed_frame():
    out = co_collection_weights(_pairs([(1, "a"), (2, "b")]))
    assert out.empty and list(out.columns) == ["src", "dst", "weight", "common"]


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="top_k"):
        co_collection_weights(_pairs([(1, "a")]), top_k=0)
