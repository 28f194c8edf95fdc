"""The synthetic NetEase-shaped generator: determinism, integrity, the documented distributions,
both output shapes read back, and the command's refusals."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from loaders.errors import ConfigError
from loaders.netease import load_netease
from loaders.synth import (
    FACTOR_DIM,
    FUNCTIONS,
    TRACK_EXPONENT,
    USER_EXPONENT,
    SynthSummary,
    check_sizes,
    generate,
    zipf_top_share,
)
from soundbridge.cli import cli, main


class Sizes(TypedDict):
    users: int
    tracks: int
    artists: int
    plays: int
    cultures: int


SIZES: Sizes = {"users": 200, "tracks": 500, "artists": 60, "plays": 20_000, "cultures": 40}
TINY: Sizes = {"users": 20, "tracks": 40, "artists": 8, "plays": 100, "cultures": 12}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> SynthSummary:
    return generate(tmp_path_factory.mktemp("synth") / "out", seed=7, **SIZES)


def digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def read(s: SynthSummary, name: str) -> pd.DataFrame:
    return pd.read_csv(s.bulk[name], dtype=str, keep_default_na=False)


def track_clusters(s: SynthSummary) -> pd.Series:
    """Track id → world region (its taste cluster), through FROM_CULTURE and PART_OF."""
    part_of = read(s, "part_of")
    parent = dict(zip(part_of[":START_ID(Culture)"], part_of[":END_ID(Culture)"], strict=True))
    fc = read(s, "from_culture")
    return pd.Series(
        [parent[parent[c]] for c in fc[":END_ID(Culture)"]], index=fc[":START_ID(Track)"]
    )


# -- determinism --------------------------------------------------------------------------------


def test_same_seed_gives_identical_files(data: SynthSummary, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", seed=7, **SIZES)
    first, second = digests(data.out_dir), digests(again.out_dir)
    # user and playlist files, songs, CSVs, factors.npy + plays.npy + synth.json
    assert len(first) == 200 + 200 + 1 + 14 + 3
    assert first == second


def test_another_seed_gives_other_files(data: SynthSummary, tmp_path: Path) -> None:
    other = digests(generate(tmp_path / "other", seed=8, **SIZES).out_dir)
    first = digests(data.out_dir)
    for name in (
        "bulk/listened.csv",
        "bulk/tracks.csv",
        "bulk/friend.csv",
        "factors.npy",
        "plays.npy",
    ):
        assert first[name] != other[name], name


# -- integrity ----------------------------------------------------------------------------------


def test_every_reference_exists(data: SynthSummary) -> None:
    ids = {}
    for name, label in (
        ("users", "User"),
        ("tracks", "Track"),
        ("artists", "Artist"),
        ("playlists", "Playlist"),
        ("cultures", "Culture"),
        ("functions", "Function"),
    ):
        column = read(data, name)[f"id:ID({label})"]
        assert column.is_unique, name
        ids[label] = set(column)
    assert (len(ids["User"]), len(ids["Track"]), len(ids["Artist"])) == (200, 500, 60)
    assert len(ids["Playlist"]) == data.playlists == 200
    assert ids["Function"] == set(FUNCTIONS)
    for name in data.bulk:
        rows = read(data, name)
        src, dst = rows.columns[:2]
        if not src.startswith(":START_ID"):
            continue
        assert set(rows[src]) <= ids[src[10:-1]], name
        assert set(rows[dst]) <= ids[dst[8:-1]], name
        assert not rows.duplicated([src, dst]).any(), name


def test_counts_add_up(data: SynthSummary) -> None:
    listened = read(data, "listened")
    weight = listened["weight:long"].astype(int)
    assert weight.sum() == data.plays == 20_000  # every play event, aggregated per (user, artist)
    assert len(listened) == data.listened
    assert set(listened[":START_ID(User)"]) == set(read(data, "users")["id:ID(User)"])
    performed = read(data, "performed_by")
    # LISTENED is what plays.npy makes when each track's plays go to its artist
    assert data.track_plays is not None
    per_track = np.load(data.track_plays)
    assert per_track.dtype == np.int64 and per_track.shape == (500,)
    artist_of = dict(zip(performed[":START_ID(Track)"], performed[":END_ID(Artist)"], strict=True))
    by_artist = pd.Series(per_track, index=[artist_of[f"netease:{t + 1}"] for t in range(500)])
    expected = by_artist.groupby(level=0).sum()
    expected = expected[expected > 0].sort_index()
    got = weight.groupby(listened[":END_ID(Artist)"]).sum().sort_index()
    pd.testing.assert_series_equal(got, expected, check_names=False, check_dtype=False)
    assert performed[":START_ID(Track)"].is_unique and len(performed) == 500  # one artist each
    assert performed[":END_ID(Artist)"].nunique() == 60  # every artist has a track
    assert read(data, "from_culture")[":START_ID(Track)"].is_unique
    cultures = read(data, "cultures")
    levels = cultures["level"].value_counts().to_dict()
    assert levels == {"society": 40, "region": 4, "world_region": 4}
    part_of = read(data, "part_of")
    assert part_of[":START_ID(Culture)"].is_unique  # one parent each
    assert set(part_of[":END_ID(Culture)"]) == set(
        cultures.loc[cultures["level"] != "society", "id:ID(Culture)"]
    )
    friend = read(data, "friend")
    pairs = set(zip(friend[":START_ID(User)"], friend[":END_ID(User)"], strict=True))
    assert all((b, a) in pairs for a, b in pairs) and len(pairs) == 2 * data.friendships
    assert not (friend[":START_ID(User)"] == friend[":END_ID(User)"]).any()
    labelled = read(data, "serves_function")
    assert len(labelled) == data.labelled_tracks and 0.1 < len(labelled) / 500 < 0.3


def test_factors_are_float32_and_cluster_by_culture(data: SynthSummary) -> None:
    z = np.load(data.factors)
    assert z.dtype == np.float32 and z.shape == (500, 3 * FACTOR_DIM)
    tracks = read(data, "tracks")
    zs = np.array([row.split(";") for row in tracks["zs:float[]"]], dtype=np.float64)
    np.testing.assert_allclose(zs, z[:, FACTOR_DIM : 2 * FACTOR_DIM], atol=5e-5)
    society = read(data, "from_culture")[":END_ID(Culture)"].to_numpy()
    # z_s (noise 0.5 around nested centres 3.0 / 1.5 / 1.0 apart): the nearest society centroid
    # is the track's own for nearly every track.
    names = np.unique(society)
    centres = np.stack([z[society == n, FACTOR_DIM : 2 * FACTOR_DIM].mean(0) for n in names])
    d = ((z[:, None, FACTOR_DIM : 2 * FACTOR_DIM] - centres[None]) ** 2).sum(-1)
    assert (names[d.argmin(1)] == society).mean() > 0.95


# -- distributions ------------------------------------------------------------------------------


def track_play_counts(s: SynthSummary) -> np.ndarray:
    """Plays per track, most played first (``plays.npy``; LISTENED sums them per artist)."""
    assert s.track_plays is not None
    return np.sort(np.load(s.track_plays))[::-1].astype(np.float64)


def test_top_percent_of_tracks_holds_a_zipf_share_of_plays(data: SynthSummary) -> None:
    counts = track_play_counts(data)
    share = counts[:5].sum() / counts.sum()  # the top 1% of 500 tracks
    expected = zipf_top_share(500, TRACK_EXPONENT, 0.01)  # H(5) / H(500) = 0.336
    assert share == pytest.approx(expected, abs=0.06)
    assert share > 25 * 0.01  # 25 times a uniform catalogue's share


def test_rank_frequency_slope_is_the_documented_exponent(data: SynthSummary) -> None:
    counts = track_play_counts(data)
    ranks = np.arange(1, 51)  # the top 10%, where every rank expects 80+ plays
    slope = np.polyfit(np.log(ranks), np.log(counts[:50]), 1)[0]
    assert slope == pytest.approx(-TRACK_EXPONENT, abs=0.15)  # -0.93 … -1.05 over 15 seeds


def test_user_activity_is_heavy_tailed(data: SynthSummary) -> None:
    listened = read(data, "listened")
    plays = listened["weight:long"].astype(int).groupby(listened[":START_ID(User)"]).sum()
    top = np.sort(plays.to_numpy())[::-1][:20].sum() / data.plays  # top 10% of 200 users
    # each user 1 play, the remaining 19,800 by Zipf(0.8)
    expected = (20 + (20_000 - 200) * zipf_top_share(200, USER_EXPONENT, 0.1)) / 20_000
    assert top == pytest.approx(expected, abs=0.02)  # 0.467; 0.466 … 0.474 over 10 seeds
    assert top > 0.3


def test_co_collection_is_stronger_within_a_cluster(data: SynthSummary) -> None:
    collections = load_netease(data.out_dir).collections
    tracks = np.unique(collections["song_id"])
    users = np.unique(collections["user_id"])
    x = np.zeros((len(tracks), len(users)))
    x[
        np.searchsorted(tracks, collections["song_id"]),
        np.searchsorted(users, collections["user_id"]),
    ] = 1
    weight = (x @ x.T) / x.sum(1)[:, None]  # |U_i ∩ U_j| / |U_i|
    np.fill_diagonal(weight, np.nan)
    cluster = track_clusters(data).loc[[f"netease:{t}" for t in tracks]].to_numpy()
    same = cluster[:, None] == cluster[None, :]
    within, across = np.nanmean(weight[same]), np.nanmean(weight[~same])
    assert within > 3 * across  # 0.26 vs 0.05 with seed 7


def test_friendships_prefer_the_same_taste(data: SynthSummary) -> None:
    users = read(data, "users")
    taste = dict(zip(users["id:ID(User)"], users["taste"], strict=True))
    friend = read(data, "friend")
    same = np.mean(
        [taste[a] == taste[b] for a, b in zip(friend.iloc[:, 0], friend.iloc[:, 1], strict=True)]
    )
    shares = users["taste"].value_counts(normalize=True)
    chance = float((shares**2).sum())  # a friend drawn at random
    assert same > 0.7 and same > chance + 0.3
    # mean degree a little under friends_per_user = 10 (self-ties and repeats are dropped)
    assert 8.5 < 2 * data.friendships / 200 <= 10


# -- reading it back ----------------------------------------------------------------------------


def test_netease_loader_reads_the_export(data: SynthSummary) -> None:
    ne = load_netease(data.out_dir)
    assert (len(ne.users), len(ne.songs), len(ne.artists)) == (200, 500, 60)
    assert len(ne.playlists) == data.playlists and len(ne.playlist_tracks) == data.playlist_tracks
    assert len(ne.user_playlists) == data.playlists + data.subscriptions
    assert ne.skipped == {"song_artists_unknown_artist": 0}

    def pairs(df: pd.DataFrame, a: str, b: str) -> set[tuple[str, str]]:
        return {(f"netease:{x}", f"netease:{y}") for x, y in zip(df[a], df[b], strict=True)}

    collected = read(data, "collected")
    assert pairs(ne.collections, "user_id", "song_id") == set(
        zip(collected.iloc[:, 0], collected.iloc[:, 1], strict=True)
    )
    in_playlist = read(data, "in_playlist")
    assert pairs(ne.playlist_tracks, "song_id", "playlist_id") == set(
        zip(in_playlist.iloc[:, 0], in_playlist.iloc[:, 1], strict=True)
    )
    performed = read(data, "performed_by")
    assert pairs(ne.song_artists, "song_id", "artist_id") == set(
        zip(performed.iloc[:, 0], performed.iloc[:, 1], strict=True)
    )


_TYPES = r"(int|long|float|double|boolean|byte|short|char|string)(\[\])?"


def test_bulk_headers_are_what_neo4j_admin_reads(data: SynthSummary) -> None:
    groups: set[str] = set()
    relationships: list[list[str]] = []
    for name, path in data.bulk.items():
        with path.open(encoding="utf-8") as fh:
            header = fh.readline().rstrip("\n").split(",")
        if header[0].startswith(":START_ID("):
            relationships.append(header)
            assert re.fullmatch(r":START_ID\(\w+\)", header[0]), name
            assert re.fullmatch(r":END_ID\(\w+\)", header[1]), name
            assert header[-1] == ":TYPE", name
            props = header[2:-1]
            types = set(read(data, name)[":TYPE"])
            assert len(types) == 1 and re.fullmatch(r"[A-Z_]+", types.pop()), name
        else:
            ids = [h for h in header if re.fullmatch(r"\w+:ID\(\w+\)", h)]
            assert len(ids) == 1 and header[0] == ids[0], name
            groups.add(ids[0].split("(")[1][:-1])
            assert header[-1] == ":LABEL", name
            assert set(read(data, name)[":LABEL"]) == {ids[0].split("(")[1][:-1]}, name
            props = header[1:-1]
        for prop in props:
            key, _, kind = prop.partition(":")
            assert re.fullmatch(r"[a-z_]+", key), (name, prop)
            assert not kind or re.fullmatch(_TYPES, kind), (name, prop)
    assert groups == {"User", "Track", "Artist", "Playlist", "Culture", "Function"}
    for header in relationships:
        assert header[0][10:-1] in groups and header[1][8:-1] in groups
    command = data.import_command()
    assert command[:4] == ["neo4j-admin", "database", "import", "full"]
    assert len(command) == 4 + len(data.bulk) + 1 and command[-1] == "neo4j"


# -- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"artists": 50}, "50 artists but only 40 tracks"),
        ({"plays": 10}, "10 plays for 20 users: every user plays at least one track"),
        ({"users": 0}, "users must be at least 1 (got 0)"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"friends_per_user": 20}, "20 friends per user among 20 users"),
        ({"playlists": 0}, "playlists must be at least 1 (got 0)"),
    ],
)
def test_impossible_sizes_are_refused(change: dict[str, int], message: str) -> None:
    sizes = {"users": 20, "tracks": 40, "artists": 8, "plays": 100, "cultures": 12, "seed": 0}
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_sizes(**(sizes | change))


def test_a_non_empty_folder_is_kept_unless_overwritten(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        generate(tmp_path, seed=0, **TINY)
    generate(tmp_path, seed=0, **TINY, netease_json=False, overwrite=True)
    (tmp_path / "user_playlist").mkdir()
    (tmp_path / "user_playlist" / "999.json").write_text("{}")  # an earlier run's leftover
    s = generate(tmp_path, seed=0, **TINY, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "user_playlist" / "999.json").exists()
    assert len(load_netease(s.out_dir).users) == 20


# -- the command --------------------------------------------------------------------------------


def argv(out: Path, **sizes: int) -> list[str]:
    args = ["synth", "--out", str(out)]
    for key, value in {**TINY, **sizes}.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def test_command_writes_the_dataset(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, argv(tmp_path / "out", seed=3))
    assert result.exit_code == 0, result.output
    assert "wrote " in result.output and "neo4j-admin database import full" in result.output
    assert len(load_netease(tmp_path / "out").users) == 20
    result = CliRunner().invoke(cli, [*argv(tmp_path / "out", seed=3), "--force", "--bulk-only"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "out" / "user_playlist").exists()


@pytest.mark.parametrize(
    ("sizes", "status", "message"),
    [
        (
            {"artists": 50},
            2,
            "error: 50 artists but only 40 tracks: every artist has at least one track; give at "
            "most 40 artists or at least 50 tracks (see `soundbridge synth --help`)",
        ),
        (
            {"plays": 5},
            2,
            "error: 5 plays for 20 users: every user plays at least one track; give at least 20 "
            "plays or at most 5 users (see `soundbridge synth --help`)",
        ),
    ],
)
def test_command_refuses_impossible_sizes_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    sizes: dict[str, int],
    status: int,
    message: str,
) -> None:
    assert main(argv(tmp_path / "out", **sizes)) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines() == [message]
    assert not (tmp_path / "out").exists()
    assert CliRunner().invoke(cli, argv(tmp_path / "out", **sizes)).exit_code == status


def test_command_refuses_a_non_empty_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "keep.txt").write_text("x")
    assert main(argv(tmp_path)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: {tmp_path}: not empty (1 entry: keep.txt); give an empty")
    assert "give --force" in line
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
