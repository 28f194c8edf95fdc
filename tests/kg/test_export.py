"""Export to networkx and PyG on a 4-node graph whose answer can be written down."""

import pytest
import torch

from kg.export import IdMap, to_heterodata, to_networkx

pytestmark = pytest.mark.neo4j

FOUR_NODES = """
CREATE (u1:User {id: 1}), (u2:User {id: 2}),
       (a:Artist {id: 10, name: 'A'}), (b:Artist {id: 7, name: 'B'}),
       (u2)-[:LISTENED {weight: 5}]->(a), (u1)-[:LISTENED {weight: 3}]->(b),
       (u1)-[:LISTENED {weight: 1}]->(a), (a)-[:CO_COLLECTED {weight: 0.5, common: 1}]->(b),
       (u1)-[:FRIEND]->(u2)
"""


@pytest.fixture
def four_nodes(neo4j_db):
    with neo4j_db.session() as s:
        s.run(FOUR_NODES).consume()
    return neo4j_db


def test_heterodata_has_sorted_stable_indices_and_weights(four_nodes):
    data, ids = to_heterodata(four_nodes)
    assert ids.ids == {"Artist": [7, 10], "User": [1, 2]}
    assert data["User"].num_nodes == 2 and data["Artist"].num_nodes == 2
    listened = data["User", "LISTENED", "Artist"]
    # (user 1 → artist 7), (user 1 → artist 10), (user 2 → artist 10) in index space, sorted
    assert listened.edge_index.tolist() == [[0, 0, 1], [0, 1, 1]]
    assert listened.edge_weight.tolist() == [3.0, 1.0, 5.0]
    co = data["Artist", "CO_COLLECTED", "Artist"]
    assert co.edge_index.tolist() == [[1], [0]]
    assert co.edge_weight.tolist() == [0.5]
    assert data["User", "FRIEND", "User"].edge_weight.tolist() == [1.0]
    assert data["User", "LISTENED", "Artist"].edge_index.dtype == torch.long


def test_filtered_export_keeps_only_asked_types(four_nodes):
    data, ids = to_heterodata(four_nodes, labels=["User", "Artist"], rel_types=["LISTENED"])
    assert [e for e in data.edge_types] == [("User", "LISTENED", "Artist")]
    g = to_networkx(four_nodes, rel_types=["CO_COLLECTED"])
    assert list(g.edges(keys=True, data="weight")) == [
        (("Artist", 10), ("Artist", 7), "CO_COLLECTED", 0.5)
    ]


def test_networkx_keeps_properties(four_nodes):
    g = to_networkx(four_nodes)
    assert g.number_of_nodes() == 4 and g.number_of_edges() == 5
    assert g.nodes[("Artist", 10)]["name"] == "A"
    assert g.get_edge_data(("User", 2), ("Artist", 10))["LISTENED"]["weight"] == 5


def test_id_map_round_trips(tmp_path):
    m = IdMap.from_ids({"Track": ["b", "a"], "User": [3, 1]})
    m.save(tmp_path / "ids.json")
    back = IdMap.load(tmp_path / "ids.json")
    assert back.ids == m.ids and back.index("Track", "b") == 1
