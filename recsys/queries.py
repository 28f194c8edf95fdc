"""Every Cypher statement of :mod:`recsys`, parameterised (values never go into the strings)."""

from __future__ import annotations

__all__ = [
    "ARTISTS_OF_CULTURES",
    "ARTIST_WORLD_REGIONS",
    "CATALOGUE_STAMP",
    "CATALOGUE_TRACKS",
    "CULTURE_TREE",
    "FASTRP_DROP",
    "FASTRP_ESTIMATE",
    "FASTRP_GRAPH_SIZE",
    "FASTRP_PROJECT",
    "FASTRP_STREAM",
    "FUNCTION_NAMES",
    "JAVA_HEAP",
    "STYLE_CODES",
    "TRACKS_WITH_FACTORS",
    "STYLE_SIMILAR_PAIRS",
]

#: Each artist with a culture link and the world regions above its cultures (the culture itself
#: when it already is a world region).
ARTIST_WORLD_REGIONS = """
MATCH (a:Artist)-[:FROM_CULTURE]->(c:Culture)
MATCH (c)-[:PART_OF*0..2]->(w:Culture {level: 'world_region'})
RETURN a.id AS artist, collect(DISTINCT w.id) AS regions
"""

#: Every Track that has audio factors, with its society, known function, MIRtoolbox features and
#: GNN embedding (with whether its function label trained it).
CATALOGUE_TRACKS = """
MATCH (t:Track) WHERE t.za IS NOT NULL
OPTIONAL MATCH (t)-[:FROM_CULTURE]->(c:Culture)
OPTIONAL MATCH (t)-[:SERVES_FUNCTION]->(f:Function)
WITH t, head(collect(DISTINCT c.id)) AS culture, head(collect(DISTINCT f.name)) AS function
RETURN t.id AS id, t.name AS name, culture, function, t.zc AS zc, t.zs AS zs, t.za AS za,
       t.mir AS mir, t.audio AS audio, t.embedding AS embedding,
       t.embedding_label_used AS label_used
ORDER BY id
"""

#: The Culture tree: each culture with its parent (null at the top).
CULTURE_TREE = """
MATCH (c:Culture)
OPTIONAL MATCH (c)-[:PART_OF]->(p:Culture)
RETURN c.id AS id, c.name AS name, c.level AS level, head(collect(p.id)) AS parent,
       c.glottocode AS glottocode, c.latitude AS latitude, c.longitude AS longitude
ORDER BY id
"""

#: Pairs of societies with similar Cantometrics profiles.
STYLE_SIMILAR_PAIRS = """
MATCH (a:Culture)-[r:STYLE_SIMILAR]->(b:Culture)
RETURN a.id AS source, b.id AS target, r.score AS score
"""

#: The behavioural contexts, by name.
FUNCTION_NAMES = "MATCH (f:Function) RETURN f.name AS name ORDER BY name"

#: A cheap stamp of what the catalogue reads: changes when tracks, factors, GNN embeddings (a
#: rebuild stamps ``embedding_at``), labels or cultures do,
#: and when experts answer: an answer given or retracted changes the count of Answer nodes, one
#: that replaces another the newest ``created``; an operator's constraint the count of
#: EXPERT_CONSTRAINT edges; retiring or merging a concept (whose answers then count for nothing,
#: or for another) the count of active concepts.
CATALOGUE_STAMP = """
CALL () {
  MATCH (t:Track) WHERE t.za IS NOT NULL
  RETURN count(t) AS tracks, toString(max(t.factors_at)) AS factors_at,
         count(t.embedding) AS embedded, toString(max(t.embedding_at)) AS embedded_at
}
CALL () { MATCH (:Track)-[r:SERVES_FUNCTION]->() RETURN count(r) AS labels }
CALL () { MATCH (:Track)-[r:FROM_CULTURE]->() RETURN count(r) AS links }
CALL () { MATCH (c:Culture) RETURN count(c) AS cultures }
CALL () { MATCH (:Culture)-[r:PART_OF|STYLE_SIMILAR]->() RETURN count(r) AS culture_links }
CALL () { MATCH (a:Answer) RETURN count(a) AS answers, toString(max(a.created)) AS answered }
CALL () { MATCH (:Track)-[r:EXPERT_CONSTRAINT]->() RETURN count(r) AS constraints }
CALL () {
  MATCH (c:Concept) RETURN count(c) AS concepts, count(CASE c.status WHEN 'active' THEN 1 END)
    AS active_concepts
}
RETURN tracks, factors_at, embedded, embedded_at, labels, links, cultures, culture_links, answers,
       answered, constraints, concepts, active_concepts
"""

#: Last.fm artists linked to any of the cultures ``$ids`` by at least ``$min_count`` tag uses.
ARTISTS_OF_CULTURES = """
MATCH (a:Artist)-[r:FROM_CULTURE]->(c:Culture) WHERE c.id IN $ids AND r.count >= $min_count
RETURN DISTINCT a.id AS artist
"""

#: The predominant Cantometrics style codes of every profiled society.
STYLE_CODES = """
MATCH (c:Culture) WHERE c.style_codes IS NOT NULL
RETURN c.id AS culture, c.style_codes AS codes
ORDER BY culture
"""

#: How many Track nodes carry audio factors.
TRACKS_WITH_FACTORS = "MATCH (t:Track) WHERE t.za IS NOT NULL RETURN count(t) AS n"

# --- FastRP (GDS) -------------------------------------------------------------------------------
# The training rows travel as parameters and are the only user→artist edges projected: the
# LISTENED relationships stored in the graph (which hold the held-out rows too) are never read.

#: What a FastRP projection will hold, counted before anything is projected: the training users
#: (``$users``) and artists (``$artists``) that have no node (at most five of each, and how many),
#: and the ``HAS_TAG`` edges and distinct tags of the artists in ``$tagged``.
FASTRP_GRAPH_SIZE = """
CALL () {
  UNWIND $users AS id
  OPTIONAL MATCH (n:User {id: id})
  WITH id, n WHERE n IS NULL
  RETURN collect(id) AS missing_users
}
CALL () {
  UNWIND $artists AS id
  OPTIONAL MATCH (n:Artist {id: id})
  WITH id, n WHERE n IS NULL
  RETURN collect(id) AS missing_artists
}
CALL () {
  UNWIND $tagged AS id
  MATCH (:Artist {id: id})-[:HAS_TAG]->(t:Tag)
  RETURN count(*) AS tag_edges, count(DISTINCT t) AS tags
}
RETURN missing_users[..5] AS missing_users, size(missing_users) AS missing_user_count,
       missing_artists[..5] AS missing_artists, size(missing_artists) AS missing_artist_count,
       tag_edges, tags
"""

#: GDS's memory estimate of FastRP (graph and algorithm) for a graph of ``$nodes`` nodes and
#: ``$relationships`` relationships (each undirected edge counts twice), FastRP settings
#: ``$config``.
FASTRP_ESTIMATE = """
CALL gds.fastRP.stream.estimate(
  {nodeCount: $nodes, relationshipCount: $relationships, nodeProjection: '*',
   relationshipProjection: '*'},
  $config
) YIELD bytesMax, requiredMemory
RETURN bytesMax, requiredMemory
"""

#: The server's Java heap now: ``max`` and ``used`` bytes.
JAVA_HEAP = """
CALL dbms.queryJmx('java.lang:type=Memory') YIELD attributes
RETURN attributes.HeapMemoryUsage.value.properties.max AS max,
       attributes.HeapMemoryUsage.value.properties.used AS used
"""

#: Project the undirected training graph ``$graph`` (Cypher aggregation): ``$plays`` rows
#: ``[user id, artist id, weight]``, ``$friends`` rows ``[user id, user id, weight]`` and the
#: stored ``HAS_TAG`` edges of the artists in ``$tagged`` (weight ``$tag_weight``, or
#: ``log(1 + count)`` when it is null). Rows whose nodes are missing are dropped by the MATCH
#: (:data:`FASTRP_GRAPH_SIZE` looks for them first).
FASTRP_PROJECT = """
CALL () {
  UNWIND $plays AS p
  MATCH (s:User {id: p[0]})
  MATCH (t:Artist {id: p[1]})
  RETURN s, t, 'LISTENED' AS type, toFloat(p[2]) AS weight
  UNION ALL
  UNWIND $friends AS f
  MATCH (s:User {id: f[0]})
  MATCH (t:User {id: f[1]})
  RETURN s, t, 'FRIEND' AS type, toFloat(f[2]) AS weight
  UNION ALL
  UNWIND $tagged AS id
  MATCH (s:Artist {id: id})-[r:HAS_TAG]->(t:Tag)
  RETURN s, t, 'HAS_TAG' AS type,
         coalesce(toFloat($tag_weight), log(1.0 + coalesce(r.count, 1))) AS weight
}
WITH gds.graph.project($graph, s, t, {
  sourceNodeLabels: labels(s),
  targetNodeLabels: labels(t),
  relationshipType: type,
  relationshipProperties: {weight: weight}
}, {undirectedRelationshipTypes: ['*']}) AS g
RETURN g.graphName AS graph, g.nodeCount AS nodes, g.relationshipCount AS relationships
"""

#: FastRP's embeddings (settings ``$config``) of the User and Artist nodes of projection
#: ``$graph``; the other nodes (tags) pass messages but are not returned.
FASTRP_STREAM = """
CALL gds.fastRP.stream($graph, $config) YIELD nodeId, embedding
WITH gds.util.asNode(nodeId) AS n, embedding
WHERE n:User OR n:Artist
RETURN n:User AS user, n.id AS id, embedding
"""

#: Drop projection ``$graph`` from the graph catalog (no error when it is not there).
FASTRP_DROP = "CALL gds.graph.drop($graph, false) YIELD graphName RETURN graphName"
