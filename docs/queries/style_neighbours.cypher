// Societies whose Cantometrics singing style is closest to $society (docs/cypher.md, example 6)
MATCH (s:Culture {level: 'society', name: $society})-[r:STYLE_SIMILAR]->(o:Culture)
RETURN o.name AS society, o.hraf_region AS hraf_region, round(r.score, 3) AS similarity
ORDER BY similarity DESC
