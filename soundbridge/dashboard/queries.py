"""Every Cypher statement of the dashboard, parameterised, in one place.

Labels cannot be parameters in Cypher; the per-label statements are generated here from the
schema's own label list (:data:`kg.queries.LABELS`), never from request input.
"""

from __future__ import annotations

from kg.queries import LABELS

__all__ = [
    "CULTURE_NAMES",
    "EMBEDDING_POINTS",
    "EMBEDDING_PROPERTIES",
    "NEIGHBOURS",
    "NODE",
    "SEARCH",
    "SOCIETIES",
    "SOCIETY_TRACKS",
    "TRACK_AUDIO",
    "TRACK_SEARCH",
]

#: Search by name (case-insensitive substring) over the labels people look for, shortest first.
SEARCH = """
CALL () {
  MATCH (n:Culture) WHERE toLower(n.name) CONTAINS $q RETURN n
  UNION
  MATCH (n:Track) WHERE toLower(n.name) CONTAINS $q RETURN n
  UNION
  MATCH (n:Artist) WHERE toLower(n.name) CONTAINS $q RETURN n
  UNION
  MATCH (n:Function) WHERE toLower(n.name) CONTAINS $q RETURN n
  UNION
  MATCH (n:User) WHERE toString(n.id) = $q RETURN n
}
WITH n, coalesce(n.name, toString(n.id)) AS name
RETURN labels(n)[0] AS label, n.id AS id, name, n.level AS level
ORDER BY CASE WHEN toLower(name) STARTS WITH $q THEN 0 ELSE 1 END, size(name), name
LIMIT $limit
"""

_WORLD = """
OPTIONAL CALL ({var}) {{
  MATCH ({var})-[:FROM_CULTURE|PART_OF*0..3]->(w:Culture {{level: 'world_region'}})
  RETURN w.name AS world LIMIT 1
}}"""

#: One node with its properties and world region, per label.
NODE: dict[str, str] = {
    label: f"""
MATCH (n:{label} {{id: $id}})
{_WORLD.format(var="n")}
RETURN labels(n)[0] AS label, n.id AS id, coalesce(n.name, toString(n.id)) AS name,
       properties(n) AS props, world
"""
    for label in LABELS
}

#: A node's neighbours over the given relationship types, strongest first.
NEIGHBOURS: dict[str, str] = {
    label: f"""
MATCH (n:{label} {{id: $id}})-[r]-(m)
WHERE type(r) IN $types
WITH n, r, m ORDER BY coalesce(r.weight, r.score, toFloat(r.count), 0.0) DESC LIMIT $limit
{_WORLD.format(var="m")}
RETURN labels(m)[0] AS label, m.id AS id, coalesce(m.name, toString(m.id)) AS name,
       m.function AS function, m.level AS level, world,
       type(r) AS type, startNode(r) = n AS outgoing,
       coalesce(r.weight, r.score, toFloat(r.count)) AS weight
"""
    for label in LABELS
}

#: Societies with coordinates, their world region and how many recordings they have.
SOCIETIES = """
MATCH (s:Culture {level: 'society'})
WHERE s.latitude IS NOT NULL
OPTIONAL MATCH (s)-[:PART_OF]->(:Culture)-[:PART_OF]->(w:Culture {level: 'world_region'})
RETURN s.id AS id, s.name AS name, s.latitude AS lat, s.longitude AS lon,
       s.hraf_region AS hraf_region, w.name AS world,
       count{ (s)<-[:FROM_CULTURE]-(:Track) } AS tracks
ORDER BY name
"""

#: The recordings of one society.
SOCIETY_TRACKS = """
MATCH (s:Culture {id: $id})<-[:FROM_CULTURE]-(t:Track)
RETURN t.id AS id, t.name AS name, t.function AS function, t.audio IS NOT NULL AS has_audio
ORDER BY t.id
"""

#: Where a track's recording lives, relative to the data root.
TRACK_AUDIO = "MATCH (t:Track {id: $id}) RETURN t.audio AS audio"

#: Tracks the cross-cultural search can start from (those with audio factors), by name or id.
TRACK_SEARCH = """
MATCH (t:Track) WHERE t.za IS NOT NULL
  AND (toLower(t.name) CONTAINS $q OR toLower(t.id) CONTAINS $q)
OPTIONAL MATCH (t)-[:FROM_CULTURE]->(c:Culture)
WITH t, head(collect(c.name)) AS culture_name
RETURN t.id AS id, t.name AS name, culture_name, t.hraf_region AS hraf_region,
       t.function AS function, t.audio IS NOT NULL AS has_audio
ORDER BY CASE WHEN toLower(t.name) STARTS WITH $q OR toLower(t.id) = $q THEN 0 ELSE 1 END, t.name
LIMIT $limit
"""

#: Names people can type as a target culture: every Culture, largest levels first.
CULTURE_NAMES = """
MATCH (c:Culture)
RETURN c.name AS name, c.level AS level
ORDER BY CASE c.level WHEN 'world_region' THEN 0 WHEN 'region' THEN 1 ELSE 2 END, c.name
"""

#: The vector spaces of the embedding map: key → Track property holding the vector.
EMBEDDING_PROPERTIES: dict[str, str] = {"zc": "zc", "zs": "zs", "za": "za", "gnn": "embedding"}

#: Each Track with a vector in one space, its HRAF region and public function (per space; the
#: property names come from :data:`EMBEDDING_PROPERTIES`, never from request input).
EMBEDDING_POINTS: dict[str, str] = {
    space: f"""
MATCH (t:Track) WHERE t.{prop} IS NOT NULL
RETURN t.id AS id, t.name AS name, t.hraf_region AS culture, t.function AS function,
       t.{prop} AS vector
ORDER BY id
"""
    for space, prop in EMBEDDING_PROPERTIES.items()
}

#: The functions an expert may give a song (besides the active concepts, read by kg.expert).
FUNCTION_NAMES = "MATCH (f:Function) RETURN f.name AS name ORDER BY name"
