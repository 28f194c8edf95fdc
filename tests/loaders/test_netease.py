"""NetEase exports: known answers on the fixture, and every bad-input message.

The fixture (tests/fixtures/netease) holds 4 users, 6 playlists, 25 songs and 10 artists:

=========  =====  =================================  ====================================
playlist   owner  tracks (song numbers)              also subscribed by
=========  =====  =================================  ====================================
周末的华语  1001   晴天 七里香 十年 江南 倔强 因为爱情      1003 (tracks truncated to 3)
…喜欢的音乐 1001   晴天 红豆 贝加尔湖畔 光年之外 云烟成雨  —
lofi 学习   1002   Merry Christmas… Energy Flow 云烟成雨   1001, 1004
                   美好事物 下雨天的电台（录音） 贝加尔湖畔
雨天        1002   云烟成雨 美好事物 红豆 一路向北        1003
钢琴与夜    1003   Merry Christmas… Energy Flow 夜曲      1004
                   传奇 温柔
跑步歌单    1004   Mojito Love Story Shake It Off 光年之外  1002 (tracks truncated to 3)
                   泡沫 稻香
=========  =====  =================================  ====================================

浮夸 and 修炼爱情 appear only in song_detail/; 下雨天的电台（录音） is a cloud upload (artist 0).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from loaders import DataError, NetEase, load_netease

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "netease"

COLLECTED = {
    1001: {"晴天", "七里香", "十年", "江南", "倔强", "因为爱情", "红豆", "贝加尔湖畔", "光年之外"}
    | {
        "云烟成雨",
        "Merry Christmas Mr. Lawrence",
        "Energy Flow",
        "美好事物",
        "下雨天的电台（录音）",
    },
    1002: {"Merry Christmas Mr. Lawrence", "Energy Flow", "云烟成雨", "美好事物", "贝加尔湖畔"}
    | {"下雨天的电台（录音）", "红豆", "一路向北", "Mojito", "Love Story", "Shake It Off"}
    | {"光年之外", "泡沫", "稻香"},
    1003: {"Merry Christmas Mr. Lawrence", "Energy Flow", "夜曲", "传奇", "温柔", "晴天"}
    | {"七里香", "十年", "江南", "倔强", "因为爱情", "云烟成雨", "美好事物", "红豆", "一路向北"},
    1004: {"Mojito", "Love Story", "Shake It Off", "光年之外", "泡沫", "稻香", "贝加尔湖畔"}
    | {
        "Merry Christmas Mr. Lawrence",
        "Energy Flow",
        "云烟成雨",
        "美好事物",
        "下雨天的电台（录音）",
    }
    | {"夜曲", "传奇", "温柔"},
}


@pytest.fixture(scope="module")
def netease() -> NetEase:
    return load_netease(FIXTURE)


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """A writable copy of the fixture."""
    return Path(shutil.copytree(FIXTURE, tmp_path / "netease"))


def test_counts_and_dtypes(netease: NetEase) -> None:
    shapes = {
        name: getattr(netease, name).shape
        for name in (
            "users",
            "playlists",
            "songs",
            "artists",
            "song_artists",
            "playlist_tracks",
            "user_playlists",
            "collections",
        )
    }
    assert shapes == {
        "users": (4, 2),
        "playlists": (6, 5),
        "songs": (25, 5),
        "artists": (10, 2),
        "song_artists": (25, 2),  # 24 credited songs, one duet, the cloud upload dropped
        "playlist_tracks": (32, 3),
        "user_playlists": (12, 3),
        "collections": (58, 2),
    }
    assert netease.skipped == {"song_artists_unknown_artist": 1}
    assert netease.playlists.dtypes.astype(str).to_dict() == {
        "playlist_id": "Int64",
        "user_id": "Int64",
        "name": "string",
        "subscribed": "bool",
        "track_count": "Int64",
    }
    assert netease.songs.dtypes.astype(str).to_dict() == {
        "song_id": "Int64",
        "name": "string",
        "album_id": "Int64",
        "album_name": "string",
        "duration_ms": "Int64",
    }
    for table in (netease.song_artists, netease.playlist_tracks, netease.collections):
        assert (table.dtypes.astype(str) == "Int64").all()


def test_users_and_playlists(netease: NetEase) -> None:
    assert netease.users.values.tolist() == [
        [1001, "晴天的猫"],
        [1002, "lofi_river"],
        [1003, "阿卡贝拉"],
        [1004, "北方的狼"],
    ]
    assert netease.playlists[["playlist_id", "user_id", "subscribed"]].values.tolist() == [
        [2384642500, 1001, True],
        [2384642511, 1001, False],  # the liked-songs list nobody else collects
        [2960377012, 1002, True],
        [3136952023, 1002, True],
        [5043513212, 1003, True],
        [7104386051, 1004, True],
    ]
    relations = netease.user_playlists.groupby("relation").size().to_dict()
    assert relations == {"created": 6, "subscribed": 6}


def test_truncated_tracks_are_filled_from_song_detail(netease: NetEase) -> None:
    names = netease.songs.set_index("song_id")["name"]
    tracks = netease.playlist_tracks
    weekend = tracks[tracks["playlist_id"] == 2384642500].sort_values("position")
    assert [names[s] for s in weekend["song_id"]] == [
        "晴天",
        "七里香",
        "十年",
        "江南",
        "倔强",
        "因为爱情",
    ]
    running = tracks[tracks["playlist_id"] == 7104386051].sort_values("position")
    assert [names[s] for s in running["song_id"]][3:] == ["光年之外", "泡沫", "稻香"]


def test_songs_artists_and_cloud_upload(netease: NetEase) -> None:
    songs = netease.songs.set_index("name")
    assert songs.loc["晴天"].tolist() == [186016, 18903, "叶惠美", 269000]
    cloud = songs.loc["下雨天的电台（录音）"]
    assert pd.isna(cloud["album_id"]) and pd.isna(cloud["album_name"])
    artists = netease.artists.set_index("artist_id")["name"]
    assert artists[6452] == "周杰伦" and 0 not in artists.index
    duet = netease.song_artists[netease.song_artists["song_id"] == 299604]
    assert [artists[a] for a in duet["artist_id"]] == ["陈奕迅", "王菲"]


def test_collections_known_answer(netease: NetEase) -> None:
    names = netease.songs.set_index("song_id")["name"]
    got = {
        int(user): {names[s] for s in group["song_id"]}
        for user, group in netease.collections.groupby("user_id")
    }
    assert got == COLLECTED
    assert not netease.collections.duplicated().any()


def test_co_collection_weights(netease: NetEase) -> None:
    """|U_i ∩ U_j| / |U_i| for a few pairs, from the collections."""
    names = netease.songs.set_index("song_id")["name"]
    audience = (
        netease.collections.assign(song=netease.collections["song_id"].map(names))
        .groupby("song")["user_id"]
        .apply(lambda users: set(users.astype(int)))
    )

    def weight(i: str, j: str) -> float:
        return len(audience[i] & audience[j]) / len(audience[i])

    assert audience["云烟成雨"] == {1001, 1002, 1003, 1004}
    assert audience["晴天"] == {1001, 1003}
    assert weight("晴天", "云烟成雨") == 1.0
    assert weight("云烟成雨", "晴天") == 0.5
    assert weight("贝加尔湖畔", "晴天") == pytest.approx(1 / 3)
    assert weight("Mojito", "泡沫") == 1.0 and weight("Mojito", "晴天") == 0.0
    assert "浮夸" not in audience.index  # only in song_detail: nobody collected it


def _edit(path: Path, edit: object) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)  # type: ignore[operator]
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def test_malformed_json(export: Path) -> None:
    path = export / "playlist_detail" / "2384642500.json"
    text = path.read_text(encoding="utf-8")
    broken = text.replace('"name": "周末的华语",', '"name": "周末的华语"', 1)
    path.write_text(broken, encoding="utf-8")
    line = broken[: broken.index('"name": "周末的华语"')].count("\n") + 2
    with pytest.raises(DataError) as err:
        load_netease(export)
    assert err.value.line == line
    assert f"2384642500.json line {line}: malformed JSON at column 5: Expecting ',' delimiter" in (
        str(err.value)
    )


def test_missing_key_names_the_path(export: Path) -> None:
    _edit(
        export / "playlist_detail" / "2384642511.json",
        lambda d: d["playlist"]["tracks"][3].pop("ar"),
    )
    with pytest.raises(DataError) as err:
        load_netease(export)
    assert str(err.value).endswith("2384642511.json key 'playlist.tracks[3].ar': missing key")


def test_wrong_value_type(export: Path) -> None:
    _edit(
        export / "song_detail" / "2384642500.json",
        lambda d: d["songs"][1].update(id="386538"),
    )
    with pytest.raises(DataError, match=r"key 'songs\[1\]\.id': expected an integer, found '386"):
        load_netease(export)


def test_error_response(export: Path) -> None:
    path = export / "song_detail" / "7104386051.json"
    path.write_text('{"code": -460, "message": "Cheating"}', encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_netease(export)
    assert "7104386051.json key 'code': the API answered code -460 (Cheating); expected 200" in (
        str(err.value)
    )


def test_unresolved_track(export: Path) -> None:
    (export / "song_detail" / "7104386051.json").unlink()
    with pytest.raises(DataError) as err:
        load_netease(export)
    assert str(err.value).endswith(
        "playlist_detail/7104386051.json key 'playlist.trackIds[4].id': track 28481818 is "
        "described neither in this playlist's tracks nor in song_detail/; expected "
        "/song/detail?ids=28481818 saved in song_detail/"
    )


def test_listed_playlist_without_detail(export: Path) -> None:
    (export / "playlist_detail" / "5043513212.json").unlink()
    with pytest.raises(DataError, match=r"1003\.json key 'playlist\[0\]\.id': playlist 5043513212"):
        load_netease(export)


def test_wrong_encoding(export: Path) -> None:
    path = export / "user_playlist" / "1002.json"
    path.write_bytes(path.read_bytes().replace("lofi 学习".encode(), b"lofi \xe9tude"))
    with pytest.raises(DataError, match=r"1002\.json line \d+: byte 0xe9 .* not valid UTF-8"):
        load_netease(export)


def test_file_name_must_carry_the_uid(export: Path) -> None:
    (export / "user_playlist" / "1004.json").rename(export / "user_playlist" / "wolf.json")
    with pytest.raises(DataError, match=r"wolf\.json: the file name must start with the user id"):
        load_netease(export)


def test_truncated_user_playlist(export: Path) -> None:
    _edit(export / "user_playlist" / "1003.json", lambda d: d.update(more=True))
    with pytest.raises(DataError, match=r"1003\.json key 'more': every /user/playlist page"):
        load_netease(export)


def test_missing_folder(export: Path) -> None:
    shutil.rmtree(export / "user_playlist")
    with pytest.raises(DataError, match=r"user_playlist: folder not found; expected"):
        load_netease(export)
