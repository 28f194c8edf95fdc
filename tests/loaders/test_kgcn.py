"""KGCN music knowledge graph."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from loaders import KGCN, DataError, LastFM, load_kgcn

Builder = Callable[..., Path]


def test_real_counts(kgcn: KGCN, lastfm: LastFM) -> None:
    assert kgcn.triples.shape == (15518, 3)
    assert kgcn.triples["relation"].nunique() == 60
    assert len(kgcn.item_entities) == 3846
    assert kgcn.triples.dtypes.astype(str).to_dict() == {
        "head": "Int64",
        "relation": "string",
        "tail": "Int64",
    }
    assert (kgcn.item_entities.dtypes.astype(str) == "Int64").all()
    assert kgcn.triples.iloc[0].tolist() == [2086, "music.artist.origin", 3846]
    assert kgcn.item_entities.iloc[0].tolist() == [2, 0]
    # every mapped item is a Last.fm artist, and its entity is in the graph
    assert set(kgcn.item_entities["artist_id"]) <= set(lastfm.artists["artist_id"])
    entities = set(kgcn.triples["head"]) | set(kgcn.triples["tail"])
    assert set(kgcn.item_entities["entity_id"]) <= entities


def test_tiny_crlf_folder(tiny_kgcn: Builder) -> None:
    kg = load_kgcn(tiny_kgcn())
    assert kg.triples.values.tolist() == [
        [0, "music.artist.origin", 2],
        [1, "music.artist.genre", 3],
        [0, "music.artist.genre", 3],
    ]
    assert kg.item_entities.values.tolist() == [[2, 0], [3, 1]]


def test_missing_file(tiny_kgcn: Builder) -> None:
    with pytest.raises(
        DataError, match=r"kg\.txt: file not found; expected the KGCN music graph's triples"
    ):
        load_kgcn(tiny_kgcn({"kg.txt": None}))


def test_wrong_field_count(tiny_kgcn: Builder) -> None:
    with pytest.raises(DataError, match=r"kg\.txt line 2: record has 2 tab-separated fields"):
        load_kgcn(tiny_kgcn({"kg.txt": b"0\tr\t2\r\n1\tr\r\n"}))
    with pytest.raises(DataError, match=r"kg\.txt line 1: has 2 tab-separated fields, expected 3"):
        load_kgcn(tiny_kgcn({"kg.txt": b"0\tr\r\n"}))


def test_wrong_type(tiny_kgcn: Builder) -> None:
    with pytest.raises(DataError) as err:
        load_kgcn(tiny_kgcn({"kg.txt": b"0\tr\t2\r\nm.0x\tr\t3\r\n"}))
    assert "kg.txt line 2: column 'head': 'm.0x' is not an integer; expected an integer" in str(
        err.value
    )


def test_artist_mapped_twice(tiny_kgcn: Builder) -> None:
    with pytest.raises(
        DataError, match=r"line 2: duplicate artist id 2 .* first appears on line 1"
    ):
        load_kgcn(tiny_kgcn({"item_index2entity_id.txt": b"2\t0\r\n2\t1\r\n"}))


def test_wrong_encoding(tiny_kgcn: Builder) -> None:
    with pytest.raises(DataError, match=r"kg\.txt line 2: byte 0xe9 .* not valid UTF-8"):
        load_kgcn(tiny_kgcn({"kg.txt": b"0\tr\t2\r\n1\tr\xe9\t3\r\n"}))
