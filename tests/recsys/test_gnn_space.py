"""``space="gnn"``: each culture's cloud of GNN track embeddings aligned by OT, the evaluation that
compares it with the factors' space, and the errors without embeddings (synthetic catalogues)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from loaders.errors import SoundbridgeError
from recsys.catalogue import TrackCatalogue
from recsys.similar import CrossCulturalRecommender, MissingEmbeddingsError
from tests.recsys.test_alignment import FUNCTIONS, _catalogue

DIM = 12


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _with_gnn(cat: TrackCatalogue, used: bool | np.ndarray = False) -> TrackCatalogue:
    """GNN embeddings: the track's place within its society (the index of its song, one-hot)
    plus a large offset per society (what each culture's part of the graph adds)."""
    rng = np.random.default_rng(5)
    offsets = {s: 1.0 * rng.normal(size=DIM) for s in sorted(set(cat.cultures.tolist()))}
    index = np.array([int(t.rsplit("-t", 1)[1]) for t in cat.track_ids.tolist()])
    gnn = np.eye(DIM)[index] + np.array([offsets[s] for s in cat.cultures.tolist()])
    label_used = np.broadcast_to(np.asarray(used, dtype=bool), (len(cat),)).copy()
    return dataclasses.replace(cat, gnn=gnn.astype(np.float32), gnn_label_used=label_used)


@pytest.fixture(scope="module")
def cat() -> TrackCatalogue:
    return _with_gnn(_catalogue())


@pytest.fixture(scope="module")
def model(cat: TrackCatalogue) -> CrossCulturalRecommender:
    return CrossCulturalRecommender(alignment="sinkhorn", weight=1.0, reg=0.01).fit(cat)


def test_the_gnn_aligner_transports_the_gnn_vectors(model, cat) -> None:
    g = _unit(cat.gnn.astype(np.float64))
    al = model.aligner("sinkhorn", space="gnn")
    np.testing.assert_allclose(al.X_, g)
    assert al is not model.aligner("sinkhorn")  # the factors' aligner is another one
    q = cat.index("S-A1-t03")
    target = cat.tree.resolve("S-B0")
    rows = model.rows(target.ids)
    scores, coupling = model._scores(q, rows, target, "sinkhorn", 1.0, "gnn")
    assert coupling is not None and set(coupling.anchors) <= set(rows.tolist())
    np.testing.assert_allclose(coupling.image, coupling.weights @ g[coupling.anchors])
    np.testing.assert_allclose(scores, g[rows] @ coupling.image)


def test_alignment_finds_the_counterpart_across_the_culture_offset(model, cat) -> None:
    # S-A1 and S-B0 hold the same twelve places, shifted by different offsets: OT matches each
    # track with the track at the same place, whatever its function
    for i in (0, 3, 7):
        recs = model.recommend_similar(f"S-A1-t{i:02d}", "S-B0", k=1, space="gnn")
        assert recs[0].track_id == f"S-B0-t{i:02d}"
        assert recs[0].details["space"] == "gnn"
        assert "GNN embedding cosine" in recs[0].explanation
    # the factors' space ranks by function instead
    factors = model.recommend_similar("S-A1-t00", "S-B0", k=4, alignment="none")
    assert {r.function for r in factors} == {FUNCTIONS[0]}
    assert factors[0].details["space"] == "factors"


def test_unaligned_gnn_space_is_the_cosine(model, cat) -> None:
    g = _unit(cat.gnn.astype(np.float64))
    q = cat.index("S-A2-t05")
    recs = model.recommend_similar("S-A2-t05", "Beta Coast", k=3, alignment="none", space="gnn")
    rows = np.array([cat.index(r.track_id) for r in recs])
    np.testing.assert_allclose([r.score for r in recs], g[rows] @ g[q])
    best = model.rows(cat.tree.resolve("Beta Coast").ids)
    assert recs[0].score == pytest.approx(float((g[best] @ g[q]).max()))


def test_without_embeddings_space_gnn_says_how_to_make_them() -> None:
    plain = CrossCulturalRecommender().fit(_catalogue())
    with pytest.raises(MissingEmbeddingsError, match="soundbridge gnn evaluate") as e:
        plain.recommend_similar("S-A1-t00", "Beta Coast", space="gnn")
    assert "\n" not in str(e.value) and isinstance(e.value, SoundbridgeError)
    with pytest.raises(MissingEmbeddingsError, match="space='factors'"):
        CrossCulturalRecommender(space="gnn").fit(_catalogue())
    assert len(plain.recommend_similar("S-A1-t00", "Beta Coast", k=3)) == 3  # factors still work
    with pytest.raises(ValueError, match="space"):
        plain.recommend_similar("S-A1-t00", "Beta Coast", space="audio")


def test_a_track_added_after_the_build_has_no_gnn_embedding(cat) -> None:
    fitted = CrossCulturalRecommender(alignment="unbalanced").fit(cat)
    before = [r.track_id for r in fitted.recommend_similar("S-A1-t02", "S-B1", k=5, space="gnn")]
    n = len(cat)
    order = np.argsort(np.append(cat.track_ids, "S-B1-t99"), kind="stable")
    grown = dataclasses.replace(
        cat,
        track_ids=np.append(cat.track_ids, "S-B1-t99")[order],
        names=np.append(cat.names, "new")[order],
        cultures=np.append(cat.cultures, "S-B1")[order],
        functions=np.append(cat.functions, "")[order],
        factors=np.vstack([cat.factors, cat.factors[:1]])[order],
        label_source=np.append(cat.label_source, "")[order],
        label_experts=np.append(cat.label_experts, "")[order],
        label_dates=np.append(cat.label_dates, "")[order],
        gnn=np.vstack([cat.gnn, np.full((1, DIM), np.nan, np.float32)])[order],
        gnn_label_used=np.append(cat.gnn_label_used, False)[order],
    )
    model = fitted.add_tracks(grown)
    assert len(model.catalogue_) == n + 1
    with pytest.raises(MissingEmbeddingsError, match="S-B1-t99"):
        model.recommend_similar("S-B1-t99", "S-A1", space="gnn")
    assert len(model.recommend_similar("S-B1-t99", "S-A1", k=3)) == 3  # its factors serve
    # a track without an embedding is still a candidate (exactly k), and the rest is unchanged
    after = model.recommend_similar("S-A1-t02", "S-B1", k=20, space="gnn")
    assert len(after) == 13 and [r.track_id for r in after[:5]] == before
    refit = CrossCulturalRecommender(alignment="unbalanced").fit(grown)
    again = refit.recommend_similar("S-A1-t02", "S-B1", k=20, space="gnn")
    assert [r.track_id for r in again] == [r.track_id for r in after]


def _functional_gnn(cat: TrackCatalogue, used: np.ndarray) -> TrackCatalogue:
    """GNN embeddings that carry the function (one-hot) and the society (an offset)."""
    rng = np.random.default_rng(1)
    onehot = (cat.functions[:, None] == np.array(FUNCTIONS)[None]).astype(float)
    offsets = {s: 0.5 * rng.normal(size=6) for s in sorted(set(cat.cultures.tolist()))}
    gnn = np.hstack([onehot, np.array([offsets[s] for s in cat.cultures.tolist()])])
    return dataclasses.replace(cat, gnn=gnn.astype(np.float32), gnn_label_used=used)


def test_evaluation_puts_both_spaces_side_by_side(tmp_path) -> None:
    from recsys.cultural_eval import evaluate_cross_cultural, write_cross_cultural_report

    base = _catalogue()
    hidden = np.isin(base.cultures, ["S-A0", "S-B0"])
    cat = _functional_gnn(base, used=~hidden)
    ev = evaluate_cross_cultural(cat, ["S-A0", "S-B0"], n_targets=1, min_judged=10)
    m = ev.methods
    assert {"unaligned", "GNN cosine", "GNN aligned (unbalanced)"} <= set(m)
    assert m["GNN cosine"]["function_share"] > 2 * m["GNN cosine"]["chance"]
    lo, hi = m["GNN cosine"]["function_share_ci95"]
    assert lo <= m["GNN cosine"]["function_share"] <= hi
    assert "vs_unaligned_ci95" in m["GNN cosine"] and "vs_unaligned" not in m["unaligned"]
    assert ev.probes["function from GNN"]["accuracy"] == 1.0
    assert "region from z_s" in ev.probes and ev.skipped == {}
    text = write_cross_cultural_report(ev, tmp_path, heatmaps=[]).read_text()
    assert "| GNN cosine |" in text and "| function from GNN |" in text


def test_evaluation_refuses_embeddings_trained_on_its_queries_labels() -> None:
    from recsys.cultural_eval import evaluate_cross_cultural

    base = _catalogue()
    leaky = _functional_gnn(base, used=np.ones(len(base), dtype=bool))
    ev = evaluate_cross_cultural(leaky, ["S-A0"], n_targets=1, min_judged=10, probes=False)
    assert not any(name.startswith("GNN") for name in ev.methods)
    assert "12 songs of the validation societies" in ev.skipped["gnn"]
    with pytest.raises(SoundbridgeError, match="rebuild"):
        evaluate_cross_cultural(leaky, ["S-A0"], n_targets=1, spaces=("gnn",), probes=False)
    unsaid = dataclasses.replace(leaky, gnn_label_used=None)
    ev = evaluate_cross_cultural(unsaid, ["S-A0"], n_targets=1, probes=True)
    assert "do not say" in ev.skipped["gnn"] and "function from GNN" not in ev.probes
