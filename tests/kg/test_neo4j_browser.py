"""Neo4j Browser, served by the local server when HTTP is on, driven in headless Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from kg.server import Neo4jServer
from tests.conftest import free_port

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "neo4j-browser"

pytestmark = [pytest.mark.browser, pytest.mark.neo4j]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def test_browser_signs_in_and_runs_a_query(neo4j_server_factory: Callable[..., Neo4jServer]):
    from playwright.sync_api import expect, sync_playwright

    server = neo4j_server_factory(SOUNDBRIDGE_NEO4J_HTTP_PORT=str(free_port()))
    server.install()
    server.start(timeout=240, die_with_parent=True)
    url = server.status().browser_url
    s = server.settings
    assert url == f"http://127.0.0.1:{s.http_port}/browser/"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}?connectURL=bolt://127.0.0.1:{s.port}", timeout=60_000)
            page.get_by_test_id("username").fill(s.user, timeout=60_000)
            page.get_by_test_id("password").fill(s.password)
            page.get_by_test_id("connect").click()
            editor = page.locator("[data-testid='activeEditor'] textarea").first
            expect(editor).to_be_attached(timeout=60_000)
            page.get_by_text("You are connected as user").first.wait_for(timeout=60_000)
            editor.focus()
            page.keyboard.type("MATCH (n) RETURN count(n) AS n")
            page.keyboard.press("Enter")
            frame = page.locator("[data-testid='frameCommand']").filter(
                has_text="MATCH (n) RETURN count(n) AS n"
            )
            expect(frame.first).to_be_visible(timeout=60_000)
            table = page.locator("[data-testid='frame'] table, [role='table']").first
            expect(table).to_contain_text("0", timeout=60_000)
        except Exception:  # any failure: keep a picture of the page for whoever reads the log
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "neo4j-browser-failure.png"))
            raise
        finally:
            browser.close()
