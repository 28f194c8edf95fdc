"""SOUNDBRIDGE_HOME and the server's folders are 0700 and its secret files 0600, whether the
Neo4j password was generated or given in NEO4J_PASSWORD."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kg.config import Neo4jSettings, load_or_create_password, private_file, private_folder
from kg.server import Neo4jServer
from loaders.errors import ConfigError

PASSWORD = "given-in-the-environment"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The common umask 022, under which a plain mkdir gives 0755 and a file 0644."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_folder_is_0700_under_a_permissive_umask(tmp_path: Path, open_umask: None) -> None:
    home = private_folder(tmp_path / "a" / "home")
    assert _mode(home) == 0o700


def test_an_open_folder_of_ours_is_tightened_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger="kg.config"):
        private_folder(home)
    assert _mode(home) == 0o700
    assert "was open to others (mode 755)" in caplog.text


def test_a_shared_sticky_folder_is_only_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    with caplog.at_level(logging.WARNING, logger="kg.config"):
        private_folder(shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert "not ours to narrow" in caplog.text


def test_a_file_where_the_home_should_be_is_refused(tmp_path: Path) -> None:
    (tmp_path / "home").write_text("")
    with pytest.raises(ConfigError, match=r"home: exists but is not a folder"):
        private_folder(tmp_path / "home")


def test_a_secret_file_is_tightened_to_0600(tmp_path: Path) -> None:
    secret = tmp_path / "auth.ini"
    secret.write_text("neo4j:SHA-256,...")
    secret.chmod(0o644)
    assert _mode(private_file(secret)) == 0o600


def test_the_password_file_makes_an_existing_open_home_private(
    tmp_path: Path, open_umask: None
) -> None:
    home = tmp_path / "home"
    home.mkdir()  # 0755: made by something else first (a training run, a cache)
    path = home / "neo4j-password"
    load_or_create_password(path)
    assert (_mode(home), _mode(path)) == (0o700, 0o600)


@pytest.fixture
def unstarted_server() -> Callable[[Path], Neo4jServer]:
    """A server whose password comes from the environment, living in ``home``; never started."""

    def make(home: Path) -> Neo4jServer:
        env = {"SOUNDBRIDGE_HOME": str(home), "NEO4J_PASSWORD": PASSWORD}
        return Neo4jServer(Neo4jSettings.from_env(env))

    return make


def test_stop_before_any_start_makes_a_private_home(
    tmp_path: Path, open_umask: None, unstarted_server: Callable[[Path], Neo4jServer]
) -> None:
    server = unstarted_server(tmp_path / "home")
    assert server.stop() is False
    assert _mode(tmp_path / "home") == 0o700
    assert _mode(server.home) == 0o700 and _mode(server.home / "run") == 0o700


@pytest.mark.neo4j
def test_a_server_started_with_neo4j_password_keeps_its_files_private(
    tmp_path: Path, open_umask: None, neo4j_server_factory: Callable[..., Neo4jServer]
) -> None:
    home = tmp_path / "home"  # absent: the server's start creates it
    server = neo4j_server_factory(NEO4J_PASSWORD=PASSWORD, SOUNDBRIDGE_HOME=str(home))
    assert server.settings.password_file is None and not home.exists()
    server.start(timeout=180.0, die_with_parent=True)
    assert server.status().running

    auth = server.home / "data" / "dbms" / "auth.ini"
    assert auth.is_file()
    assert (_mode(home), _mode(server.home), _mode(server.conf_dir)) == (0o700, 0o700, 0o700)
    assert _mode(auth) == 0o600
    # Nothing under the home is open to group or others: what Neo4j wrote included.
    for root, dirs, files in os.walk(home):
        for name in dirs + files:
            path = Path(root) / name
            if not path.is_symlink():
                assert not _mode(path) & 0o077, f"{path} is {oct(_mode(path))}"
