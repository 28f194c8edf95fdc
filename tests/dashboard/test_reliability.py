"""The dashboard when its Neo4j dies: a prompt 503 that says so, never a hang or a bare 500."""

from __future__ import annotations

import os
import signal
import time

import pytest
from fastapi.testclient import TestClient

from kg.accounts import account_key, add_account
from kg.connection import connect
from soundbridge.commands.serve import DASHBOARD_RETRY_SECONDS
from soundbridge.dashboard import create_app
from tests.dashboard.conftest import HOSTS, PASSWORDS

pytestmark = [pytest.mark.neo4j, pytest.mark.reliability]


def test_neo4j_killed_under_a_signed_in_dashboard_gives_a_prompt_503(
    neo4j_server_factory, tmp_path
):
    server = neo4j_server_factory()
    server.start(timeout=180, die_with_parent=True)
    home = tmp_path / "home"
    with connect(server.settings, retry_seconds=DASHBOARD_RETRY_SECONDS) as driver:
        add_account(driver, "viewer", PASSWORDS["viewer"], "viewer", key=account_key(home))
        app = create_app(driver, None, home, allowed_hosts=HOSTS, neo4j_uri=server.settings.uri)
        client = TestClient(app)
        r = client.post("/api/login", json={"username": "viewer", "password": PASSWORDS["viewer"]})
        assert r.status_code == 200
        assert client.get("/api/search", params={"q": "ewe"}).status_code == 200
        pid = server.status().pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        for path in ("/api/search?q=ewe", "/api/societies", "/api/cultures"):
            started = time.monotonic()
            r = client.get(path)
            seconds = time.monotonic() - started
            assert r.status_code == 503, (path, r.status_code, r.text)
            detail = r.json()["detail"]
            assert server.settings.uri in detail and "soundbridge neo4j status" in detail
            assert "\n" not in detail and "Traceback" not in detail
            assert seconds <= 5.0, (path, seconds)
