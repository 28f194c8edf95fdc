"""The public surface of ``kg`` is explicit and pinned (a change here is an API change)."""

import kg


def test_kg_all_is_pinned():
    assert kg.__all__ == [
        "ConstraintError",
        "CultureTree",
        "CypherError",
        "DatabaseAuthError",
        "DatabaseError",
        "DatabaseUnavailableError",
        "ExpertConstraint",
        "GraphCounts",
        "IdMap",
        "IngestSummary",
        "Neo4jServer",
        "Neo4jSettings",
        "QueryResult",
        "ReadOnlyViolation",
        "ServerStatus",
        "add_expert_constraint",
        "build_culture_tree",
        "co_collection_weights",
        "connect",
        "database_error",
        "ensure_schema",
        "graph_counts",
        "ingest",
        "run_read",
        "to_heterodata",
        "to_networkx",
    ]


def test_every_public_name_resolves():
    for name in kg.__all__:
        assert getattr(kg, name) is not None, name


def test_errors_share_the_one_root():
    from loaders.errors import SoundbridgeError

    for err in (kg.DatabaseError, kg.CypherError, kg.ReadOnlyViolation, kg.ConstraintError):
        assert issubclass(err, SoundbridgeError)
