"""Cantometrics: decoding sums of powers of two, society profiles, real counts, bad inputs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loaders import LINES, Cantometrics, DataError, decode, load_cantometrics, society_profiles

Builder = Callable[..., Path]


def test_real_counts(cantometrics: Cantometrics) -> None:
    c = cantometrics
    assert len(c.lines) == 37 and c.lines["line"].tolist() == list(LINES)
    assert c.lines["number"].tolist() == list(range(1, 38))
    assert len(c.codes) == 216
    assert len(c.codings) == 5776 - 8 and c.skipped == {"codings_unknown_society": 8}
    assert len(c.societies) == 1023 and c.codings["society_id"].nunique() == 1023
    assert len(c.songs) == 5883
    assert set(c.codings["society_id"]) <= set(c.societies["society_id"])
    assert list(c.codings.columns) == ["song_id", "society_id", *LINES]
    assert (c.codings.dtypes.astype(str) == "Int64").all()
    # every code is a single power of two, and names are unique within a line
    codes = c.codes["code"].astype("int64")
    assert ((codes & (codes - 1)) == 0).all()
    assert (codes == 2 ** c.codes["point"].astype("int64")).all()
    assert not c.codes.duplicated(["line", "name"]).any()


def test_real_decode_known_answers(cantometrics: Cantometrics) -> None:
    c = cantometrics
    # 20 = 4 + 16 on line 1: points 2 and 4
    assert c.decode("line_1", 20) == ["SoloSinger", "SoloSingerConsecutive"]
    assert decode(c, 1, 20) == ["SoloSinger", "SoloSingerConsecutive"]
    assert c.decode("line_1", 0) == []
    assert c.decode("line_1", 8192) == ["Interlock"]
    # combinations absent from raw_codes.csv still decode bit by bit (line 27: 514 = 2 + 512)
    assert len(c.decode("line_27", 514)) == 2
    # codes.csv leaves line 34's point 10 unnamed; raw_codes.csv names it
    assert c.decode("line_34", 1024) == ["SlightNasalization"]
    # codes.csv's spelling wins over raw_codes.csv's typo "Embeillishment"
    assert c.decode("line_23", 2) == ["ExtremeEmbellishment"]


@pytest.mark.parametrize(
    ("line", "value", "fragment"),
    [
        ("line_11", 96, "line_11 value 96: bit 32 has no meaning for line_11; its codes are 2 "),
        ("line_7", 4, "line_7 value 4: bit 4 has no meaning"),
        ("line_1", 1, "line_1 value 1: bit 1 has no meaning"),
        ("line_1", -4, "line_1 value -4: expected a sum of powers of two"),
        ("line_99", 2, "unknown line 'line_99'"),
    ],
)
def test_real_decode_errors(
    cantometrics: Cantometrics, line: str, value: int, fragment: str
) -> None:
    with pytest.raises(DataError) as err:
        cantometrics.decode(line, value)
    assert fragment in str(err.value)
    assert "etc/codes.csv" in str(err.value)


def test_real_profiles(cantometrics: Cantometrics) -> None:
    profiles = society_profiles(cantometrics)
    assert profiles.shape == (1023, 216)
    assert str(profiles.index.dtype) == "Int64" and profiles.index.name == "society_id"
    assert profiles.columns[0] == "line_1:NoSinger"
    assert "line_1:SoloSinger" in profiles.columns
    assert (profiles.dtypes == np.float64).all()
    values = profiles.to_numpy()
    assert np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1


def test_real_tables(cantometrics: Cantometrics) -> None:
    societies = cantometrics.societies.set_index("society_id")
    assert societies.loc[19856, "name"] == "Lese"
    assert societies.loc[19856, "glottocode"] == "lese1243"
    assert np.isnan(societies.loc[11826, "latitude"])  # Basseri: blank in the file
    assert not societies["glottocode"].dropna().str.contains(" ").any()  # "egba1238 " stripped
    song = cantometrics.songs.set_index("song_id").loc[458]
    assert song["title"] == "Kabe" and song["year"] == "1946"
    assert song["instruments"] == "Male Voices; Horn; Drums; Sticks; Handclapping"


def test_tiny_folder_known_answers(tiny_cantometrics: Builder) -> None:
    c = load_cantometrics(tiny_cantometrics())
    assert c.skipped == {"codings_unknown_society": 1}
    assert c.codings["song_id"].tolist() == [1, 2, 3, 4]
    assert c.codes[["line", "point", "code", "name"]].values.tolist() == [
        ["line_1", 1, 2, "NoSinger"],
        ["line_1", 2, 4, "SoloSinger"],
        ["line_1", 4, 16, "SoloSingerConsecutive"],
        ["line_2", 1, 2, "NoOrchestra"],
        ["line_2", 2, 4, "SmallOrchestra"],  # blank in codes.csv, named by raw_codes.csv
    ]
    assert c.decode("line_1", 20) == ["SoloSinger", "SoloSingerConsecutive"]
    with pytest.raises(DataError, match="bit 8 has no meaning for line_2"):
        c.decode("line_2", 8)  # "Shortname Not Found" in raw_codes.csv
    societies = c.societies.set_index("society_id")
    assert societies.loc[10, "glottocode"] == "lese1243"
    assert societies.loc[10, "country"] == "Congo; Uganda"
    assert np.isnan(societies.loc[20, "latitude"])
    assert c.songs["notes"][0] == "A chant.\nSecond line."


def test_tiny_profiles(tiny_cantometrics: Builder) -> None:
    profiles = society_profiles(load_cantometrics(tiny_cantometrics()))
    third, two_thirds = 1 / 3, 2 / 3
    expected = pd.DataFrame(
        {
            "line_1:NoSinger": [0.0, 0.0],
            "line_1:SoloSinger": [two_thirds, 0.0],  # songs 1 (20) and 2 (4) of three
            "line_1:SoloSingerConsecutive": [third, 1.0],
            "line_2:NoOrchestra": [two_thirds, 0.0],  # songs 2 (2) and 3 (6)
            "line_2:SmallOrchestra": [third, 1.0],
        },
        index=pd.Index([10, 20], dtype="Int64", name="society_id"),
    )
    assert list(profiles.columns[:5]) == list(expected.columns)
    assert len(profiles.columns) == 5
    pd.testing.assert_frame_equal(profiles, expected)


def test_bit_without_meaning_in_codings(tiny_cantometrics: Builder) -> None:
    path = "raw/data.csv"
    text = (
        Path(tiny_cantometrics() / path)
        .read_text()
        .replace("\n3,Name,10,0,6,", "\n3,Name,10,0,14,")
    )
    with pytest.raises(DataError) as err:
        load_cantometrics(tiny_cantometrics({path: text}))
    message = str(err.value)
    assert "raw/data.csv line 4: column 'line_2': value 14 sets bit(s) 8" in message
    assert "2 (NoOrchestra), 4 (SmallOrchestra)" in message


def test_missing_file(tiny_cantometrics: Builder) -> None:
    with pytest.raises(
        DataError, match=r"raw_codes\.csv: file not found; expected the Cantometrics"
    ):
        load_cantometrics(tiny_cantometrics({"etc/raw_codes.csv": None}))


def test_missing_column(tiny_cantometrics: Builder) -> None:
    with pytest.raises(DataError) as err:
        load_cantometrics(
            tiny_cantometrics({"raw/data.csv": "song_id,society_id,line_1\n1,10,2\n"})
        )
    message = str(err.value)
    assert "raw/data.csv line 1: missing column(s) 'line_2', 'line_3'" in message
    assert "found header: 'song_id', 'society_id', 'line_1'" in message


def test_wrong_type(tiny_cantometrics: Builder) -> None:
    path = "raw/data.csv"
    text = Path(tiny_cantometrics() / path).read_text().replace("\n2,Name,10,4,", "\n2,Name,10,x4,")
    with pytest.raises(DataError) as err:
        load_cantometrics(tiny_cantometrics({path: text}))
    assert "data.csv line 3: column 'line_1': 'x4' is not an integer; expected an integer" in str(
        err.value
    )


def test_inconsistent_raw_code(tiny_cantometrics: Builder) -> None:
    path = "etc/raw_codes.csv"
    text = Path(tiny_cantometrics() / path).read_text().replace('"line_1",16,4,', '"line_1",17,4,')
    with pytest.raises(DataError, match=r"raw_codes\.csv line 5: column 'code': 17 is not the sum"):
        load_cantometrics(tiny_cantometrics({path: text}))


def test_line_numbers_after_multiline_field(tiny_cantometrics: Builder) -> None:
    path = "etc/raw_codes.csv"
    # the record of value 20 spans lines 6-7, so line_2's first row is on line 8
    text = Path(tiny_cantometrics() / path).read_text().replace('"line_2",2,1,', '"line_2",3,1,')
    with pytest.raises(DataError, match=r"raw_codes\.csv line 8: column 'code': 3 is not the sum"):
        load_cantometrics(tiny_cantometrics({path: text}))


def test_wrong_encoding(tiny_cantometrics: Builder) -> None:
    path = "cldf/societies.csv"
    data = Path(tiny_cantometrics() / path).read_bytes().replace(b"Basseri", b"Bass\xe9ri")
    with pytest.raises(DataError, match=r"societies\.csv line 3: byte 0xe9 .* not valid UTF-8"):
        load_cantometrics(tiny_cantometrics({path: data}))
