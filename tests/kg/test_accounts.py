"""Accounts in the graph, and ``soundbridge users``, against the real server."""

from __future__ import annotations

import json
import stat

import pytest
from click.testing import CliRunner

from kg.accounts import (
    AccountError,
    account_key,
    add_account,
    authenticate,
    disable_account,
    get_account,
    list_accounts,
)
from kg.ingest import ingest
from soundbridge.cli import cli

pytestmark = pytest.mark.neo4j

PASSWORD = "correct horse battery"


@pytest.fixture
def key(tmp_path):
    return account_key(tmp_path)


def test_add_authenticate_and_disable(neo4j_db, key, tmp_path):
    made = add_account(neo4j_db, "rosa", PASSWORD, "analyst", key=key)
    assert (made.username, made.role, made.scopes, made.disabled) == ("rosa", "analyst", (), False)
    assert made.created.startswith("20")
    assert authenticate(neo4j_db, "rosa", PASSWORD, key=key) == made
    assert authenticate(neo4j_db, "rosa", PASSWORD + "x", key=key) is None
    assert authenticate(neo4j_db, "nobody", PASSWORD, key=key) is None
    # the stored hash is useless without the key file, and the password is nowhere in the graph
    assert authenticate(neo4j_db, "rosa", PASSWORD, key=b"another key") is None
    stored = neo4j_db.execute_query("MATCH (a:Account) RETURN properties(a) AS p").records[0]["p"]
    assert PASSWORD not in json.dumps(stored, default=str)
    assert stored["password_hash"].startswith("$argon2id$")
    assert stat.S_IMODE((tmp_path / "account-key").stat().st_mode) == 0o600
    disabled = disable_account(neo4j_db, "rosa")
    assert disabled.disabled and not disabled.can("viewer")
    assert authenticate(neo4j_db, "rosa", PASSWORD, key=key) is None
    assert get_account(neo4j_db, "rosa") == disabled


@pytest.mark.parametrize(
    ("name", "password", "role", "scopes", "message"),
    [
        ("Rosa!", PASSWORD, "viewer", (), "account name 'Rosa!' is not valid"),
        ("rosa", "short", "viewer", (), "the password has 5 characters; use at least 10"),
        ("rosa", PASSWORD, "owner", (), "unknown role 'owner'; roles are viewer, analyst"),
        ("rosa", PASSWORD, "viewer", ("Ewe",), "scopes are for experts"),
        ("rosa", PASSWORD, "expert", ("Atlantis",), "scope 'Atlantis' names no culture"),
    ],
)
def test_bad_accounts_are_refused_and_nothing_is_written(
    neo4j_db, key, name, password, role, scopes, message
):
    with pytest.raises(AccountError, match=message):
        add_account(neo4j_db, name, password, role, key=key, scopes=scopes)
    assert list_accounts(neo4j_db) == []


@pytest.mark.slow
def test_expert_scopes_resolve_to_culture_ids_and_names_are_unique(neo4j_db, key):
    ingest(neo4j_db, sources=["ccmc"], progress=False)
    expert = add_account(neo4j_db, "ama", PASSWORD, "expert", key=key, scopes=["Ewe"])
    assert expert.scopes == ("CCMCewee1241",) and expert.can("analyst")
    with pytest.raises(AccountError, match="an account named 'ama' exists already"):
        add_account(neo4j_db, "ama", PASSWORD, "viewer", key=key)
    assert [a.username for a in list_accounts(neo4j_db)] == ["ama"]


def test_users_command_reads_the_password_from_stdin_and_never_prints_it(
    neo4j_server, neo4j_db, tmp_path
):
    s = neo4j_server.settings
    env = {
        "NEO4J_URI": s.uri,
        "NEO4J_USER": s.user,
        "NEO4J_PASSWORD": s.password,
        "SOUNDBRIDGE_HOME": str(tmp_path),
    }
    runner = CliRunner()
    empty = runner.invoke(cli, ["users", "list"], env=env)
    assert "create the first admin with: soundbridge users add NAME --role admin" in empty.output
    added = runner.invoke(
        cli, ["users", "add", "root-admin", "--role", "admin"], input=PASSWORD + "\n", env=env
    )
    assert added.exit_code == 0, added.output
    assert added.output.strip() == "added root-admin (admin)" and PASSWORD not in added.output
    listed = runner.invoke(cli, ["users", "list", "--json"], env=env)
    rows = json.loads(listed.output)
    assert [(r["username"], r["role"], r["disabled"]) for r in rows] == [
        ("root-admin", "admin", False)
    ]
    assert "hash" not in listed.output
    assert runner.invoke(cli, ["users", "disable", "root-admin"], env=env).exit_code == 0
    assert "disabled" in runner.invoke(cli, ["users", "list"], env=env).output
    bad = runner.invoke(cli, ["users", "add", "x", "--role", "viewer"], input="pw\n", env=env)
    assert bad.exit_code != 0
