"""Expert constraints: validated input, idempotent writes, no contradictions."""

import pytest

from kg.cypher import run_read
from kg.expert import ConstraintError, add_expert_constraint

pytestmark = pytest.mark.neo4j


@pytest.fixture
def tracks(neo4j_db):
    with neo4j_db.session() as s:
        s.run("UNWIND ['T1', 'T2', 'T3'] AS id CREATE (:Track {id: id})").consume()
    return neo4j_db


def test_must_link_is_stored_with_rationale_author_and_time(tracks):
    c = add_expert_constraint(
        tracks, "T1", "T2", kind="must_link", rationale="both are harvest dances", author="A. E."
    )
    assert (c.kind, c.rationale, c.author) == ("must_link", "both are harvest dances", "A. E.")
    assert c.created_at.startswith("20")
    rows = run_read(
        tracks,
        "MATCH (:Track {id: 'T1'})-[r:EXPERT_CONSTRAINT]->(:Track {id: 'T2'}) "
        "RETURN r.kind AS kind, r.rationale AS why",
    ).records()
    assert rows == [{"kind": "must_link", "why": "both are harvest dances"}]


def test_adding_again_updates_rationale_and_keeps_one_edge(tracks):
    kind = "cannot_link"
    first = add_expert_constraint(tracks, "T1", "T2", kind=kind, rationale="a", author="x")
    second = add_expert_constraint(tracks, "T1", "T2", kind=kind, rationale="b", author="y")
    assert second.created_at == first.created_at and second.rationale == "b"
    n = run_read(tracks, "MATCH ()-[r:EXPERT_CONSTRAINT]->() RETURN count(r) AS n").rows[0][0]
    assert n == 1


def test_contradiction_is_refused_with_the_existing_rationale(tracks):
    add_expert_constraint(
        tracks, "T1", "T2", kind="must_link", rationale="same lullaby", author="x"
    )
    with pytest.raises(ConstraintError, match="already have a must_link.*same lullaby"):
        add_expert_constraint(tracks, "T2", "T1", kind="cannot_link", rationale="no", author="y")


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("T1", "T2"), {"kind": "maybe_link"}, "kind 'maybe_link' is not one of"),
        (("T1", "T2"), {"rationale": "  "}, "rationale is empty"),
        (("T1", "T2"), {"author": ""}, "author is empty"),
        (("T1", "T1"), {}, "two different tracks"),
        (("T1", "NHS2-NOPE"), {}, r"unknown track id\(s\) \['NHS2-NOPE'\]"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(tracks, args, kwargs, message):
    full = {"kind": "must_link", "rationale": "why", "author": "who", **kwargs}
    with pytest.raises(ConstraintError, match=message):
        add_expert_constraint(tracks, *args, **full)
    assert run_read(tracks, "MATCH ()-[r:EXPERT_CONSTRAINT]->() RETURN count(r)").rows[0][0] == 0
