"""Every Cypher statement of :mod:`gnn`, parameterised (values never go into the strings).

Labels cannot be parameters in Cypher, so the statements that write embeddings are built per
label by :func:`set_embeddings` and :func:`create_vector_index` from a closed list of labels
(:data:`EMBEDDED_LABELS`), never from user input.
"""

from __future__ import annotations

__all__ = [
    "ARTIST_TAGS",
    "CULTURE_STYLE",
    "EMBEDDED_LABELS",
    "EMBEDDING_PROPERTY",
    "EXPERT_CONSTRAINTS",
    "SET_TRACK_LABEL_USED",
    "TRACK_FACTORS",
    "TRACK_MIR",
    "VECTOR_INDEX_DIMENSION",
    "create_vector_index",
    "drop_vector_index",
    "set_embeddings",
    "vector_index_name",
]

#: The node labels that receive an embedding property and a vector index.
EMBEDDED_LABELS = ("Artist", "User", "Track", "Culture", "Tag")
#: The node property that holds the GNN embedding.
EMBEDDING_PROPERTY = "embedding"

#: The ``top`` tags of every tagged artist, most used first.
ARTIST_TAGS = """
MATCH (a:Artist)-[r:HAS_TAG]->(t:Tag)
WITH a, t, r ORDER BY r.count DESC, t.name
WITH a, collect(t.name) AS names
RETURN a.id AS artist, names[..$top] AS tags
"""

#: MIRtoolbox features of every track that has them.
TRACK_MIR = """
MATCH (t:Track) WHERE t.mir IS NOT NULL
RETURN t.id AS track, t.mir AS mir
"""

#: The audio factors of every track that has them (``soundbridge audio export-factors``).
TRACK_FACTORS = """
MATCH (t:Track) WHERE t.za IS NOT NULL
RETURN t.id AS track, t.zc AS zc, t.zs AS zs, t.za AS za
ORDER BY track
"""

#: ``$rows``: ``[{id, used}]``: whether each track's function label was a training signal of its
#: embedding (false for the audio run's held-out societies and unlabelled tracks), so that an
#: evaluation can check its queries' labels never reached the GNN.
SET_TRACK_LABEL_USED = """
UNWIND $rows AS row
MATCH (t:Track {id: row.id})
SET t.embedding_label_used = row.used
"""

#: Cantometrics style profiles of the profiled cultures.
CULTURE_STYLE = """
MATCH (c:Culture) WHERE c.style_profile IS NOT NULL
RETURN c.id AS culture, c.style_profile AS profile
"""

#: Expert must-link / cannot-link constraints between tracks.
EXPERT_CONSTRAINTS = """
MATCH (a:Track)-[r:EXPERT_CONSTRAINT]->(b:Track)
RETURN a.id AS src, b.id AS dst, r.kind AS kind
"""


def _check_label(label: str) -> str:
    if label not in EMBEDDED_LABELS:
        raise ValueError(f"label {label!r} is not one of {EMBEDDED_LABELS}")
    return label


def vector_index_name(label: str) -> str:
    """The vector index of ``label``'s embeddings, e.g. ``artist_embedding``."""
    return f"{_check_label(label).lower()}_{EMBEDDING_PROPERTY}"


def set_embeddings(label: str) -> str:
    """``UNWIND $rows`` (``{id, embedding}``) statement that sets ``label`` nodes' embedding.

    ``embedding_at`` records when: the cross-cultural catalogue, which reads the Track
    embeddings, refits when a rebuild rewrote them (their count stays the same).
    """
    return (
        f"UNWIND $rows AS row MATCH (n:{_check_label(label)} {{id: row.id}}) "
        f"SET n.{EMBEDDING_PROPERTY} = row.embedding, n.{EMBEDDING_PROPERTY}_at = datetime()"
    )


def create_vector_index(label: str) -> str:
    """Cosine vector index over ``label``'s embedding; the dimension is the ``$dim`` parameter."""
    return (
        f"CREATE VECTOR INDEX {vector_index_name(label)} IF NOT EXISTS "
        f"FOR (n:{_check_label(label)}) ON (n.{EMBEDDING_PROPERTY}) "
        "OPTIONS {indexConfig: {`vector.dimensions`: $dim, "
        "`vector.similarity_function`: 'cosine'}}"
    )


#: The dimension of an existing vector index (``$name``); no row when there is none.
VECTOR_INDEX_DIMENSION = (
    "SHOW VECTOR INDEXES YIELD name, options WHERE name = $name "
    "RETURN options.indexConfig['vector.dimensions'] AS dim"
)


def drop_vector_index(label: str) -> str:
    """Drop ``label``'s vector index (when the embedding size changed)."""
    return f"DROP INDEX {vector_index_name(label)} IF EXISTS"
