"""FastRP node embeddings computed in the Neo4j server by GDS, through the recommender contract.

:class:`FastRP` projects the *training* graph into GDS's catalogue, runs ``gds.fastRP.stream`` on
it and keeps the User and Artist vectors; answers are then computed here, without the server.

No leak: the user → artist edges of the projection are the rows of the training matrix given to
:meth:`FastRP.fit`, sent as a query parameter into a Cypher-aggregation projection
(``gds.graph.project`` the function). The ``LISTENED`` relationships stored in the graph hold every
public play, the held-out rows of :func:`recsys.split.split_lastfm` included, so they are never
read; a native projection could only filter them with a split marker written into the graph. The
same holds for friendships (the ``friends`` matrix given to ``fit``). The artists' ``HAS_TAG``
edges are read from the graph: they describe artists (how many people used a tag for them), not
who played what; the GNN reads the same tags as its artist features.

Memory: before anything is projected, the graph's size is counted and GDS's estimate
(``gds.fastRP.stream.estimate``) is compared with the server's free heap; a projection that would
not fit fails with a message naming both and the fix. The projection is dropped in a ``finally``.
"""

from __future__ import annotations

import uuid
from typing import Any

import neo4j
import numpy as np
import scipy.sparse as sp

from kg.config import HEAP_MAX_ENV
from loaders.errors import ConfigError, SoundbridgeError
from recsys import queries as q
from recsys.embedding import EmbeddingRecommender, unit_rows

__all__ = ["FastRP", "FastRPMemoryError"]

_MIB = 1024 * 1024
_NOT_FOUND = "Neo.ClientError.Procedure.ProcedureNotFound"


class FastRPMemoryError(SoundbridgeError):
    """GDS's estimate of a FastRP projection exceeds the Neo4j server's free heap."""


class FastRP(EmbeddingRecommender):
    """GDS FastRP embeddings of the training graph; items ranked by user · artist similarity.

    ``fit(x, driver=driver, user_ids=..., item_ids=..., friends=...)``: ``driver`` an open
    driver on the ingested graph (:func:`kg.connection.connect`; the model never builds one and
    keeps none), ``user_ids`` / ``item_ids`` the ids of the ``User`` / ``Artist`` nodes behind the
    matrix's rows / columns (default: the indices), ``friends`` the training friendships
    ``(num_users, num_users)``. Other side information (``valid`` among it) is ignored: FastRP is
    not trained, and its settings are fixed (docs/recommenders.md says how they were chosen).

    The projection is undirected: training plays (weight ``log(1 + plays)`` when ``weighted``,
    else 1), training friendships (weight 1) when ``friends``, and the ``HAS_TAG`` edges of every
    artist of the catalogue (weight ``log(1 + count)`` or 1) when ``tags``; the tags let an
    artist nobody played in training get a vector and be recommended. Nodes without any edge get
    no vector: such artists score ``-inf``.

    Shapes:
        ``user_factors_``: ``(num_users, embedding_dim)``; ``item_factors_``:
        ``(num_items, embedding_dim)`` (unit rows with ``score="cosine"``); ``user_known_`` /
        ``item_known_``: ``(num_users,)`` / ``(num_items,)``, which rows got a vector.

    The defaults were chosen on a validation split carved from the training rows only
    (docs/recommenders.md); ``fit`` takes ~10–20 s on Last.fm and GDS estimates ~350 MiB of heap.

    Args:
        embedding_dim: ``embeddingDimension``; the random projections' noise falls as it grows.
        iteration_weights: ``iterationWeights``, one per propagation step. ``(0, 1, 1)`` pairs a
            user's artists (step 1) with the artists that share listeners with a candidate (its
            step 2), and a user's neighbours (step 2) with a candidate's listeners (step 1).
        normalization_strength: ``normalizationStrength`` (negative: damp popular nodes).
        node_self_influence: ``nodeSelfInfluence``.
        weighted: use the edge weights above (``relationshipWeightProperty``).
        friends: project the training friendships.
        tags: project the artists' tags.
        score: ``"cosine"`` (vectors scaled to unit length) or ``"dot"``.
        seed: ``randomSeed``.

    Examples:
        >>> FastRP(embedding_dim=64, tags=False)  # doctest: +ELLIPSIS
        FastRP(embedding_dim=64, iteration_weights=(0.0, 1.0, 1.0), ..., tags=False, ...)
    """

    item_known_: np.ndarray
    user_known_: np.ndarray
    graph_nodes_: int
    graph_relationships_: int
    memory_bytes_: int

    def __init__(
        self,
        embedding_dim: int = 1024,
        iteration_weights: tuple[float, ...] = (0.0, 1.0, 1.0),
        normalization_strength: float = 0.0,
        node_self_influence: float = 0.0,
        weighted: bool = True,
        friends: bool = True,
        tags: bool = True,
        score: str = "cosine",
        seed: int = 0,
    ) -> None:
        self.embedding_dim = embedding_dim
        # a tuple, so that a model read back from JSON (a list) compares equal to the original
        self.iteration_weights = tuple(float(w) for w in iteration_weights)
        self.normalization_strength = normalization_strength
        self.node_self_influence = node_self_influence
        self.weighted = weighted
        self.friends = friends
        self.tags = tags
        self.score = score
        self.seed = seed

    def gds_config(self) -> dict[str, Any]:
        """The ``gds.fastRP.stream`` configuration these hyper-parameters give."""
        config: dict[str, Any] = {
            "embeddingDimension": int(self.embedding_dim),
            "iterationWeights": [float(w) for w in self.iteration_weights],
            "normalizationStrength": float(self.normalization_strength),
            "nodeSelfInfluence": float(self.node_self_influence),
            "randomSeed": int(self.seed),
        }
        if self.weighted:
            config["relationshipWeightProperty"] = "weight"
        return config

    def _fit(
        self,
        interactions: sp.csr_matrix,
        *,
        driver: neo4j.Driver | None = None,
        user_ids: np.ndarray | None = None,
        item_ids: np.ndarray | None = None,
        friends: sp.spmatrix | None = None,
        **side: Any,
    ) -> None:
        if self.score not in ("cosine", "dot"):
            raise ConfigError(f"FastRP score must be 'cosine' or 'dot', got {self.score!r}")
        if driver is None:
            raise ConfigError(
                "FastRP computes its embeddings in Neo4j (GDS): call "
                "fit(interactions, driver=driver) with an open driver on the ingested graph "
                "(kg.connection.connect)"
            )
        n_users, n_items = interactions.shape
        uids = np.arange(n_users) if user_ids is None else np.asarray(user_ids)
        iids = np.arange(n_items) if item_ids is None else np.asarray(item_ids)
        params = self._graph_parameters(interactions, uids, iids, friends)
        self._check_size(driver, params, n_users, n_items)

        graph = f"soundbridge-fastrp-{uuid.uuid4().hex}"
        # A projection lives in the memory of the one server that made it, so the estimate, heap,
        # project, stream and drop all keep the default (writer) routing: a READ stream or drop
        # could reach another cluster member, which has no such graph. On a cluster, point GDS
        # work at the GDS server with a bolt:// URI (docs/scaling.md).
        try:
            projected, _, _ = driver.execute_query(q.FASTRP_PROJECT, graph=graph, **params)
            self.graph_nodes_ = int(projected[0]["nodes"])
            self.graph_relationships_ = int(projected[0]["relationships"])
            records, _, _ = driver.execute_query(
                q.FASTRP_STREAM, graph=graph, config=self.gds_config()
            )
        finally:
            driver.execute_query(q.FASTRP_DROP, graph=graph)

        users = np.zeros((n_users, self.embedding_dim), dtype=np.float32)
        items = np.zeros((n_items, self.embedding_dim), dtype=np.float32)
        self.user_known_ = np.zeros(n_users, dtype=bool)
        self.item_known_ = np.zeros(n_items, dtype=bool)
        user_pos = {int(u): i for i, u in enumerate(uids)}
        item_pos = {int(a): i for i, a in enumerate(iids)}
        for r in records:
            if r["user"]:
                row, table, known = user_pos.get(int(r["id"])), users, self.user_known_
            else:
                row, table, known = item_pos.get(int(r["id"])), items, self.item_known_
            if row is not None:  # a node of the graph outside the matrix passes messages only
                table[row] = r["embedding"]
                known[row] = True
        if self.score == "cosine":
            users, items = unit_rows(users), unit_rows(items)
        self.user_factors_ = users
        self.item_factors_ = items

    def _graph_parameters(
        self,
        interactions: sp.csr_matrix,
        uids: np.ndarray,
        iids: np.ndarray,
        friends: sp.spmatrix | None,
    ) -> dict[str, Any]:
        """The projection's query parameters, from the training rows only.

        Shapes:
            interactions: ``(num_users, num_items)``; uids: ``(num_users,)``; iids:
            ``(num_items,)``; friends: ``(num_users, num_users)``.
        """
        plays = interactions.tocoo()
        weight = np.log1p(plays.data) if self.weighted else np.ones_like(plays.data)
        play_rows = [
            [int(u), int(a), float(w)]
            for u, a, w in zip(uids[plays.row], iids[plays.col], weight, strict=True)
        ]
        friend_rows: list[list[Any]] = []
        if self.friends and friends is not None:
            # one edge per pair: the projection is undirected
            f = sp.triu(sp.coo_matrix(friends), k=1).tocoo()
            friend_rows = [
                [int(a), int(b), 1.0] for a, b in zip(uids[f.row], uids[f.col], strict=True)
            ]
        return {
            "plays": play_rows,
            "friends": friend_rows,
            "tagged": [int(a) for a in iids] if self.tags else [],
            "tag_weight": None if self.weighted else 1.0,
        }

    def _check_size(
        self, driver: neo4j.Driver, params: dict[str, Any], n_users: int, n_items: int
    ) -> None:
        """Before projecting: every training node exists, and GDS's estimate fits the free heap.

        Sets ``memory_bytes_`` (the estimate's upper bound).
        """
        users = {p[0] for p in params["plays"]} | {u for f in params["friends"] for u in f[:2]}
        size, _, _ = driver.execute_query(
            q.FASTRP_GRAPH_SIZE,
            users=sorted(users),
            artists=sorted({p[1] for p in params["plays"]}),
            tagged=params["tagged"],
            routing_=neo4j.RoutingControl.READ,
        )
        s = size[0]
        for label, key in (("User", "users"), ("Artist", "artists")):
            if s[f"missing_{label.lower()}_count"]:
                raise SoundbridgeError(
                    f"FastRP: {s[f'missing_{label.lower()}_count']:,} training {key} have no "
                    f"{label} node in Neo4j (ids {s[f'missing_{key}']} …); ingest Last.fm first "
                    "(`soundbridge ingest --source lastfm`), or pass the ids of the matrix's "
                    "rows and columns as user_ids= and item_ids="
                )
        # undirected: GDS stores (and counts) each edge in both directions
        edges = len(params["plays"]) + len(params["friends"]) + int(s["tag_edges"])
        nodes = n_users + n_items + int(s["tags"])
        try:
            estimate, _, _ = driver.execute_query(
                q.FASTRP_ESTIMATE, nodes=nodes, relationships=2 * edges, config=self.gds_config()
            )
        except neo4j.exceptions.ClientError as e:
            if e.code != _NOT_FOUND:
                raise
            raise ConfigError(
                "FastRP needs the Graph Data Science plugin (gds.fastRP) on the Neo4j server, "
                "which this one lacks; soundbridge's own server ships it (`soundbridge neo4j "
                "install`); from Python, leave 'FastRP (GDS)' out of recsys.pipeline.build's "
                "models"
            ) from e
        self.memory_bytes_ = int(estimate[0]["bytesMax"])
        try:
            heap, _, _ = driver.execute_query(q.JAVA_HEAP)
        except neo4j.exceptions.ClientError:
            return  # no JMX here (a managed server): GDS's own memory guard still applies
        free = int(heap[0]["max"]) - int(heap[0]["used"])
        if self.memory_bytes_ > free:
            raise FastRPMemoryError(
                f"FastRP needs up to {self.memory_bytes_ / _MIB:,.0f} MiB of Neo4j's heap "
                f"(GDS's estimate for {nodes:,} nodes, {edges:,} edges, "
                f"{self.embedding_dim} dimensions) but {free / _MIB:,.0f} MiB of "
                f"{int(heap[0]['max']) / _MIB:,.0f} MiB are free; lower embedding_dim, leave out "
                f"tags, or give the server more heap ({HEAP_MAX_ENV} for soundbridge's own "
                "server, then `soundbridge neo4j stop` and `start`)"
            )

    def _scores(self, users: np.ndarray) -> np.ndarray:
        s = super()._scores(users)
        s[:, ~self.item_known_] = -np.inf
        return s

    def _item_similarity(self, items: np.ndarray) -> np.ndarray:
        s = super()._item_similarity(items)
        s[:, ~self.item_known_] = -np.inf
        return s
