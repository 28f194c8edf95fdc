"""Neo4j Browser, served by the local server when HTTP is on, driven in headless Chromium."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from kg.connection import connect
from kg.server import Neo4jServer
from tests.conftest import free_port

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "neo4j-browser"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "cypher.md"

pytestmark = [pytest.mark.browser, pytest.mark.neo4j]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]

#: Three societies in a row of style links, the middle one from another region: every shortest
#: path between the ends passes through it, and both its neighbours are of one other region.
_STYLE_ROW = """
CREATE (ewe:Culture {name: 'Ewe', hraf_region: 'West Africa'}),
       (gce:Culture {name: 'Grenadian Creole English', hraf_region: 'Caribbean'}),
       (akan:Culture {name: 'Akan', hraf_region: 'West Africa'}),
       (ewe)-[:STYLE_SIMILAR {score: 0.8}]->(gce), (gce)-[:STYLE_SIMILAR {score: 0.8}]->(akan)
"""


def _documented(number: int) -> str:
    """Worked example ``number`` of docs/cypher.md, on one line (the Browser runs it on Enter)."""
    text = DOCS.read_text(encoding="utf-8")
    section = re.search(rf"^## {number}\. .*?```cypher\n(.*?)```", text, re.S | re.M)
    assert section, f"docs/cypher.md has no example {number}"
    assert "//" not in section.group(1), "a comment would swallow the rest of the line"
    return " ".join(section.group(1).split())


def test_browser_signs_in_and_runs_a_documented_query(
    neo4j_server_factory: Callable[..., Neo4jServer],
):
    from playwright.sync_api import expect, sync_playwright

    server = neo4j_server_factory(SOUNDBRIDGE_NEO4J_HTTP_PORT=str(free_port()))
    server.install()
    server.start(timeout=240, die_with_parent=True)
    s = server.settings
    url = server.status().browser_url
    assert url == f"http://127.0.0.1:{s.http_port}/browser/"
    # the running server's address, whatever the asking shell's variable says
    assert Neo4jServer(replace(s, http_port=None)).status().browser_url == url
    with connect(s) as driver:
        driver.execute_query(_STYLE_ROW)
    # example 17: betweenness (GDS) with the regions each bridge links to (APOC's toSet)
    query = _documented(17)
    assert "gds.betweenness.stream" in query and "apoc.coll.toSet" in query
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = None
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
            page.keyboard.insert_text(query)  # typed keys would meet the editor's auto-closing
            page.keyboard.press("Enter")
            table = page.locator("[data-testid='frame'] table, [role='table']").first
            expect(table).to_contain_text("Grenadian Creole English", timeout=60_000)
            cells = [
                " ".join(c.split()) for c in table.locator("td, [role='cell']").all_inner_texts()
            ]
            # row 1, the only one: the middle society lies on the one shortest path between
            # the ends (undirected, each pair once), and links to one other region (twice)
            assert cells == [
                "1",
                '"Grenadian Creole English"',
                '"Caribbean"',
                "1.0",
                '["West Africa"]',
            ]
        except Exception:  # any failure: keep a picture of the page for whoever reads the log
            if page is not None:
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "neo4j-browser-failure.png"))
            raise
        finally:
            browser.close()
    with connect(s) as driver:
        # run by an operator, outside the analysts' path: the projection stays until dropped
        listed = driver.execute_query("CALL gds.graph.list() YIELD graphName RETURN graphName")
        assert [r["graphName"] for r in listed.records] == ["styles"]
