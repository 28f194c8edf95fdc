"""Known-answer tests of the OT layer, the culture tree and the cross-cultural recommender
(synthetic catalogues; no database)."""

from __future__ import annotations

import numpy as np
import pytest

from recsys import cultural_metrics as cm
from recsys.alignment import CultureAligner
from recsys.base import NotFittedError
from recsys.catalogue import TrackCatalogue, UnknownTrackError
from recsys.cultures import CultureResolver, UnknownCultureError
from recsys.ot import (
    barycentric_map,
    cost_matrix,
    fused_gw_plan,
    out_of_sample_row,
    sinkhorn_plan,
    target_log_potential,
    unbalanced_plan,
)
from recsys.similar import CrossCulturalRecommender, EmptyCultureError

FUNCTIONS = ("Dance", "Healing", "Lullaby")


def test_sinkhorn_marginals_and_known_permutation() -> None:
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(6, 2))
    perm = rng.permutation(6)
    xt = xs[perm] + 0.5  # a pure translation: OT recovers the matching
    g = sinkhorn_plan(xs, xt, reg=0.002)
    np.testing.assert_allclose(g.sum(axis=1), np.full(6, 1 / 6), atol=1e-3)
    np.testing.assert_allclose(g.sum(axis=0), np.full(6, 1 / 6), atol=1e-3)
    assert (perm[g.argmax(axis=1)] == np.arange(6)).all()
    np.testing.assert_allclose(barycentric_map(g, xt), xs + 0.5, atol=1e-2)


def test_unbalanced_leaves_an_outlier_mostly_uncoupled() -> None:
    xs = np.array([[0.0], [0.1], [50.0]])
    xt = np.array([[0.0], [0.1]])
    balanced = sinkhorn_plan(xs, xt, reg=0.05)
    loose = unbalanced_plan(xs, xt, reg=0.05, reg_m=0.05)
    assert balanced[2].sum() == pytest.approx(1 / 3, abs=1e-6)
    assert loose[2].sum() < 0.2 * balanced[2].sum()


def test_out_of_sample_row_reproduces_plan_rows() -> None:
    rng = np.random.default_rng(1)
    xs, xt = rng.normal(size=(15, 3)), rng.normal(size=(9, 3)) + 1
    m = cost_matrix(xs, xt)
    for g in (sinkhorn_plan(xs, xt, cost=m), unbalanced_plan(xs, xt, cost=m, reg_m=0.5)):
        log_v = target_log_potential(g, m, 0.05)
        for i in range(15):
            np.testing.assert_allclose(out_of_sample_row(m[i], log_v, 0.05), g[i] / g[i].sum())


def test_gromov_matches_structure_across_spaces() -> None:
    # the same 4-point chain in 1-D and embedded in 3-D: GW maps each point to its copy
    xs = np.array([[0.0], [1.0], [3.0], [7.0]])
    xt = np.hstack([xs, np.zeros((4, 2))])[::-1] * 2.0
    g = fused_gw_plan(xs, xt, reg=0.02)
    assert g.argmax(axis=1).tolist() == [3, 2, 1, 0]


def test_weights_and_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="weights"):
        sinkhorn_plan(np.zeros((2, 1)), np.ones((2, 1)), a=np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="alpha"):
        fused_gw_plan(np.zeros((2, 1)), np.ones((2, 1)), alpha=2.0)
    with pytest.raises(ValueError, match="method"):
        CultureAligner(method="emd").fit(np.zeros((2, 2)))
    with pytest.raises(NotFittedError):
        CultureAligner().plan("a", np.array([0]), "b", np.array([1]))


def test_aligner_caches_plans_and_subsamples_large_clouds() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1000, 4))
    al = CultureAligner(max_points=50).fit(x)
    s, t, g = al.plan("A", np.arange(500), "B", np.arange(500, 1000))
    assert len(s) == len(t) == 50 and g.shape == (50, 50)
    assert al.plan("A", np.arange(500), "B", np.arange(500, 1000))[2] is g
    c = al.transport(x[3], "A", np.arange(500), "B", np.arange(500, 1000))
    assert c.weights.sum() == pytest.approx(1.0) and set(c.anchors) <= set(range(500, 1000))


def _tree() -> CultureResolver:
    rows = [
        {"id": "WR-A", "name": "Alpha World", "level": "world_region", "parent": None},
        {"id": "WR-B", "name": "Beta World", "level": "world_region", "parent": None},
        {"id": "R-A1", "name": "Alpha Hills", "level": "region", "parent": "WR-A"},
        {"id": "R-B1", "name": "Beta Coast", "level": "region", "parent": "WR-B"},
        {"id": "R-B2", "name": "Beta Plains", "level": "region", "parent": "WR-B"},
    ]
    for i in range(4):
        rows.append(
            {"id": f"S-A{i}", "name": f"Hill people {i}", "level": "society",
             "parent": "R-A1", "glottocode": f"hill{i:04d}"}
        )  # fmt: skip
        rows.append({"id": f"S-B{i}", "name": f"Coast people {i}", "level": "society",
                     "parent": "R-B1" if i < 2 else "R-B2"})  # fmt: skip
    return CultureResolver.from_rows(rows, aliases={"hills": ("Hills", ("R-A1",), "test alias")})


def _catalogue(n_per: int = 12, seed: int = 0) -> TrackCatalogue:
    """Tracks whose z_a encodes their function; z_s encodes their region (a culture shift)."""
    rng = np.random.default_rng(seed)
    tree = _tree()
    societies = [f"S-A{i}" for i in range(4)] + [f"S-B{i}" for i in range(4)]
    centres = {f: 4.0 * rng.normal(size=8) for f in FUNCTIONS}
    ids, cultures, functions, rows = [], [], [], []
    for s in societies:
        shift = 4.0 * rng.normal(size=8)
        for j in range(n_per):
            f = FUNCTIONS[j % 3]
            ids.append(f"{s}-t{j:02d}")
            cultures.append(s)
            functions.append(f)
            za = centres[f] + 0.3 * rng.normal(size=8)
            zs = shift + 0.3 * rng.normal(size=8)
            rows.append(np.concatenate([rng.normal(size=8), zs, za]))
    return TrackCatalogue(
        track_ids=np.array(ids),
        names=np.array([f"song {i}" for i in ids]),
        cultures=np.array(cultures),
        functions=np.array(functions),
        factors=np.array(rows, dtype=np.float32),
        dims=(8, 8, 8),
        tree=tree,
    )


def test_culture_resolution_by_id_name_glottocode_alias() -> None:
    tree = _tree()
    assert tree.resolve("R-B1").via == "id"
    assert tree.resolve("beta coast").ids == ("R-B1",)
    assert tree.resolve("HILL0002").ids == ("S-A2",)
    r = tree.resolve("Hills")
    assert (r.ids, r.via, r.note) == (("R-A1",), "alias", "test alias")
    assert tree.societies_of(("WR-B",)) >= {"S-B0", "S-B3", "R-B1", "R-B2"}
    assert tree.ancestor("S-B3", "region") == "R-B2"


def test_unknown_culture_lists_the_closest_by_meaning() -> None:
    with pytest.raises(UnknownCultureError, match="Closest known") as e:
        _tree().resolve("Beta seaside")
    assert e.value.suggestions[0] in {"Beta Coast", "Beta Plains", "Beta World"}
    assert len(e.value.suggestions) == 5


def test_shipped_aliases_name_real_cultures() -> None:
    from recsys.cultures import load_aliases

    aliases = load_aliases()
    assert aliases["andean"][1] == ("HRAF-central-andes",)
    assert len(aliases["quechua"][1]) == 3
    assert all(ids for _, ids, _ in aliases.values())


@pytest.fixture(scope="module")
def model() -> CrossCulturalRecommender:
    cat = _catalogue()
    hide = np.char.startswith(cat.track_ids.astype(str), "S-A0")
    return CrossCulturalRecommender().fit(cat, hide=hide)


@pytest.mark.parametrize("alignment", ["unbalanced", "sinkhorn", "fgw", "none"])
def test_results_serve_the_query_function_inside_the_culture(model, alignment) -> None:
    cat = model.catalogue_
    # queries of a society whose labels are hidden: the function comes from audio alone
    for q in ("S-A0-t00", "S-A0-t01", "S-A0-t02"):
        recs = model.recommend_similar(q, "Beta Coast", k=8, alignment=alignment)
        assert len(recs) == 8
        assert {r.culture for r in recs} <= {"S-B0", "S-B1"}
        want = cat.functions[cat.index(q)]
        assert sum(r.function == want for r in recs) == 8, (alignment, q)
        assert recs[0].score >= recs[-1].score


def test_exactly_k_when_the_culture_is_large_enough(model) -> None:
    assert len(model.recommend_similar("S-A1-t00", "Beta World", k=48)) == 48
    assert len(model.recommend_similar("S-A1-t00", "Beta World", k=100)) == 48
    # the query's own culture: the query itself is never returned
    recs = model.recommend_similar("S-A1-t00", "Alpha Hills", k=100)
    assert len(recs) == 47 and "S-A1-t00" not in {r.track_id for r in recs}


def test_explanations_name_function_affect_style_and_a_path(model) -> None:
    r = model.recommend_similar("S-A1-t03", "Beta Plains", k=1)[0]
    assert r.function == "Dance"
    assert "Both serve Dance" in r.explanation
    assert "Style distance" in r.explanation and "Affect" in r.explanation
    assert r.details["path"][2] == "(:Function {name: 'Dance'})"
    assert r.details["style_distance"] > 0.0
    hidden = model.recommend_similar("S-A0-t03", "Beta Plains", k=1)[0]
    assert hidden.details["query_function_source"] == "predicted"
    assert "most likely serves" in hidden.explanation


def test_bad_inputs_raise_clear_errors(model) -> None:
    with pytest.raises(UnknownTrackError, match="add-track"):
        model.recommend_similar("nope", "Beta Coast")
    with pytest.raises(UnknownCultureError):
        model.recommend_similar("S-A1-t00", "Atlantis")
    with pytest.raises(ValueError, match="k=0"):
        model.recommend_similar("S-A1-t00", "Beta Coast", k=0)
    with pytest.raises(ValueError, match="alignment"):
        model.recommend_similar("S-A1-t00", "Beta Coast", alignment="magic")
    lone = CultureResolver.from_rows(
        [{"id": "X", "name": "Empty land", "level": "society", "parent": None}], aliases={}
    )
    cat = model.catalogue_
    empty = TrackCatalogue(
        track_ids=cat.track_ids, names=cat.names, cultures=cat.cultures,
        functions=cat.functions, factors=cat.factors, dims=cat.dims,
        tree=CultureResolver.from_rows(
            [{"id": c, "name": c, "level": "society", "parent": None}
             for c in sorted(set(cat.cultures.tolist()))] + [
                {"id": "X", "name": "Empty land", "level": "society", "parent": None}],
            aliases={}),
    )  # fmt: skip
    assert "X" in lone
    with pytest.raises(EmptyCultureError, match="no track"):
        CrossCulturalRecommender().fit(empty).recommend_similar("S-A1-t00", "Empty land")


def test_metrics_known_answers() -> None:
    assert cm.function_share([], "Dance") == 0.0
    assert cm.ndcg_at_k([1, 1], n_relevant=2) == pytest.approx(1.0)
    assert cm.ndcg_at_k([0, 0], n_relevant=0) == 0.0
    assert cm.minority_exposure(["a", "b", "c", "d"], {"a"}) == 0.25
    assert cm.calibration_kl(["a", "b"], {"a": 1, "b": 1}) == pytest.approx(0.0, abs=1e-9)
    assert cm.serendipity(np.array([1.0, 0.5]), np.array([1.0, 1.0])) == pytest.approx(0.75)


def test_cross_cultural_evaluation_prefers_the_function_model(tmp_path) -> None:
    from recsys.cultural_eval import evaluate_cross_cultural, write_cross_cultural_report

    cat = _catalogue()
    ev = evaluate_cross_cultural(cat, ["S-A0", "S-B0"], n_targets=1, min_judged=10)
    m = ev.methods
    assert m["unaligned"]["function_share"] > 2 * m["unaligned"]["chance"]
    assert m["aligned (unbalanced)"]["function_share"] > 2 * m["unaligned"]["chance"]
    assert ev.n_queries == 24 and ev.n_pairs == 24
    report = write_cross_cultural_report(ev, tmp_path, heatmaps=[("Alpha Hills", "Beta Coast")])
    text = report.read_text()
    assert "| unaligned |" in text and (tmp_path / "plan_0.png").is_file()
    assert (tmp_path / "metrics.json").is_file()


def test_concurrent_queries_share_the_caches_safely() -> None:
    from concurrent.futures import ThreadPoolExecutor

    m = CrossCulturalRecommender().fit(_catalogue(seed=3))
    queries = [(f"S-A{i % 4}-t{j:02d}", c) for i in range(4) for j in range(12)
               for c in ("Beta Coast", "Beta Plains", "Beta World")]  # fmt: skip
    expected = [[r.track_id for r in m.recommend_similar(q, c, k=5)] for q, c in queries]
    fresh = CrossCulturalRecommender().fit(_catalogue(seed=3))
    with ThreadPoolExecutor(8) as pool:
        got = list(
            pool.map(lambda a: [r.track_id for r in fresh.recommend_similar(*a, k=5)], queries)
        )
    assert got == expected
