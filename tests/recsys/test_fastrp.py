"""FastRP (GDS) on the real server: the contract, known answers, no leak, memory and cleanup.

The graphs are written into the emptied session server: ``User`` and ``Artist`` nodes with the
ids of the matrix's rows and columns (and, where a test needs them, ``Tag`` nodes and stored
``LISTENED`` relationships the model must not read).
"""

from __future__ import annotations

import doctest
from collections.abc import Callable
from typing import ClassVar

import neo4j
import numpy as np
import pytest
import scipy.sparse as sp

import recsys.fastrp
from loaders.errors import ConfigError, SoundbridgeError
from recsys.base import Recommender
from recsys.fastrp import FastRP, FastRPMemoryError
from tests.recsys.contract import RecommenderContract, checkerboard

# Test-only Cypher: the nodes (and stored plays) of the small graphs below.
_NODES = """
UNWIND $users AS u CREATE (:User {id: u})
WITH count(*) AS done
UNWIND $artists AS a CREATE (:Artist {id: a})
"""
_PLAYS = """
UNWIND $pairs AS p
MATCH (u:User {id: p[0]}), (a:Artist {id: p[1]})
CREATE (u)-[:LISTENED {weight: 1}]->(a)
"""
_TAGS = """
UNWIND $pairs AS p
MATCH (a:Artist {id: p[0]})
MERGE (t:Tag {id: p[1]})
CREATE (a)-[:HAS_TAG {count: 3}]->(t)
"""
_GRAPHS = "CALL gds.graph.list() YIELD graphName RETURN graphName"


def _nodes(driver: neo4j.Driver, users: int, artists: int) -> None:
    driver.execute_query(_NODES, users=list(range(users)), artists=list(range(artists)))


def _projections(driver: neo4j.Driver) -> list[str]:
    return [r["graphName"] for r in driver.execute_query(_GRAPHS).records]


def _model(embedding_dim: int = 256, seed: int = 0, **kw: bool) -> FastRP:
    return FastRP(embedding_dim=embedding_dim, seed=seed, **kw)


@pytest.mark.neo4j
class TestFastRP(RecommenderContract):
    """The shared contract on the checkerboard, its users and artists as nodes in Neo4j."""

    driver: ClassVar[neo4j.Driver]

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def checkerboard_graph(
        cls, neo4j_driver: neo4j.Driver, graph_wiper: Callable[[neo4j.Driver], None]
    ) -> neo4j.Driver:
        graph_wiper(neo4j_driver)
        _nodes(neo4j_driver, 8, 8)
        cls.driver = neo4j_driver
        return neo4j_driver

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls, checkerboard_graph: neo4j.Driver) -> Recommender:
        return cls().fit(cls().make(), checkerboard())

    def make(self) -> Recommender:
        return _model()

    def fit(self, model: Recommender, x: sp.csr_matrix) -> Recommender:
        return model.fit(x, driver=self.driver)

    def test_nothing_stays_in_the_graph_catalogue(self, fitted: Recommender) -> None:
        assert _projections(self.driver) == []


def _communities() -> sp.csr_matrix:
    """Users 0–3 play artists 0–3, users 4–7 artists 4–7; user u misses artist u."""
    x = np.zeros((8, 8), dtype=np.float32)
    x[:4, :4] = 1.0
    x[4:, 4:] = 1.0
    x[np.arange(8), np.arange(8)] = 0.0
    return sp.csr_matrix(x)


@pytest.mark.neo4j
def test_two_communities_recommend_within_their_own(neo4j_db: neo4j.Driver) -> None:
    _nodes(neo4j_db, 8, 8)
    model = _model().fit(_communities(), driver=neo4j_db)
    ids, scores = model.recommend(np.arange(8), k=5)
    # the one unseen artist of the user's own community first, far above the other community's
    assert ids[:, 0].tolist() == list(range(8))
    assert (scores[:, 0] > scores[:, 1] + 0.5).all()
    similar, _ = model.similar_items([0, 5], k=3)
    assert set(similar[0]) == {1, 2, 3} and set(similar[1]) == {4, 6, 7}
    friends, _ = model.similar_users([0], k=3)
    assert set(friends[0]) == {1, 2, 3}


@pytest.mark.neo4j
def test_same_seed_same_embeddings(neo4j_db: neo4j.Driver) -> None:
    _nodes(neo4j_db, 8, 8)
    a = _model(seed=3).fit(_communities(), driver=neo4j_db)
    b = _model(seed=3).fit(_communities(), driver=neo4j_db)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)


@pytest.mark.neo4j
def test_held_out_plays_stored_in_the_graph_never_reach_the_projection(
    neo4j_db: neo4j.Driver,
) -> None:
    # The graph stores every play, the held-out ones included: each user's own artist u, and
    # user 0's artist 8, which nobody plays in training and which has no tag.
    _nodes(neo4j_db, 8, 9)
    train = _communities()
    held = [(u, u) for u in range(8)] + [(0, 8)]
    stored = [(int(u), int(a)) for u, a in zip(*train.nonzero(), strict=True)] + held
    neo4j_db.execute_query(_PLAYS, pairs=stored)
    x = sp.hstack([train, sp.csr_matrix((8, 1))]).tocsr()
    model = _model(friends=False).fit(x, driver=neo4j_db)
    # the projection holds the 48 training plays only, each in both directions
    assert (model.graph_nodes_, model.graph_relationships_) == (16, 2 * train.nnz)
    assert not model.item_known_[8]  # artist 8 was only reachable through a held-out play
    ids, scores = model.recommend([0], k=9)
    assert ids[0, -1] == 8 and scores[0, -1] == -np.inf
    # had the stored plays been read, user u's artist u would be a known play, not the answer
    assert model.recommend(np.arange(8), k=1)[0].ravel().tolist() == list(range(8))


@pytest.mark.neo4j
def test_training_friendships_only(neo4j_db: neo4j.Driver) -> None:
    _nodes(neo4j_db, 8, 8)
    friends = sp.csr_matrix(([1.0, 1.0], ([0, 4], [4, 0])), shape=(8, 8))
    model = _model().fit(_communities(), driver=neo4j_db, friends=friends)
    assert model.graph_relationships_ == 2 * (_communities().nnz + 1)


@pytest.mark.neo4j
def test_tags_reach_an_artist_nobody_played(neo4j_db: neo4j.Driver) -> None:
    # artist 8 has no training listener but shares its tag with artists 4–7
    _nodes(neo4j_db, 8, 9)
    neo4j_db.execute_query(_TAGS, pairs=[[a, "k-pop"] for a in (4, 5, 6, 7, 8)])
    x = sp.hstack([_communities(), sp.csr_matrix((8, 1))]).tocsr()
    with_tags = _model().fit(x, driver=neo4j_db)
    assert with_tags.item_known_[8]
    ids, scores = with_tags.recommend(np.arange(8), k=9)
    score_of_8 = scores[ids == 8]
    # second for its community's users, right after their one unseen artist there
    assert ids[4:, 1].tolist() == [8] * 4
    assert score_of_8[4:].min() > score_of_8[:4].max() + 0.3
    without = _model(tags=False).fit(x, driver=neo4j_db)
    assert not without.item_known_[8]


@pytest.mark.neo4j
def test_a_projection_that_fails_is_dropped(
    neo4j_db: neo4j.Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    _nodes(neo4j_db, 8, 8)
    monkeypatch.setattr(recsys.fastrp.q, "FASTRP_STREAM", "RETURN 1 / 0 AS boom")
    with pytest.raises(neo4j.exceptions.Neo4jError):
        _model().fit(_communities(), driver=neo4j_db)
    assert _projections(neo4j_db) == []


@pytest.mark.neo4j
def test_too_large_for_the_heap_fails_before_projecting(neo4j_db: neo4j.Driver) -> None:
    _nodes(neo4j_db, 8, 8)
    with pytest.raises(FastRPMemoryError, match=r"MiB of Neo4j's heap .* lower embedding_dim"):
        _model(embedding_dim=100_000_000).fit(_communities(), driver=neo4j_db)
    assert _projections(neo4j_db) == []


@pytest.mark.neo4j
def test_missing_nodes_are_named(neo4j_db: neo4j.Driver) -> None:
    _nodes(neo4j_db, 8, 4)
    with pytest.raises(SoundbridgeError, match=r"4 training artists have no Artist node"):
        _model().fit(_communities(), driver=neo4j_db)
    assert _projections(neo4j_db) == []


def test_fit_without_a_driver_says_how() -> None:
    with pytest.raises(ConfigError, match="driver=driver"):
        _model().fit(_communities())


def test_doctests() -> None:
    result = doctest.testmod(recsys.fastrp, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_the_pipeline_compares_it_and_still_serves_the_gnn() -> None:
    from recsys.pipeline import DEFAULT_MODELS

    assert isinstance(DEFAULT_MODELS["FastRP (GDS)"](), FastRP)
    assert list(DEFAULT_MODELS)[-1] == "HeteroGNN"  # build serves the last model
