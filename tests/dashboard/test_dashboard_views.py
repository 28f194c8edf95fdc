"""The new views' data functions without a server: known answers on hand-made inputs."""

import json

import numpy as np

from soundbridge.dashboard.embedding_map import embedding_points
from soundbridge.dashboard.metrics import REPORT, read_metrics
from soundbridge.dashboard.projection import project_2d


def test_projection_is_deterministic_and_keeps_the_main_axis():
    rng = np.random.default_rng(0)
    X = np.outer(np.arange(10.0), [3.0, 0, 0, 0]) + 0.01 * rng.normal(size=(10, 4))
    xy, explained = project_2d(X)
    assert explained[0] > 0.99 and np.all(np.diff(xy[:, 0]) > 0)  # ordered along the line
    xy2, _ = project_2d(X[::-1])
    assert np.allclose(xy2[::-1], xy)  # the sign does not depend on the row order
    assert project_2d(np.zeros((0, 3)))[0].shape == (0, 2)


def test_embedding_points_skip_vectors_of_another_length_and_say_what_to_run():
    rows = [
        {"id": "a", "name": "A", "culture": "X", "function": "Dance", "vector": [0.0, 1.0]},
        {"id": "b", "name": None, "culture": "X", "function": None, "vector": [1.0, 0.0]},
        {"id": "c", "name": "C", "culture": "Y", "function": "Work", "vector": [1.0]},
    ]
    out = embedding_points("gnn", rows)
    assert [p["id"] for p in out["points"]] == ["a", "b"] and out["dim"] == 2
    assert out["points"][1]["name"] == "b" and out["points"][1]["function"] == "unknown"
    empty = embedding_points("gnn", [])
    assert empty["points"] == [] and "run `soundbridge build`" in empty["message"]


def test_unreadable_or_empty_reports_say_what_to_run(tmp_path):
    path = tmp_path / REPORT
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    out = read_metrics(tmp_path)
    assert out["available"] is False and "cannot be read" in out["message"]
    assert "soundbridge evaluate" in out["message"]
    path.write_text(json.dumps({"methods": {}}))
    assert 'no "methods" object' in read_metrics(tmp_path)["message"]


def test_report_keeps_numbers_and_confidence_intervals_only(tmp_path):
    path = tmp_path / REPORT
    path.parent.mkdir(parents=True)
    methods = {"ot": {"serendipity": 0.2, "label": "x", "flag": True, "ndcg_ci95": [0.1, 0.3]}}
    path.write_text(json.dumps({"methods": methods}))
    out = read_metrics(tmp_path)
    assert out["methods"] == {"ot": {"serendipity": 0.2, "ndcg_ci95": [0.1, 0.3]}}
    assert [m["key"] for m in out["metrics"]] == ["serendipity"]
