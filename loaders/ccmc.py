"""The Expanded Natural History of Song Discography (CCMC), D-PLACE's CLDF release.

1,007 field recordings of song from 410 societies. Each song has a society, and 806 of them a
behavioural context ("function": Dance, Lullaby, …). The contexts of all the songs of 107 societies
(201 songs) are withheld on purpose: they are blank here and must stay so (they are the unlabelled
pool and the blind test set).

Where each column comes from:

* songs — ``cldf/media.csv`` (one row per clip, in its order), the context from ``cldf/data.csv``
  (``Value``/``Code_ID``) and the society from ``cldf/data.csv`` ``Soc_ID``. The withheld songs are
  not in ``data.csv``; their society is found through ``raw/NHS2-metadata.csv``'s ``glottocode``,
  which is unique among the societies in this release. Should a Glottocode ever be shared by
  several societies, the song's own region (``raw/NHS2-metadata.csv`` ``region``, an HRAF region)
  picks the society whose ``HRAF_region`` equals it; a song that still matches none or several is
  an error.
* ``glottocode``, ``region`` and ``hraf_region`` of a song are its society's, so songs and societies
  always agree; ``recording_region`` is the song's own HRAF region from ``raw/NHS2-metadata.csv``,
  which differs from its society's for 66 songs (Spanish songs recorded in the Caribbean, …).

Citation: Bertolo, Snarskis, Singh & Mehr (2023), doi:10.5281/zenodo.8378337 (CC-BY-4.0).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from loaders.errors import DataError
from loaders.tables import Column, Table, read_table, require_folder

__all__ = ["CCMC", "load_ccmc"]


@dataclass(frozen=True, eq=False)
class CCMC:
    """The CCMC tables.

    Attributes:
        songs: one row per song (1,007). Columns: ``track_id`` (string, ``"NHS2-TBMU"``),
            ``society_id`` (string, ``"CCMCabkh1244"``), ``function`` (string, context name such
            as ``"Dance"``; ``<NA>`` for the withheld songs), ``function_id`` (string,
            ``"CCMC1-Dance"`` or ``<NA>``), ``audio_path`` (string, absolute path of the MP3 clip),
            ``glottocode``, ``region``, ``hraf_region`` (string, the society's),
            ``recording_region`` (string, the song's own HRAF region).
        societies: one row per society (410). Columns: ``society_id``, ``name`` (string),
            ``latitude``, ``longitude`` (float64), ``glottocode``, ``region``, ``hraf_region``
            (string).
        functions: the behavioural contexts (10). Columns: ``function_id`` (string,
            ``"CCMC1-Dance"``), ``name`` (string, ``"Dance"``), ``description`` (string, the
            inclusion and exclusion criteria).
    """

    songs: pd.DataFrame
    societies: pd.DataFrame
    functions: pd.DataFrame


def load_ccmc(folder: str | os.PathLike[str]) -> CCMC:
    """Load the CCMC dataset from its own folder.

    Args:
        folder: the dataset folder (``<data root>/ccmc``), holding ``cldf/`` and ``raw/``.

    Returns:
        The :class:`CCMC` tables; the withheld contexts stay ``<NA>``.

    Raises:
        DataError: a missing or malformed file, an unknown society or context, a song without an
            audio clip or a society.

    Examples:
        >>> from loaders.config import data_root
        >>> ccmc = load_ccmc(data_root() / "ccmc")  # doctest: +SKIP
        >>> ccmc.songs["function"].isna().sum()  # doctest: +SKIP
        201
    """
    root = require_folder(folder, "the CCMC dataset (D-PLACE CLDF release with cldf/ and raw/)")
    cldf = root / "cldf"

    codes = read_table(
        cldf / "codes.csv",
        [
            Column("ID", "function_id", required=True),
            Column("Name", "name", required=True),
            Column("Description", "description", "text"),
        ],
        what="CCMC's behavioural contexts (CLDF CodeTable: ID, Name, Description)",
    )
    codes.require_unique(["function_id"], what="context id")
    codes.require_unique(["name"], what="context name")

    soc = read_table(
        cldf / "societies.csv",
        [
            Column("ID", "society_id", required=True),
            Column("Name", "name", "text", required=True),
            Column("Latitude", "latitude", "float64", required=True),
            Column("Longitude", "longitude", "float64", required=True),
            Column("Glottocode", "glottocode", required=True),
            Column("region", "region", required=True),
            Column("HRAF_region", "hraf_region", required=True),
        ],
        what="CCMC's societies (CLDF LanguageTable: ID, Name, Latitude, Longitude, Glottocode, "
        "region, HRAF_region)",
    )
    soc.require_unique(["society_id"], what="society id")

    media = read_table(
        cldf / "media.csv",
        [Column("ID", "track_id", required=True), Column("Download_URL", "file", required=True)],
        what="CCMC's audio clips (CLDF MediaTable: ID, Download_URL = songs/<ID>.mp3)",
    )
    media.require_unique(["track_id"], what="song id")

    data = read_table(
        cldf / "data.csv",
        [
            Column("Song_ID", "track_id", required=True),
            Column("Soc_ID", "society_id", required=True),
            Column("Value", "function"),
            Column("Code_ID", "function_id"),
        ],
        what="CCMC's coded songs (CLDF ValueTable: Song_ID, Soc_ID, Value, Code_ID)",
    )
    data.require_unique(["track_id"], what="song id")
    data.require_known("track_id", media.frame["track_id"], what="song", known_in="cldf/media.csv")
    data.require_known(
        "society_id", soc.frame["society_id"], what="society", known_in="cldf/societies.csv"
    )
    data.require_known(
        "function_id", codes.frame["function_id"], what="context", known_in="cldf/codes.csv"
    )
    _check_context_names(data, codes)

    meta = read_table(
        root / "raw" / "NHS2-metadata.csv",
        [
            Column("song", "track_id", required=True),
            Column("region", "recording_region", required=True),
            Column("glottocode", "glottocode", required=True),
        ],
        what="NHS2 song metadata (song, type, region, glottocode), one row per clip",
    )
    meta.require_unique(["track_id"], what="song id")
    meta.require_known("track_id", media.frame["track_id"], what="song", known_in="cldf/media.csv")
    media.require_known(
        "track_id", meta.frame["track_id"], what="song", known_in="raw/NHS2-metadata.csv"
    )

    audio = _audio_paths(media, cldf)
    songs = media.frame[["track_id"]].assign(audio_path=audio)
    songs = songs.merge(data.frame, on="track_id", how="left").merge(
        meta.frame, on="track_id", how="left", suffixes=("", "_song")
    )
    songs["society_id"] = _resolve_societies(songs, meta, soc.frame)
    societies = soc.frame.reset_index(drop=True)
    by_society = societies.set_index("society_id")[["glottocode", "region", "hraf_region"]]
    songs = songs.drop(columns=["glottocode"]).join(by_society, on="society_id")
    songs = songs[
        [
            "track_id",
            "society_id",
            "function",
            "function_id",
            "audio_path",
            "glottocode",
            "region",
            "hraf_region",
            "recording_region",
        ]
    ].reset_index(drop=True)
    songs["audio_path"] = songs["audio_path"].astype("string")
    return CCMC(songs=songs, societies=societies, functions=codes.frame.reset_index(drop=True))


def _check_context_names(data: Table, codes: Table) -> None:
    """``Value`` must be the name of the code ``Code_ID`` points to (both empty when withheld)."""
    names = codes.frame.set_index("function_id")["name"]
    expected = data.frame["function_id"].map(names)
    value = data.frame["function"]
    bad = (value.fillna("") != expected.fillna("")).to_numpy()
    if bad.any():
        pos = int(bad.nonzero()[0][0])
        raise data.error(
            int(data.frame.index[pos]),
            f"column 'Value': {value.iloc[pos]!r} does not match Code_ID "
            f"{data.frame['function_id'].iloc[pos]!r}; expected the code's Name "
            f"{expected.iloc[pos]!r} from cldf/codes.csv",
        )


def _audio_paths(media: Table, cldf: Path) -> pd.Series:
    """Absolute clip paths; every clip must exist."""
    base = cldf.resolve()
    paths = [str(base / rel) for rel in media.frame["file"]]
    for pos, p in enumerate(paths):
        if not os.path.isfile(p):
            raise media.error(
                pos,
                f"audio clip {p} not found; expected the MP3 named in column 'Download_URL' "
                f"({media.frame['file'].iloc[pos]!r}, relative to cldf/)",
            )
    return pd.Series(paths, index=media.frame.index, dtype="string")


def _resolve_societies(songs: pd.DataFrame, meta: Table, societies: pd.DataFrame) -> pd.Series:
    """Society of each song: ``Soc_ID`` when coded, otherwise through the Glottocode.

    Shapes:
        songs: ``(num_songs, …)`` with ``track_id``, ``society_id`` (``<NA>`` when withheld),
        ``glottocode`` and ``recording_region``. Returns ``(num_songs,)``.
    """
    result = songs["society_id"].astype("string")
    candidates = societies.groupby("glottocode")[["society_id", "hraf_region"]]
    groups = {str(g): frame for g, frame in candidates}
    meta_pos = pd.Series(range(len(meta.frame)), index=meta.frame["track_id"].to_numpy())
    for i in result.index[result.isna()]:
        glottocode = str(songs.at[i, "glottocode"])
        region = songs.at[i, "recording_region"]
        track = str(songs.at[i, "track_id"])
        pos = int(meta_pos[track])
        found = groups.get(glottocode)
        if found is None:
            raise meta.error(
                pos,
                f"song {track!r} has glottocode {glottocode!r}, which matches no society; "
                "expected one of the Glottocodes in cldf/societies.csv",
            )
        if len(found) > 1:
            found = found[found["hraf_region"] == region]
            if len(found) != 1:
                raise meta.error(
                    pos,
                    f"song {track!r}: glottocode {glottocode!r} is shared by several societies "
                    f"and its region {region!r} matches {len(found)} of their HRAF_region "
                    "values in cldf/societies.csv; expected exactly one",
                )
        result.at[i] = found["society_id"].iloc[0]
    if result.isna().any():  # pragma: no cover - every branch above assigns or raises
        raise DataError(meta.path, "some songs have no society")
    return result
