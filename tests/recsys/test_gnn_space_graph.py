"""The GNN space on the real server: the factors reach the GNN's Track input, the track embeddings
and their label provenance are written where the catalogue reads them, and the stamp moves when a
rebuild rewrites them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch_geometric.data import HeteroData

from audio.graph import store_factors
from gnn.features import NO_FACTORS, track_features
from gnn.graph import SERVES_FUNCTION, TRACK_CULTURE, KnowledgeGraph, write_label_used
from gnn.store import write_embeddings
from kg.export import IdMap
from recsys.catalogue import catalogue_stamp, load_catalogue
from recsys.similar import MissingEmbeddingsError, recommend_similar

pytestmark = pytest.mark.neo4j

_GRAPH = """
CREATE (w:Culture {id: 'WR', name: 'World', level: 'world_region'}),
       (r:Culture {id: 'R', name: 'Region', level: 'region'}),
       (a:Culture {id: 'SA', name: 'Society A', level: 'society'}),
       (b:Culture {id: 'SB', name: 'Society B', level: 'society'}),
       (d:Function {id: 'F1', name: 'Dance'}), (l:Function {id: 'F2', name: 'Lullaby'})
CREATE (a)-[:PART_OF]->(r), (b)-[:PART_OF]->(r), (r)-[:PART_OF]->(w)
WITH a, b, d, l
UNWIND range(0, 11) AS i
CREATE (t:Track {id: 'T' + (10 + i), name: 'song ' + i, mir: [toFloat(i), 1.0]})
WITH t, CASE WHEN i < 6 THEN a ELSE b END AS c, CASE i % 2 WHEN 0 THEN d ELSE l END AS f
CREATE (t)-[:FROM_CULTURE]->(c), (t)-[:SERVES_FUNCTION]->(f)
"""
N = 12
IDS = [f"T{10 + i}" for i in range(N)]


def _factors(driver) -> np.ndarray:
    z = np.arange(N * 6, dtype=np.float64).reshape(N, 6) ** 1.5
    store_factors(driver, IDS, z[:, :2], z[:, 2:4], z[:, 4:])
    return z


def test_the_factors_are_the_track_input_mir_until_they_exist(neo4j_db) -> None:
    neo4j_db.execute_query(_GRAPH)
    said: list[str] = []
    before = track_features(neo4j_db, track_input="factors", log=said.append)
    assert said == [NO_FACTORS] and before.source.startswith("MIRtoolbox")
    z = _factors(neo4j_db)
    feats = track_features(neo4j_db, track_input="factors", log=said.append)
    assert feats.ids == IDS and feats.x.shape == (N, 6) and len(said) == 1
    want = (z - z.mean(0)) / (z.std(0) + 1e-9)  # z_c | z_s | z_a, standardised per column
    np.testing.assert_allclose(feats.x, want, rtol=1e-5, atol=1e-5)
    assert track_features(neo4j_db, track_input="mir").source.startswith("MIRtoolbox")


def _knowledge_graph() -> KnowledgeGraph:
    data = HeteroData()
    data["Track"].num_nodes, data["Culture"].num_nodes, data["Function"].num_nodes = N, 2, 2
    data[TRACK_CULTURE].edge_index = torch.tensor([list(range(N)), [0] * 6 + [1] * 6])
    data[SERVES_FUNCTION].edge_index = torch.tensor([list(range(N)), [i % 2 for i in range(N)]])
    ids = IdMap({"Track": IDS, "Culture": ["SA", "SB"], "Function": ["F1", "F2"]})
    expert = pd.DataFrame(columns=["src", "dst", "kind"])
    return KnowledgeGraph(data, ids, {}, expert, frozenset({"SB"}))


def test_embeddings_and_their_provenance_reach_the_catalogue(neo4j_db) -> None:
    neo4j_db.execute_query(_GRAPH)
    _factors(neo4j_db)
    cat = load_catalogue(neo4j_db)
    assert cat.gnn is None and cat.gnn_label_used is None
    with pytest.raises(MissingEmbeddingsError, match="soundbridge gnn evaluate"):
        recommend_similar("T10", "Society B", driver=neo4j_db, space="gnn")
    stamp = catalogue_stamp(neo4j_db)
    kg = _knowledge_graph()
    emb = np.eye(N, dtype=np.float32) + 0.1
    emb[0, 7] = 1.0  # T10's nearest in Society B: T17
    write_embeddings(neo4j_db, {"Track": emb}, kg.id_map)
    assert write_label_used(neo4j_db, kg) == N
    cat = load_catalogue(neo4j_db)
    np.testing.assert_allclose(cat.gnn, emb)
    # Society B is held out: its labels never trained the embedding
    assert cat.gnn_label_used.tolist() == [True] * 6 + [False] * 6
    stamped = catalogue_stamp(neo4j_db)
    assert stamped != stamp
    recs = recommend_similar("T10", "Society B", k=3, driver=neo4j_db, space="gnn")
    assert [r.details["space"] for r in recs] == ["gnn"] * 3 and recs[0].track_id == "T17"
    emb[0, 7], emb[0, 9] = 0.1, 1.0
    write_embeddings(neo4j_db, {"Track": emb}, kg.id_map)  # a rebuild rewrites them
    assert catalogue_stamp(neo4j_db) != stamped
    recs = recommend_similar("T10", "Society B", k=3, driver=neo4j_db, space="gnn")
    assert recs[0].track_id == "T19"  # the served model followed the new embeddings
