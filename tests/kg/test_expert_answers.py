"""Experts' answers and concepts against the real server, on the real CCMC songs.

Known answers: the Yapese songs (CCMCyape1248, Micronesia) have withheld functions, so their
experts' answers decide their label; the one Ewe song (NHS2-QAHO) and the Akan songs are publicly
labelled Dance. Each test starts with no answers, concepts or constraints; the accounts stay.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import neo4j
import pytest

from kg.accounts import account_key, add_account, disable_account
from kg.expert import (
    Answer,
    ExpertError,
    ExpertNotFoundError,
    ExpertPermissionError,
    add_concept,
    add_expert_constraint,
    answer_function,
    answer_link,
    answers,
    constraints,
    expert_labels,
    get_answer,
    list_concepts,
    merge_concepts,
    retire_concept,
    retract,
)
from kg.ingest import ingest

pytestmark = pytest.mark.neo4j

YAP = ("NHS2-5KU4", "NHS2-9Y4I", "NHS2-YLEN")  # Yapese, function withheld
EWE = "NHS2-QAHO"  # Ewe, public label Dance
AKAN = "NHS2-9YBX"  # Akan (Western Africa), public label Dance
VECTOR = [1.0] + [0.0] * 383

# Test-only Cypher: empty the experts' part of the graph, and fingerprint the whole graph.
_CLEAR = """
MATCH (n) WHERE n:Answer OR n:Concept DETACH DELETE n
WITH count(*) AS _
MATCH ()-[r:EXPERT_CONSTRAINT]->() DELETE r
"""
_LABELS = "MATCH (n) UNWIND labels(n) AS label RETURN label, count(*) AS n"
_TYPES = "MATCH ()-[r]->() RETURN type(r) AS type, count(*) AS n"
_PROPS = "MATCH (n:Account|Track|Function) RETURN sum(size(keys(n))) AS n"


@pytest.fixture(scope="module")
def graph(neo4j_driver, graph_wiper, tmp_path_factory):
    graph_wiper(neo4j_driver)
    ingest(neo4j_driver, sources=["ccmc"], progress=False)
    key = account_key(tmp_path_factory.mktemp("expert-home"))
    accounts: list[tuple[str, str, list[str]]] = [
        ("ewe", "expert", ["CCMCewee1241"]),
        ("westafrica", "expert", ["Western Africa"]),
        ("rosa", "expert", ["CCMCyape1248"]),
        ("tomas", "expert", ["Yapese"]),
        ("gone", "expert", ["CCMCyape1248"]),
        ("boss", "admin", []),
        ("vera", "viewer", []),
        ("ana", "analyst", []),
    ]
    for name, role, scopes in accounts:
        add_account(neo4j_driver, name, "a long password", role, key=key, scopes=scopes)
    disable_account(neo4j_driver, "gone")
    return neo4j_driver


@pytest.fixture
def db(graph: neo4j.Driver) -> neo4j.Driver:
    graph.execute_query(_CLEAR)
    return graph


def snapshot(driver: neo4j.Driver) -> dict[str, Any]:
    """Node counts by label, relationship counts by type, and the property count of the nodes an
    answer touches (a lock left behind would show there)."""
    labels = {r["label"]: r["n"] for r in driver.execute_query(_LABELS).records}
    types = {r["type"]: r["n"] for r in driver.execute_query(_TYPES).records}
    props = driver.execute_query(_PROPS).records[0]["n"]
    return {"labels": labels, "types": types, "props": props}


def grown(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """What was added between two snapshots, by label and type (only what changed)."""
    out = {}
    for part in ("labels", "types"):
        for k in set(before[part]) | set(after[part]):
            d = after[part].get(k, 0) - before[part].get(k, 0)
            if d:
                out[k] = d
    return out


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; each one's result, or the exception it raised."""
    together = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        together.wait()
        try:
            results[i] = calls[i]()
        except Exception as e:  # returned to the test, not lost in the thread
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# --- what an answer writes, and what a retraction removes -----------------------------------------


def test_function_answer_adds_its_node_and_three_relationships_and_retract_restores(db):
    before = snapshot(db)
    a = answer_function(db, YAP[0], "lullaby", expert="rosa", confidence=0.9, rationale="sung low")
    assert (a.kind, a.tracks, a.label, a.label_id, a.label_kind) == (
        "function",
        (YAP[0],),
        "Lullaby",
        "lullaby",
        "function",
    )
    assert (a.expert, a.confidence, a.rationale, a.replaced, a.note) == (
        "rosa",
        0.9,
        "sung low",
        None,
        "",
    )
    assert a.id.startswith("ans-") and len(a.id) == 16 and a.created.startswith("20")
    after = snapshot(db)
    assert grown(before, after) == {"Answer": 1, "GAVE": 1, "ABOUT": 1, "LABEL": 1}
    assert after["props"] == before["props"]  # no lock property left on the account
    stored = db.execute_query(
        "MATCH (:Account {username: 'rosa'})-[:GAVE]->(a:Answer)-[:ABOUT]->(:Track {id: $t}), "
        "(a)-[:LABEL]->(:Function {id: 'lullaby'}) RETURN properties(a) AS p",
        t=YAP[0],
    ).records
    p = stored[0]["p"]
    assert {k: p[k] for k in ("id", "kind", "expert", "confidence", "rationale", "source")} == {
        "id": a.id,
        "kind": "function",
        "expert": "rosa",
        "confidence": 0.9,
        "rationale": "sung low",
        "source": "expert",
    }
    assert isinstance(p["created"], neo4j.time.DateTime)

    assert retract(db, a.id, by="rosa") == a
    assert snapshot(db) == before
    assert get_answer(db, a.id) is None


def test_link_answer_adds_answer_two_abouts_and_the_constraint_and_retract_restores(db):
    before = snapshot(db)
    a = answer_link(db, YAP[0], YAP[1], "must_link", expert="rosa", rationale="the same lullaby")
    assert (a.kind, a.tracks, a.confidence, a.label) == ("must_link", (YAP[0], YAP[1]), None, None)
    assert grown(before, snapshot(db)) == {
        "Answer": 1,
        "GAVE": 1,
        "ABOUT": 2,
        "EXPERT_CONSTRAINT": 1,
    }
    (c,) = constraints(db)
    assert (c.source, c.target, c.kind, c.rationale, c.author, c.answer_id) == (
        YAP[0],
        YAP[1],
        "must_link",
        "the same lullaby",
        "rosa",
        a.id,
    )
    assert c.created_at == a.created
    retract(db, a.id, by="boss")  # an admin may retract anyone's
    assert snapshot(db) == before
    assert constraints(db) == []


def test_a_second_answer_by_the_same_expert_replaces_the_first(db):
    first = answer_function(db, YAP[0], "Lullaby", expert="rosa", confidence=0.6)
    before = snapshot(db)
    second = answer_function(db, YAP[0], "Dance", expert="rosa", confidence=0.8)
    assert second.replaced == first.id and snapshot(db) == before
    assert [(x.id, x.label) for x in answers(db, track=YAP[0])] == [(second.id, "Dance")]

    link = answer_link(db, YAP[0], YAP[1], "must_link", expert="rosa", rationale="alike")
    # the same pair the other way round, and the other kind: the expert changed their mind
    again = answer_link(db, YAP[1], YAP[0], "cannot_link", expert="rosa", rationale="not alike")
    assert again.replaced == link.id and again.tracks == (YAP[1], YAP[0])
    assert [(c.source, c.kind, c.answer_id) for c in constraints(db)] == [
        (YAP[1], "cannot_link", again.id)
    ]
    # the function answer about the same song is another question: it stays
    assert {x.id for x in answers(db, expert="rosa")} == {second.id, again.id}


def test_another_experts_opposite_link_stands_beside_and_is_noted(db):
    mine = answer_link(db, YAP[0], YAP[1], "must_link", expert="rosa", rationale="same singer")
    theirs = answer_link(db, YAP[1], YAP[0], "cannot_link", expert="tomas", rationale="no")
    assert theirs.replaced is None
    assert theirs.note == (
        f"{YAP[1]} and {YAP[0]} also have a must_link by rosa ({mine.id}), which stands too"
    )
    assert sorted((c.kind, c.author) for c in constraints(db)) == [
        ("cannot_link", "tomas"),
        ("must_link", "rosa"),
    ]


def test_the_operators_constraint_never_touches_an_answers_edge(db):
    a = answer_link(db, YAP[0], YAP[1], "must_link", expert="rosa", rationale="by ear")
    add_expert_constraint(
        db, YAP[0], YAP[1], kind="must_link", rationale="field notes", author="A. E."
    )
    got = sorted((c.author, c.rationale, c.answer_id) for c in constraints(db))
    assert got == [("A. E.", "field notes", None), ("rosa", "by ear", a.id)]
    retract(db, a.id, by="rosa")
    assert [(c.author, c.answer_id) for c in constraints(db)] == [("A. E.", None)]


# --- scope ----------------------------------------------------------------------------------------


def test_an_expert_answers_only_inside_their_scope_and_an_admin_everywhere(db):
    before = snapshot(db)
    with pytest.raises(ExpertPermissionError) as e:
        answer_function(db, AKAN, "Dance", expert="ewe")
    assert str(e.value) == (
        "NHS2-9YBX is a song of Akan (CCMCakan1250, Western Africa, Africa), outside the scope "
        "of expert 'ewe' (Ewe (CCMCewee1241)); an expert for that culture or an admin may "
        "answer it"
    )
    with pytest.raises(ExpertPermissionError, match="NHS2-9YBX is a song of Akan"):
        answer_link(db, EWE, AKAN, "must_link", expert="ewe", rationale="both Kpanlogo")
    assert snapshot(db) == before

    # a region in the scope covers its societies; an admin has no scope to leave
    assert answer_function(db, AKAN, "Dance", expert="westafrica").tracks == (AKAN,)
    assert answer_function(db, AKAN, "Dance", expert="boss").expert == "boss"
    assert answer_link(db, EWE, AKAN, "must_link", expert="westafrica", rationale="Kpanlogo")


def test_a_publicly_labelled_song_keeps_its_label_and_the_answer_is_stored(db):
    a = answer_function(db, EWE, "Lullaby", expert="ewe", confidence=1.0)
    assert a.note == (
        "NHS2-QAHO keeps its public dataset label 'Dance'; the answer is stored but never "
        "overrides it"
    )
    assert [x.id for x in answers(db, track=EWE)] == [a.id]
    assert EWE not in expert_labels(db)
    function = db.execute_query(
        "MATCH (t:Track {id: $t})-[:SERVES_FUNCTION]->(f) RETURN t.function AS p, f.id AS f", t=EWE
    ).records[0]
    assert (function["p"], function["f"]) == ("Dance", "dance")


# --- how answers combine --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rosa", "tomas", "label"),
    [
        (("Lullaby", 0.9), ("Dance", 0.6), "Lullaby"),
        (("Lullaby", 0.5), ("Dance", 0.5), None),
        (("Lullaby", 0.6), ("Lullaby", 0.3), "Lullaby"),
    ],
)
def test_two_experts_at_the_same_moment_both_count(db, rosa, tomas, label):
    got = dict(
        zip(
            ("rosa", "tomas"),
            at_once(
                lambda: answer_function(db, YAP[0], rosa[0], expert="rosa", confidence=rosa[1]),
                lambda: answer_function(db, YAP[0], tomas[0], expert="tomas", confidence=tomas[1]),
            ),
            strict=True,
        )
    )
    assert all(isinstance(a, Answer) for a in got.values()), got
    assert {a.id for a in answers(db, track=YAP[0])} == {got["rosa"].id, got["tomas"].id}
    labels = expert_labels(db)
    if label is None:
        assert YAP[0] not in labels
        return
    won = labels[YAP[0]]
    assert (won.label, won.label_id, won.kind) == (label, label.lower(), "function")
    behind = [n for n, g in (("rosa", rosa), ("tomas", tomas)) if g[0] == label]
    assert won.experts == tuple(behind)
    assert won.score == pytest.approx(sum(g[1] for g in (rosa, tomas) if g[0] == label))
    assert won.last == max(a.created for a in won.answers)
    assert {a.expert for a in won.answers} == set(behind)


def test_a_sum_of_smaller_confidences_beats_one_larger_and_equal_sums_tie(db):
    answer_function(db, YAP[0], "Lullaby", expert="rosa", confidence=0.5)
    answer_function(db, YAP[0], "Lullaby", expert="tomas", confidence=0.4)
    answer_function(db, YAP[0], "Dance", expert="boss", confidence=0.8)
    assert expert_labels(db)[YAP[0]].label == "Lullaby"
    answer_function(db, YAP[0], "Dance", expert="boss", confidence=0.9)  # 0.9 vs 0.5 + 0.4
    assert YAP[0] not in expert_labels(db)


def test_one_expert_answering_twice_at_once_leaves_one_answer(db):
    for round_ in range(3):
        got = at_once(
            *(
                lambda label=label: answer_function(
                    db, YAP[1], label, expert="rosa", confidence=0.7
                )
                for label in ("Lullaby", "Dance", "Healing", "Play")
            )
        )
        assert all(isinstance(a, Answer) for a in got), got
        assert len(answers(db, track=YAP[1])) == 1, f"round {round_}"
        n = db.execute_query(
            "MATCH (:Track {id: $t})<-[r:ABOUT]-() RETURN count(r) AS n", t=YAP[1]
        ).records[0]["n"]
        assert n == 1


# --- refusals write nothing -----------------------------------------------------------------------

ONE_MB = "x" * 1_000_000


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda d: answer_function(d, "NHS2-NOPE", "Lullaby", expert="rosa"),
            ExpertNotFoundError,
            r"^unknown track 'NHS2-NOPE'; track ids are CCMC song ids",
        ),
        (
            lambda d: answer_function(d, YAP[0], "Lulaby", expert="rosa"),
            ExpertNotFoundError,
            r"^unknown function or concept 'Lulaby'; did you mean 'Lullaby'",
        ),
        (
            lambda d: answer_function(d, YAP[0], "concept-harvest", expert="rosa"),
            ExpertNotFoundError,
            r"^unknown function or concept 'concept-harvest'",
        ),
        (
            lambda d: answer_link(d, YAP[0], YAP[1], "must_link", expert="rosa", rationale=" "),
            ExpertError,
            r"^the rationale is empty: say why",
        ),
        (
            lambda d: answer_function(d, YAP[0], "Dance", expert="rosa", rationale=ONE_MB),
            ExpertError,
            r"^the rationale has 1,000,000 characters; keep it to 2,000$",
        ),
        (
            lambda d: answer_link(d, *YAP[:2], "cannot_link", expert="rosa", rationale=ONE_MB),
            ExpertError,
            r"^the rationale has 1,000,000 characters",
        ),
        (
            lambda d: answer_function(d, YAP[0], "Dance", expert="rosa", confidence=0),
            ExpertError,
            r"^confidence 0 is out of range; give a number with 0 < p <= 1",
        ),
        (
            lambda d: answer_function(d, YAP[0], "Dance", expert="rosa", confidence=1.5),
            ExpertError,
            r"^confidence 1.5 is out of range",
        ),
        (
            lambda d: answer_function(d, YAP[0], "Dance", expert="vera"),
            ExpertPermissionError,
            r"^account 'vera' is a viewer; to answer needs the expert or admin role",
        ),
        (
            lambda d: answer_function(d, YAP[0], "Dance", expert="ana"),
            ExpertPermissionError,
            r"^account 'ana' is an analyst",
        ),
        (
            lambda d: answer_function(d, YAP[0], "Dance", expert="gone"),
            ExpertPermissionError,
            r"^account 'gone' is disabled and cannot answer",
        ),
        (
            lambda d: answer_function(d, YAP[0], "Dance", expert="nobody"),
            ExpertPermissionError,
            r"^no account named 'nobody' \(`soundbridge users list`",
        ),
        (
            lambda d: answer_link(d, YAP[0], YAP[0], "must_link", expert="rosa", rationale="r"),
            ExpertError,
            r"^a link needs two different songs; got 'NHS2-5KU4' twice$",
        ),
        (
            lambda d: answer_link(d, YAP[0], YAP[1], "maybe", expert="rosa", rationale="r"),
            ExpertError,
            r"^link kind 'maybe' is not one of must_link, cannot_link$",
        ),
        (
            lambda d: answer_link(
                d, YAP[0], "x" * 10_000, "must_link", expert="rosa", rationale="r"
            ),
            ExpertNotFoundError,
            r"^unknown track 'xxxx.{0,60}; track ids",
        ),
    ],
)
def test_bad_input_is_refused_in_one_line_and_writes_nothing(db, call, error, message):
    answer_function(db, YAP[2], "Dance", expert="rosa")
    before = snapshot(db)
    with pytest.raises(error, match=message) as e:
        call(db)
    assert "\n" not in str(e.value) and len(str(e.value)) < 400
    assert snapshot(db) == before


def test_only_the_answers_expert_or_an_admin_may_retract(db):
    a = answer_function(db, YAP[0], "Dance", expert="rosa")
    with pytest.raises(ExpertPermissionError, match=f"^{a.id} is rosa's answer; only rosa or an"):
        retract(db, a.id, by="tomas")
    with pytest.raises(ExpertPermissionError, match="is a viewer"):
        retract(db, a.id, by="vera")
    with pytest.raises(ExpertError, match=r"^'ans-1' is not an answer id \('ans-' and 12 hex"):
        retract(db, "ans-1", by="rosa")
    with pytest.raises(ExpertNotFoundError, match=r"^no answer ans-000000000000 \("):
        retract(db, "ans-000000000000", by="rosa")
    assert [x.id for x in answers(db)] == [a.id]
    assert retract(db, a.id, by="boss").id == a.id
    assert answers(db) == []


def test_the_log_is_newest_first_and_narrows_by_expert_and_track(db):
    a = answer_function(db, YAP[0], "Dance", expert="rosa")
    b = answer_link(db, YAP[0], YAP[2], "cannot_link", expert="tomas", rationale="different")
    c = answer_function(db, YAP[1], "Play", expert="rosa", confidence=0.4)
    assert [x.id for x in answers(db)] == [c.id, b.id, a.id]
    assert [x.id for x in answers(db, expert="rosa")] == [c.id, a.id]
    assert [x.id for x in answers(db, track=YAP[0])] == [b.id, a.id]
    assert [x.id for x in answers(db, expert="tomas", track=YAP[2])] == [b.id]
    assert answers(db, expert="nobody") == []
    assert answers(db, track=YAP[0])[0].to_dict() == {
        "id": b.id,
        "kind": "cannot_link",
        "expert": "tomas",
        "created": b.created,
        "tracks": [YAP[0], YAP[2]],
        "rationale": "different",
        "confidence": None,
        "label": None,
        "label_id": None,
        "label_kind": None,
        "replaced": None,
        "note": "",
    }


# --- concepts -------------------------------------------------------------------------------------


def _concept(db: neo4j.Driver, name: str, **kw: Any) -> Any:
    return add_concept(db, name, kw.pop("description", f"what {name} means"), **kw)


def test_a_concept_is_stored_with_its_embedding_and_can_label_a_song(db):
    before = snapshot(db)
    c = add_concept(
        db,
        "Harvest song",
        "Sung while bringing in the taro harvest",
        expert="rosa",
        kind="function",
        embedding=VECTOR,
    )
    assert (c.id, c.name, c.kind, c.expert, c.status, c.merged_into) == (
        "concept-harvest-song",
        "Harvest song",
        "function",
        "rosa",
        "active",
        None,
    )
    assert c.embedding == tuple(VECTOR)
    assert "embedding" not in c.to_dict() and len(c.to_dict(embedding=True)["embedding"]) == 384
    assert grown(before, snapshot(db)) == {"Concept": 1}
    assert list_concepts(db) == [c]

    a = answer_function(db, YAP[0], "harvest SONG", expert="tomas", confidence=0.8)
    assert (a.label, a.label_id, a.label_kind) == ("Harvest song", c.id, "concept")
    won = expert_labels(db)[YAP[0]]
    assert (won.label, won.label_id, won.kind, won.experts) == (
        "Harvest song",
        c.id,
        "concept",
        ("tomas",),
    )


@pytest.mark.parametrize(
    ("name", "kw", "error", "message"),
    [
        ("lullaby", {}, ExpertError, r"^'lullaby' is the function 'Lullaby' already"),
        ("HARVEST song", {}, ExpertError, r"^concept 'Harvest song' \(concept-harvest-song\) exis"),
        ("Harvest-song", {}, ExpertError, r"^concept id concept-harvest-song is taken by 'Harv"),
        ("Harvest  song!", {}, ExpertError, r"^concept id concept-harvest-song is taken by 'Harv"),
        ("   ", {}, ExpertError, r"^the concept's name is empty"),
        ("two\nlines", {}, ExpertError, r"^concept name 'two\\nlines' is not one short line"),
        ("Taro", {"description": ""}, ExpertError, r"^the description of 'Taro' is empty"),
        ("Taro", {"description": "y" * 2001}, ExpertError, r"^the description has 2,001 char"),
        ("Taro", {"kind": "mood"}, ExpertError, r"^concept kind 'mood' is not one of function"),
        ("Taro", {"embedding": [0.0] * 10}, ExpertError, r"^the embedding has 10 numbers"),
        ("Taro", {"embedding": [float("nan")] * 384}, ExpertError, "not finite"),
        ("Taro", {"expert": "vera"}, ExpertPermissionError, r"^account 'vera' is a viewer"),
        ("Taro", {"expert": "gone"}, ExpertPermissionError, r"is disabled and cannot add"),
    ],
)
def test_bad_concepts_are_refused_and_write_nothing(db, name, kw, error, message):
    add_concept(db, "Harvest song", "taro harvest", expert="rosa", embedding=VECTOR)
    before = snapshot(db)
    args = {"expert": "rosa", "embedding": VECTOR, **kw}
    with pytest.raises(error, match=message):
        _concept(db, name, **args)
    assert snapshot(db) == before


def test_a_retired_concept_leaves_the_list_and_the_labels_but_keeps_its_history(db):
    c = add_concept(db, "Canoe song", "paddling together", expert="rosa", embedding=VECTOR)
    answer_function(db, YAP[0], c.id, expert="rosa", confidence=0.9)
    with pytest.raises(ExpertPermissionError, match="'rosa' is an expert; to retire concepts"):
        retire_concept(db, c.id, admin="rosa")
    retired = retire_concept(db, c.id, admin="boss")
    assert retired.status == "retired"
    assert list_concepts(db) == [] and list_concepts(db, include_retired=True) == [retired]
    assert YAP[0] not in expert_labels(db)
    assert [x.label_id for x in answers(db)] == [c.id]  # the log still shows it
    with pytest.raises(ExpertError, match=r"^concept 'Canoe song' \(concept-canoe-song\) is ret"):
        answer_function(db, YAP[1], "Canoe song", expert="rosa")
    with pytest.raises(ExpertError, match="is retired already"):
        retire_concept(db, c.id, admin="boss")
    # the name is free again for an active concept, but its id is not
    with pytest.raises(ExpertError, match="concept id concept-canoe-song is taken by 'Canoe"):
        add_concept(db, "Canoe song", "again", expert="rosa", embedding=VECTOR)


def test_answers_naming_a_merged_concept_count_for_the_one_it_was_merged_into(db):
    dup = add_concept(db, "Taro song", "sung at the taro harvest", expert="rosa", embedding=VECTOR)
    keep = add_concept(db, "Harvest song", "any harvest", expert="tomas", embedding=VECTOR)
    answer_function(db, YAP[0], "Taro song", expert="rosa", confidence=0.5)
    answer_function(db, YAP[0], "Harvest song", expert="tomas", confidence=0.3)
    answer_function(db, YAP[0], "Dance", expert="boss", confidence=0.6)
    assert expert_labels(db)[YAP[0]].label == "Dance"  # 0.6 beats 0.5 and 0.3 apart

    before = snapshot(db)
    merged = merge_concepts(db, dup.id, keep.id, admin="boss")
    assert (merged.id, merged.status, merged.merged_into) == (dup.id, "merged", keep.id)
    assert grown(before, snapshot(db)) == {"MERGED_INTO": 1}
    won = expert_labels(db)[YAP[0]]  # 0.5 + 0.3 now count together
    assert (won.label, won.label_id, won.kind, won.experts) == (
        "Harvest song",
        keep.id,
        "concept",
        ("rosa", "tomas"),
    )
    assert won.score == pytest.approx(0.8)
    assert sorted(a.label_id or "" for a in won.answers) == [keep.id, dup.id]
    edge = db.execute_query(
        "MATCH (:Concept {id: $a})-[m:MERGED_INTO]->(:Concept {id: $b}) RETURN m.admin AS admin, "
        "m.at IS NOT NULL AS at",
        a=dup.id,
        b=keep.id,
    ).records
    assert [(r["admin"], r["at"]) for r in edge] == [("boss", True)]
    assert [c.id for c in list_concepts(db)] == [keep.id]
    assert {c.id: c.status for c in list_concepts(db, include_retired=True)} == {
        keep.id: "active",
        dup.id: "merged",
    }
    with pytest.raises(ExpertError, match=rf"^concept 'Taro song' \({dup.id}\) was merged into "):
        answer_function(db, YAP[1], dup.id, expert="rosa")

    # a chain: the end of it takes every answer; refused merges write nothing
    last = add_concept(db, "Garden song", "gardens", expert="rosa", embedding=VECTOR)
    merge_concepts(db, keep.id, last.id, admin="boss")
    assert expert_labels(db)[YAP[0]].label_id == last.id
    before = snapshot(db)
    with pytest.raises(ExpertError, match="cannot merge concept-garden-song into itself"):
        merge_concepts(db, last.id, last.id, admin="boss")
    with pytest.raises(ExpertError, match=f"^concept {dup.id} was merged into {keep.id}"):
        merge_concepts(db, dup.id, last.id, admin="boss")
    with pytest.raises(ExpertNotFoundError, match="^no concept 'concept-nope'"):
        merge_concepts(db, "concept-nope", last.id, admin="boss")
    with pytest.raises(ExpertPermissionError, match="to merge concepts needs the admin role"):
        merge_concepts(db, last.id, keep.id, admin="rosa")
    assert snapshot(db) == before


def test_two_merges_of_a_pair_at_once_never_make_a_cycle(db):
    a = add_concept(db, "Song A", "a", expert="rosa", embedding=VECTOR)
    b = add_concept(db, "Song B", "b", expert="rosa", embedding=VECTOR)
    got = at_once(
        lambda: merge_concepts(db, a.id, b.id, admin="boss"),
        lambda: merge_concepts(db, b.id, a.id, admin="boss"),
    )
    assert sorted(type(x).__name__ for x in got) == ["Concept", "ExpertError"], got
    statuses = sorted(c.status for c in list_concepts(db, include_retired=True))
    assert statuses == ["active", "merged"]
