"""Global Jukebox Cantometrics: 5,776 songs coded on 37 style lines, ``cantometrics/``.

Lomax's Cantometrics rates each song on 37 *lines* (social organisation of the singers and the
orchestra, melody, rhythm, vocal timbre, …). Each line has a few *codes* (Lomax's "points",
numbered 1–13); a coder could mark several codes of a line at once, so the digitised data stores
the set of codes marked as a sum of powers of two: point ``k`` is the bit ``2**k``, and ``0`` means
"no reading". Line 1's value 20 is ``4 + 16`` — points 2 (``SoloSinger``) and 4
(``SoloSingerConsecutive``).

How the single-bit meanings are derived (:attr:`Cantometrics.codes`):

* ``etc/codes.csv`` lists every point of every line (``var_id, code = point, name,
  description``); its code ``k`` is the bit ``2**k``. It is the primary source (its names fix
  typos of the older file, such as ``ExtremeEmbeillishment``).
* ``etc/raw_codes.csv`` lists the *values* seen in the raw data, combined ones included (``20`` =
  ``SoloSingerConsecutiveAndSoloSinger``, with its points in ``original_1..3``). Its rows with a
  single point must agree with ``codes.csv`` (value ``2**point``); they fill a name that
  ``codes.csv`` leaves blank (line 34's point 10, ``SlightNasalization``). Three of its bits are
  named ``Shortname Not Found`` (line 7 bit 4, line 11 bit 32, line 25 bit 4): those bits have no
  meaning, no song uses them, and decoding one is an error. Combined rows are checked to be the
  sum of their points, nothing more; many combinations in ``raw/data.csv`` are not listed there,
  which is why values are decoded bit by bit and never looked up in ``raw_codes.csv``.

Known gaps of the real data, handled here and counted in :attr:`Cantometrics.skipped`:

* 8 coded songs of ``raw/data.csv`` (the Aka, society 62529) name a society that is in neither
  societies file; they are dropped (``skipped["codings_unknown_society"]``).
* ``raw/songs.csv`` is the 2021 release of the song metadata: 3 coded songs are absent from it,
  and for 250 coded songs its ``society_id`` differs from ``raw/data.csv``'s (55 of its songs name
  societies absent from ``cldf/societies.csv``). It is loaded as-is; the codings' ``society_id``
  is the reference.
* One society (Basseri, 11826) has no latitude (``NaN``).

Citation: Wood et al. (2022), The Global Jukebox, Scientific Data; Lomax (1968) (CC-BY-4.0).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from loaders.errors import DataError
from loaders.tables import Column, Table, read_table, require_folder

__all__ = ["LINES", "Cantometrics", "decode", "load_cantometrics", "society_profiles"]

#: The 37 line columns, ``"line_1"`` … ``"line_37"``.
LINES: tuple[str, ...] = tuple(f"line_{i}" for i in range(1, 38))

_NOT_FOUND = "Shortname Not Found"
_CODES_FILE = Path("etc") / "codes.csv"


@dataclass(frozen=True, eq=False)
class Cantometrics:
    """The Cantometrics tables.

    Attributes:
        codings: one row per coded song (5,768). Columns: ``song_id``, ``society_id`` (Int64),
            ``line_1`` … ``line_37`` (Int64: a sum of powers of two, ``0`` = no reading).
        songs: song metadata from ``raw/songs.csv`` (5,883, the 2021 release). Columns:
            ``song_id``, ``society_id`` (Int64), ``title``, ``genre`` (the social function, e.g.
            ``"Dance Song"``; several are joined by ``"; "``), ``instruments``, ``performers``,
            ``vocalist_gender``, ``year`` (free text: ``"1954"``, ``"1960-61"``, ``"1950s"``),
            ``duration`` (``"0:01:22"``), ``recorded_by``, ``publisher``, ``collection``,
            ``repository``, ``notes`` (string), ``latitude``, ``longitude`` (float64, where
            recorded).
        societies: one row per society (1,023) from ``cldf/societies.csv``. Columns:
            ``society_id`` (Int64), ``name``, ``glottocode``, ``language``,
            ``family_glottocode``, ``region``, ``division``, ``subregion``, ``country`` (string;
            several countries are joined by ``"; "``), ``latitude``, ``longitude`` (float64).
        lines: the 37 lines. Columns: ``line`` (``"line_1"``), ``number`` (Int64), ``category``,
            ``title``, ``short_title``, ``definition``, ``type`` (``"Ordinal"`` or
            ``"Categorical"``) (string).
        codes: the single codes of every line, sorted by line number then code. Columns:
            ``line`` (string), ``point`` (Int64, Lomax's 1–13), ``code`` (Int64, ``2**point``),
            ``name`` (string, ``"SoloSinger"``), ``description`` (string).
        skipped: records dropped on purpose, by reason (see the module docstring).
        source: the dataset folder, for messages.
    """

    codings: pd.DataFrame
    songs: pd.DataFrame
    societies: pd.DataFrame
    lines: pd.DataFrame
    codes: pd.DataFrame
    skipped: dict[str, int] = field(default_factory=dict)
    source: Path = Path("cantometrics")

    @cached_property
    def _names(self) -> dict[str, list[tuple[int, str]]]:
        out: dict[str, list[tuple[int, str]]] = {}
        for line, code, name in zip(
            self.codes["line"], self.codes["code"], self.codes["name"], strict=True
        ):
            out.setdefault(str(line), []).append((int(code), str(name)))
        return out

    def decode(self, line: str | int, value: int) -> list[str]:
        """Names of the codes set in ``value`` on ``line``, by increasing code.

        Args:
            line: ``"line_1"`` or ``1``.
            value: a sum of distinct powers of two; ``0`` means no reading.

        Raises:
            DataError: an unknown line, a negative value, or a bit with no meaning for the line
                (naming the line, the value and the line's codes).

        Examples:
            >>> c = Cantometrics(
            ...     codings=pd.DataFrame(), songs=pd.DataFrame(), societies=pd.DataFrame(),
            ...     lines=pd.DataFrame(),
            ...     codes=pd.DataFrame({"line": ["line_1", "line_1"], "code": [4, 16],
            ...                         "name": ["SoloSinger", "SoloSingerConsecutive"]}))
            >>> c.decode("line_1", 20)
            ['SoloSinger', 'SoloSingerConsecutive']
            >>> c.decode(1, 0)
            []
        """
        key = f"line_{line}" if isinstance(line, int) else line
        path = self.source / _CODES_FILE
        if key not in self._names:
            raise DataError(path, f"unknown line {line!r}; expected one of line_1 … line_37")
        codes = self._names[key]
        if value < 0:
            raise DataError(path, f"{key} value {value}: expected a sum of powers of two", key=key)
        unknown = value
        names = []
        for code, name in codes:
            if value & code:
                names.append(name)
                unknown &= ~code
        if unknown:
            bit = unknown & -unknown
            listed = ", ".join(f"{c} ({n})" for c, n in codes)
            raise DataError(
                path,
                f"{key} value {value}: bit {bit} has no meaning for {key}; its codes are {listed}",
                key=key,
            )
        return names


def decode(c: Cantometrics, line: str | int, value: int) -> list[str]:
    """Function form of :meth:`Cantometrics.decode`."""
    return c.decode(line, value)


def load_cantometrics(folder: str | os.PathLike[str]) -> Cantometrics:
    """Load the Cantometrics dataset from its own folder.

    Args:
        folder: the dataset folder (``<data root>/cantometrics``) with ``raw/``, ``cldf/``,
            ``etc/``.

    Returns:
        The :class:`Cantometrics` tables; every coded value is checked to decode.

    Raises:
        DataError: a missing or malformed file, a value with a bit that means nothing for its
            line, a duplicate id.

    Examples:
        >>> from loaders.config import data_root
        >>> c = load_cantometrics(data_root() / "cantometrics")  # doctest: +SKIP
        >>> c.decode("line_1", 20)  # doctest: +SKIP
        ['SoloSinger', 'SoloSingerConsecutive']
    """
    root = require_folder(folder, "the Cantometrics dataset (raw/, cldf/ and etc/)")
    lines = _load_lines(root)
    codes = _load_codes(root, lines)

    societies = read_table(
        root / "cldf" / "societies.csv",
        [
            Column("society_id", "society_id", "Int64", required=True),
            Column("society", "name", "text", required=True),
            Column("GlottoID", "glottocode"),
            Column("Language", "language", "text"),
            Column("FamilyLevGlottocode", "family_glottocode"),
            Column("Region", "region"),
            Column("Division", "division"),
            Column("Subregion", "subregion"),
            Column("Country", "country", "text"),
            Column("Society_latitude", "latitude", "float64"),
            Column("Society_longitude", "longitude", "float64"),
        ],
        what="Cantometrics societies (society_id, society, GlottoID, Region, Division, "
        "Subregion, Country, Society_latitude, Society_longitude, …)",
    )
    societies.require_unique(["society_id"], what="society id")

    codings = read_table(
        root / "raw" / "data.csv",
        [
            Column("song_id", "song_id", "Int64", required=True),
            Column("society_id", "society_id", "Int64", required=True),
        ]
        + [Column(line, line, "Int64", required=True) for line in LINES],
        what="Cantometrics codings (song_id, society_id, line_1 … line_37, each a sum of "
        "powers of two)",
    )
    codings.require_unique(["song_id"], what="song id")
    _check_codings(codings, codes)
    unknown = codings.unresolved("society_id", societies.frame["society_id"])
    coded = codings.frame[~unknown]

    songs = read_table(
        root / "raw" / "songs.csv",
        [
            Column("song_id", "song_id", "Int64", required=True),
            Column("society_id", "society_id", "Int64", required=True),
            Column("Song", "title", "text"),
            Column("Genre", "genre"),
            Column("Instruments", "instruments"),
            Column("Performers", "performers"),
            Column("Gender of Vocalists", "vocalist_gender"),
            Column("Year", "year"),
            Column("Duration", "duration"),
            Column("Recorded_by", "recorded_by"),
            Column("Publisher", "publisher"),
            Column("Publcation_collection", "collection"),
            Column("Repository", "repository"),
            Column("Song_notes", "notes", "text"),
            Column("Local_lat", "latitude", "float64"),
            Column("Local_long", "longitude", "float64"),
        ],
        what="Cantometrics song metadata (song_id, society_id, Song, Genre, Performers, "
        "Instruments, Year, …)",
    )
    songs.require_unique(["song_id"], what="song id")

    return Cantometrics(
        codings=coded.reset_index(drop=True),
        songs=songs.frame.reset_index(drop=True),
        societies=societies.frame.reset_index(drop=True),
        lines=lines,
        codes=codes,
        skipped={"codings_unknown_society": int(unknown.sum())},
        source=root,
    )


def society_profiles(c: Cantometrics) -> pd.DataFrame:
    """Style profile of every society: the share of its coded songs carrying each code.

    A song with no reading on a line (value ``0``) still counts in the denominator, so a line's
    shares sum to less than one where readings are missing, and to more than one where songs were
    given several codes.

    Args:
        c: the loaded tables.

    Returns:
        Indexed by ``society_id`` (Int64, sorted; the societies with coded songs), one float64
        column per code named ``"<line>:<name>"`` (``"line_1:SoloSinger"``), in the order of
        :attr:`Cantometrics.codes`, with values in [0, 1]. Shapes: ``(num_societies,
        num_codes)``.

    Examples:
        >>> c = Cantometrics(
        ...     codings=pd.DataFrame({"song_id": [1, 2, 3], "society_id": [7, 7, 8],
        ...                           "line_1": [20, 4, 0]}),
        ...     songs=pd.DataFrame(), societies=pd.DataFrame(), lines=pd.DataFrame(),
        ...     codes=pd.DataFrame({"line": ["line_1", "line_1"], "code": [4, 16],
        ...                         "name": ["SoloSinger", "SoloSingerConsecutive"]}))
        >>> print(society_profiles(c).to_string())  # doctest: +NORMALIZE_WHITESPACE
                    line_1:SoloSinger  line_1:SoloSingerConsecutive
        society_id
        7                         1.0                           0.5
        8                         0.0                           0.0
    """
    columns: dict[str, np.ndarray] = {}
    for line, code, name in zip(c.codes["line"], c.codes["code"], c.codes["name"], strict=True):
        values = c.codings[str(line)].to_numpy(dtype=np.int64)
        columns[f"{line}:{name}"] = ((values & int(code)) != 0).astype(np.float64)
    frame = pd.DataFrame(columns, index=pd.Index(c.codings["society_id"], dtype="Int64"))
    profiles = frame.groupby(level=0, sort=True).mean()
    profiles.index.name = "society_id"
    return profiles.astype(np.float64)


def _load_lines(root: Path) -> pd.DataFrame:
    table = read_table(
        root / "etc" / "variables.csv",
        [
            Column("id", "line", required=True),
            Column("category", "category"),
            Column("title", "title", "text"),
            Column("short_title", "short_title", "text"),
            Column("definition", "definition", "text"),
            Column("type", "type"),
        ],
        what="the Cantometrics lines (id = line_1 … line_37, category, title, definition, type, "
        "short_title)",
        na=("NA",),
    )
    table.require_unique(["line"], what="line")
    frame = table.frame
    for pos, line in enumerate(frame["line"]):
        if not re.fullmatch(r"line_[1-9]\d*", str(line)):
            raise table.error(pos, f"column 'id': {line!r} is not a line; expected line_<number>")
    table.require_known("line", LINES, what="line", known_in="raw/data.csv's header")
    missing = sorted(set(LINES) - set(frame["line"]), key=lambda s: int(s[5:]))
    if missing:
        raise DataError(table.path, f"no row for {', '.join(missing)}; expected all 37 lines")
    number = frame["line"].str.slice(5).astype("Int64")
    frame = frame.assign(number=number).sort_values("number")
    cols = ["line", "number", "category", "title", "short_title", "definition", "type"]
    return frame[cols].reset_index(drop=True)


def _load_codes(root: Path, lines: pd.DataFrame) -> pd.DataFrame:
    """Single-bit codes: ``etc/codes.csv``, checked against and completed by ``raw_codes.csv``."""
    single = read_table(
        root / _CODES_FILE,
        [
            Column("var_id", "line", required=True),
            Column("code", "point", "Int64", required=True),
            Column("name", "name"),
            Column("description", "description", "text"),
        ],
        what="the Cantometrics codes (var_id, code = point 1–13, description, name)",
    )
    single.require_known("line", lines["line"], what="line", known_in="etc/variables.csv")
    single.require_unique(["line", "point"], what="code")
    for pos, point in enumerate(single.frame["point"]):
        if not 1 <= int(point) <= 30:
            raise single.error(pos, f"column 'code': {point} is not a point; expected 1 to 30")

    raw = read_table(
        root / "etc" / "raw_codes.csv",
        [
            Column("var_id", "line", required=True),
            Column("code", "value", "Int64", required=True),
            Column("original_1", "p1", required=True),
            Column("original_2", "p2", required=True),
            Column("original_3", "p3", required=True),
            Column("code_description", "description", "text"),
            Column("shortname", "name"),
        ],
        what="the Cantometrics raw code values (var_id, code = sum of 2**point, original_1..3 "
        "= the points or '-', code_description, shortname)",
    )
    raw.require_known("line", lines["line"], what="line", known_in="etc/variables.csv")
    by_key = {
        (str(line), int(point)): pos
        for pos, (line, point) in enumerate(
            zip(single.frame["line"], single.frame["point"], strict=True)
        )
    }
    names = single.frame["name"].copy()
    descriptions = single.frame["description"].copy()
    extra: list[dict[str, object]] = []
    for pos, row in enumerate(raw.frame.itertuples(index=False)):
        points = _points(raw, pos, [str(row.p1), str(row.p2), str(row.p3)])
        if int(str(row.value)) != sum(2**p for p in points):
            raise raw.error(
                pos,
                f"column 'code': {row.value} is not the sum of 2**point over its points "
                f"{points}; expected {sum(2**p for p in points)}",
            )
        if len(points) != 1 or pd.isna(row.name) or str(row.name) == _NOT_FOUND:
            continue
        key = (str(row.line), points[0])
        if key in by_key:
            i = by_key[key]
            if pd.isna(names.iloc[i]):
                names.iloc[i] = row.name
            if pd.isna(descriptions.iloc[i]):
                descriptions.iloc[i] = row.description
        else:
            extra.append(
                {
                    "line": row.line,
                    "point": points[0],
                    "name": row.name,
                    "description": row.description,
                }
            )
    codes = single.frame.assign(name=names, description=descriptions)
    if extra:
        codes = pd.concat([codes, pd.DataFrame(extra)], ignore_index=True)
    blank = codes["name"].isna().to_numpy()
    if blank.any():
        pos = int(blank.nonzero()[0][0])
        raise DataError(
            single.path,
            f"{codes['line'].iloc[pos]} point {codes['point'].iloc[pos]} has no name here nor "
            "in etc/raw_codes.csv; expected a name for every code",
            key="name",
        )
    dup = codes.duplicated(["line", "name"]).to_numpy()
    if dup.any():
        pos = int(dup.nonzero()[0][0])
        raise DataError(
            single.path,
            f"{codes['line'].iloc[pos]} has two codes named {codes['name'].iloc[pos]!r}; "
            "expected distinct names within a line",
            key="name",
        )
    number = codes["line"].str.slice(5).astype(int)
    codes = codes.assign(_n=number).sort_values(["_n", "point"]).reset_index(drop=True)
    return pd.DataFrame(
        {
            "line": codes["line"].astype("string"),
            "point": codes["point"].astype("Int64"),
            "code": (2 ** codes["point"].astype("int64")).astype("Int64"),
            "name": codes["name"].astype("string"),
            "description": codes["description"].astype("string"),
        }
    )


def _points(raw: Table, pos: int, fields: list[str]) -> list[int]:
    """The points of a raw_codes row: ``original_1..3``, ``-`` for none, ``0`` for no reading."""
    points: list[int] = []
    for i, f in enumerate(fields, start=1):
        if f == "-":
            continue
        if not f.isdigit():
            raise raw.error(
                pos, f"column 'original_{i}': {f!r} is not a point; expected an integer or '-'"
            )
        if int(f) != 0:
            points.append(int(f))
    return points


def _check_codings(codings: Table, codes: pd.DataFrame) -> None:
    """Every coded value must be a set of known codes of its line."""
    allowed = codes.groupby("line")["code"].sum()
    for line in LINES:
        mask = int(allowed.get(line, 0))
        values = codings.frame[line].to_numpy(dtype=np.int64)
        bad = (values < 0) | ((values & ~mask) != 0)
        if bad.any():
            pos = int(bad.nonzero()[0][0])
            value = int(values[pos])
            stray = value & ~mask if value >= 0 else value
            listed = codes[codes["line"] == line]
            known = ", ".join(
                f"{c} ({n})" for c, n in zip(listed["code"], listed["name"], strict=True)
            )
            raise codings.error(
                pos,
                f"column {line!r}: value {value} sets bit(s) {stray} that have no meaning for "
                f"{line}; expected a sum of its codes {known} (etc/codes.csv)",
            )
