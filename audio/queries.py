"""Every Cypher statement of the audio layer, parameterised (values never formatted in)."""

from __future__ import annotations

__all__ = ["SET_TRACK_FACTORS", "FIND_CULTURE", "ADD_TRACK", "TRACK_EXISTS"]

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
