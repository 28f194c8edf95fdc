"""HetRec Last.fm: real counts, the documented skip, and every bad-input message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from loaders import DataError, LastFM, load_lastfm

Builder = Callable[..., Path]


def _rows(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines()) - 1


def test_real_counts(lastfm: LastFM, real_data: Path) -> None:
    folder = real_data / "lastfm-hetrec2011"
    assert len(lastfm.users) == 1892
    assert len(lastfm.artists) == 17632
    assert len(lastfm.tags) == 11946
    assert len(lastfm.plays) == _rows(folder / "user_artists.dat") == 83558
    assert len(lastfm.friends) == 25434
    assert lastfm.skipped == {"tag_assignments_unknown_artist": 1538}
    assert len(lastfm.tag_assignments) == 186479 - 1538
    assert set(lastfm.plays["artist_id"]) <= set(lastfm.artists["artist_id"])
    assert set(lastfm.tag_assignments["artist_id"]) <= set(lastfm.artists["artist_id"])
    assert set(lastfm.tag_assignments["tag_id"]) <= set(lastfm.tags["tag_id"])
    assert lastfm.users["user_id"].is_monotonic_increasing and lastfm.users["user_id"].is_unique


def test_real_dtypes_and_rows(lastfm: LastFM) -> None:
    for table in (lastfm.users, lastfm.plays, lastfm.friends, lastfm.tag_assignments):
        assert (table.dtypes.astype(str) == "Int64").all()
    assert lastfm.artists.dtypes.astype(str).to_dict() == {
        "artist_id": "Int64",
        "name": "string",
        "url": "string",
        "picture_url": "string",
    }
    artists = lastfm.artists.set_index("artist_id")
    assert artists.loc[1, "name"] == "MALICE MIZER"
    assert artists.loc[707, "name"] == "Metallica"
    assert artists["picture_url"].isna().sum() == 444
    first = lastfm.plays.iloc[0].tolist()
    assert first == [2, 51, 13883]
    assert lastfm.tags.set_index("tag_id").loc[1, "name"] == "metal"
    assert lastfm.tag_assignments.iloc[0].tolist() == [2, 52, 13, 1, 4, 2009]


def test_tiny_folder(tiny_lastfm: Builder) -> None:
    lfm = load_lastfm(tiny_lastfm())
    assert lfm.users["user_id"].tolist() == [2, 5, 7, 9]  # 7 only befriends, 9 only tags
    assert lfm.artists["name"].tolist() == ["MALICE MIZER", '"Weird Al" Yankovic', "Caetano Veloso"]
    assert lfm.artists["picture_url"].isna().tolist() == [False, True, False]
    assert lfm.plays.values.tolist() == [[2, 1, 13883], [2, 3, 10], [5, 2, 7]]
    assert lfm.tag_assignments.values.tolist() == [[2, 1, 1, 1, 4, 2009], [9, 3, 2, 1, 5, 2010]]
    assert lfm.skipped == {"tag_assignments_unknown_artist": 1}


def test_play_of_unknown_artist(tiny_lastfm: Builder) -> None:
    plays = "userID\tartistID\tweight\n2\t1\t5\n2\t42\t7\n"
    with pytest.raises(DataError) as err:
        load_lastfm(tiny_lastfm({"user_artists.dat": plays}))
    assert str(err.value).endswith(
        "user_artists.dat line 3: column 'artistID': unknown artist 42 (1 record(s) like this); "
        "the known artist ids are listed in artists.dat"
    )


def test_unknown_tag(tiny_lastfm: Builder) -> None:
    tagged = "userID\tartistID\ttagID\tday\tmonth\tyear\n2\t1\t77\t1\t4\t2009\n"
    with pytest.raises(DataError, match=r"line 2: column 'tagID': unknown tag 77 .* tags\.dat"):
        load_lastfm(tiny_lastfm({"user_taggedartists.dat": tagged}))


def test_latin1_file(tiny_lastfm: Builder) -> None:
    artists = "id\tname\turl\tpictureURL\n1\tA\tu\tp\n2\tBeyonc\xe9\tu\tp\n".encode("latin-1")
    with pytest.raises(DataError) as err:
        load_lastfm(tiny_lastfm({"artists.dat": artists}))
    message = str(err.value)
    assert "artists.dat line 3: byte 0xe9 at column 9 is not valid UTF-8" in message
    assert "expected a UTF-8 text file" in message


def test_missing_file(tiny_lastfm: Builder) -> None:
    with pytest.raises(DataError, match=r"tags\.dat: file not found; expected Last\.fm tags"):
        load_lastfm(tiny_lastfm({"tags.dat": None}))


def test_missing_column(tiny_lastfm: Builder) -> None:
    with pytest.raises(DataError) as err:
        load_lastfm(tiny_lastfm({"user_friends.dat": "userID\tfriend\n2\t5\n"}))
    message = str(err.value)
    assert "user_friends.dat line 1: missing column(s) 'friendID'" in message
    assert "found header: 'userID', 'friend'" in message


def test_wrong_type(tiny_lastfm: Builder) -> None:
    plays = "userID\tartistID\tweight\n2\t1\t5\n2\t3\tmany\n"
    with pytest.raises(DataError) as err:
        load_lastfm(tiny_lastfm({"user_artists.dat": plays}))
    assert "user_artists.dat line 3: column 'weight': 'many' is not an integer; expected an " in (
        str(err.value)
    )


def test_ragged_row(tiny_lastfm: Builder) -> None:
    plays = "userID\tartistID\tweight\n2\t1\t5\n2\t3\n"
    with pytest.raises(
        DataError, match=r"line 3: record has 2 tab-separated fields but the header"
    ):
        load_lastfm(tiny_lastfm({"user_artists.dat": plays}))


def test_out_of_range_month(tiny_lastfm: Builder) -> None:
    tagged = "userID\tartistID\ttagID\tday\tmonth\tyear\n2\t1\t1\t1\t13\t2009\n"
    with pytest.raises(DataError, match=r"line 2: column 'month': 13 is out of range"):
        load_lastfm(tiny_lastfm({"user_taggedartists.dat": tagged}))


def test_duplicate_play(tiny_lastfm: Builder) -> None:
    plays = "userID\tartistID\tweight\n2\t1\t5\n2\t1\t6\n"
    with pytest.raises(DataError, match=r"line 3: duplicate \(user, artist\) pair \(2, 1\)"):
        load_lastfm(tiny_lastfm({"user_artists.dat": plays}))


def test_nothing_half_loaded(tiny_lastfm: Builder) -> None:
    # the last file read is broken: the loader raises and returns nothing
    root = tiny_lastfm({"user_taggedartists.dat": "userID\tartistID\n"})
    result: LastFM | None = None
    with pytest.raises(DataError):
        result = load_lastfm(root)
    assert result is None
    assert isinstance(load_lastfm(tiny_lastfm()).plays, pd.DataFrame)
