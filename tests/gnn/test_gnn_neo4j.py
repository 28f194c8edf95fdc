"""The GNN's Cypher on the real server: features read, embeddings and vector indexes written."""

from __future__ import annotations

import numpy as np
import pytest

from gnn import queries as q
from gnn.features import artist_tag_texts, culture_features, track_features
from gnn.store import write_embeddings
from kg.export import IdMap
from recsys.evaluate import artist_world_regions

pytestmark = pytest.mark.neo4j

_GRAPH = """
CREATE (a:Artist {id: 1, name: 'Ayumi'}), (b:Artist {id: 2, name: 'Oasis'}), (c:Artist {id: 3})
CREATE (t1:Tag {id: 10, name: 'j-pop'}), (t2:Tag {id: 11, name: 'japanese'}),
       (t3:Tag {id: 12, name: 'britpop'})
CREATE (a)-[:HAS_TAG {count: 5}]->(t1), (a)-[:HAS_TAG {count: 9}]->(t2),
       (b)-[:HAS_TAG {count: 3}]->(t3)
CREATE (j:Culture {id: 'CCMCnucl1643', level: 'society', style_profile: [0.5, 0.25]}),
       (r:Culture {id: 'HRAF-japan', level: 'region'}),
       (w:Culture {id: 'WR-asia', level: 'world_region'})
CREATE (j)-[:PART_OF]->(r), (r)-[:PART_OF]->(w), (a)-[:FROM_CULTURE {count: 2}]->(j)
CREATE (:Track {id: 'NHS2-A', mir: [1.0, 2.0]}), (:Track {id: 'NHS2-B', mir: [3.0, 2.0]})
"""


def test_features_and_regions_read_from_the_graph(neo4j_db) -> None:
    neo4j_db.execute_query(_GRAPH)
    assert artist_tag_texts(neo4j_db) == {1: "japanese, j-pop", 2: "britpop"}
    assert artist_world_regions(neo4j_db) == {1: ["WR-asia"]}
    cult = culture_features(neo4j_db)
    assert cult.ids == ["CCMCnucl1643"] and cult.x.tolist() == [[0.5, 0.25]]
    tracks = track_features(neo4j_db)
    np.testing.assert_allclose(np.abs(tracks.x[:, 0]), [1.0, 1.0], rtol=1e-6)


def _nearest_to_artist_1(driver) -> list[int]:
    records, _, _ = driver.execute_query(
        "MATCH (a:Artist {id: 1}) "
        "CALL db.index.vector.queryNodes('artist_embedding', 2, a.embedding) "
        "YIELD node RETURN node.id AS id"
    )
    return [r["id"] for r in records]


def test_embeddings_and_vector_index_written(neo4j_db) -> None:
    neo4j_db.execute_query(_GRAPH)
    ids = IdMap({"Artist": [1, 2, 3]})
    emb = {"Artist": np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 0, 1]], dtype=np.float32)}
    assert write_embeddings(neo4j_db, emb, ids) == {"Artist": 3}
    assert write_embeddings(neo4j_db, emb, ids) == {"Artist": 3}  # idempotent
    neo4j_db.execute_query("CALL db.awaitIndexes(60)")
    assert _nearest_to_artist_1(neo4j_db) == [1, 2]


def test_vector_index_rebuilt_when_the_embedding_size_changes(neo4j_db) -> None:
    neo4j_db.execute_query(_GRAPH)
    ids = IdMap({"Artist": [1, 2, 3]})
    small = {"Artist": np.eye(3, dtype=np.float32)}
    write_embeddings(neo4j_db, small, ids)
    wide = {"Artist": np.array([[1, 0, 0, 0], [0.9, 0.1, 0, 0], [0, 0, 0, 1]], dtype=np.float32)}
    write_embeddings(neo4j_db, wide, ids)
    neo4j_db.execute_query("CALL db.awaitIndexes(60)")
    dims, _, _ = neo4j_db.execute_query(q.VECTOR_INDEX_DIMENSION, name="artist_embedding")
    assert [r["dim"] for r in dims] == [4]
    assert _nearest_to_artist_1(neo4j_db) == [1, 2]


def test_the_gnn_graph_leaves_out_accounts_answers_and_concepts(neo4j_db) -> None:
    from kg.export import to_heterodata
    from kg.schema import NODE_LABELS

    neo4j_db.execute_query(_GRAPH)
    # what the experts' loop adds: an account (no id) that gave an answer about a track
    neo4j_db.execute_query(
        "MATCH (t:Track {id: 'NHS2-A'}) "
        "CREATE (:Account {username: 'rosa'})-[:GAVE]->(a:Answer {id: 'ans-000000000001'})"
        "-[:ABOUT]->(t), (a)-[:LABEL]->(:Concept {id: 'concept-x', name: 'X'})"
    )
    whole, _ = to_heterodata(neo4j_db)  # an account's edges used to break the export
    assert "Account" not in whole.node_types
    assert ("Answer", "ABOUT", "Track") in whole.edge_types
    data, _ = to_heterodata(neo4j_db, labels=NODE_LABELS)  # what read_knowledge_graph asks for
    assert not {"Account", "Answer", "Concept"} & set(data.node_types)
    assert ("Artist", "HAS_TAG", "Tag") in data.edge_types
    assert data["Artist", "HAS_TAG", "Tag"].edge_index.shape == (2, 3)
