"""Delimited text tables read with provenance: each record remembers the file and line it came from.

Every loader reads its source files through :func:`read_table`, which enforces the input rules of
the project in one place:

* the file exists (:func:`require_file`, :func:`require_folder`) and is UTF-8 (:func:`read_text`;
  a byte-order mark is dropped, anything else that is not UTF-8 is an error naming the line);
* the header holds every column the loader needs, and every record has as many fields as the
  header (:class:`DataError` names the file, the missing columns and the header it found);
* each column is converted to its declared dtype (:class:`Column`), and a value that does not
  convert is an error naming the file, the 1-based line, the column, the value and what was
  expected;
* later checks (unique keys, references to other tables) report the line of the offending record
  through :meth:`Table.line`, even in CSV files whose quoted fields span several lines.

**Nothing half-loaded.** A loader reads and checks every file first and builds its frozen result
only at the end, so it either returns all of its tables or raises :class:`DataError`; no partial
result escapes and nothing is cached between calls.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from loaders.errors import DataError

__all__ = [
    "NUMERIC_MISSING",
    "Column",
    "Kind",
    "Table",
    "read_table",
    "read_text",
    "require_file",
    "require_folder",
]

#: How a column is typed: ``string`` (pandas ``string``, surrounding blanks stripped, empty →
#: ``<NA>``), ``text`` (pandas ``string`` kept verbatim, empty → ``<NA>``), ``Int64`` and
#: ``float64``.
Kind = Literal["string", "text", "Int64", "float64"]

#: Spellings of a missing number (after stripping blanks): empty, and R's ``NA``/``NaN``.
NUMERIC_MISSING = frozenset({"", "NA", "NaN", "nan"})

_EXPECTED = {
    "Int64": "an integer",
    "float64": "a number",
    "string": "a value",
    "text": "a value",
}


@dataclass(frozen=True)
class Column:
    """One column a loader needs from a file.

    Args:
        source: the column's name in the file's header (or the name given to a headerless field).
        name: the column's name in the loader's output.
        kind: the output dtype, see :data:`Kind`.
        required: every record must have a value (an empty field is an error).
    """

    source: str
    name: str
    kind: Kind = "string"
    required: bool = False


def require_folder(folder: str | os.PathLike[str], what: str) -> Path:
    """Return ``folder`` as a :class:`~pathlib.Path` after checking it is a directory.

    Args:
        folder: the dataset's own folder.
        what: what the folder should hold, for the error message.

    Raises:
        DataError: when the folder does not exist.

    Examples:
        >>> import tempfile
        >>> require_folder(tempfile.gettempdir(), "anything").is_dir()
        True
    """
    path = Path(folder)
    if not path.is_dir():
        raise DataError(path, f"folder not found; expected {what}")
    return path


def require_file(path: Path, what: str) -> Path:
    """Return ``path`` after checking it is a file.

    Raises:
        DataError: naming the path and what it should contain, when it is missing.
    """
    if not path.is_file():
        raise DataError(path, f"file not found; expected {what}")
    return path


def read_text(path: Path, what: str) -> str:
    """Read a whole UTF-8 text file (a leading byte-order mark is dropped).

    Args:
        path: the file.
        what: what the file should contain, for the error messages.

    Raises:
        DataError: when the file is missing, or is not valid UTF-8 (the message names the line and
            column of the first bad byte).

    Examples:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "t.txt"
        >>> _ = p.write_bytes(b"ok\\ncaf\\xe9\\n")
        >>> read_text(p, "a test file")
        Traceback (most recent call last):
        ...
        loaders.errors.DataError: ... line 2: byte 0xe9 at column 4 is not valid UTF-8; ...
    """
    data = require_file(path, what).read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise DataError(
            path,
            f"byte {data[e.start]:#04x} at column {column} is not valid UTF-8; expected a UTF-8 "
            f"text file ({what}); re-save it as UTF-8",
            line=line,
        ) from e


@dataclass(frozen=True, eq=False)
class Table:
    """A typed table read from one file, with the line of every record.

    Attributes:
        path: the file it was read from.
        frame: the typed columns, in the order they were asked for. The index is the record's
            position in the file (0-based, header excluded) and survives filtering, so that
            :meth:`line` still finds the record; loaders reset it before returning.
        lines: ``lines[pos]`` is the 1-based line where record ``pos`` starts. Shapes:
            ``(num_records,)``.
        sources: output column name → column name in the file, for messages.
    """

    path: Path
    frame: pd.DataFrame
    lines: np.ndarray
    sources: dict[str, str]

    def line(self, pos: int) -> int:
        """1-based line of the record at position ``pos``."""
        return int(self.lines[pos])

    def error(self, pos: int, problem: str) -> DataError:
        """A :class:`DataError` about the record at position ``pos``."""
        return DataError(self.path, problem, line=self.line(pos))

    def unresolved(self, name: str, known: Iterable[object]) -> pd.Series:
        """Mask of the records whose ``name`` value is missing from ``known``."""
        known_values = known if isinstance(known, pd.Series | pd.Index) else list(known)
        values = self.frame[name]
        return ~values.isin(known_values) & values.notna()

    def require_known(
        self, name: str, known: Iterable[object], *, what: str, known_in: str
    ) -> None:
        """Raise for the first record whose ``name`` value is not in ``known``.

        Args:
            name: the output column holding the reference.
            known: the ids that exist.
            what: what the id identifies ("artist").
            known_in: where the known ids are listed ("artists.dat").

        Raises:
            DataError: naming the file, the line, the column, the id and ``known_in``.
        """
        bad = self.unresolved(name, known)
        if bad.any():
            pos = int(bad.to_numpy().nonzero()[0][0])
            label = self.frame.index[pos]
            value = _plain(self.frame[name].iloc[pos])
            raise self.error(
                int(label),
                f"column {self.sources[name]!r}: unknown {what} {value!r} "
                f"({int(bad.sum())} record(s) like this); the known {what} ids are listed in "
                f"{known_in}",
            )

    def require_unique(self, names: Sequence[str], *, what: str) -> None:
        """Raise when two records share the same values in ``names``.

        Raises:
            DataError: naming the line of the second record and the line of the first.
        """
        keys = self.frame[list(names)]
        dup = keys.duplicated(keep="first")
        if not dup.any():
            return
        second = keys.index[int(dup.to_numpy().argmax())]
        key = tuple(_plain(v) for v in keys.loc[second])
        first = next(
            label
            for label, row in zip(keys.index, keys.itertuples(index=False), strict=True)
            if tuple(_plain(v) for v in row) == key
        )
        cols = ", ".join(repr(self.sources[n]) for n in names)
        shown = key[0] if len(key) == 1 else key
        raise self.error(
            int(second),
            f"duplicate {what} {shown!r} in column(s) {cols}; it first appears on line "
            f"{self.line(int(first))} and must appear once",
        )


def read_table(
    path: Path,
    columns: Sequence[Column],
    *,
    what: str,
    sep: str = ",",
    quoted: bool = True,
    header: bool = True,
    na: Sequence[str] = (),
) -> Table:
    """Read a delimited UTF-8 text file into typed columns.

    Args:
        path: the file.
        columns: the columns the loader needs; other columns of the file are ignored.
        what: what the file should contain ("Last.fm artists: id, name, url, pictureURL"),
            repeated in every error message so the reader knows what was expected.
        sep: the field separator.
        quoted: fields may be double-quoted (CSV); ``False`` reads every character literally,
            which is what tab-separated dumps like HetRec's need (their names contain ``"``).
        header: the first line is a header; ``False`` for headerless files, whose fields take the
            ``source`` names of ``columns`` in order.
        na: extra spellings of a missing text value in this file (R exports write ``NA``);
            numbers always accept :data:`NUMERIC_MISSING`.

    Returns:
        The :class:`Table`; its frame has one column per entry of ``columns``.

    Raises:
        DataError: missing file, wrong encoding, missing columns, a record with the wrong number
            of fields, an empty required value, or a value of the wrong type.

    Examples:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "t.csv"
        >>> _ = p.write_text("id,name\\n1, a \\n2,b\\n")
        >>> t = read_table(p, [Column("id", "id", "Int64"), Column("name", "name")], what="ids")
        >>> t.frame.dtypes.astype(str).to_dict(), t.frame["name"].tolist()
        ({'id': 'Int64', 'name': 'string'}, ['a', 'b'])
        >>> t.line(1)
        3
    """
    text = read_text(path, what)
    raw: Mapping[str, Sequence[str]] | pd.DataFrame
    if quoted:
        fields, raw, lines = _split_quoted(path, text, sep, header, what)
    else:
        fields, raw, lines = _split_literal(path, text, sep, header, what)
    if header:
        where = {f: f for f in fields}
    else:
        if len(fields) != len(columns):
            raise DataError(
                path,
                f"has {len(fields)} {_sep_name(sep)}-separated fields, expected {len(columns)} "
                f"({', '.join(c.source for c in columns)}): {what}",
                line=int(lines[0]) if len(lines) else 1,
            )
        where = {c.source: f for c, f in zip(columns, fields, strict=True)}
    missing = [c.source for c in columns if c.source not in where]
    if missing:
        raise DataError(
            path,
            f"missing column(s) {', '.join(repr(m) for m in missing)}; found header: "
            f"{', '.join(repr(f) for f in fields)}; expected {what}",
            line=1,
        )
    out: dict[str, pd.Series] = {}
    for col in columns:
        values = pd.Series(raw[where[col.source]], dtype=object)
        out[col.name] = _convert(path, col, values.reset_index(drop=True), lines, what, na)
    frame = pd.DataFrame(out, index=pd.RangeIndex(len(lines)))
    return Table(path, frame, lines, {c.name: c.source for c in columns})


def _header(path: Path, first: list[str], header: bool, what: str) -> list[str]:
    """Field names: the stripped header, or positions for a headerless file."""
    if not header:
        return [str(i) for i in range(len(first))]
    fields = [f.strip() for f in first]
    dups = sorted({f for f in fields if fields.count(f) > 1})
    if dups:
        raise DataError(
            path,
            f"the header repeats column(s) {', '.join(repr(d) for d in dups)}; expected {what}",
            line=1,
        )
    return fields


def _plain(value: object) -> object:
    """A numpy scalar as the Python value, so that messages show ``7``, not ``np.int64(7)``."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _sep_name(sep: str) -> str:
    return {"\t": "tab", ",": "comma"}.get(sep, repr(sep))


def _split_quoted(
    path: Path, text: str, sep: str, header: bool, what: str
) -> tuple[list[str], dict[str, Sequence[str]], np.ndarray]:
    """Parse a quoted CSV with :mod:`csv`, which tracks lines across multi-line fields."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    records: list[list[str]] = []
    starts: list[int] = []
    prev = 0
    try:
        for rec in reader:
            if rec:  # blank lines are skipped, as pandas does
                records.append(rec)
                starts.append(prev + 1)
            prev = reader.line_num
    except csv.Error as e:
        raise DataError(path, f"malformed CSV ({e}); expected {what}", line=reader.line_num) from e
    if not records:
        raise DataError(path, f"file is empty; expected {what}")
    fields = _header(path, records[0], header, what)
    body, body_starts = (records[1:], starts[1:]) if header else (records, starts)
    width = len(fields)
    for rec, start in zip(body, body_starts, strict=True):
        if len(rec) != width:
            raise DataError(
                path,
                f"record has {len(rec)} fields but the header has {width}; expected {what}",
                line=start,
            )
    columns = zip(*body, strict=True) if body else ([] for _ in fields)
    return fields, dict(zip(fields, columns, strict=True)), np.asarray(body_starts, dtype=np.int64)


def _split_literal(
    path: Path, text: str, sep: str, header: bool, what: str
) -> tuple[list[str], pd.DataFrame, np.ndarray]:
    """Parse an unquoted file with pandas' C parser; check its shape by counting separators.

    The per-line scan (:func:`_scan_literal`) runs only when the file has blank lines or the
    separator count says some record has the wrong number of fields.
    """
    first_end = text.find("\n")
    first = (text if first_end < 0 else text[:first_end]).rstrip("\r")
    if not first.strip():
        fields, starts = _scan_literal(path, text, sep, header, what)
    else:
        fields = _header(path, first.split(sep), header, what)
        starts = None
    try:
        frame = _parse_literal(text, sep, fields, header)
    except pd.errors.ParserError:
        _scan_literal(path, text, sep, header, what)  # raises with the line
        raise  # pragma: no cover - the scan always finds what the parser rejected
    n = len(frame) + (1 if header else 0)
    if starts is None and (
        text.count(sep) != (len(fields) - 1) * n or re.search(r"\n\r?\n", text.rstrip("\r\n"))
    ):
        fields, starts = _scan_literal(path, text, sep, header, what)
    if starts is None:
        starts = np.arange(len(frame), dtype=np.int64) + (2 if header else 1)
    if len(starts) != len(frame):  # pragma: no cover - a lone CR, which pandas splits on
        raise DataError(path, f"line ends are inconsistent (a lone CR?); expected {what}")
    return fields, frame, starts


def _scan_literal(
    path: Path, text: str, sep: str, header: bool, what: str
) -> tuple[list[str], np.ndarray]:
    """Line-by-line check of an unquoted file: the header and every record's field count."""
    physical = text.split("\n")
    nonblank = [i for i, ln in enumerate(physical) if ln.strip("\r")]
    if not nonblank:
        raise DataError(path, f"file is empty; expected {what}")
    fields = _header(path, physical[nonblank[0]].rstrip("\r").split(sep), header, what)
    body = nonblank[1:] if header else nonblank
    width = len(fields)
    counts = np.fromiter((physical[i].count(sep) for i in body), dtype=np.int64, count=len(body))
    bad = np.nonzero(counts != width - 1)[0]
    if bad.size:
        i = body[int(bad[0])]
        raise DataError(
            path,
            f"record has {int(counts[bad[0]]) + 1} {_sep_name(sep)}-separated fields but "
            f"{'the header has' if header else 'expected'} {width}; expected {what}",
            line=i + 1,
        )
    return fields, np.asarray(body, dtype=np.int64) + 1


def _parse_literal(text: str, sep: str, fields: list[str], header: bool) -> pd.DataFrame:
    return pd.read_csv(
        io.StringIO(text),
        sep=sep,
        header=0 if header else None,
        names=fields,
        dtype=str,
        keep_default_na=False,
        quoting=csv.QUOTE_NONE,
        skip_blank_lines=True,
        engine="c",
    )


def _convert(
    path: Path, col: Column, raw: pd.Series, lines: np.ndarray, what: str, na: Sequence[str]
) -> pd.Series:
    """Convert one column of strings to its kind; report the first bad value with its line."""

    def fail(mask: pd.Series, describe: Callable[[str], str]) -> DataError:
        pos = int(np.nonzero(mask.to_numpy())[0][0])
        return DataError(
            path,
            f"column {col.source!r}: {describe(str(raw.iloc[pos]))}; expected "
            f"{_EXPECTED[col.kind]} ({what})",
            line=int(lines[pos]),
        )

    if col.kind in ("string", "text"):
        values = raw.str.strip() if col.kind == "string" else raw
        missing = values.isin(["", *na])
        if col.required and missing.any():
            raise fail(missing, lambda _: "empty value")
        return values.mask(missing).astype("string")

    try:  # fast path: every value is a plain number (Python's int()/float() parse them)
        array = raw.to_numpy().astype(np.int64 if col.kind == "Int64" else np.float64)
    except (ValueError, OverflowError, TypeError):
        pass
    else:
        if col.kind == "Int64":
            return pd.Series(array, index=raw.index).astype("Int64")
        if not (col.required and np.isnan(array).any()):
            return pd.Series(array, index=raw.index, dtype="float64")
    stripped = raw.str.strip()
    missing = stripped.isin(NUMERIC_MISSING)
    if col.required and missing.any():
        raise fail(missing, lambda _: "empty value")
    if col.kind == "Int64":
        ok = missing | stripped.str.fullmatch(r"[+-]?\d+")
        if not ok.all():
            raise fail(~ok, lambda v: f"{v!r} is not an integer")
        ints = [None if m else int(v) for v, m in zip(stripped, missing, strict=True)]
        huge = pd.Series([i is not None and not -(2**63) <= i < 2**63 for i in ints])
        if huge.any():
            raise fail(huge, lambda v: f"{v} does not fit in 64 bits")
        return pd.Series(pd.array(ints, dtype="Int64"), index=raw.index)
    num = pd.to_numeric(stripped.where(~missing), errors="coerce")
    bad = ~missing & num.isna()
    if bad.any():
        raise fail(bad, lambda v: f"{v!r} is not a number")
    return num.astype("float64")
