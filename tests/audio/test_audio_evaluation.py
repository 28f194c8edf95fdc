"""Known answers for the metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from audio.evaluation import (
    bootstrap_ci,
    mutual_information_gap,
    probe,
    retrieval_top1,
    write_report,
)


def test_retrieval_finds_the_same_tune_and_fails_on_shuffled() -> None:
    rng = np.random.default_rng(0)
    base = rng.standard_normal((20, 8))
    z = np.stack([base, base + 0.05 * rng.standard_normal((20, 8)), base * 2], axis=1)
    assert retrieval_top1(z) == 1.0
    z[:, 1] = z[rng.permutation(20), 1]
    assert retrieval_top1(z) < 0.8


def test_mig_is_high_when_one_dimension_holds_one_factor() -> None:
    rng = np.random.default_rng(0)
    tune = np.repeat(np.arange(10), 40)  # 10 tunes x 4 instruments x 10 takes
    inst = np.tile(np.repeat(np.arange(4), 10), 10)
    noise = rng.standard_normal(400)

    def jitter() -> np.ndarray:
        return 0.01 * rng.standard_normal(400)

    clean = np.stack([tune + jitter(), inst + jitter(), noise], axis=1)
    mixed = np.stack([tune + 3 * inst, tune + 3 * inst + jitter(), noise], axis=1)
    factors = {"tune": tune, "instrument": inst}
    good = mutual_information_gap(clean, factors, bins=10)
    bad = mutual_information_gap(mixed, factors, bins=10)
    assert good["mig"] > 0.9 and bad["mig"] < 0.1
    assert good["tune_best_dim"] == 0 and good["instrument_best_dim"] == 1


def test_probe_and_report(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = np.array(["a", "b"] * 50)
    x = (y == "a")[:, None] * 3.0 + rng.standard_normal((100, 2))
    r = probe(x[:60], y[:60], x[60:], y[60:])
    assert r.accuracy > 0.9 and r.chance == pytest.approx(0.5)
    path = write_report(
        tmp_path, results={"x": 1.0}, probes={"p": r}, maps={"m": (x, y)}, confusions=["p"]
    )
    text = path.read_text()
    assert (
        "| p |" in text
        and (tmp_path / "map_m.png").is_file()
        and (tmp_path / "confusion_p.png").is_file()
    )


def test_bootstrap_interval_resamples_whole_societies() -> None:
    # two societies of five songs: one all right, one all wrong. Resampling societies can draw
    # the wrong one twice, so the interval spans 0..1; resampling songs cannot come near that.
    y = np.array(["a"] * 10)
    pred = np.array(["a"] * 5 + ["b"] * 5)
    groups = np.array(["S1"] * 5 + ["S2"] * 5)
    (lo, hi), (blo, bhi) = bootstrap_ci(y, pred, groups, n_boot=400)
    assert (lo, hi) == (0.0, 1.0) and (blo, bhi) == (0.0, 1.0)  # one class: chance is 1
    (rlo, rhi), _ = bootstrap_ci(y, pred, None, n_boot=400)
    assert 0.1 <= rlo < 0.5 < rhi <= 0.9
    # two classes, always right: balanced accuracy 1 against chance 1/2 when a resample holds
    # both societies' classes, 1 against 1 when it holds one
    y2 = np.array(["a"] * 5 + ["b"] * 5)
    acc, ratio = bootstrap_ci(y2, y2, groups, n_boot=400)
    assert acc == (1.0, 1.0) and ratio == (1.0, 2.0)
    r = probe(np.eye(2), ["a", "b"], np.eye(2), ["a", "b"], groups_test=["S1", "S2"], n_boot=0)
    assert r.accuracy_ci95 is None and r.ratio_ci95 is None
