"""Every Cypher statement of :mod:`recsys`, parameterised (values never go into the strings)."""

from __future__ import annotations

__all__ = ["ARTIST_WORLD_REGIONS"]

#: Each artist with a culture link and the world regions above its cultures (the culture itself
#: when it already is a world region).
ARTIST_WORLD_REGIONS = """
MATCH (a:Artist)-[:FROM_CULTURE]->(c:Culture)
MATCH (c)-[:PART_OF*0..2]->(w:Culture {level: 'world_region'})
RETURN a.id AS artist, collect(DISTINCT w.id) AS regions
"""
