"""``soundbridge build`` reruns a step only when its inputs change."""

import numpy as np
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


@pytest.fixture
def recommenders_step(neo4j_db, tmp_path, monkeypatch) -> list[int]:
    """The build reduced to a recommenders step that counts its runs, over two bare Tracks."""
    src = tmp_path / "plays.dat"
    src.write_text("same")
    ran: list[int] = []
    step = build.Step(
        name="recommenders",
        inputs=lambda: [src],
        run=lambda driver, log: ran.append(1),
        present=lambda driver: True,
        graph_inputs=build._recommenders_graph_inputs,
    )
    monkeypatch.setattr(build, "STEPS", [step])
    neo4j_db.execute_query("CREATE (:Track {id: 'NHS2-A'}), (:Track {id: 'NHS2-B'})")
    return ran


def test_a_new_expert_constraint_reruns_the_recommenders(neo4j_db, neo4j_server, recommenders_step):
    from kg.expert import add_expert_constraint

    settings = neo4j_server.settings
    assert [r.status for r in build.run_build(neo4j_db, settings)] == ["ran"]
    assert [r.status for r in build.run_build(neo4j_db, settings)] == ["skipped"]
    add_expert_constraint(
        neo4j_db, "NHS2-A", "NHS2-B", kind="must_link", rationale="one tune", author="rosa"
    )
    assert [r.status for r in build.run_build(neo4j_db, settings)] == ["ran"]  # trains with it
    assert len(recommenders_step) == 2


def test_new_track_factors_rerun_the_recommenders(neo4j_db, neo4j_server, recommenders_step):
    from audio.graph import store_factors

    settings = neo4j_server.settings
    one = np.ones((2, 3), dtype=np.float32)
    store_factors(neo4j_db, ["NHS2-A", "NHS2-B"], one, one, one)
    assert [r.status for r in build.run_build(neo4j_db, settings)] == ["ran"]
    store_factors(neo4j_db, ["NHS2-A", "NHS2-B"], one, one, one)  # the same factors again
    assert [r.status for r in build.run_build(neo4j_db, settings)] == ["skipped"]
    store_factors(neo4j_db, ["NHS2-A", "NHS2-B"], one, one, 2 * one)  # a new factor model
    assert [r.status for r in build.run_build(neo4j_db, settings)] == ["ran"]  # trains with them
    assert len(recommenders_step) == 2


def test_demo_shows_a_listeners_artists_once_build_trained_them(tmp_path, monkeypatch) -> None:
    import click
    from click.testing import CliRunner

    import recsys.api
    from soundbridge.commands.build import _demo_user

    monkeypatch.setenv("SOUNDBRIDGE_HOME", str(tmp_path))
    cmd = click.command()(lambda: _demo_user(2))
    assert "`soundbridge build` trains the user recommenders" in CliRunner().invoke(cmd).output
    (tmp_path / "recsys").mkdir()
    (tmp_path / "recsys" / "model.npz").write_bytes(b"")
    rows = [{"id": 1001, "name": "Pet Shop Boys", "score": 0.55}]
    monkeypatch.setattr(recsys.api, "recommend_for_user", lambda user_id, k: rows)
    out = CliRunner().invoke(cmd).output
    assert "listener 2" in out and "1. Pet Shop Boys  score 0.550" in out
