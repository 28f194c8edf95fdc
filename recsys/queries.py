"""Every Cypher statement of :mod:`recsys`, parameterised (values never go into the strings)."""

from __future__ import annotations

__all__ = [
    "ARTISTS_OF_CULTURES",
    "ARTIST_WORLD_REGIONS",
    "CATALOGUE_STAMP",
    "CATALOGUE_TRACKS",
    "CULTURE_TREE",
    "FUNCTION_NAMES",
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

#: Every Track that has audio factors, with its society, known function and MIRtoolbox features.
CATALOGUE_TRACKS = """
MATCH (t:Track) WHERE t.za IS NOT NULL
OPTIONAL MATCH (t)-[:FROM_CULTURE]->(c:Culture)
OPTIONAL MATCH (t)-[:SERVES_FUNCTION]->(f:Function)
WITH t, head(collect(DISTINCT c.id)) AS culture, head(collect(DISTINCT f.name)) AS function
RETURN t.id AS id, t.name AS name, culture, function, t.zc AS zc, t.zs AS zs, t.za AS za,
       t.mir AS mir, t.audio AS audio
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

#: A cheap stamp of what the catalogue reads: changes when tracks, factors, labels or cultures do,
#: and when experts answer: an answer given or retracted changes the count of Answer nodes, one
#: that replaces another the newest ``created``; an operator's constraint the count of
#: EXPERT_CONSTRAINT edges; retiring or merging a concept (whose answers then count for nothing,
#: or for another) the count of active concepts.
CATALOGUE_STAMP = """
CALL () {
  MATCH (t:Track) WHERE t.za IS NOT NULL
  RETURN count(t) AS tracks, toString(max(t.factors_at)) AS factors_at
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
RETURN tracks, factors_at, labels, links, cultures, culture_links, answers, answered, constraints,
       concepts, active_concepts
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
