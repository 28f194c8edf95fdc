"""recommend_for_user(..., target_culture=C): a user's history transported onto a culture's artists
(real server for the culture links, a tiny served model on disk)."""

from __future__ import annotations

from pathlib import Path

import neo4j
import pytest
from test_recsys_metrics import _lastfm

import recsys
from recsys.api import served
from recsys.cultures import UnknownCultureError
from recsys.itemknn import ItemKNN
from recsys.pipeline import save_interactions
from recsys.split import split_lastfm

pytestmark = pytest.mark.neo4j

# Test-only Cypher: a two-level culture tree and artists linked to it by tags.
_GRAPH = """
CREATE (w:Culture {id: 'WR-test', name: 'Testland', level: 'world_region'})
CREATE (s:Culture {id: 'S-test', name: 'Test people', level: 'society'})-[:PART_OF]->(w)
WITH s, w
UNWIND $strong AS a
MERGE (x:Artist {id: a}) CREATE (x)-[:FROM_CULTURE {count: 5, tags: ['test']}]->(s)
WITH DISTINCT w
UNWIND $weak AS b
MERGE (y:Artist {id: b}) CREATE (y)-[:FROM_CULTURE {count: 1, tags: ['test']}]->(w)
"""


@pytest.fixture
def artefacts(tmp_path: Path) -> Path:
    lastfm = _lastfm()
    split = split_lastfm(lastfm, seed=0)
    ItemKNN().fit(split.train).save(tmp_path / "model.npz")
    save_interactions(tmp_path / "interactions.npz", split)
    lastfm.artists[["artist_id", "name"]].to_parquet(tmp_path / "artists.parquet")
    served.cache_clear()
    return tmp_path


def test_only_the_cultures_artists_ranked_by_transported_mass(
    neo4j_db: neo4j.Driver, artefacts: Path
) -> None:
    strong, weak = list(range(0, 20, 2)), [1, 3]
    neo4j_db.execute_query(_GRAPH, strong=strong, weak=weak)
    recs = recsys.recommend_for_user(
        1, k=30, target_culture="Testland", artefacts=artefacts, driver=neo4j_db
    )
    seen = set(_lastfm().plays.query("user_id == 1")["artist_id"].tolist())
    ids = [r["id"] for r in recs]
    assert set(ids) == set(strong) - seen  # weak links (one tag use) and seen artists left out
    assert [r["score"] for r in recs] == sorted((r["score"] for r in recs), reverse=True)
    assert sum(r["score"] for r in recs) == pytest.approx(1.0)
    with pytest.raises(UnknownCultureError, match="Closest known"):
        recsys.recommend_for_user(
            1, target_culture="Atlantis", artefacts=artefacts, driver=neo4j_db
        )
