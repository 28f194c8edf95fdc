"""Song–song similarity edges: known answers on tiny graphs, idempotence, stale edges, the refresh
of one track against a full recomputation, and docs/cypher.md's examples that use them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import neo4j
import numpy as np
import pytest

from audio.graph import add_track
from audio.similarity import (
    DEFAULT_K,
    SIMILARITY_FACTORS,
    cosine_top_k,
    refresh_track_similarity,
    write_similarity_edges,
)
from kg.cypher import run_read
from kg.schema import ensure_schema

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cypher.md"
TYPES = tuple(SIMILARITY_FACTORS)

_SNAPSHOT = """
MATCH (a)-[r:SIMILAR_CONTENT|SIMILAR_STYLE|SIMILAR_AFFECT]->(b)
RETURN type(r) AS type, a.id AS src, b.id AS dst, r.rank AS rank, r.score AS score,
       elementId(r) AS element
"""
_OTHER_RELS = """
MATCH ()-[r]->() WHERE NOT type(r) IN $types
RETURN type(r) AS type, count(r) AS n ORDER BY type
"""
_TRACKS = """
UNWIND $rows AS row
CREATE (t:Track {id: row.id})
SET t.zc = row.zc, t.zs = row.zs, t.za = row.za
"""

Snapshot = dict[tuple[str, str, str], tuple[int, float]]


def _snapshot(driver: neo4j.Driver) -> Snapshot:
    return {
        (r["type"], r["src"], r["dst"]): (r["rank"], r["score"])
        for r in driver.execute_query(_SNAPSHOT).records
    }


def _lists(snapshot: Snapshot, rel_type: str) -> dict[str, list[str]]:
    """Source → targets in rank order."""
    out: dict[str, list[tuple[int, str]]] = {}
    for (t, src, dst), (rank, _) in snapshot.items():
        if t == rel_type:
            out.setdefault(src, []).append((rank, dst))
    return {src: [dst for _, dst in sorted(v)] for src, v in sorted(out.items())}


def _full(driver: neo4j.Driver, k: int) -> Snapshot:
    """What a recomputation from scratch gives (all similarity edges deleted first)."""
    driver.execute_query("MATCH ()-[r:SIMILAR_CONTENT|SIMILAR_STYLE|SIMILAR_AFFECT]->() DELETE r")
    write_similarity_edges(driver, k=k)
    return _snapshot(driver)


def _angle(deg: float, radius: float = 1.0) -> list[float]:
    return [radius * float(np.cos(np.radians(deg))), radius * float(np.sin(np.radians(deg)))]


# --- the math, without a database ---------------------------------------------------------------


def test_cosine_top_k_known_answer_ties_to_the_lower_index() -> None:
    unit = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    idx, score = cosine_top_k(unit, 2)
    assert idx.tolist() == [[1, 2], [0, 2], [0, 1], [0, 1]]
    assert score.tolist() == [[1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]


def test_cosine_top_k_rows_alone_equal_rows_of_all_and_k_is_capped() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 4))
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    idx, score = cosine_top_k(unit, 5)
    some = [3, 17, 29]
    idx_some, score_some = cosine_top_k(unit, 5, some)
    assert np.array_equal(idx_some, idx[some]) and np.array_equal(score_some, score[some])
    # against a plain sort of the full cosine matrix
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    assert np.array_equal(idx, np.argsort(-sims, axis=1, kind="stable")[:, :5])
    assert np.all(np.diff(score, axis=1) <= 0)
    assert cosine_top_k(unit[:3], 10)[0].shape == (3, 2)
    assert cosine_top_k(unit[:1], 10)[0].shape == (1, 0)


# --- a tiny graph whose neighbours can be written down ------------------------------------------
#
# z_c: A at 0° (length 3: only the direction counts), B 10°, C 30°, D 90°, E 180°.
# z_s: the mirror image: A 180°, B 90°, C 30°, D 10°, E 0°.
# z_a: A and B identical, C and D orthogonal to them and to each other; E all zeros (no direction,
#      so no SIMILAR_AFFECT edges); F has no factors at all.

TINY = [
    {"id": "A", "zc": _angle(0, 3.0), "zs": _angle(180), "za": [1.0, 0.0, 0.0]},
    {"id": "B", "zc": _angle(10), "zs": _angle(90), "za": [1.0, 0.0, 0.0]},
    {"id": "C", "zc": _angle(30), "zs": _angle(30), "za": [0.0, 1.0, 0.0]},
    {"id": "D", "zc": _angle(90), "zs": _angle(10), "za": [0.0, 0.0, 1.0]},
    {"id": "E", "zc": _angle(180), "zs": _angle(0), "za": [0.0, 0.0, 0.0]},
    {"id": "F", "zc": None, "zs": None, "za": None},
]
TINY_CONTENT = {"A": ["B", "C"], "B": ["A", "C"], "C": ["B", "A"], "D": ["C", "B"], "E": ["D", "C"]}
TINY_STYLE = {"A": ["B", "C"], "B": ["C", "D"], "C": ["D", "E"], "D": ["E", "C"], "E": ["D", "C"]}
# ties (C and D to A; A, B, D to C) go to the smaller id
TINY_AFFECT = {"A": ["B", "C"], "B": ["A", "C"], "C": ["A", "B"], "D": ["A", "B"]}


@pytest.fixture
def tiny(neo4j_db: neo4j.Driver) -> neo4j.Driver:
    neo4j_db.execute_query(_TRACKS, rows=TINY)
    # relationships that are not ours, which must be left alone
    neo4j_db.execute_query(
        "CREATE (s:Culture {id: 'S1'})-[:STYLE_SIMILAR {score: 0.9}]->(:Culture {id: 'S2'}) "
        "WITH s MATCH (t:Track) CREATE (t)-[:FROM_CULTURE]->(s)"
    )
    return neo4j_db


@pytest.mark.neo4j
def test_known_neighbours_scores_and_counts(tiny: neo4j.Driver) -> None:
    counts = write_similarity_edges(tiny, k=2)
    assert counts == {"SIMILAR_CONTENT": 10, "SIMILAR_STYLE": 10, "SIMILAR_AFFECT": 8}
    snap = _snapshot(tiny)
    assert _lists(snap, "SIMILAR_CONTENT") == TINY_CONTENT
    assert _lists(snap, "SIMILAR_STYLE") == TINY_STYLE
    assert _lists(snap, "SIMILAR_AFFECT") == TINY_AFFECT

    def cos(deg: float) -> float:
        return float(np.cos(np.radians(deg)))

    assert snap["SIMILAR_CONTENT", "A", "B"] == (1, pytest.approx(cos(10)))
    assert snap["SIMILAR_CONTENT", "A", "C"] == (2, pytest.approx(cos(30)))
    assert snap["SIMILAR_CONTENT", "E", "D"] == (1, pytest.approx(0.0, abs=1e-12))
    assert snap["SIMILAR_CONTENT", "E", "C"] == (2, pytest.approx(cos(150)))
    assert snap["SIMILAR_AFFECT", "A", "B"] == (1, pytest.approx(1.0))


@pytest.mark.neo4j
def test_k_beyond_the_pool_links_every_other_track(tiny: neo4j.Driver) -> None:
    counts = write_similarity_edges(tiny)  # DEFAULT_K > 4
    assert DEFAULT_K >= 5
    assert counts == {"SIMILAR_CONTENT": 20, "SIMILAR_STYLE": 20, "SIMILAR_AFFECT": 12}
    assert _lists(_snapshot(tiny), "SIMILAR_CONTENT")["A"] == ["B", "C", "D", "E"]


@pytest.mark.neo4j
def test_a_second_run_leaves_the_same_edges_and_other_relationships_alone(
    tiny: neo4j.Driver,
) -> None:
    before = tiny.execute_query(_OTHER_RELS, types=list(TYPES)).records
    first = write_similarity_edges(tiny, k=2)
    edges = {(r["type"], r["src"], r["dst"]): r.data() for r in tiny.execute_query(_SNAPSHOT)[0]}
    lines: list[str] = []
    assert write_similarity_edges(tiny, k=2, log=lines.append) == first
    again = {(r["type"], r["src"], r["dst"]): r.data() for r in tiny.execute_query(_SNAPSHOT)[0]}
    assert again == edges  # same edges (element ids too), same properties
    assert tiny.execute_query(_OTHER_RELS, types=list(TYPES)).records == before
    assert len(lines) == 3 and lines[0].startswith("similarity: SIMILAR_CONTENT by zc: 5 tracks")


@pytest.mark.neo4j
def test_stale_edges_of_changed_and_vanished_factors_are_removed(tiny: neo4j.Driver) -> None:
    write_similarity_edges(tiny, k=2)
    tiny.execute_query("MATCH (t:Track {id: 'B'}) SET t.zc = $zc", zc=_angle(100))
    tiny.execute_query("MATCH (t:Track {id: 'D'}) REMOVE t.zs")
    tiny.execute_query("MATCH (t:Track {id: 'A'}) SET t.za = [0.0, 0.0]")  # another length
    write_similarity_edges(tiny, k=2)
    snap = _snapshot(tiny)
    # B (100°) is now D's nearest and E's second; A's second is C
    assert _lists(snap, "SIMILAR_CONTENT") == {
        "A": ["C", "D"],
        "B": ["D", "C"],
        "C": ["A", "D"],
        "D": ["B", "C"],
        "E": ["B", "D"],
    }
    # D has no z_s: no style edges from or to it
    assert not [key for key in snap if key[0] == "SIMILAR_STYLE" and "D" in key[1:]]
    # A's z_a is all zeros now: out of the affect pool
    assert _lists(snap, "SIMILAR_AFFECT") == {"B": ["C", "D"], "C": ["B", "D"], "D": ["B", "C"]}
    assert snap == _full(tiny, 2)


@pytest.mark.neo4j
def test_k_must_be_a_positive_integer(tiny: neo4j.Driver) -> None:
    for k in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="k="):
            write_similarity_edges(tiny, k=k)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="k="):
            refresh_track_similarity(tiny, "A", k=k)  # type: ignore[arg-type]
    assert _snapshot(tiny) == {}


# --- one track refreshed equals a full recomputation --------------------------------------------

N_RANDOM = 40
DIMS = {"zc": 4, "zs": 3, "za": 5}


def _random_factors(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {p: rng.standard_normal(d) for p, d in DIMS.items()}


@pytest.fixture
def random_graph(neo4j_db: neo4j.Driver) -> neo4j.Driver:
    """40 tracks with random factors, a society to add tracks to, the schema's indexes."""
    ensure_schema(neo4j_db)
    rng = np.random.default_rng(7)
    rows = [
        {"id": f"T{i:02d}", **{p: z.tolist() for p, z in _random_factors(rng).items()}}
        for i in range(N_RANDOM)
    ]
    neo4j_db.execute_query(_TRACKS, rows=rows)
    neo4j_db.execute_query("CREATE (:Culture {id: 'CCMCewee1241', name: 'Ewe', level: 'society'})")
    return neo4j_db


def _add(driver: neo4j.Driver, track_id: str, z: dict[str, np.ndarray]) -> None:
    add_track(driver, track_id, name=track_id, culture_id="CCMCewee1241", audio="", **z)


@pytest.mark.neo4j
def test_add_track_refreshes_to_what_a_full_recompute_gives(random_graph: neo4j.Driver) -> None:
    g = random_graph
    write_similarity_edges(g)
    before = _snapshot(g)
    rng = np.random.default_rng(11)
    for new in ("user:new-1", "user:new-2"):
        _add(g, new, _random_factors(rng))
        after = _snapshot(g)
        assert after == _full(g, DEFAULT_K)
        # it has its own k neighbours, entered others' lists and pushed their k-th out
        assert sum(1 for t, src, _ in after if src == new and t == "SIMILAR_CONTENT") == 10
        assert any(dst == new and src != new for _, src, dst in after)
        assert set(before) - set(after)
        before = after

    # the same track again, its factors moved next to T05's: some lists lose it, others gain it
    z = {p: np.asarray(v) + 1e-3 for p, v in _factors(g, "T05").items()}
    _add(g, "user:new-1", z)
    after = _snapshot(g)
    assert after == _full(g, DEFAULT_K)
    assert all(after[t, "user:new-1", "T05"][0] == 1 for t in TYPES)


def _factors(driver: neo4j.Driver, track_id: str) -> dict[str, list[float]]:
    rec = driver.execute_query(
        "MATCH (t:Track {id: $id}) RETURN t.zc AS zc, t.zs AS zs, t.za AS za", id=track_id
    ).records[0]
    return {p: rec[p] for p in DIMS}


@pytest.mark.parametrize(
    "change",
    [
        "MATCH (t:Track {id: $id}) SET t.zc = [x IN t.zc | -x], t.za = [x IN t.za | x * 2]",
        "MATCH (t:Track {id: $id}) REMOVE t.zc, t.zs, t.za",
        "MATCH (t:Track {id: $id}) SET t.zs = [0.0, 0.0, 0.0]",
        "MATCH (t:Track {id: $id}) DETACH DELETE t",
    ],
    ids=["changed", "factors-removed", "no-direction", "track-deleted"],
)
@pytest.mark.neo4j
def test_refresh_after_a_change_equals_a_full_recompute(
    random_graph: neo4j.Driver, change: str
) -> None:
    g = random_graph
    write_similarity_edges(g, k=3)
    g.execute_query(change, id="T13")
    written = refresh_track_similarity(g, "T13", k=3)
    assert set(written) == set(TYPES) and 0 < sum(written.values()) < 3 * 3 * N_RANDOM
    assert _snapshot(g) == _full(g, 3)


@pytest.mark.neo4j
def test_refresh_on_a_graph_without_edges_writes_them_all(random_graph: neo4j.Driver) -> None:
    written = refresh_track_similarity(random_graph, "T00", k=3)
    assert written == {t: 3 * N_RANDOM for t in TYPES}
    assert _snapshot(random_graph) == _full(random_graph, 3)


@pytest.mark.neo4j
def test_a_track_without_a_direction_gets_no_edges(random_graph: neo4j.Driver) -> None:
    write_similarity_edges(random_graph)
    before = _snapshot(random_graph)
    _add(random_graph, "user:silent", {p: np.zeros(d) for p, d in DIMS.items()})
    assert _snapshot(random_graph) == before


# --- docs/cypher.md: the examples that use the similarity edges --------------------------------


def _similarity_examples() -> list[tuple[str, str, dict[str, Any]]]:
    """The numbered examples (## or ###) whose Cypher uses a similarity type."""
    text = DOCS.read_text(encoding="utf-8")
    out = []
    pattern = r"^#{2,3} (\d+)\. (.+?)\n(.*?)(?=^#{2,3} |\Z)"
    for num, title, body in re.findall(pattern, text, re.S | re.M):
        block = re.search(r"```cypher\n(.*?)```", body, re.S)
        if not block or not any(t in block.group(1) for t in TYPES):
            continue
        query = block.group(1)
        m = re.search(r"^// params: (.*)$", query, re.M)
        out.append((f"{num}. {title}", query, json.loads(m.group(1)) if m else {}))
    return out


EXAMPLES = _similarity_examples()

# A small culture tree: Europe ← British Isles ← Scottish; Africa ← West Africa ← Ewe, Yoruba;
# South America ← Central Andes ← Cusco Quechua. No society has more than two songs, nor has the
# examples' song's region (British Isles), so with k = 3 every song has neighbours from other
# societies, and NHS2-TBMU from other regions.
_DOCS_GRAPH = """
CREATE (eu:Culture {id: 'WR-europe', name: 'Europe', level: 'world_region'}),
       (af:Culture {id: 'WR-africa', name: 'Africa', level: 'world_region'}),
       (sa:Culture {id: 'WR-south-america', name: 'South America', level: 'world_region'}),
       (bi:Culture {id: 'HRAF-british-isles', name: 'British Isles', level: 'region'}),
       (wa:Culture {id: 'HRAF-west-africa', name: 'West Africa', level: 'region'}),
       (ca:Culture {id: 'HRAF-central-andes', name: 'Central Andes', level: 'region'}),
       (bi)-[:PART_OF]->(eu), (wa)-[:PART_OF]->(af), (ca)-[:PART_OF]->(sa),
       (:Culture {id: 'S-scottish', name: 'Scottish', level: 'society'})-[:PART_OF]->(bi),
       (:Culture {id: 'CCMCewee1241', name: 'Ewe', level: 'society'})-[:PART_OF]->(wa),
       (:Culture {id: 'S-yoruba', name: 'Yoruba', level: 'society'})-[:PART_OF]->(wa),
       (:Culture {id: 'CCMCcusc1236', name: 'Cusco Quechua', level: 'society'})-[:PART_OF]->(ca),
       (:Function {id: 'dance', name: 'Dance'}), (:Function {id: 'lullaby', name: 'Lullaby'})
WITH 1 AS one
UNWIND $rows AS row
MATCH (s:Culture {id: row.society})
CREATE (t:Track {id: row.id, name: row.id})-[:FROM_CULTURE]->(s)
SET t.zc = row.zc, t.zs = row.zs, t.za = row.za
WITH t, row
MATCH (f:Function {name: row.function})
CREATE (t)-[:SERVES_FUNCTION]->(f)
"""
_DOCS_TRACKS = [
    ("NHS2-TBMU", "S-scottish", "Dance"),
    ("NHS2-SCO2", "S-scottish", "Lullaby"),
    ("NHS2-EWE1", "CCMCewee1241", "Dance"),
    ("NHS2-EWE2", "CCMCewee1241", "Lullaby"),
    ("NHS2-YOR1", "S-yoruba", "Dance"),
    ("NHS2-YOR2", "S-yoruba", "(none)"),
    ("NHS2-QUE1", "CCMCcusc1236", "Lullaby"),
    ("NHS2-QUE2", "CCMCcusc1236", "Dance"),
]
K_DOCS = 3


@pytest.fixture
def docs_graph(neo4j_db: neo4j.Driver) -> neo4j.Driver:
    rng = np.random.default_rng(3)
    rows = [
        {
            "id": track,
            "society": society,
            "function": function,
            **{p: rng.standard_normal(4).tolist() for p in DIMS},
        }
        for track, society, function in _DOCS_TRACKS
    ]
    neo4j_db.execute_query(_DOCS_GRAPH, rows=rows)
    write_similarity_edges(neo4j_db, k=K_DOCS)
    return neo4j_db


def _region(driver: neo4j.Driver, track: str) -> str:
    rec = driver.execute_query(
        "MATCH (:Track {id: $id})-[:FROM_CULTURE]->(:Culture)-[:PART_OF]->(r) RETURN r.name AS r",
        id=track,
    ).records
    return str(rec[0]["r"])


def _check_sound_like(driver: neo4j.Driver, rows: list[dict[str, Any]], params: dict) -> None:
    assert {r["similar_by"] for r in rows} == set(TYPES)
    for t in TYPES:
        mine = [r for r in rows if r["similar_by"] == t]
        assert [r["rank"] for r in mine] == list(range(1, len(mine) + 1))
        assert all(-1 <= r["similarity"] <= 1 and r["track"] != params["track"] for r in mine)
        assert [r["similarity"] for r in mine] == sorted(
            (r["similarity"] for r in mine), reverse=True
        )


def _check_feel_like(driver: neo4j.Driver, rows: list[dict[str, Any]], params: dict) -> None:
    home = _region(driver, params["track"])
    assert all(r["region"] != home for r in rows)
    assert all(r["function"] in {"Dance", "Lullaby", "(withheld)"} for r in rows)
    assert [r["similarity"] for r in rows] == sorted((r["similarity"] for r in rows), reverse=True)


def _check_how_far(driver: neo4j.Driver, rows: list[dict[str, Any]], params: dict) -> None:
    assert [r["similar_by"] for r in rows] == sorted(TYPES)
    for r in rows:
        assert r["edges"] == K_DOCS * len(_DOCS_TRACKS)
        # another world region is another region is another society
        assert 0 <= r["other_world_region"] <= r["other_region"] <= r["other_society"] <= 1
        # no society has more than two songs, so at least 2 of 3 neighbours are from elsewhere
        assert r["other_society"] >= 2 / 3


#: What "sensible" means for each example, by its title.
CHECKS: dict[str, Callable[[neo4j.Driver, list[dict[str, Any]], dict], None]] = {
    "Songs that sound like this one": _check_sound_like,
    "Songs that feel like this one, from another region": _check_feel_like,
    "How far a song's neighbours travel, by factor": _check_how_far,
}


def test_docs_have_the_similarity_examples() -> None:
    titles = [title.split(". ", 1)[1] for title, _, _ in EXAMPLES]
    assert sorted(titles) == sorted(CHECKS)


@pytest.mark.neo4j
@pytest.mark.parametrize(("title", "query", "params"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_docs_similarity_example(
    docs_graph: neo4j.Driver, title: str, query: str, params: dict[str, Any]
) -> None:
    rows = run_read(docs_graph, query, params).records()
    assert rows, f"example {title!r} returned nothing"
    CHECKS[title.split(". ", 1)[1]](docs_graph, rows, params)
