"""The shared table reader: typing, line numbers, and the message of every bad-input class."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from loaders.errors import DataError
from loaders.tables import Column, read_table, read_text, require_folder

COLUMNS = [
    Column("id", "item_id", "Int64", required=True),
    Column("name", "name"),
    Column("score", "score", "float64"),
]


def _write(tmp_path: Path, text: str | bytes, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_types_missing_values_and_bom(tmp_path: Path) -> None:
    path = _write(tmp_path, "\ufeffid,name,score,extra\n1, Ana ,0.5,x\n2,,NA,y\n3,Bo,,z\n")
    table = read_table(path, COLUMNS, what="test rows")
    frame = table.frame
    assert frame.dtypes.astype(str).to_dict() == {
        "item_id": "Int64",
        "name": "string",
        "score": "float64",
    }
    assert frame["item_id"].tolist() == [1, 2, 3]
    assert frame["name"].tolist() == ["Ana", pd.NA, "Bo"]
    assert frame["score"].isna().tolist() == [False, True, True]


def test_line_numbers_follow_multiline_fields_and_blank_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, 'id,name,score\n1,"two\nlines",1\n\n2,b,2\n3,"x",abc\n')
    with pytest.raises(DataError) as err:
        read_table(path, COLUMNS, what="test rows")
    # the header is line 1, record 1 spans lines 2-3, line 4 is blank: 'abc' is on line 6
    assert err.value.line == 6
    message = str(err.value)
    assert "t.csv line 6" in message
    assert "'score'" in message and "'abc'" in message and "a number" in message


def test_tsv_line_numbers_with_blank_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, "id\tname\n1\ta\n\n2\tb\n", "t.tsv")
    table = read_table(
        path,
        [Column("id", "id", "Int64"), Column("name", "name")],
        what="x",
        sep="\t",
        quoted=False,
    )
    assert [table.line(i) for i in range(2)] == [2, 4]


def test_literal_mode_keeps_quotes(tmp_path: Path) -> None:
    path = _write(tmp_path, 'id\tname\n1\t"Weird Al" Yankovic\n', "t.tsv")
    table = read_table(
        path,
        [Column("id", "id", "Int64"), Column("name", "name", "text")],
        what="x",
        sep="\t",
        quoted=False,
    )
    assert table.frame["name"].tolist() == ['"Weird Al" Yankovic']


def test_missing_file_names_path_and_content(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: file not found; expected the test rows"):
        read_table(tmp_path / "nope.csv", COLUMNS, what="the test rows")
    with pytest.raises(DataError, match="folder not found; expected the things"):
        require_folder(tmp_path / "nope", "the things")


def test_missing_columns_list_the_found_header(tmp_path: Path) -> None:
    path = _write(tmp_path, "id,title\n1,a\n")
    with pytest.raises(DataError) as err:
        read_table(path, COLUMNS, what="test rows")
    message = str(err.value)
    assert "t.csv line 1" in message
    assert "missing column(s) 'name', 'score'" in message
    assert "found header: 'id', 'title'" in message


def test_wrong_integer_names_line_column_value_and_expectation(tmp_path: Path) -> None:
    path = _write(tmp_path, "id,name,score\n1,a,1\nabc,b,2\n")
    with pytest.raises(DataError) as err:
        read_table(path, COLUMNS, what="test rows")
    assert str(err.value) == (
        f"{path} line 3: column 'id': 'abc' is not an integer; expected an integer (test rows)"
    )


def test_empty_required_value(tmp_path: Path) -> None:
    path = _write(tmp_path, "id,name,score\n1,a,1\n,b,2\n")
    with pytest.raises(DataError, match=r"line 3: column 'id': empty value"):
        read_table(path, COLUMNS, what="test rows")


@pytest.mark.parametrize(
    ("text", "line", "fields"),
    [
        ("id,name,score\n1,a,1\n2,b\n", 3, "2 fields"),
        ("id,name,score\n1,a,1,9\n", 2, "4 fields"),
    ],
)
def test_ragged_csv_records(tmp_path: Path, text: str, line: int, fields: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(DataError, match=rf"line {line}: record has {fields} but the header has 3"):
        read_table(path, COLUMNS, what="test rows")


@pytest.mark.parametrize(
    ("text", "line", "fields"),
    [("a\tb\n1\t2\n3\n4\t5\n", 3, "1 tab-separated fields"), ("a\tb\n1\t2\t3\n", 2, "3 tab")],
)
def test_ragged_tsv_records(tmp_path: Path, text: str, line: int, fields: str) -> None:
    path = _write(tmp_path, text, "t.tsv")
    cols = [Column("a", "a", "Int64"), Column("b", "b", "Int64")]
    with pytest.raises(DataError, match=rf"line {line}: record has {fields}"):
        read_table(path, cols, what="x", sep="\t", quoted=False)


def test_latin1_bytes_name_the_line_and_utf8(tmp_path: Path) -> None:
    path = _write(tmp_path, "id,name,score\n1,Beyonc\xe9,1\n".encode("latin-1"))
    with pytest.raises(DataError) as err:
        read_text(path, "test rows")
    assert err.value.line == 2
    assert re.search(r"t\.csv line 2: byte 0xe9 at column 9 is not valid UTF-8", str(err.value))
    assert "expected a UTF-8 text file" in str(err.value)


def test_duplicates_name_both_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, "id,name,score\n1,a,1\n2,b,2\n1,c,3\n")
    table = read_table(path, COLUMNS, what="test rows")
    with pytest.raises(DataError, match=r"line 4: duplicate thing 1 .* first appears on line 2"):
        table.require_unique(["item_id"], what="thing")


def test_unknown_reference_names_line_id_and_where_known(tmp_path: Path) -> None:
    path = _write(tmp_path, "id,name,score\n1,a,1\n2,b,2\n7,c,3\n")
    table = read_table(path, COLUMNS, what="test rows")
    filtered = table.frame[table.frame["item_id"] != 1]  # positions survive filtering
    assert table.line(int(filtered.index[0])) == 3
    with pytest.raises(DataError) as err:
        table.require_known("item_id", [1, 2], what="item", known_in="items.csv")
    assert str(err.value) == (
        f"{path} line 4: column 'id': unknown item 7 (1 record(s) like this); "
        "the known item ids are listed in items.csv"
    )


def test_headerless_file(tmp_path: Path) -> None:
    path = _write(tmp_path, b"0\trel\t2\r\n1\trel\t3\r\n", "kg.txt")
    cols = [Column("h", "h", "Int64"), Column("r", "r"), Column("t", "t", "Int64")]
    frame = read_table(path, cols, what="x", sep="\t", quoted=False, header=False).frame
    assert frame.to_dict("list") == {"h": [0, 1], "r": ["rel", "rel"], "t": [2, 3]}


def test_integer_beyond_64_bits(tmp_path: Path) -> None:
    path = _write(tmp_path, "id,name,score\n1,a,1\n99999999999999999999,b,2\n")
    with pytest.raises(DataError, match=r"line 3: column 'id': 99999999999999999999 does not fit"):
        read_table(path, COLUMNS, what="test rows")
