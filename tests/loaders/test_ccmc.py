"""CCMC: real counts, the society resolution of withheld songs, and every bad-input message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from loaders import CCMC, DataError, load_ccmc

Builder = Callable[..., Path]


def test_real_counts(ccmc: CCMC) -> None:
    songs, societies, functions = ccmc.songs, ccmc.societies, ccmc.functions
    assert len(songs) == 1007
    assert len(societies) == 410
    assert len(functions) == 10
    assert songs["function"].notna().sum() == 806
    assert songs["function"].isna().sum() == 201
    assert songs["society_id"].notna().all()
    assert set(songs["society_id"]) <= set(societies["society_id"])
    assert songs["track_id"].is_unique and societies["society_id"].is_unique
    assert societies["region"].nunique() == 47 and societies["hraf_region"].nunique() == 38
    assert sorted(functions["name"]) == [
        "Dance",
        "Healing",
        "Love",
        "Lullaby",
        "Mourning",
        "Play",
        "Praise",
        "Procession",
        "Story",
        "Work",
    ]


def test_real_dtypes_and_known_rows(ccmc: CCMC) -> None:
    songs = ccmc.songs.set_index("track_id")
    assert ccmc.songs.dtypes.astype(str).to_dict() == {
        "track_id": "string",
        "society_id": "string",
        "function": "string",
        "function_id": "string",
        "audio_path": "string",
        "glottocode": "string",
        "region": "string",
        "hraf_region": "string",
        "recording_region": "string",
    }
    assert ccmc.societies.dtypes.astype(str).to_dict() == {
        "society_id": "string",
        "name": "string",
        "latitude": "float64",
        "longitude": "float64",
        "glottocode": "string",
        "region": "string",
        "hraf_region": "string",
    }
    first = songs.loc["NHS2-TBMU"]
    assert (first["society_id"], first["function"], first["function_id"]) == (
        "CCMCabkh1244",
        "Dance",
        "CCMC1-Dance",
    )
    assert first["audio_path"].endswith("/ccmc/cldf/songs/NHS2-TBMU.mp3")
    assert Path(first["audio_path"]).is_absolute() and Path(first["audio_path"]).is_file()
    # a withheld song keeps no label but still has its society, found through the Glottocode
    withheld = songs.loc["NHS2-SZHN"]
    assert pd.isna(withheld["function"])
    assert (withheld["society_id"], withheld["glottocode"]) == ("CCMCgali1262", "gali1262")
    dance = ccmc.functions.set_index("function_id").loc["CCMC1-Dance"]
    assert dance["name"] == "Dance" and dance["description"].startswith("Inclusion criteria")


def test_withheld_songs_resolve_by_glottocode_and_region(tiny_ccmc: Builder) -> None:
    ccmc = load_ccmc(tiny_ccmc())
    songs = ccmc.songs.set_index("track_id")
    assert songs["society_id"].to_dict() == {
        "NHS2-A001": "CCMCaaaa1111",
        "NHS2-A002": "CCMCbbbb2222",
        "NHS2-A003": "CCMCaaaa1111",  # unique glottocode
        "NHS2-A004": "CCMCbbbb2222n",  # shared glottocode, picked by its region
    }
    assert songs["function"].tolist() == ["Dance", "Lullaby", pd.NA, pd.NA]
    assert songs.loc["NHS2-A004", "hraf_region"] == "Northern Mexico"
    assert ccmc.functions["description"][0] == (
        "Inclusion criteria: dancing.\nExclusion criteria: none."
    )


def test_ambiguous_glottocode_is_an_error(tiny_ccmc: Builder) -> None:
    meta = (
        "song,type,region,glottocode\nNHS2-A001,,Caucasus,aaaa1111\nNHS2-A002,,Caucasus,aaaa1111\n"
    )
    meta += "NHS2-A003,,Caucasus,aaaa1111\nNHS2-A004,,Arctic,bbbb2222\n"
    with pytest.raises(DataError) as err:
        load_ccmc(tiny_ccmc({"raw/NHS2-metadata.csv": meta}))
    message = str(err.value)
    assert "NHS2-metadata.csv line 5" in message
    assert "'bbbb2222' is shared by several societies" in message
    assert "'Arctic' matches 0" in message


def test_missing_file(tiny_ccmc: Builder) -> None:
    with pytest.raises(DataError) as err:
        load_ccmc(tiny_ccmc({"cldf/media.csv": None}))
    assert "cldf/media.csv: file not found; expected CCMC's audio clips" in str(err.value)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="folder not found; expected the CCMC dataset"):
        load_ccmc(tmp_path / "nowhere")


def test_missing_audio_clip(tiny_ccmc: Builder) -> None:
    with pytest.raises(
        DataError, match=r"media\.csv line 4: audio clip .*NHS2-A003\.mp3 not found"
    ):
        load_ccmc(tiny_ccmc({"cldf/songs/NHS2-A003.mp3": None}))


def test_missing_column(tiny_ccmc: Builder) -> None:
    societies = "ID,Name,Latitude,Longitude,Glottocode,region\nCCMCaaaa1111,A,1,2,aaaa1111,R\n"
    with pytest.raises(DataError) as err:
        load_ccmc(tiny_ccmc({"cldf/societies.csv": societies}))
    message = str(err.value)
    assert "societies.csv line 1: missing column(s) 'HRAF_region'" in message
    assert "found header: 'ID', 'Name', 'Latitude', 'Longitude', 'Glottocode', 'region'" in message


def test_wrong_type(tiny_ccmc: Builder) -> None:
    societies = (
        "ID,Name,Latitude,Longitude,Glottocode,region,HRAF_region\n"
        "CCMCaaaa1111,Alpha,10.5,20.25,aaaa1111,Caucasus,Caucasus\n"
        "CCMCbbbb2222,Beta,north,30.0,bbbb2222,Mexico,Central Mexico\n"
    )
    with pytest.raises(DataError) as err:
        load_ccmc(tiny_ccmc({"cldf/societies.csv": societies}))
    assert (
        "societies.csv line 3: column 'Latitude': 'north' is not a number; expected a number"
        in (str(err.value))
    )


def test_unknown_society(tiny_ccmc: Builder) -> None:
    data = (
        "ID,Soc_ID,Var_ID,Value,Code_ID,Comment,Song_ID\n"
        "NHS2-A001,CCMCaaaa1111,CCMC1,Dance,CCMC1-Dance,,NHS2-A001\n"
        "NHS2-A002,CCMCxxxx0000,CCMC1,Lullaby,CCMC1-Lullaby,,NHS2-A002\n"
    )
    with pytest.raises(DataError) as err:
        load_ccmc(tiny_ccmc({"cldf/data.csv": data}))
    assert str(err.value).endswith(
        "cldf/data.csv line 3: column 'Soc_ID': unknown society 'CCMCxxxx0000' (1 record(s) like "
        "this); the known society ids are listed in cldf/societies.csv"
    )


def test_value_must_match_code(tiny_ccmc: Builder) -> None:
    data = (
        "ID,Soc_ID,Var_ID,Value,Code_ID,Comment,Song_ID\n"
        "NHS2-A001,CCMCaaaa1111,CCMC1,Lullaby,CCMC1-Dance,,NHS2-A001\n"
    )
    with pytest.raises(DataError, match=r"data\.csv line 2: column 'Value': 'Lullaby' does not"):
        load_ccmc(tiny_ccmc({"cldf/data.csv": data}))


def test_wrong_encoding(tiny_ccmc: Builder) -> None:
    societies = CCMC_SOCIETIES_LATIN1
    with pytest.raises(DataError) as err:
        load_ccmc(tiny_ccmc({"cldf/societies.csv": societies}))
    message = str(err.value)
    assert "societies.csv line 3: byte 0xe9" in message and "expected a UTF-8 text file" in message


CCMC_SOCIETIES_LATIN1 = (
    "ID,Name,Latitude,Longitude,Glottocode,region,HRAF_region\n"
    "CCMCaaaa1111,Alpha,10.5,20.25,aaaa1111,Caucasus,Caucasus\n"
    "CCMCbbbb2222,B\xe9ta,-3.0,30.0,bbbb2222,Mexico,Central Mexico\n"
).encode("latin-1")
