"""``soundbridge build`` reruns a step only when its inputs change."""

import pytest

import soundbridge.build as build
from kg.cypher import run_read

pytestmark = pytest.mark.neo4j


@pytest.fixture
def counting_step(neo4j_db, tmp_path, monkeypatch):
    src = tmp_path / "input.txt"
    src.write_text("v1")

    def run(driver, log):
        with driver.session() as s:
            s.run("CREATE (:Track {id: randomUUID()})").consume()

    def present(driver):
        return run_read(driver, "MATCH (t:Track) RETURN count(t) AS n").rows[0][0] > 0

    step = build.Step(name="count", inputs=lambda: [src], run=run, present=present)
    monkeypatch.setattr(build, "STEPS", [step])
    return src


def _runs(driver):
    return run_read(driver, "MATCH (t:Track) RETURN count(t) AS n").rows[0][0]


def test_unchanged_inputs_skip_changed_inputs_rerun(neo4j_db, neo4j_server, counting_step):
    settings = neo4j_server.settings
    first = build.run_build(neo4j_db, settings)
    second = build.run_build(neo4j_db, settings)
    assert [r.status for r in first + second] == ["ran", "skipped"]
    assert _runs(neo4j_db) == 1
    counting_step.write_text("v2 changed")
    assert build.run_build(neo4j_db, settings)[0].status == "ran"
    assert build.run_build(neo4j_db, settings, force=True)[0].status == "ran"
    assert _runs(neo4j_db) == 3


def test_missing_output_reruns_even_with_unchanged_inputs(neo4j_db, neo4j_server, counting_step):
    settings = neo4j_server.settings
    build.run_build(neo4j_db, settings)
    with neo4j_db.session() as s:
        s.run("MATCH (t:Track) DELETE t").consume()
    assert build.run_build(neo4j_db, settings)[0].status == "ran"
