// Songs of the HRAF region "Central Andes" and their behavioural context (docs/cypher.md, example 1)
MATCH (:Culture {id: 'HRAF-central-andes'})<-[:PART_OF]-(s:Culture)<-[:FROM_CULTURE]-(t:Track)
OPTIONAL MATCH (t)-[:SERVES_FUNCTION]->(f:Function)
RETURN s.name AS society, t.id AS track, coalesce(f.name, '(withheld)') AS function
ORDER BY society, track
