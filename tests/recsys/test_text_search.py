"""Text search (recsys.text): known answers on a small synthetic catalogue, and once on Neo4j.

The catalogue: five societies in three regions and two world regions, 16 tracks each, four
functions; a track's z_a is its function's one-hot times three plus noise, so the audio says what a
track is for. The Akan's labels are hidden from the recommender and from the captions in the
held-out test: only the audio can tell the text search what their songs do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import neo4j
import numpy as np
import pytest

from recsys.catalogue import TrackCatalogue
from recsys.cultures import CultureResolver, UnknownCultureError
from recsys.similar import CrossCulturalRecommender
from recsys.text import (
    TextMusicEmbedding,
    detect_culture,
    function_phrase,
    search_text,
    text_cache_dir,
    track_captions,
)

FUNCTIONS = ("Dance", "Healing", "Lullaby", "Work")
TREE_ROWS: list[dict[str, Any]] = [
    {"id": "WR-sa", "name": "South America", "level": "world_region", "parent": None},
    {"id": "WR-af", "name": "Africa", "level": "world_region", "parent": None},
    {"id": "HRAF-ao", "name": "Amazon and Orinoco", "level": "region", "parent": "WR-sa"},
    {"id": "HRAF-ca", "name": "Central Andes", "level": "region", "parent": "WR-sa"},
    {"id": "HRAF-wa", "name": "Western Africa", "level": "region", "parent": "WR-af"},
    {"id": "S-warao", "name": "Warao", "level": "society", "parent": "HRAF-ao"},
    {"id": "S-yekw", "name": "Ye'kwana", "level": "society", "parent": "HRAF-ao"},
    {"id": "S-cusco", "name": "Cusco Quechua", "level": "society", "parent": "HRAF-ca"},
    {"id": "S-ewe", "name": "Ewe", "level": "society", "parent": "HRAF-wa"},
    {"id": "S-akan", "name": "Akan", "level": "society", "parent": "HRAF-wa"},
]
ALIASES = {"amazon": ("Amazon", ("HRAF-ao",), "HRAF's Amazon and Orinoco")}
SOCIETIES = ("S-warao", "S-yekw", "S-cusco", "S-ewe", "S-akan")
STYLES = {
    "S-ewe": ["line_1:LeaderChorus", "line_4:Polyphony", "line_24:Fast", "line_25:Loud"],
    "S-cusco": ["line_1:SoloSinger", "line_4:Unison", "line_24:Slow", "line_25:Soft"],
}
PER_SOCIETY = 16
# Small and quick heads for the tests; the served defaults train longer on the real catalogue.
PARAMS: dict[str, Any] = {"epochs": 40, "batch_size": 32, "dim": 32, "hidden": 64}


def synthetic_catalogue(seed: int = 0) -> TrackCatalogue:
    rng = np.random.default_rng(seed)
    n = PER_SOCIETY * len(SOCIETIES)
    functions = np.array([FUNCTIONS[i % len(FUNCTIONS)] for i in range(n)])
    za = 3.0 * np.eye(len(FUNCTIONS))[[FUNCTIONS.index(f) for f in functions]]
    factors = np.hstack([rng.normal(size=(n, 8)), za + 0.3 * rng.normal(size=za.shape)])
    return TrackCatalogue(
        track_ids=np.array([f"T{i:03d}" for i in range(n)]),
        names=np.array([f"song {i}" for i in range(n)]),
        cultures=np.repeat(SOCIETIES, PER_SOCIETY),
        functions=functions,
        factors=factors.astype(np.float32),
        dims=(4, 4, 4),
        tree=CultureResolver.from_rows(TREE_ROWS, aliases=ALIASES),
    )


@pytest.fixture(scope="module")
def recommender() -> CrossCulturalRecommender:
    return CrossCulturalRecommender(alignment="none").fit(synthetic_catalogue())


@pytest.fixture(scope="module")
def embedding(recommender: CrossCulturalRecommender) -> TextMusicEmbedding:
    return TextMusicEmbedding(**PARAMS).fit(recommender, STYLES)


def societies_under(culture: str) -> set[str]:
    return synthetic_catalogue().tree.societies_of((culture,))


# ---------------------------------------------------------------------------------- captions
def test_captions_state_the_facts_and_hide_hidden_functions(recommender):
    cat = recommender.catalogue_
    labels = recommender.labels_.copy()
    ewe = int(np.flatnonzero(cat.cultures == "S-ewe")[0])
    caps = track_captions(cat, labels, STYLES)[ewe]
    assert f"a {function_phrase(labels[ewe])}" in caps
    assert "traditional music from Western Africa" in caps
    assert any(c.startswith("Ewe singing: ") for c in caps)
    labels[ewe] = ""
    hidden = track_captions(cat, labels, STYLES)[ewe]
    assert not any(labels_word in c for c in hidden for labels_word in ("dance", "healing"))


def test_detect_culture_longest_name_wins():
    tree = synthetic_catalogue().tree
    words, culture = detect_culture("a healing song from the Amazon", tree)
    assert (words, culture.ids) == ("Amazon", ("HRAF-ao",))
    assert detect_culture("songs of the amazon and orinoco", tree)[1].ids == ("HRAF-ao",)
    assert detect_culture("a Cusco Quechua lullaby", tree)[1].ids == ("S-cusco",)
    # short names count only as proper nouns ("ewe" is also a sheep)
    assert detect_culture("a song about an ewe", tree) is None
    assert detect_culture("a lullaby", tree) is None


# ---------------------------------------------------------------------------------- searching
@pytest.mark.parametrize("culture", ["Western Africa", "S-cusco", "Amazon"])
def test_culture_filter_gives_only_that_culture_and_exactly_k(embedding, culture):
    members = societies_under(embedding.recommender_.catalogue_.tree.resolve(culture).ids[0])
    got = embedding.search("a dance song", 7, target_culture=culture)
    assert len(got) == 7
    assert {r.culture for r in got} <= members
    assert got[0].details["culture_filter"]["via"] == "argument"


def test_culture_named_in_the_query_is_detected(embedding):
    got = embedding.search("a healing song from the Amazon", 5)
    assert len(got) == 5
    assert {r.culture for r in got} <= {"S-warao", "S-yekw"}
    culture_filter = got[0].details["culture_filter"]
    assert culture_filter["ids"] == ["HRAF-ao"] and culture_filter["via"] == "query"
    assert "Amazon" in got[0].explanation
    # every Amazonian healing song (4 per society) comes before any other function
    assert [r.function for r in got[:4]] == ["Healing"] * 4


def test_fewer_tracks_than_k_returns_them_all(embedding):
    got = embedding.search("a work song", 50, target_culture="Ewe")
    assert len(got) == PER_SOCIETY and {r.culture for r in got} == {"S-ewe"}


def test_unknown_culture_raises(embedding):
    with pytest.raises(UnknownCultureError, match="Atlantis"):
        embedding.search("a dance song", 5, target_culture="Atlantis")


@pytest.mark.parametrize("k", [0, -3, 2.5, True, "5"])
def test_bad_k_raises(embedding, k):
    with pytest.raises(ValueError, match="k="):
        embedding.search("a dance song", k)
    with pytest.raises(ValueError, match="k="):
        search_text("a dance song", k)


def test_empty_query_raises(embedding):
    with pytest.raises(ValueError, match="query"):
        embedding.search("   ", 5)


def test_training_is_deterministic(recommender, embedding):
    again = TextMusicEmbedding(**PARAMS).fit(recommender, STYLES)
    np.testing.assert_array_equal(again.track_vectors_, embedding.track_vectors_)
    assert again.losses_ == embedding.losses_
    other = TextMusicEmbedding(**{**PARAMS, "seed": 1}).fit(recommender, STYLES)
    assert not np.array_equal(other.track_vectors_, embedding.track_vectors_)


def test_save_and_load_round_trip(tmp_path, recommender, embedding):
    path = tmp_path / "heads.npz"
    embedding.save(path)
    loaded = TextMusicEmbedding.load(path, recommender)
    np.testing.assert_array_equal(loaded.track_vectors_, embedding.track_vectors_)
    np.testing.assert_allclose(
        loaded.embed_queries(["a lullaby"]), embedding.embed_queries(["a lullaby"]), atol=1e-6
    )


# ---------------------------------------------------------------------------------- learning
def test_infonce_ranks_matching_captions_tracks_above_chance_on_hidden_tracks():
    """Labels of the Akan are hidden from both sides: their songs are found from the audio."""
    cat = synthetic_catalogue()
    hide = cat.cultures == "S-akan"
    rec = CrossCulturalRecommender(alignment="none").fit(cat, hide=hide)
    emb = TextMusicEmbedding(**PARAMS).fit(rec, STYLES, hide=hide)
    pool = np.flatnonzero(hide)
    precision = []
    for f in FUNCTIONS:
        got = emb.search(f"a {function_phrase(f)}", 4, pool=pool, detect=False)
        precision.append(np.mean([cat.functions[cat.index(r.track_id)] == f for r in got]))
        assert all(r.function is None for r in got)  # hidden labels are not shown
    chance = 1 / len(FUNCTIONS)
    assert np.mean(precision) >= 0.75 > chance + 0.4


def test_captions_rank_their_own_tracks_above_chance(embedding):
    """A track's own caption "a <function> of the <society>" finds it among 80 tracks."""
    cat = embedding.recommender_.catalogue_
    queries, truth, same_function = [], [], []
    for s in SOCIETIES[:-1]:
        name = cat.tree.name[s]
        for f in FUNCTIONS:
            queries.append(f"a {function_phrase(f)} of the {name}")
            truth.append((cat.cultures == s) & (cat.functions == f))
            same_function.append(cat.functions == f)
    scores = embedding.embed_queries(queries) @ embedding.track_vectors_.T
    top = [np.argsort(-s, kind="stable")[:8] for s in scores]
    own = np.mean([t[i].mean() for i, t in zip(top, truth, strict=True)])
    function = np.mean([t[i].mean() for i, t in zip(top, same_function, strict=True)])
    # chance: 4 of the 80 tracks are the caption's own (0.05); the music side never sees the
    # society, so the rest of the top 8 goes to the same function elsewhere
    assert own >= 0.3
    assert function >= 0.95


# ---------------------------------------------------------------------------------- the graph
_WRITE_CULTURES = """
UNWIND $rows AS row
MERGE (c:Culture {id: row.id}) SET c.name = row.name, c.level = row.level
"""
_WRITE_PARTS = """
UNWIND $rows AS row
MATCH (c:Culture {id: row.id}), (p:Culture {id: row.parent}) MERGE (c)-[:PART_OF]->(p)
"""
_WRITE_STYLES = "UNWIND $rows AS row MATCH (c:Culture {id: row.id}) SET c.style_codes = row.codes"
_WRITE_TRACKS = """
UNWIND $rows AS row
MERGE (t:Track {id: row.id}) SET t.name = row.name, t.zc = row.zc, t.zs = row.zs, t.za = row.za
WITH t, row MATCH (c:Culture {id: row.culture}) MERGE (t)-[:FROM_CULTURE]->(c)
"""
_WRITE_FUNCTIONS = """
UNWIND $rows AS row
MATCH (t:Track {id: row.id}) MERGE (f:Function {name: row.function})
MERGE (t)-[:SERVES_FUNCTION]->(f)
"""


def _write_synthetic_graph(driver: neo4j.Driver) -> None:
    """The synthetic catalogue in the graph, its Akan songs unlabelled."""
    cat = synthetic_catalogue()
    tracks = [
        {"id": str(t), "name": str(n), "culture": str(c), "zc": z[:4].tolist(),
         "zs": z[4:8].tolist(), "za": z[8:].tolist()}
        for t, n, c, z in zip(cat.track_ids, cat.names, cat.cultures, cat.factors, strict=True)
    ]  # fmt: skip
    labelled = [
        {"id": str(t), "function": str(f)}
        for t, f, c in zip(cat.track_ids, cat.functions, cat.cultures, strict=True)
        if c != "S-akan"
    ]
    with driver.session() as s:
        s.run(_WRITE_CULTURES, rows=TREE_ROWS).consume()
        s.run(_WRITE_PARTS, rows=[r for r in TREE_ROWS if r["parent"]]).consume()
        s.run(_WRITE_STYLES, rows=[{"id": k, "codes": v} for k, v in STYLES.items()]).consume()
        s.run(_WRITE_TRACKS, rows=tracks).consume()
        s.run(_WRITE_FUNCTIONS, rows=labelled).consume()


@pytest.mark.neo4j
def test_search_text_from_the_graph_caches_heads_on_disk(neo4j_db, tmp_path, monkeypatch):
    monkeypatch.setenv("SOUNDBRIDGE_HOME", str(tmp_path))
    _write_synthetic_graph(neo4j_db)
    got = search_text("a lullaby from Western Africa", 6, driver=neo4j_db)
    assert len(got) == 6 and {r.culture for r in got} <= {"S-ewe", "S-akan"}
    assert got[0].function == "Lullaby" or got[0].details["function"] == "Lullaby"
    cached = sorted(Path(text_cache_dir()).glob("heads-*.npz"))
    assert len(cached) == 1
    again = search_text("a lullaby from Western Africa", 6, driver=neo4j_db)
    assert [r.track_id for r in again] == [r.track_id for r in got]
    only = search_text("a song", 3, target_culture="Cusco Quechua", driver=neo4j_db)
    assert {r.culture for r in only} == {"S-cusco"}
    assert isinstance(neo4j_db, neo4j.Driver)


@pytest.mark.neo4j
@pytest.mark.reliability
def test_concurrent_cold_text_searches_train_once(neo4j_db, tmp_path, monkeypatch):
    import threading

    import recsys.text as text

    _write_synthetic_graph(neo4j_db)
    monkeypatch.setenv("SOUNDBRIDGE_HOME", str(tmp_path))  # no heads on disk
    monkeypatch.setattr(text, "_SERVED", {})  # none in memory
    fits = []
    real_fit = text.TextMusicEmbedding.fit

    def counting_fit(self, *args, **kwargs):
        fits.append(threading.get_ident())
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(text.TextMusicEmbedding, "fit", counting_fit)
    got: list[object] = []
    threads = [
        threading.Thread(target=lambda: got.append(text.served_text_model(neo4j_db)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(got) == 8 and len(fits) == 1
    assert all(m is got[0] for m in got)
