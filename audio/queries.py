"""Every Cypher statement of the audio layer, parameterised (values never formatted in)."""

from __future__ import annotations

__all__ = [
    "SET_TRACK_FACTORS",
    "FIND_CULTURE",
    "ADD_TRACK",
    "TRACK_EXISTS",
    "SIMILARITY_TYPES",
    "TRACK_FACTORS",
    "WRITE_SIMILAR",
    "DELETE_SIMILAR_OUTSIDE",
    "SIMILAR_DEGREES",
    "COUNT_SIMILAR",
]

#: ``$rows``: ``[{id, zc, zs, za}]``; returns how many Track nodes were found and updated.
SET_TRACK_FACTORS = """
UNWIND $rows AS row
MATCH (t:Track {id: row.id})
SET t.zc = row.zc, t.zs = row.zs, t.za = row.za, t.factors_at = datetime()
RETURN count(t) AS updated
"""

#: A culture by id or (case-insensitive) name; societies first.
FIND_CULTURE = """
MATCH (c:Culture)
WHERE c.id = $culture OR toLower(c.name) = toLower($culture)
RETURN c.id AS id, c.name AS name, c.level AS level
ORDER BY CASE c.level WHEN 'society' THEN 0 WHEN 'region' THEN 1 ELSE 2 END, c.id
"""

TRACK_EXISTS = "MATCH (t:Track {id: $id}) RETURN t.id AS id"

#: A user-added track with its factors, linked to its one culture (idempotent on ``$id``): a link
#: to any other culture, left by an earlier add with another culture, is replaced. Returns whether
#: the track existed and the cultures whose link was removed.
ADD_TRACK = """
MATCH (c:Culture {id: $culture_id})
OPTIONAL MATCH (before:Track {id: $id})
WITH c, before IS NOT NULL AS existed
MERGE (t:Track {id: $id})
SET t.name = $name, t.source = 'user', t.audio = $audio,
    t.zc = $zc, t.zs = $zs, t.za = $za, t.factors_at = datetime()
WITH c, t, existed
OPTIONAL MATCH (t)-[old:FROM_CULTURE]->(prev:Culture)
WHERE prev <> c
WITH c, t, existed, collect(old) AS olds,
     collect(DISTINCT {id: prev.id, name: prev.name}) AS replaced
FOREACH (r IN olds | DELETE r)
MERGE (t)-[:FROM_CULTURE]->(c)
RETURN t.id AS id, existed, [p IN replaced WHERE p.id IS NOT NULL] AS replaced
"""

# --- song-song similarity edges (audio/similarity.py) -------------------------------------------

#: The relationship types of the similarity edges, one per factor. Kept apart from Cantometrics'
#: ``STYLE_SIMILAR`` between societies (a prefix ``SIMILAR_`` here, a suffix there).
SIMILARITY_TYPES = ("SIMILAR_CONTENT", "SIMILAR_STYLE", "SIMILAR_AFFECT")

#: Every Track with at least one factor, with its factors (null where absent).
TRACK_FACTORS = """
MATCH (t:Track)
WHERE t.zc IS NOT NULL OR t.zs IS NOT NULL OR t.za IS NOT NULL
RETURN t.id AS id, t.zc AS zc, t.zs AS zs, t.za AS za
"""

# Cypher cannot take a relationship type as a parameter, so each statement below is written out
# once per type of SIMILARITY_TYPES (fixed names, never input); values still travel as parameters.

#: ``$rows``: ``[{id, targets, scores}]``, a source track's complete neighbour list (targets in rank
#: order). Out-edges of the source to any other track are deleted, the listed ones merged with
#: ``score`` and ``rank`` (1 = nearest). Returns how many edges were written.
WRITE_SIMILAR: dict[str, str] = {
    t: f"""
UNWIND $rows AS row
MATCH (a:Track {{id: row.id}})
CALL (a, row) {{
  MATCH (a)-[old:{t}]->(b)
  WHERE NOT b.id IN row.targets
  DELETE old
}}
WITH a, row
UNWIND range(0, size(row.targets) - 1) AS i
MATCH (b:Track {{id: row.targets[i]}})
MERGE (a)-[r:{t}]->(b)
SET r.score = row.scores[i], r.rank = i + 1
RETURN count(r) AS written
"""
    for t in SIMILARITY_TYPES
}

#: Deletes the out-edges of every track whose id is not in ``$keep`` (its factor vanished or
#: cannot be compared). Returns how many were deleted.
DELETE_SIMILAR_OUTSIDE: dict[str, str] = {
    t: f"""
MATCH (a:Track)-[r:{t}]->()
WHERE NOT a.id IN $keep
DELETE r
RETURN count(r) AS deleted
"""
    for t in SIMILARITY_TYPES
}

#: Per source track: its out-degree, its lowest score (that of its k-th neighbour) and whether it
#: points at the track ``$id``.
SIMILAR_DEGREES: dict[str, str] = {
    t: f"""
MATCH (a:Track)-[r:{t}]->(b)
RETURN a.id AS id, count(r) AS n, min(r.score) AS lowest, count(CASE WHEN b.id = $id THEN 1 END) > 0
       AS to_track
"""
    for t in SIMILARITY_TYPES
}

#: How many edges of the type the graph holds.
COUNT_SIMILAR: dict[str, str] = {
    t: f"MATCH ()-[r:{t}]->() RETURN count(r) AS n" for t in SIMILARITY_TYPES
}
