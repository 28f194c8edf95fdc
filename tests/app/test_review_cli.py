"""``soundbridge review …`` and ``soundbridge concepts …`` against the real server.

The commands are thin over :mod:`kg.expert` (tested in tests/kg/test_expert_answers.py); here:
what a person types and reads, the ids they print, the JSON shapes, and one-line refusals (run
through :func:`soundbridge.cli.main`, as the ``soundbridge`` script runs them).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator

import click
import neo4j
import pytest
from click.testing import CliRunner, Result

from kg.accounts import account_key, add_account
from kg.ingest import ingest
from kg.server import Neo4jServer
from soundbridge.cli import cli, main

pytestmark = pytest.mark.neo4j

YAP = ("NHS2-5KU4", "NHS2-9Y4I")  # Yapese (CCMCyape1248), function withheld
EWE = "NHS2-QAHO"  # Ewe, public label Dance
AKAN = "NHS2-9YBX"  # Akan, public label Dance
ID = r"ans-[0-9a-f]{12}"
ANSWER_KEYS = {
    "id",
    "kind",
    "expert",
    "created",
    "tracks",
    "rationale",
    "confidence",
    "label",
    "label_id",
    "label_kind",
}
CONCEPT_KEYS = {
    "id",
    "name",
    "description",
    "kind",
    "expert",
    "created",
    "status",
    "merged_into",
}

# Test-only Cypher.
_CLEAR = """
MATCH (n) WHERE n:Answer OR n:Concept DETACH DELETE n
WITH count(*) AS _
MATCH ()-[r:EXPERT_CONSTRAINT]->() DELETE r
"""
_COUNTS = """
CALL () { MATCH (a:Answer) RETURN count(a) AS answers }
CALL () { MATCH (c:Concept) RETURN count(c) AS concepts }
CALL () { MATCH ()-[r:EXPERT_CONSTRAINT]->() RETURN count(r) AS constraints }
RETURN answers, concepts, constraints
"""


@pytest.fixture(scope="module")
def graph(
    neo4j_server: Neo4jServer, neo4j_driver, graph_wiper, tmp_path_factory
) -> Iterator[neo4j.Driver]:
    """CCMC in a clean graph, the accounts, and the commands pointed at the session server."""
    graph_wiper(neo4j_driver)
    ingest(neo4j_driver, sources=["ccmc"], progress=False)
    home = tmp_path_factory.mktemp("review-home")
    key = account_key(home)
    for name, role, scopes in [
        ("rosa", "expert", ["CCMCyape1248"]),
        ("ewe", "expert", ["CCMCewee1241"]),
        ("boss", "admin", []),
    ]:
        add_account(neo4j_driver, name, "a long password", role, key=key, scopes=scopes)
    s = neo4j_server.settings
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEO4J_URI", s.uri)
        mp.setenv("NEO4J_USER", s.user)
        mp.setenv("NEO4J_PASSWORD", s.password)
        mp.setenv("SOUNDBRIDGE_HOME", str(home))
        mp.delenv("SOUNDBRIDGE_DEBUG", raising=False)
        yield neo4j_driver


@pytest.fixture
def db(graph: neo4j.Driver) -> neo4j.Driver:
    graph.execute_query(_CLEAR)
    return graph


def sb(*argv: str) -> Result:
    """``soundbridge *argv``, which must succeed."""
    result = CliRunner().invoke(cli, list(argv))
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Exit status and the one error line of a ``soundbridge *argv`` that fails."""
    status = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: "), err
    return status, err.strip()


def counts(driver: neo4j.Driver) -> tuple[int, int, int]:
    r = driver.execute_query(_COUNTS).records[0]
    return r["answers"], r["concepts"], r["constraints"]


def test_answer_log_and_retract_round_trip(db):
    out = sb(
        "review",
        "answer",
        YAP[0],
        "--function",
        "lullaby",
        "--expert",
        "rosa",
        "--confidence",
        "0.9",
        "--rationale",
        "sung low, to a child",
    ).stdout
    m = re.fullmatch(rf"({ID})  NHS2-5KU4: Lullaby \(function, confidence 0.9\) by rosa\n", out)
    assert m, out
    answer_id = m.group(1)

    (row,) = json.loads(sb("review", "log", "--json").stdout)
    assert set(row) == ANSWER_KEYS
    assert {k: v for k, v in row.items() if k != "created"} == {
        "id": answer_id,
        "kind": "function",
        "expert": "rosa",
        "tracks": [YAP[0]],
        "rationale": "sung low, to a child",
        "confidence": 0.9,
        "label": "Lullaby",
        "label_id": "lullaby",
        "label_kind": "function",
    }
    line = sb("review", "log").stdout
    assert re.fullmatch(
        rf"{answer_id}  20\d\d-\d\d-\d\d \d\d:\d\d  NHS2-5KU4: Lullaby \(function, confidence "
        r'0.9\) by rosa  "sung low, to a child"\n',
        line,
    ), line

    # again, with another function: the first is replaced, and says so
    again = sb("review", "answer", YAP[0], "--function", "Dance", "--expert", "rosa").stdout
    assert re.fullmatch(rf"({ID})  NHS2-5KU4: Dance .* by rosa \(replaces {answer_id}\)\n", again)
    new_id = again.split()[0]

    # retract without --by: the answer's own expert retracts it
    gone = sb("review", "retract", new_id).stdout
    assert gone == f"{new_id}  retracted: NHS2-5KU4: Dance (function, confidence 1) by rosa\n"
    assert json.loads(sb("review", "log", "--json").stdout) == []
    assert sb("review", "log").stdout == "no answers yet\n"
    assert counts(db) == (0, 0, 0)


def test_link_log_by_track_and_an_admins_retraction(db):
    out = sb(
        "review", "link", *YAP, "--must", "--expert", "rosa", "--rationale", "the same lullaby"
    ).stdout
    assert re.fullmatch(rf"{ID}  NHS2-5KU4 must_link NHS2-9Y4I by rosa\n", out), out
    answer_id = out.split()[0]
    assert counts(db) == (1, 0, 1)
    (row,) = json.loads(sb("review", "log", "--track", YAP[1], "--json").stdout)
    assert (row["id"], row["kind"], row["tracks"], row["confidence"]) == (
        answer_id,
        "must_link",
        list(YAP),
        None,
    )
    assert sb("review", "log", "--expert", "boss").stdout == "no answers match\n"
    out = sb("review", "retract", answer_id, "--by", "boss").stdout
    assert out.startswith(f"{answer_id}  retracted: ")
    assert counts(db) == (0, 0, 0)


def test_a_publicly_labelled_song_gets_a_note(db):
    out = sb("review", "answer", EWE, "--function", "Lullaby", "--expert", "ewe").stdout
    first, note = out.splitlines()
    assert re.fullmatch(rf"{ID}  NHS2-QAHO: Lullaby \(function, confidence 1\) by ewe", first)
    assert note == (
        "note: NHS2-QAHO keeps its public dataset label 'Dance'; the answer is stored but never "
        "overrides it"
    )


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (
            ["review", "answer", AKAN, "--function", "Dance", "--expert", "ewe"],
            1,
            "error: NHS2-9YBX is a song of Akan (CCMCakan1250, Western Africa, Africa), outside "
            "the scope of expert 'ewe' (Ewe (CCMCewee1241)); an expert for that culture or an "
            "admin may answer it",
        ),
        (
            ["review", "answer", YAP[0], "--function", "Lulaby", "--expert", "rosa"],
            1,
            "error: unknown function or concept 'Lulaby'; did you mean 'Lullaby'",
        ),
        (
            ["review", "answer", YAP[0], "--function", "Dance", "--expert", "rosa"]
            + ["--confidence", "1.5"],
            1,
            "error: confidence 1.5 is out of range; give a number with 0 < p <= 1",
        ),
        (
            ["review", "link", *YAP, "--expert", "rosa", "--rationale", "why"],
            2,
            "error: say which link: --must or --cannot (see `soundbridge review link --help`)",
        ),
        (
            ["review", "link", *YAP, "--cannot", "--expert", "rosa", "--rationale", " "],
            2,
            "error: Invalid value for '--rationale': blank; give the reason",
        ),
        (
            ["review", "retract", "ans-000000000000"],
            1,
            "error: no answer ans-000000000000 (`soundbridge review log` lists the answers)",
        ),
        (
            ["concepts", "retire", "concept-nope", "--admin", "boss"],
            1,
            "error: no concept 'concept-nope'",
        ),
    ],
)
def test_refusals_are_one_line_and_write_nothing(db, capsys, argv, status, message):
    got_status, line = refused(capsys, *argv)
    # the line starts as given; a hint after it (close names, where to look) is the library's
    assert (got_status, line[: len(message)]) == (status, message), line
    assert counts(db) == (0, 0, 0)


def test_concepts_add_list_answer_merge_and_retire(db, monkeypatch):
    out = sb(
        "concepts",
        "add",
        "Harvest song",
        "--description",
        "Sung while the taro is brought in from the gardens",
        "--expert",
        "rosa",
    ).stdout
    assert out == "concept-harvest-song  added 'Harvest song' (function) by rosa\n"
    vector = db.execute_query(
        "MATCH (c:Concept {id: 'concept-harvest-song'}) RETURN c.embedding AS v"
    ).records[0]["v"]
    assert len(vector) == 384 and math.isclose(math.hypot(*vector), 1.0, abs_tol=1e-3)

    # a refused concept is refused before the sentence model is loaded
    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded for a refused concept")

    monkeypatch.setattr("gnn.features.embed_texts", no_model)
    status = main(["concepts", "add", "LULLABY", "--description", "x", "--expert", "rosa"])
    assert status == 1
    monkeypatch.undo()

    sb("concepts", "add", "Taro song", "--description", "Taro harvest", "--expert", "rosa")
    sb(
        "concepts",
        "add",
        "Canoe",
        "--description",
        "Paddling",
        "--expert",
        "rosa",
        "--kind",
        "affect",
    )
    concepts = json.loads(sb("concepts", "list", "--json").stdout)
    assert [c["id"] for c in concepts] == [
        "concept-canoe",
        "concept-harvest-song",
        "concept-taro-song",
    ]
    listed = concepts[0]
    assert set(listed) == CONCEPT_KEYS
    assert (listed["name"], listed["kind"], listed["status"], listed["merged_into"]) == (
        "Canoe",
        "affect",
        "active",
        None,
    )
    text = sb("concepts", "list").stdout.splitlines()
    assert text == [
        "concept-canoe         affect    active    Canoe: Paddling (by rosa)",
        "concept-harvest-song  function  active    Harvest song: Sung while the taro is brought in "
        "from the gardens (by rosa)",
        "concept-taro-song     function  active    Taro song: Taro harvest (by rosa)",
    ]

    sb("review", "answer", YAP[0], "--function", "taro song", "--expert", "rosa")
    out = sb("concepts", "merge", "concept-taro-song", "concept-harvest-song", "--admin", "boss")
    assert out.stdout == "concept-taro-song  merged into concept-harvest-song by boss\n"
    statuses = {
        c["id"]: (c["status"], c["merged_into"])
        for c in json.loads(sb("concepts", "list", "--all", "--json").stdout)
    }
    assert statuses == {
        "concept-canoe": ("active", None),
        "concept-harvest-song": ("active", None),
        "concept-taro-song": ("merged", "concept-harvest-song"),
    }
    out = sb("concepts", "retire", "concept-harvest-song", "--admin", "boss").stdout
    assert out == "concept-harvest-song  retired by boss\n"
    sb("concepts", "retire", "concept-canoe", "--admin", "boss")
    assert json.loads(sb("concepts", "list", "--json").stdout) == []
    assert sb("concepts", "list").stdout.startswith("no concepts yet; add one with:")


def test_both_groups_are_registered():
    review, concepts = cli.commands["review"], cli.commands["concepts"]
    assert isinstance(review, click.Group) and isinstance(concepts, click.Group)
    assert {"answer", "link", "retract", "log"} <= set(review.commands)  # others add "queue"
    assert set(concepts.commands) == {"add", "list", "retire", "merge"}
