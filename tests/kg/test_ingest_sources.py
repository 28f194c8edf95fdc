"""A data folder without any dataset is refused, by the library and by ``soundbridge ingest``."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kg.ingest import SOURCES, ingest, require_sources
from kg.stats import graph_counts
from loaders.errors import ConfigError
from soundbridge.cli import main
from soundbridge.commands.graph import ingest_cmd


def _says_where_it_looked(message: str, root: Path) -> None:
    assert "\n" not in message
    assert str(root) in message
    for name, folder in SOURCES.items():
        assert f"{name}: {folder}/" in message, name
    assert "SOUNDBRIDGE_DATA" in message and "--data" in message


def test_an_empty_data_folder_lists_every_folder_looked_for(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        require_sources(tmp_path)
    _says_where_it_looked(str(e.value), tmp_path)


def test_the_requested_sources_only_and_an_outside_netease_folder(tmp_path: Path) -> None:
    (tmp_path / "ccmc").mkdir()  # present, but not asked for
    elsewhere = tmp_path.parent / "exports"
    with pytest.raises(ConfigError) as e:
        require_sources(tmp_path, sources=["kgcn", "netease"], netease_path=elsewhere)
    message = str(e.value)
    assert "kgcn: kgcn-music/" in message and f"netease: {elsewhere}/" in message
    assert "ccmc" not in message.replace(str(tmp_path), "")


def test_one_present_folder_is_enough(tmp_path: Path) -> None:
    (tmp_path / "lastfm-hetrec2011").mkdir()
    assert require_sources(tmp_path) == ["lastfm"]


def test_the_command_exits_1_before_connecting(tmp_path: Path) -> None:
    # NEO4J_URI points at a port nothing listens on (tests/conftest.py): had the command
    # connected first, the message would be "no Neo4j server answers".
    result = CliRunner().invoke(ingest_cmd, ["--data", str(tmp_path)])
    assert isinstance(result.exception, ConfigError)
    _says_where_it_looked(str(result.exception), tmp_path)


def test_the_cli_prints_one_error_line_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "--data", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no dataset found in the data folder") and "\n" not in err


@pytest.mark.neo4j
def test_ingest_refuses_an_empty_folder_and_writes_nothing(neo4j_db, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        ingest(neo4j_db, tmp_path, progress=False)
    _says_where_it_looked(str(e.value), tmp_path)
    counts = graph_counts(neo4j_db)
    assert counts.total_nodes == 0 and counts.total_relationships == 0
