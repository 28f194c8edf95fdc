"""Every Cypher statement of the ``kg`` package, parameterised, in one place.

Values always travel as parameters (``$rows``, ``$id``); nothing is formatted into a statement
except labels and relationship types, which Cypher cannot parameterise — :func:`rel_write` checks
them against the schema's labels and :data:`REL_TYPE_PATTERN` before use.

Batch statements take ``$rows``, a list of maps, and use ``UNWIND`` with ``MERGE`` so that running
them twice (or again after an interrupted run) leaves the graph unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "CONSTRAINTS",
    "ELEMENT_IDS",
    "INDEXES",
    "LABELS",
    "REL_TYPE_PATTERN",
    "RelWrite",
    "rel_write",
]

# --- schema ---------------------------------------------------------------------------------------

#: Every node label of the schema (docs/schema.md).
LABELS = ("Track", "Artist", "User", "Function", "Culture", "Tag", "Entity", "Playlist")

#: One uniqueness constraint per node label on ``id`` (each also backs an index for MATCH by id).
CONSTRAINTS: dict[str, str] = {
    label: (
        f"CREATE CONSTRAINT {label.lower()}_id IF NOT EXISTS FOR (n:{label}) REQUIRE n.id IS UNIQUE"
    )
    for label in LABELS
}

INDEXES: dict[str, str] = {
    "culture_name": "CREATE INDEX culture_name IF NOT EXISTS FOR (n:Culture) ON (n.name)",
    "culture_level": "CREATE INDEX culture_level IF NOT EXISTS FOR (n:Culture) ON (n.level)",
    "artist_name": "CREATE INDEX artist_name IF NOT EXISTS FOR (n:Artist) ON (n.name)",
    "tag_name": "CREATE INDEX tag_name IF NOT EXISTS FOR (n:Tag) ON (n.name)",
    "function_name": "CREATE INDEX function_name IF NOT EXISTS FOR (n:Function) ON (n.name)",
    "track_name": "CREATE INDEX track_name IF NOT EXISTS FOR (n:Track) ON (n.name)",
}

AWAIT_INDEXES = "CALL db.awaitIndexes(300)"

# --- nodes ----------------------------------------------------------------------------------------

MERGE_CULTURES = """
UNWIND $rows AS row
MERGE (c:Culture {id: row.id})
SET c += row.props
"""


MERGE_FUNCTIONS = """
UNWIND $rows AS row
MERGE (f:Function {id: row.id})
SET f.name = row.name, f.code = row.code, f.description = row.description
"""

MERGE_TRACKS = """
UNWIND $rows AS row
MERGE (t:Track {id: row.id})
SET t += row.props
"""


SET_TRACK_MIR = """
UNWIND $rows AS row
MATCH (t:Track {id: row.id})
SET t.mir = row.mir
"""

SET_CULTURE_STYLE = """
UNWIND $rows AS row
MATCH (c:Culture {id: row.id})
SET c.style_profile = row.profile, c.style_codes = row.codes, c.style_songs = row.songs,
    c.cantometrics_societies = row.societies
"""


MERGE_USERS = """
UNWIND $rows AS row
MERGE (:User {id: row.id})
"""

MERGE_ARTISTS = """
UNWIND $rows AS row
MERGE (a:Artist {id: row.id})
SET a.name = row.name, a.url = row.url, a.picture_url = row.picture_url
"""

MERGE_TAGS = """
UNWIND $rows AS row
MERGE (t:Tag {id: row.id})
SET t.name = row.name
"""


MERGE_ENTITIES = """
UNWIND $rows AS row
MERGE (:Entity {id: row.id})
"""

SET_ARTIST_ENTITY = """
UNWIND $rows AS row
MATCH (a:Artist {id: row.artist})
SET a.kg_entity = row.entity
"""


# --- relationships ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RelWrite:
    """The statements that write one relationship shape from ``$rows`` of ``{src, dst, <props>}``.

    ``src`` and ``dst`` are the end nodes' *element ids* (:data:`ELEMENT_IDS` looks them up from
    the graph ids once per ingestion): matching by element id is a direct record read, about a third
    faster than an index seek per end, which is most of the cost of a relationship write.

    Attributes:
        rel_type, src_label, dst_label: the shape ``(:src_label)-[:rel_type]->(:dst_label)``.
        merge: ``MERGE`` the relationship and ``SET`` its properties — idempotent, used whenever
            relationships of this shape may already exist.
        create: the same with ``CREATE``: identical result when none exist yet, and faster (no
            existence check); :mod:`kg.batches` uses it only after ``probe`` returned 0.
        probe: counts existing relationships of this type from this source label (answered from
            Neo4j's count store, so O(1)).
    """

    rel_type: str
    src_label: str
    dst_label: str
    merge: str
    create: str
    probe: str


REL_TYPE_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{0,120}$")

#: Per label: every node's graph id and element id.
ELEMENT_IDS: dict[str, str] = {
    label: f"MATCH (n:{label}) RETURN n.id AS id, elementId(n) AS eid" for label in LABELS
}


def rel_write(src: str, rel_type: str, dst: str, props: tuple[str, ...] = ()) -> RelWrite:
    """Build the :class:`RelWrite` for ``(:src)-[:rel_type]->(:dst)``.

    Cypher cannot take labels or relationship types as parameters, so these are formatted into the
    statement — only after checking them against the schema's labels and :data:`REL_TYPE_PATTERN`
    (an upper-case identifier), which rules out injection. Values still travel in ``$rows``.

    Examples:
        >>> print(rel_write("User", "FRIEND", "User").create)
        UNWIND $rows AS row
        MATCH (a) WHERE elementId(a) = row.src
        MATCH (b) WHERE elementId(b) = row.dst
        CREATE (a)-[r:FRIEND]->(b)
    """
    if src not in LABELS or dst not in LABELS:
        raise ValueError(f"unknown label in ({src})-[{rel_type}]->({dst})")
    if not REL_TYPE_PATTERN.match(rel_type):
        raise ValueError(f"not a safe relationship type: {rel_type!r}")
    if any(not p.isidentifier() for p in props):
        raise ValueError(f"not safe property names: {props!r}")
    head = (
        "UNWIND $rows AS row\nMATCH (a) WHERE elementId(a) = row.src\n"
        "MATCH (b) WHERE elementId(b) = row.dst\n"
    )
    tail = ("\nSET " + ", ".join(f"r.{p} = row.{p}" for p in props)) if props else ""
    return RelWrite(
        rel_type=rel_type,
        src_label=src,
        dst_label=dst,
        merge=f"{head}MERGE (a)-[r:{rel_type}]->(b){tail}",
        create=f"{head}CREATE (a)-[r:{rel_type}]->(b){tail}",
        probe=f"MATCH (:{src})-[r:{rel_type}]->() RETURN count(r) AS n",
    )


PART_OF = rel_write("Culture", "PART_OF", "Culture")
TRACK_FROM_CULTURE = rel_write("Track", "FROM_CULTURE", "Culture")
SERVES_FUNCTION = rel_write("Track", "SERVES_FUNCTION", "Function")
STYLE_SIMILAR = rel_write("Culture", "STYLE_SIMILAR", "Culture", ("score",))
LISTENED = rel_write("User", "LISTENED", "Artist", ("weight",))
FRIEND = rel_write("User", "FRIEND", "User")
HAS_TAG = rel_write("Artist", "HAS_TAG", "Tag", ("count",))
ARTIST_FROM_CULTURE = rel_write("Artist", "FROM_CULTURE", "Culture", ("tags", "count"))
ARTIST_CO_COLLECTED = rel_write("Artist", "CO_COLLECTED", "Artist", ("weight", "common"))
PERFORMED_BY = rel_write("Track", "PERFORMED_BY", "Artist")
IN_PLAYLIST = rel_write("Track", "IN_PLAYLIST", "Playlist")
COLLECTED = rel_write("User", "COLLECTED", "Track")
TRACK_CO_COLLECTED = rel_write("Track", "CO_COLLECTED", "Track", ("weight", "common"))

# --- NetEase-style song collections -----------------------------------------------------------

MERGE_NETEASE_USERS = """
UNWIND $rows AS row
MERGE (u:User {id: row.id})
SET u.nickname = row.nickname, u.source = 'netease'
"""

MERGE_NETEASE_ARTISTS = """
UNWIND $rows AS row
MERGE (a:Artist {id: row.id})
SET a.name = row.name, a.source = 'netease'
"""

MERGE_NETEASE_TRACKS = """
UNWIND $rows AS row
MERGE (t:Track {id: row.id})
SET t.name = row.name, t.album = row.album, t.duration_ms = row.duration_ms, t.source = 'netease'
"""

MERGE_PLAYLISTS = """
UNWIND $rows AS row
MERGE (p:Playlist {id: row.id})
SET p.name = row.name, p.owner = row.owner
"""


# --- expert constraints -----------------------------------------------------------------------

TRACKS_EXIST = """
UNWIND $ids AS id
OPTIONAL MATCH (t:Track {id: id})
RETURN id, t IS NOT NULL AS found
"""

CONSTRAINT_BETWEEN = """
MATCH (a:Track {id: $source})-[r:EXPERT_CONSTRAINT]-(b:Track {id: $target})
RETURN r.kind AS kind, r.author AS author, r.rationale AS rationale
"""

#: An operator's constraint (no ``answer_id``): made once, then updated; an edge an expert's
#: answer made is never matched here (retracting the answer must find it as it was written).
MERGE_EXPERT_CONSTRAINT = """
MATCH (a:Track {id: $source})
MATCH (b:Track {id: $target})
OPTIONAL MATCH (a)-[old:EXPERT_CONSTRAINT {kind: $kind}]->(b)
WHERE old.answer_id IS NULL
WITH a, b, count(old) AS n
FOREACH (_ IN CASE n WHEN 0 THEN [1] ELSE [] END |
  CREATE (a)-[:EXPERT_CONSTRAINT {kind: $kind, created_at: datetime()}]->(b))
WITH a, b
MATCH (a)-[r:EXPERT_CONSTRAINT {kind: $kind}]->(b)
WHERE r.answer_id IS NULL
SET r.rationale = $rationale, r.author = $author
RETURN r.kind AS kind, r.rationale AS rationale, r.author AS author,
       toString(r.created_at) AS created_at
"""

# --- counts and export --------------------------------------------------------------------------

COUNT_LABELS = """
MATCH (n)
UNWIND labels(n) AS label
RETURN label, count(*) AS n
"""

COUNT_REL_TYPES = """
MATCH ()-[r]->()
RETURN type(r) AS type, count(*) AS n
"""

COUNT_SOCIETIES = "MATCH (c:Culture {level: 'society'}) RETURN count(c) AS n"

# --- bulk import (kg/bulk.py) ---------------------------------------------------------------------

#: Every node and relationship, answered from the count store (O(1)): is a database empty?
COUNT_ALL = """
CALL () { MATCH (n) RETURN count(n) AS nodes }
CALL () { MATCH ()-[r]->() RETURN count(r) AS relationships }
RETURN nodes, relationships
"""

#: Societies that do not reach a world region through one region, as kg/culture.py builds them.
CULTURE_TREE_GAPS = """
MATCH (s:Culture {level: 'society'})
WHERE NOT EXISTS {
  (s)-[:PART_OF]->(:Culture {level: 'region'})-[:PART_OF]->(:Culture {level: 'world_region'})
}
RETURN count(s) AS n
"""

EXPORT_NODES = """
MATCH (n)
WHERE $labels IS NULL OR any(l IN labels(n) WHERE l IN $labels)
RETURN labels(n)[0] AS label, n.id AS id, properties(n) AS props
"""

EXPORT_RELATIONSHIPS = """
MATCH (a)-[r]->(b)
WHERE ($types IS NULL OR type(r) IN $types)
  AND ($labels IS NULL OR (labels(a)[0] IN $labels AND labels(b)[0] IN $labels))
RETURN labels(a)[0] AS src_label, a.id AS src, type(r) AS type,
       labels(b)[0] AS dst_label, b.id AS dst, properties(r) AS props
"""


#: Nodes without an ``id`` (accounts) are not part of the knowledge graph and are left out, as
#: are the relationships that touch them.
EXPORT_NODE_IDS = """
MATCH (n)
WHERE ($labels IS NULL OR labels(n)[0] IN $labels) AND n.id IS NOT NULL
RETURN labels(n)[0] AS label, collect(n.id) AS ids
"""

EXPORT_EDGE_INDEX = """
MATCH (a)-[r]->(b)
WHERE ($types IS NULL OR type(r) IN $types)
  AND ($labels IS NULL OR (labels(a)[0] IN $labels AND labels(b)[0] IN $labels))
  AND a.id IS NOT NULL AND b.id IS NOT NULL
RETURN labels(a)[0] AS src_label, type(r) AS type, labels(b)[0] AS dst_label,
       collect(a.id) AS src, collect(b.id) AS dst,
       collect(coalesce(r.weight, r.score, toFloat(r.count), 1.0)) AS weight
"""

# --- accounts (kg/accounts.py) --------------------------------------------------------------------
ACCOUNT_CONSTRAINT = (
    "CREATE CONSTRAINT account_username IF NOT EXISTS FOR (a:Account) REQUIRE a.username IS UNIQUE"
)

ACCOUNT_FIELDS = (
    "a.username AS username, a.role AS role, coalesce(a.scopes, []) AS scopes, "
    "coalesce(a.disabled, false) AS disabled, toString(a.created) AS created"
)

CREATE_ACCOUNT = f"""
CREATE (a:Account {{username: $username, role: $role, scopes: $scopes, disabled: false,
                    password_hash: $hash, created: datetime()}})
RETURN {ACCOUNT_FIELDS}
"""

GET_ACCOUNT = f"MATCH (a:Account {{username: $username}}) RETURN {ACCOUNT_FIELDS}"

GET_ACCOUNT_HASH = (
    f"MATCH (a:Account {{username: $username}}) RETURN {ACCOUNT_FIELDS}, a.password_hash AS hash"
)

LIST_ACCOUNTS = f"MATCH (a:Account) RETURN {ACCOUNT_FIELDS} ORDER BY username"

COUNT_ACCOUNTS = "MATCH (a:Account) RETURN count(a) AS n"

DISABLE_ACCOUNT = f"""
MATCH (a:Account {{username: $username}})
SET a.disabled = true, a.disabled_at = datetime()
RETURN {ACCOUNT_FIELDS}
"""

SET_ACCOUNT_HASH = "MATCH (a:Account {username: $username}) SET a.password_hash = $hash"

FIND_SCOPE_CULTURES = """
UNWIND $names AS name
OPTIONAL MATCH (c:Culture)
WHERE c.id = name OR toLower(c.name) = toLower(name)
RETURN name, collect(DISTINCT c.id) AS ids
"""

# --- experts' answers and concepts (kg/expert.py) -------------------------------------------------

#: Uniqueness of answer and concept ids (each also backs the index ``MATCH`` by id uses).
EXPERT_SCHEMA = (
    "CREATE CONSTRAINT answer_id IF NOT EXISTS FOR (n:Answer) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT concept_id IF NOT EXISTS FOR (n:Concept) REQUIRE n.id IS UNIQUE",
)

#: Each track with what an answer needs to know: whether it exists, its culture and the ones above
#: it (depth 0 = its society), and its public dataset label, if any.
TRACKS_FOR_ANSWER = """
UNWIND $ids AS id
OPTIONAL MATCH (t:Track {id: id})
RETURN id, t IS NOT NULL AS found,
       coalesce([p = (t)-[:FROM_CULTURE]->(:Culture)-[:PART_OF*0..2]->(c:Culture)
                 | {id: c.id, name: c.name, depth: length(p) - 1}], []) AS cultures,
       coalesce([(t)-[:SERVES_FUNCTION]->(f:Function) | f.name], []) AS public
"""

CULTURE_NAMES = "MATCH (c:Culture) WHERE c.id IN $ids RETURN c.id AS id, c.name AS name"

#: Everything an answer may name as its label (functions and concepts of every status).
LABEL_CANDIDATES = """
MATCH (f:Function)
RETURN f.id AS id, f.name AS name, 'function' AS kind, 'active' AS status, null AS merged_into
UNION ALL
MATCH (c:Concept)
RETURN c.id AS id, c.name AS name, 'concept' AS kind, c.status AS status,
       head([(c)-[:MERGED_INTO]->(m:Concept) | m.id]) AS merged_into
"""

#: Take the account's write lock: one expert's answers are written one after the other, so a
#: second answer about the same song (or pair) always sees, and replaces, the first.
LOCK_ACCOUNT = """
MATCH (acc:Account {username: $expert})
SET acc.answer_lock = true
REMOVE acc.answer_lock
RETURN acc.username AS username
"""

#: The expert's answers of one of ``$kinds`` about ``$track`` (and ``$other``, for a pair).
EXPERT_ANSWERS_ABOUT = """
MATCH (:Account {username: $expert})-[:GAVE]->(a:Answer)-[:ABOUT]->(:Track {id: $track})
WHERE a.kind IN $kinds AND ($other IS NULL OR EXISTS { (a)-[:ABOUT]->(:Track {id: $other}) })
RETURN a.id AS id
"""

#: Delete answers and exactly what they made: the node, its relationships, a link's constraint.
DELETE_ANSWERS = """
UNWIND $ids AS id
MATCH (a:Answer {id: id})
OPTIONAL MATCH (a)-[:ABOUT]->(:Track)-[c:EXPERT_CONSTRAINT]->(:Track)
WHERE c.answer_id = id
WITH a, collect(c) AS edges
FOREACH (c IN edges | DELETE c)
DETACH DELETE a
"""

_ANSWER_FIELDS = """
a.id AS id, a.kind AS kind, a.expert AS expert, toString(a.created) AS created,
coalesce(a.rationale, '') AS rationale, a.confidence AS confidence,
[(a)-[:ABOUT]->(t:Track) | t.id] AS about,
[(a)-[:ABOUT]->(s:Track)-[c:EXPERT_CONSTRAINT]->(:Track)
 WHERE c.answer_id = a.id | s.id] AS sources,
[(a)-[:LABEL]->(l) | {id: l.id, name: l.name, concept: l:Concept}] AS labels
"""

CREATE_FUNCTION_ANSWER = f"""
MATCH (acc:Account {{username: $expert}})
MATCH (t:Track {{id: $track}})
OPTIONAL MATCH (f:Function {{id: $label}})
OPTIONAL MATCH (k:Concept {{id: $label, status: 'active'}})
WITH acc, t, coalesce(f, k) AS l
WHERE l IS NOT NULL
CREATE (acc)-[:GAVE]->(a:Answer {{id: $id, kind: 'function', expert: $expert,
                                  created: datetime(), confidence: $confidence,
                                  source: 'expert'}})
SET a.rationale = $rationale
CREATE (a)-[:ABOUT]->(t), (a)-[:LABEL]->(l)
RETURN {_ANSWER_FIELDS}
"""

CREATE_LINK_ANSWER = f"""
MATCH (acc:Account {{username: $expert}})
MATCH (x:Track {{id: $a}})
MATCH (y:Track {{id: $b}})
CREATE (acc)-[:GAVE]->(a:Answer {{id: $id, kind: $kind, expert: $expert, created: datetime(),
                                  rationale: $rationale, source: 'expert'}})
CREATE (a)-[:ABOUT]->(x), (a)-[:ABOUT]->(y)
CREATE (x)-[:EXPERT_CONSTRAINT {{kind: $kind, rationale: $rationale, author: $expert,
                                 created_at: a.created, answer_id: $id}}]->(y)
RETURN {_ANSWER_FIELDS}
"""

GET_ANSWER = f"MATCH (a:Answer {{id: $id}}) RETURN {_ANSWER_FIELDS}"

#: The log, newest first; ``$expert`` / ``$track`` narrow it when not null.
LIST_ANSWERS = f"""
MATCH (a:Answer)
WHERE ($expert IS NULL OR a.expert = $expert)
  AND ($track IS NULL OR EXISTS {{ (a)-[:ABOUT]->(:Track {{id: $track}}) }})
RETURN {_ANSWER_FIELDS}
ORDER BY a.created DESC, a.id DESC
"""

#: Every function answer about a song without a public label, with the label it counts for: the
#: named one, or the end of its MERGED_INTO chain; answers whose label ended retired are left out.
FUNCTION_ANSWERS_FOR_LABELS = f"""
MATCH (t:Track)<-[:ABOUT]-(a:Answer {{kind: 'function'}})-[:LABEL]->(l)
WHERE NOT EXISTS {{ (t)-[:SERVES_FUNCTION]->(:Function) }}
OPTIONAL MATCH (l)-[:MERGED_INTO*1..]->(m:Concept)
WHERE NOT EXISTS {{ (m)-[:MERGED_INTO]->() }}
WITH t, a, coalesce(m, l) AS final
WHERE final:Function OR final.status = 'active'
RETURN t.id AS track, final.id AS final_id, final.name AS final_name,
       final:Concept AS final_concept, {_ANSWER_FIELDS}
"""

#: Every expert constraint (answers' and operators'), for the recommender and the GNN.
ALL_EXPERT_CONSTRAINTS = """
MATCH (a:Track)-[r:EXPERT_CONSTRAINT]->(b:Track)
RETURN a.id AS source, b.id AS target, r.kind AS kind, coalesce(r.rationale, '') AS rationale,
       r.author AS author, toString(r.created_at) AS created_at, r.answer_id AS answer_id
ORDER BY source, target, created_at
"""

#: The constraints between two tracks, either way round.
CONSTRAINTS_BETWEEN = """
MATCH (:Track {id: $a})-[r:EXPERT_CONSTRAINT]-(:Track {id: $b})
RETURN r.kind AS kind, r.author AS author, r.answer_id AS answer_id
"""

_CONCEPT_FIELDS = """
c.id AS id, c.name AS name, c.description AS description, c.kind AS kind, c.expert AS expert,
toString(c.created) AS created, c.status AS status, c.embedding AS embedding,
head([(c)-[:MERGED_INTO]->(m:Concept) | m.id]) AS merged_into
"""

CREATE_CONCEPT = f"""
CREATE (c:Concept {{id: $id, name: $name, description: $description, kind: $kind,
                    expert: $expert, created: datetime(), status: 'active',
                    embedding: $embedding}})
RETURN {_CONCEPT_FIELDS}
"""

GET_CONCEPT = f"MATCH (c:Concept {{id: $id}}) RETURN {_CONCEPT_FIELDS}"

LIST_CONCEPTS = f"""
MATCH (c:Concept)
WHERE $all OR c.status = 'active'
RETURN {_CONCEPT_FIELDS}
ORDER BY c.name, c.id
"""

#: Take the concepts' write locks before reading their status, so that two merges cannot both
#: see the other's source as active (A into B and B into A at once).
LOCK_CONCEPTS = """
MATCH (c:Concept) WHERE c.id IN $ids
SET c.status_lock = true
REMOVE c.status_lock
RETURN c.id AS id, c.status AS status
"""

RETIRE_CONCEPT = f"""
MATCH (c:Concept {{id: $id, status: 'active'}})
SET c.status = 'retired', c.retired_by = $admin, c.retired_at = datetime()
RETURN {_CONCEPT_FIELDS}
"""

MERGE_CONCEPT = f"""
MATCH (c:Concept {{id: $source, status: 'active'}})
MATCH (into:Concept {{id: $into, status: 'active'}})
SET c.status = 'merged'
CREATE (c)-[:MERGED_INTO {{admin: $admin, at: datetime()}}]->(into)
RETURN {_CONCEPT_FIELDS}
"""

# --- analysts' graph projections (kg.cypher) ---------------------------------------------------

#: GDS's memory estimate of the native projection an analyst's query asks for (its node
#: projection ``$nodes``, relationship projection ``$relationships`` and ``$configuration``).
GDS_PROJECT_ESTIMATE = """
CALL gds.graph.project.estimate($nodes, $relationships, $configuration)
YIELD nodeCount, relationshipCount, bytesMax
RETURN nodeCount, relationshipCount, bytesMax
"""

#: The names of the projections in the graph catalog that start with ``$prefix``.
GDS_GRAPHS_NAMED = """
CALL gds.graph.list() YIELD graphName
WITH graphName WHERE graphName STARTS WITH $prefix
RETURN graphName
"""

#: Drop the projections ``$names`` from the graph catalog (no error for one that is gone).
GDS_DROP_GRAPHS = """
UNWIND $names AS name
CALL gds.graph.drop(name, false) YIELD graphName
RETURN graphName
"""

# --- what an analyst's query may name (kg.cypher's messages for typos) -------------------------

#: The names of the graph's labels, relationship types and property keys, and of the server's
#: procedures and functions, each as one list ``names``.
SCHEMA_NAMES = {
    "label": "CALL db.labels() YIELD label RETURN collect(label) AS names",
    "relationship type": (
        "CALL db.relationshipTypes() YIELD relationshipType "
        "RETURN collect(relationshipType) AS names"
    ),
    "property": "CALL db.propertyKeys() YIELD propertyKey RETURN collect(propertyKey) AS names",
    "procedure": "SHOW PROCEDURES YIELD name RETURN collect(name) AS names",
    "function": "SHOW FUNCTIONS YIELD name RETURN collect(name) AS names",
}
