"""Fixtures for the loader tests: the real datasets (loaded once) and tiny handmade folders.

The real data is found through ``SOUNDBRIDGE_DATA``, defaulting to ``../shared/data`` from the
repository root. The handmade folders are small enough to write every known answer down; tests
corrupt a copy of them to check each error message.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from loaders import (
    CCMC,
    KGCN,
    MIR_FEATURES,
    Cantometrics,
    LastFM,
    load_cantometrics,
    load_ccmc,
    load_kgcn,
    load_lastfm,
)

NETEASE_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "netease"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Root of the real datasets (``SOUNDBRIDGE_DATA`` or ``<repo>/../shared/data``)."""
    default = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    root = Path(os.environ.get("SOUNDBRIDGE_DATA") or default)
    if not root.is_dir():
        pytest.fail(f"real datasets not found at {root}; set SOUNDBRIDGE_DATA to their folder")
    return root


@pytest.fixture(scope="session")
def ccmc(real_data: Path) -> CCMC:
    return load_ccmc(real_data / "ccmc")


@pytest.fixture(scope="session")
def cantometrics(real_data: Path) -> Cantometrics:
    return load_cantometrics(real_data / "cantometrics")


@pytest.fixture(scope="session")
def lastfm(real_data: Path) -> LastFM:
    return load_lastfm(real_data / "lastfm-hetrec2011")


@pytest.fixture(scope="session")
def kgcn(real_data: Path) -> KGCN:
    return load_kgcn(real_data / "kgcn-music")


def write_files(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write ``{relative path: content}`` under ``root``; str content is written as UTF-8."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))
    return root


Builder = Callable[..., Path]

# --- CCMC: 3 societies (two share glottocode bbbb2222), 4 songs, 2 of them withheld ----------
CCMC_FILES: dict[str, str | bytes] = {
    "cldf/codes.csv": (
        "ID,Var_ID,Name,Description,ord\n"
        'CCMC1-Dance,CCMC1,Dance,"Inclusion criteria: dancing.\nExclusion criteria: none.",\n'
        "CCMC1-Lullaby,CCMC1,Lullaby,Sung to an infant.,\n"
    ),
    "cldf/societies.csv": (
        "ID,Name,Latitude,Longitude,Glottocode,region,HRAF_region\n"
        "CCMCaaaa1111,Alpha,10.5,20.25,aaaa1111,Caucasus,Caucasus\n"
        "CCMCbbbb2222,Beta,-3.0,30.0,bbbb2222,Mexico,Central Mexico\n"
        "CCMCbbbb2222n,Beta North,25.0,-100.0,bbbb2222,Mexico,Northern Mexico\n"
    ),
    "cldf/media.csv": (
        "ID,Name,Description,Media_Type,Download_URL,Path_In_Zip\n"
        "NHS2-A001,NHS2-A001,,audio/mpeg,songs/NHS2-A001.mp3,\n"
        "NHS2-A002,NHS2-A002,,audio/mpeg,songs/NHS2-A002.mp3,\n"
        "NHS2-A003,NHS2-A003,,audio/mpeg,songs/NHS2-A003.mp3,\n"
        "NHS2-A004,NHS2-A004,,audio/mpeg,songs/NHS2-A004.mp3,\n"
    ),
    "cldf/data.csv": (
        "ID,Soc_ID,Var_ID,Value,Code_ID,Comment,Song_ID\n"
        "NHS2-A001,CCMCaaaa1111,CCMC1,Dance,CCMC1-Dance,,NHS2-A001\n"
        "NHS2-A002,CCMCbbbb2222,CCMC1,Lullaby,CCMC1-Lullaby,,NHS2-A002\n"
    ),
    "raw/NHS2-metadata.csv": (
        "song,type,region,glottocode\n"
        "NHS2-A001,Dance,Caucasus,aaaa1111\n"
        "NHS2-A002,Lullaby,Central Mexico,bbbb2222\n"
        "NHS2-A003,,Caucasus,aaaa1111\n"
        "NHS2-A004,,Northern Mexico,bbbb2222\n"
    ),
    **{f"cldf/songs/NHS2-A00{i}.mp3": b"" for i in range(1, 5)},
}

# --- NHS: two songs ---------------------------------------------------------------------------
_FEATURES = list(MIR_FEATURES)  # the fixture files carry the real header
NHS_FILES: dict[str, str | bytes] = {
    "data/audio_Extraction_raw_median_all.csv": (
        "song," + ",".join(_FEATURES) + "\n"
        "NHS2-A001," + ",".join(str(i + 0.5) for i in range(38)) + "\n"
        "NHS2-A002," + ",".join(str(-i) for i in range(38)) + "\n"
    ),
    "data/metadata_plus.csv": (
        "song,glottocode,type,region,family_id,family_name,latitude,longitude,"
        + ",".join(_FEATURES)
        + "\n"
        "NHS2-A001,aaaa1111,Dance,Caucasus,abkh1242,Abkhaz-Adyge,43.05,41.15,"
        + ",".join("0" for _ in range(38))
        + "\n"
        "NHS2-A002,basq1248,,Western Europe,NA,NA,NA,NA," + ",".join("0" for _ in range(38)) + "\n"
    ),
}

# --- Cantometrics: 5 codings (one of an unknown society), 2 lines with codes -----------------
_LINES = "\n".join(
    f"line_{i},Category {i},Title {i},Definition {i},Ordinal,NA,NA,NA,NA,Short {i}"
    for i in range(1, 38)
)


def _coding(song: int, society: int, line_1: int, line_2: int) -> str:
    return f"{song},Name,{society},{line_1},{line_2}," + ",".join("0" for _ in range(35))


CANTOMETRICS_FILES: dict[str, str | bytes] = {
    "etc/variables.csv": (
        "\ufeffid,category,title,definition,type,units,source,changes,notes,short_title\n"
        + _LINES
        + "\n"
    ),
    "etc/codes.csv": (
        "\ufeffvar_id,code,description,name\n"
        "line_1,1,No singers,NoSinger\n"
        'line_1,2,"One solo singer, whether or not accompanied.",SoloSinger\n'
        "line_1,4,Two or more singers alternate.,SoloSingerConsecutive\n"
        "line_2,1,No accompaniment.,NoOrchestra\n"
        "line_2,2,A small orchestra.,\n"
    ),
    "etc/raw_codes.csv": (
        '"var_id","code","original_1","original_2","original_3","code_description","shortname"\n'
        '"line_1",0,0,-,-,"No Reading","No Reading"\n'
        '"line_1",2,1,-,-,"No singers","NoSinger"\n'
        '"line_1",4,2,-,-,"One solo singer.","SoloSinger"\n'
        '"line_1",16,4,-,-,"Two or more singers alternate.","SoloSingerConsecutive"\n'
        '"line_1",20,4,2,-,"Two or more singers alternate.\n",'
        '"SoloSingerConsecutiveAndSoloSinger"\n'
        '"line_2",2,1,-,-,"No accompaniment.","NoOrchestra"\n'
        '"line_2",4,2,-,-,"A small orchestra.","SmallOrchestra"\n'
        '"line_2",8,3,-,-,"","Shortname Not Found"\n'
    ),
    "cldf/societies.csv": (
        "society_id,Society_latitude,Society_longitude,Region,Division,Subregion,society,"
        "Language,GlottoID,FamilyLevGlottocode,Country\n"
        "10,1.5,2.5,Africa,Central Africa,Congo,Ten,Lese,lese1243 ,cent2225,"
        '"Congo; Uganda"\n'
        "20, ,52.53,Western Asia,Middle East,Persia,Twenty,Basseri,bass1234,indo1319,Iran\n"
    ),
    "raw/data.csv": (
        "song_id,Preferred_name,society_id,"
        + ",".join(f"line_{i}" for i in range(1, 38))
        + "\n"
        + "\n".join(
            [
                _coding(1, 10, 20, 0),
                _coding(2, 10, 4, 2),
                _coding(3, 10, 0, 6),
                _coding(4, 20, 16, 4),
                _coding(5, 99, 2, 2),
            ]
        )
        + "\n"
    ),
    "raw/songs.csv": (
        "song_id,Local_lat,Local_long,society_id,Duration,Song,Genre,Song_notes,Performers,"
        "Instruments,Gender of Vocalists,Recorded_by,Year,Publisher,Publcation_collection,"
        "Repository\n"
        '1,1.0,2.0,10,0:01:22,Kabe,Dance Song,"A chant.\nSecond line.",Men,Drums; Horn,Men,'
        "Rouget,1946,Folkways,FE4402,Smithsonian\n"
        "2,1.0,2.0,10,,Song two,,,,,,,1950s,,,\n"
    ),
}

# --- Last.fm: 3 artists, 2 tags, one tag assignment of an unknown artist ----------------------
LASTFM_FILES: dict[str, str | bytes] = {
    "artists.dat": (
        "id\tname\turl\tpictureURL\n"
        "1\tMALICE MIZER\thttp://www.last.fm/music/MALICE+MIZER\thttp://x/1.jpg\n"
        '2\t"Weird Al" Yankovic\thttp://www.last.fm/music/Weird+Al\t\n'
        "3\tCaetano Veloso\thttp://www.last.fm/music/Caetano+Veloso\thttp://x/3.jpg\n"
    ),
    "tags.dat": "tagID\ttagValue\n1\tmetal\n2\tbrazilian\n",
    "user_artists.dat": "userID\tartistID\tweight\n2\t1\t13883\n2\t3\t10\n5\t2\t7\n",
    "user_friends.dat": "userID\tfriendID\n2\t5\n5\t2\n5\t7\n7\t5\n",
    "user_taggedartists.dat": (
        "userID\tartistID\ttagID\tday\tmonth\tyear\n"
        "2\t1\t1\t1\t4\t2009\n"
        "9\t3\t2\t1\t5\t2010\n"
        "9\t999\t2\t1\t5\t2010\n"
    ),
}

# --- KGCN: 3 triples, 2 artists, CRLF line ends ------------------------------------------------
KGCN_FILES: dict[str, str | bytes] = {
    "kg.txt": (
        b"0\tmusic.artist.origin\t2\r\n1\tmusic.artist.genre\t3\r\n0\tmusic.artist.genre\t3\r\n"
    ),
    "item_index2entity_id.txt": b"2\t0\r\n3\t1\r\n",
}


def _builder(files: dict[str, str | bytes], tmp_path: Path, name: str) -> Builder:
    def build(changes: dict[str, str | bytes | None] | None = None) -> Path:
        """Write the folder; ``changes`` maps a relative path to new content, or None to omit it."""
        content = dict(files)
        for rel, value in (changes or {}).items():
            if value is None:
                content.pop(rel)
            else:
                content[rel] = value
        return write_files(tmp_path / name, content)

    return build


@pytest.fixture
def tiny_ccmc(tmp_path: Path) -> Builder:
    return _builder(CCMC_FILES, tmp_path, "ccmc")


@pytest.fixture
def tiny_nhs(tmp_path: Path) -> Builder:
    return _builder(NHS_FILES, tmp_path, "nhs-expanded")


@pytest.fixture
def tiny_cantometrics(tmp_path: Path) -> Builder:
    return _builder(CANTOMETRICS_FILES, tmp_path, "cantometrics")


@pytest.fixture
def tiny_lastfm(tmp_path: Path) -> Builder:
    return _builder(LASTFM_FILES, tmp_path, "lastfm")


@pytest.fixture
def tiny_kgcn(tmp_path: Path) -> Builder:
    return _builder(KGCN_FILES, tmp_path, "kgcn")
