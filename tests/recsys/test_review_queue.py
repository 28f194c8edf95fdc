"""The review queue: known-answer uncertainty and asking order, the queue over a fitted
recommender, the simulated expert of bench/pal.py on a tiny catalogue, and the command against
the real server."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import neo4j
import numpy as np
import pytest
from click.testing import CliRunner

from recsys.base import NotFittedError
from recsys.catalogue import TrackCatalogue
from recsys.cultures import CultureResolver
from recsys.review import QueueItem, review_order, review_queue, uncertainty
from recsys.similar import CrossCulturalRecommender
from tests.recsys.tiny_model import TRACKS, tiny_catalogue, tiny_model, tiny_tree


# ---------------------------------------------------------------------- uncertainty
def test_entropy_is_normalised_by_the_number_of_classes() -> None:
    p = np.array(
        [
            [1.0, 0.0, 0.0, 0.0],  # sure: 0
            [0.25, 0.25, 0.25, 0.25],  # knows nothing: 1
            [0.5, 0.5, 0.0, 0.0],  # log 2 / log 4
            [2.0, 2.0, 0.0, 0.0],  # unnormalised rows are normalised first
        ]
    )
    np.testing.assert_allclose(uncertainty(p), [0.0, 1.0, 0.5, 0.5])
    assert uncertainty(np.ones((3, 1))).tolist() == [0.0, 0.0, 0.0]


def test_margin_is_one_minus_the_gap_between_the_top_two() -> None:
    p = np.array([[0.6, 0.3, 0.1], [0.1, 0.45, 0.45], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(uncertainty(p, "margin"), [0.7, 1.0, 0.0])


@pytest.mark.parametrize(
    ("posterior", "method", "match"),
    [
        (np.ones((2, 2)), "variance", "choose one of entropy, margin"),
        (np.ones(3), "entropy", "expected"),
        (np.array([[1.0, -0.5]]), "entropy", "non-negative"),
        (np.zeros((1, 3)), "margin", "mass"),
    ],
)
def test_uncertainty_refuses_bad_input(posterior, method, match) -> None:
    with pytest.raises(ValueError, match=match):
        uncertainty(posterior, method)


# ---------------------------------------------------------------------- asking order
def _posterior() -> np.ndarray:
    """Six songs over four functions; song i's top function has probability 0.3 + 0.1 i, the rest
    shares the remainder, so the uncertainty falls strictly from song 0 to song 5."""
    top = 0.3 + 0.1 * np.arange(6)
    p = np.repeat(((1 - top) / 3)[:, None], 4, axis=1)
    p[:, 0] = top
    return p


# song:      0     1     2     3     4     5
SOCIETIES = ["S1", "S1", "S2", "S3", "S4", "S4"]
REGIONS = ["R1", "R1", "R1", "R2", "R3", "R3"]


def test_known_order_on_a_synthetic_posterior() -> None:
    u = uncertainty(_posterior())
    assert (np.diff(u) < 0).all()
    # by hand: 0 (most uncertain); 3 and 4 (the regions R2 and R3 have no song yet, S1 is
    # taken); 2 (the only society left in the round); new round: 5 (R3 has 1 song, R1 has 2);
    # 1 (S4 is taken this round, only S1 is left)
    assert review_order(u, SOCIETIES, REGIONS, k=6).tolist() == [0, 3, 4, 2, 5, 1]
    assert review_order(u, SOCIETIES, REGIONS, k=3).tolist() == [0, 3, 4]
    assert review_order(u, SOCIETIES, REGIONS, k=0).tolist() == []
    # one society, one region: plain uncertainty order
    assert review_order(u, ["S"] * 6, ["R"] * 6, k=6).tolist() == [0, 1, 2, 3, 4, 5]


def test_ties_go_to_the_lower_index() -> None:
    u = np.full(4, 0.5)
    assert review_order(u, ["A", "B", "C", "D"], ["R"] * 4, k=4).tolist() == [0, 1, 2, 3]
    assert review_order(u, ["A", "A", "B", "B"], ["R"] * 4, k=4).tolist() == [0, 2, 1, 3]


def test_answered_and_unscored_songs_are_skipped() -> None:
    u = uncertainty(_posterior())
    as_indices = review_order(u, SOCIETIES, REGIONS, k=6, answered=[0, 3])
    mask = np.zeros(6, dtype=bool)
    mask[[0, 3]] = True
    as_mask = review_order(u, SOCIETIES, REGIONS, k=6, answered=mask)
    # by hand: 1 (the most uncertain left); 4 (R3 has no song yet); 2 (S1, S4 taken); 5 (new
    # round: R3 has 1 song, R1 has 2)
    assert as_indices.tolist() == as_mask.tolist() == [1, 4, 2, 5]
    u[1] = np.nan
    assert 1 not in review_order(u, SOCIETIES, REGIONS, k=6).tolist()
    assert review_order(u, SOCIETIES, REGIONS, k=6, answered=np.ones(6, bool)).tolist() == []


def test_no_society_twice_before_every_society_had_one() -> None:
    rng = np.random.default_rng(3)
    n = 300
    societies = np.array([f"S{int(i)}" for i in rng.zipf(1.6, size=n) % 40])  # skewed sizes
    region_of = {s: f"R{int(s[1:]) % 7}" for s in set(societies.tolist())}
    regions = np.array([region_of[s] for s in societies.tolist()])
    u = rng.random(n)
    order = review_order(u, societies, regions, k=n)
    assert sorted(order.tolist()) == list(range(n))
    size = {s: int((societies == s).sum()) for s in region_of}
    seen: dict[str, int] = {}
    for i in order.tolist():
        s = societies[i]
        j = seen.get(s, 0) + 1  # this is society s's j-th song
        # every society with at least j - 1 songs has had j - 1 of them asked already
        assert all(seen.get(t, 0) >= j - 1 for t in size if size[t] >= j - 1), (s, j)
        seen[s] = j
    # regions: none twice before every region had one
    first = [regions[i] for i in order[: len(set(regions.tolist()))]]
    assert len(set(first)) == len(first)


def test_order_checks_its_input() -> None:
    with pytest.raises(ValueError, match="one value per song"):
        review_order(np.ones(3), ["A", "B"], ["R"] * 3, k=1)
    with pytest.raises(ValueError, match="non-negative"):
        review_order(np.ones(2), ["A", "B"], ["R"] * 2, k=-1)
    with pytest.raises(ValueError, match="answered mask"):
        review_order(np.ones(2), ["A", "B"], ["R"] * 2, k=1, answered=np.ones(3, bool))


# ---------------------------------------------------------------------- the queue of a model
def _catalogue() -> TrackCatalogue:
    return tiny_catalogue()


@pytest.fixture(scope="module")
def model() -> CrossCulturalRecommender:
    return tiny_model()


def test_queue_items_describe_the_songs(model) -> None:
    items = review_queue(model, k=10)
    # unknown songs by uncertainty: u1 (two at 0.30), u2, u4, u3. By hand: u1; u4 (Coast has
    # none yet, S1 taken); u3 (the only society left in the round); new round: u2
    assert [i.track_id for i in items] == ["u1", "u4", "u3", "u2"]
    first = items[0]
    assert isinstance(first, QueueItem)
    assert (first.name, first.culture, first.culture_name) == ("song u1", "S1", "Hill people")
    assert (first.region, first.region_name) == ("R1", "Hills")
    assert first.uncertainty == pytest.approx(uncertainty(np.array([TRACKS[4][4]]))[0])
    assert first.predicted == (("Dance", 0.30), ("Healing", 0.30), ("Lullaby", 0.20))
    # nearest known by z_a cosine: k1 (0.99), k4 (0.78), k2 (0.11)
    near = first.nearest_known
    assert [n.track_id for n in near] == ["k1", "k4", "k2"]
    assert [n.function for n in near] == ["Dance", "Healing", "Lullaby"]
    assert near[0].culture_name == "Hill people"
    assert near[0].similarity == pytest.approx(0.9 / np.hypot(0.9, 0.1))
    assert [i.region_name for i in items] == ["Hills", "Coast", "Hills", "Hills"]


def test_queue_json_is_plain(model) -> None:
    rows = json.loads(json.dumps([i.to_dict() for i in review_queue(model, k=2)]))
    assert {"track_id", "culture", "uncertainty", "predicted", "nearest_known"} <= set(rows[0])
    assert rows[0]["predicted"][0] == ["Dance", 0.3]
    assert rows[0]["nearest_known"][0]["function"] == "Dance"


def test_queue_skips_answered_and_keeps_to_the_culture(model) -> None:
    # by hand: u2 (the most uncertain left); u4 (Coast has none yet); u3
    left = review_queue(model, k=10, answered=["u1", "nope"])
    assert [i.track_id for i in left] == ["u2", "u4", "u3"]
    hills = model.rows(model.catalogue_.tree.resolve("Hills").ids)
    inside = review_queue(model, k=10, culture_rows=hills)
    assert [i.track_id for i in inside] == ["u1", "u3", "u2"]
    assert [i.track_id for i in review_queue(model, k=1)] == ["u1"]
    assert review_queue(model, k=5, answered=["u1", "u2", "u3", "u4"]) == []


def test_hidden_labels_are_unknown_to_the_queue() -> None:
    cat = _catalogue()
    posterior = np.array([t[4] or (0.25,) * 4 for t in TRACKS])
    hide = cat.track_ids == "k4"
    model = CrossCulturalRecommender(alignment="none").fit(cat, hide=hide, predicted=posterior)
    items = review_queue(model, k=10)
    assert "k4" in {i.track_id for i in items}
    assert all(n.track_id != "k4" for i in items for n in i.nearest_known)


def test_queue_on_a_trained_function_model() -> None:
    rng = np.random.default_rng(0)
    n = 80
    truth = np.array(["Dance", "Lullaby"] * (n // 2))
    za = rng.normal(size=(n, 4)) + np.where(truth == "Dance", 2.0, -2.0)[:, None]
    za[::10] = rng.normal(size=(n // 10, 4)) * 0.1  # songs between the two: the most uncertain
    societies = np.array(["S1", "S2", "S3"])[np.arange(n) % 3]
    cat = TrackCatalogue(
        track_ids=np.array([f"t{i:02d}" for i in range(n)]),
        names=np.array([f"t{i:02d}" for i in range(n)]),
        cultures=societies,
        functions=np.where(np.arange(n) % 4 < 2, truth, ""),
        factors=za.astype(np.float32),
        dims=(0, 0, 4),
        tree=tiny_tree(),
    )
    model = CrossCulturalRecommender(alignment="none").fit(cat)
    items = review_queue(model, k=6, method="margin")
    assert len(items) == 6 and all(not model.labels_[cat.index(i.track_id)] for i in items)
    assert len({i.culture for i in items[:3]}) == 3  # one song of each society first
    assert len({i.region for i in items[:2]}) == 2  # one of each region first
    u = [i.uncertainty for i in items]
    assert max(u) == u[0]


def test_queue_refuses_an_unfitted_model_and_bad_k(model) -> None:
    with pytest.raises(NotFittedError, match="fitted"):
        review_queue(CrossCulturalRecommender())
    with pytest.raises(ValueError, match="positive"):
        review_queue(model, k=0)


# ---------------------------------------------------------------------- bench/pal.py
BENCH = Path(__file__).resolve().parents[2] / "bench" / "pal.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pal_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _synthetic(seed: int = 0) -> TrackCatalogue:
    """Nine societies (sizes 6-14) in three regions; z_a = function centre + noise."""
    rng = np.random.default_rng(seed)
    rows = [{"id": "W", "name": "World", "level": "world_region", "parent": None}]
    rows += [{"id": f"R{r}", "name": f"Region {r}", "level": "region", "parent": "W"}
             for r in range(3)]  # fmt: skip
    rows += [{"id": f"S{s}", "name": f"Society {s}", "level": "society", "parent": f"R{s % 3}"}
             for s in range(9)]  # fmt: skip
    centres = {f: 2.0 * rng.normal(size=6) for f in ("Dance", "Lullaby", "Work")}
    ids, cultures, functions, za = [], [], [], []
    for s in range(9):
        for j in range(6 + s):
            f = ("Dance", "Lullaby", "Work")[(j + s) % 3]
            ids.append(f"S{s}-{j:02d}")
            cultures.append(f"S{s}")
            functions.append(f)
            za.append(centres[f] + rng.normal(size=6))
    return TrackCatalogue(
        track_ids=np.array(ids),
        names=np.array(ids),
        cultures=np.array(cultures),
        functions=np.array(functions),
        factors=np.array(za, dtype=np.float32),
        dims=(0, 0, 6),
        tree=CultureResolver.from_rows(rows, aliases={}),
    )


def test_simulated_expert_runs_the_protocol() -> None:
    pal = _bench()
    cat = _synthetic()
    run = pal.simulate(cat, seed=1, budgets=(5, 10), share=0.34, n_targets=2, min_judged=5, batch=5)
    val = run["validation_societies"]
    hidden = int(np.isin(cat.cultures, val).sum())
    assert len(val) == 3 and run["hidden_songs"] == hidden
    res = run["results"]
    assert set(res) == set(pal.STRATEGIES)
    for strategy, by_budget in res.items():
        assert sorted(by_budget) == [0, 5, 10]
        assert [by_budget[b]["n_unanswered"] for b in (0, 5, 10)] == [
            hidden,
            hidden - 5,
            hidden - 10,
        ]
        assert all(0.0 <= by_budget[b]["accuracy"] <= 1.0 for b in by_budget), strategy
        assert by_budget[0]["accuracy_gain"] == 0.0
    # the queue's first batch spreads over every hidden society; popularity asks the largest
    assert res["queue"][5]["societies"] == 3
    assert res["popularity"][5]["societies"] == 1
    # the model without answers is shared: every strategy starts from the same figures
    assert len({json.dumps(res[s][0], sort_keys=True) for s in res}) == 1
    summary = pal.summarise([run, run])
    assert summary["summary"]["queue"][10]["accuracy"]["n"] == 2
    diff = res["queue"][10]["accuracy"] - res["random"][10]["accuracy"]
    assert summary["paired_vs_random"]["queue"][10]["accuracy"]["mean"] == pytest.approx(diff)
    assert "| queue | 10 |" in pal._table(summary)


# ---------------------------------------------------------------------- the command
DIM = 8
_TRACKS = "MATCH (t:Track) RETURN t.id AS id, t.function AS function"


@pytest.fixture(scope="module")
def graph(neo4j_driver: neo4j.Driver, graph_wiper) -> neo4j.Driver:
    from audio.graph import store_factors
    from kg.ingest import ingest

    graph_wiper(neo4j_driver)
    ingest(neo4j_driver, sources=["ccmc"], progress=False)
    records, _, _ = neo4j_driver.execute_query(_TRACKS)
    rows = sorted((r["id"], r["function"] or "") for r in records)
    rng = np.random.default_rng(0)
    fc = {f: 3.0 * rng.normal(size=DIM) for f in sorted({r[1] for r in rows})}
    fc[""] = np.zeros(DIM)
    za = np.array([fc[r[1]] for r in rows]) + 0.5 * rng.normal(size=(len(rows), DIM))
    z = rng.normal(size=(len(rows), DIM))
    store_factors(neo4j_driver, [r[0] for r in rows], z, z, za)
    return neo4j_driver


@pytest.mark.neo4j
def test_queue_command_reads_the_served_graph(graph, neo4j_server, monkeypatch) -> None:
    from recsys.catalogue import load_catalogue
    from soundbridge.commands.review_queue import queue_cmd

    s = neo4j_server.settings
    monkeypatch.setenv("NEO4J_URI", s.uri)
    monkeypatch.setenv("NEO4J_USER", s.user)
    monkeypatch.setenv("NEO4J_PASSWORD", s.password)
    cat = load_catalogue(graph)
    res = CliRunner().invoke(queue_cmd, ["--k", "5", "--culture", "Central Andes", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    andes = cat.tree.societies_of(("HRAF-central-andes",))
    assert 0 < len(rows) <= 5 and all(r["culture"] in andes for r in rows)
    assert all(cat.functions[cat.index(r["track_id"])] == "" for r in rows)
    u = [r["uncertainty"] for r in rows]
    assert all(0.0 <= x <= 1.0 for x in u) and u[0] == max(u)
    table = CliRunner().invoke(queue_cmd, ["--k", "3"])
    assert table.exit_code == 0, table.output
    assert table.output.count("predicted:") == 3 and "nearest known:" in table.output
    bad = CliRunner().invoke(queue_cmd, ["--culture", "Atlantis"])
    assert bad.exit_code != 0 and "Closest known" in str(bad.exception or bad.output)
