"""Known answers for the split, the metrics, the public surface and the served API."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from click.testing import CliRunner

import gnn
import recsys
from loaders.lastfm import LastFM
from recsys.api import served
from recsys.evaluate import culture_exposure, evaluate, non_western_mask, ranking_metrics
from recsys.mostpop import MostPop
from recsys.pipeline import save_interactions
from recsys.split import split_lastfm, split_rows
from soundbridge.commands.recommend import export_user_recs_cmd, recommend

MODULES = [
    "recsys.base",
    "recsys.split",
    "recsys.evaluate",
    "recsys.mostpop",
    "recsys.itemknn",
    "recsys.ease",
    "gnn.model",
    "gnn.sampling",
    "loaders.config",
]


def _lastfm(n_users: int = 6, n_artists: int = 30) -> LastFM:
    rng = np.random.default_rng(0)
    rows = [(u, a, 1) for u in range(1, n_users + 1) for a in rng.choice(n_artists, 12, False)]
    plays = pd.DataFrame(rows, columns=["user_id", "artist_id", "weight"]).astype("Int64")
    friends = pd.DataFrame(
        [(a, b) for a in range(1, n_users + 1) for b in range(1, n_users + 1) if a != b],
        columns=["user_id", "friend_id"],
    ).astype("Int64")
    users = pd.DataFrame({"user_id": range(1, n_users + 1)}).astype("Int64")
    artists = pd.DataFrame(
        {"artist_id": range(n_artists), "name": [f"a{i}" for i in range(n_artists)]}
    )
    empty = pd.DataFrame()
    return LastFM(users, artists.astype({"artist_id": "Int64"}), plays, friends, empty, empty)


def test_public_surface_is_pinned() -> None:
    assert "recommend_for_user" in recsys.__all__ and "HeteroGNN" in recsys.__all__
    assert "FastRP" in recsys.__all__
    for pkg in (recsys, gnn):
        for name in pkg.__all__:
            assert getattr(pkg, name) is not None


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_split_rows_holds_out_ten_percent_of_eligible_groups_only() -> None:
    groups = np.repeat([0, 1, 2], [20, 45, 9])
    mask = split_rows(groups, seed=0)
    assert [int(mask[groups == g].sum()) for g in (0, 1, 2)] == [2, 4, 0]
    assert (split_rows(groups, seed=0) == mask).all()
    assert (split_rows(groups, seed=1) != mask).any()


def test_split_lastfm_partitions_the_public_rows() -> None:
    s = split_lastfm(_lastfm(), seed=0)
    assert s.train.nnz + s.valid.nnz == 72 and s.valid.nnz == 6
    assert s.train.multiply(s.valid).nnz == 0
    assert s.friends_train.nnz + s.friends_valid.nnz == 30
    assert (s.friends_valid != s.friends_valid.T).nnz == 0


def test_ranking_metrics_known_answer() -> None:
    truth = sp.csr_matrix(np.array([[0, 0, 1, 1], [1, 0, 0, 0], [0, 0, 0, 0]]))
    r, n = ranking_metrics(np.array([[2, 0], [3, 1], [0, 1]]), truth)
    # user 0: 1 of 2 found at rank 1; user 1: none; user 2 has nothing held out
    assert r == pytest.approx(0.25)
    assert n == pytest.approx((1 / (1 + 1 / np.log2(3))) / 2)


def test_culture_exposure_counts_linked_artists_only() -> None:
    has, nw = non_western_mask(np.array([1, 2, 3]), {1: ["WR-europe"], 2: ["WR-asia", "WR-europe"]})
    assert culture_exposure(np.array([[0, 1, 2]]), has, nw) == pytest.approx(0.5)


def test_evaluate_mostpop_on_a_tiny_split() -> None:
    s = split_lastfm(_lastfm(), seed=0)
    ev = evaluate(MostPop().fit(s.train), s, k=5, regions={})
    assert 0.0 <= ev.recall <= 1.0 and ev.users == 6 and np.isnan(ev.exposure_recommended)


def test_served_api_and_cli(tmp_path: Path) -> None:
    lastfm = _lastfm()
    s = split_lastfm(lastfm, seed=0)
    MostPop().fit(s.train).save(tmp_path / "model.npz")
    save_interactions(tmp_path / "interactions.npz", s)
    lastfm.artists[["artist_id", "name"]].to_parquet(tmp_path / "artists.parquet")
    served.cache_clear()
    recs = recsys.recommend_for_user(1, k=3, artefacts=tmp_path)
    seen = set(lastfm.plays.loc[lastfm.plays.user_id == 1, "artist_id"].tolist())
    assert len(recs) == 3 and not {r["id"] for r in recs} & seen
    assert recs[0]["name"] == f"a{recs[0]['id']}"
    assert len(recsys.recommend_friends(1, k=2, artefacts=tmp_path)) <= 2
    with pytest.raises(recsys.UnknownIdError, match="unknown Last.fm user id 99"):
        recsys.recommend_for_user(99, artefacts=tmp_path)

    runner = CliRunner()
    out = tmp_path / "recs.parquet"
    result = runner.invoke(
        export_user_recs_cmd, ["--k", "4", "--out", str(out), "--artefacts", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    df = pd.read_parquet(out)
    assert list(df.columns) == ["user_id", "rank", "artist_id", "score"]
    assert len(df) == 6 * 4 and df.groupby("user_id")["rank"].max().eq(4).all()
    merged = df.merge(lastfm.plays, on=["user_id", "artist_id"])
    assert merged.empty  # already-listened artists are excluded
    as_csv = tmp_path / "recs.csv"  # the file's suffix picks the format
    result = runner.invoke(
        export_user_recs_cmd, ["--k", "4", "--out", str(as_csv), "--artefacts", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_csv(as_csv), df, check_dtype=False)
    result = runner.invoke(recommend, ["user", "1", "--k", "2", "--artefacts", str(tmp_path)])
    assert result.exit_code == 0 and len(result.output.splitlines()) == 2


def test_gnn_evaluate_sampler_option_reaches_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib

    import kg.config
    import kg.connection
    import recsys.pipeline
    from soundbridge.commands.recommend import gnn as gnn_cli

    seen: dict[str, object] = {}
    monkeypatch.setattr(kg.config.Neo4jSettings, "from_env", classmethod(lambda cls: None))
    monkeypatch.setattr(kg.connection, "connect", lambda _s: contextlib.nullcontext("driver"))
    monkeypatch.setattr(recsys.pipeline, "build", lambda driver, **kw: seen.update(kw))
    result = CliRunner().invoke(gnn_cli, ["evaluate", "--sampler", "neighbor", "--no-write"])
    assert result.exit_code == 0, result.output
    models = seen["models"]
    from recsys.pipeline import SERVED

    assert isinstance(models, dict) and models[SERVED]().sampler == "neighbor"
    assert seen["write_graph"] is False
    bad = CliRunner().invoke(gnn_cli, ["evaluate", "--sampler", "random"])
    assert bad.exit_code == 2 and "neighbor" in bad.output


def test_report_states_the_cold_start_offset_or_that_none_helped(tmp_path: Path) -> None:
    from recsys.report import write_report

    row = {
        "model": "HeteroGNN", "k": 20, "recall": 0.3, "ndcg": 0.2, "coverage": 0.1,
        "exposure_recommended": 0.3, "exposure_history": 0.3, "friend_hit_rate": 0.2,
        "fit_seconds": 1.0,
    }  # fmt: skip
    tried = {"-inf": 0.30, "-0.1": 0.31}
    metrics = {
        "split": {"train": 10, "valid": 2, "seed": 0},
        "models": [row],
        "cold_start": {"HeteroGNN": {"artists": 1112, "offset": -0.1, "valid_recall": tried}},
    }
    text = write_report(tmp_path, metrics, {}).read_text()
    assert "1,112 artists without training listeners" in text and "offset -0.1," in text
    metrics["cold_start"]["HeteroGNN"]["offset"] = float("nan")
    text = write_report(tmp_path, metrics, {}).read_text()
    assert "no score offset helped" in text and "-inf: 0.3000" in text
    assert "trained again" not in text  # no refit recorded
    metrics["cold_start"]["HeteroGNN"] |= {
        "epochs": 6, "best_epoch": 3, "stopped_by": "patience", "refit_epochs": 4
    }  # fmt: skip
    text = write_report(tmp_path, metrics, {}).read_text()
    assert (
        "HeteroGNN: 6 epochs on the inner split (the best: 4, stopped by patience), then "
        "trained again from the start on every training row for 4" in text
    )


def test_report_compares_the_served_model_with_the_best_peer(tmp_path: Path) -> None:
    from recsys.report import write_report

    def row(model: str, recall: float) -> dict[str, object]:
        return {
            "model": model, "k": 20, "recall": recall, "ndcg": 0.2, "coverage": 0.1,
            "exposure_recommended": 0.3, "exposure_history": 0.3, "friend_hit_rate": 0.2,
            "fit_seconds": 1.0,
        }  # fmt: skip

    metrics = {
        "split": {"train": 10, "valid": 2, "seed": 0},
        "models": [row("EASE", 0.25), row("ALS", 0.28), row("HeteroGNN", 0.30)],
        "served_model": "HeteroGNN",
        "tuned": {"EASE": {"chosen": {"l2": 100.0}, "inner": []}},
    }
    text = write_report(tmp_path, metrics, {}).read_text()
    assert "HeteroGNN / the best peer (ALS) Recall@20: **1.071** on this seed (at or above" in text
    assert "EASE: l2 = 100, chosen on the inner validation split." in text
    metrics["models"][1]["recall"] = 0.29
    assert "1.034** on this seed (below 1.05" in write_report(tmp_path, metrics, {}).read_text()
