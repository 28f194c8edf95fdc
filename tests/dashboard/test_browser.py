"""End to end in headless Chromium (Debian's, at /usr/bin/chromium): every view, asserted.

Each test fails on any console error or failed request, and saves a screenshot of its view under
test-artifacts/dashboard/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.dashboard.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.neo4j]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, dashboard_url, request):
    context = browser.new_context(viewport={"width": 1400, "height": 850})
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    request.node.console_problems = problems  # a test may remove a failure it provoked
    page.goto(dashboard_url + "/")
    page.wait_for_function("document.querySelector('#status').textContent === 'ready'")
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()
    assert not problems, problems


def test_explorer_search_click_and_expand(page):
    page.fill("#search", "ewe")
    page.press("#search", "Enter")
    first = page.locator("#results li").first
    first.wait_for()
    assert first.get_attribute("data-id") == "CCMCewee1241"
    first.click()
    page.wait_for_function("document.querySelector('#details h2')?.textContent === 'Ewe'")
    n_before = page.evaluate("cy.nodes().length")
    assert n_before > 5  # Ewe, its recordings, its region, its style neighbours
    # colour by culture: Ewe's node carries Africa's colour in the legend
    assert "Africa" in page.inner_text("#legend")
    # expand a neighbour (the Akan society) by double-clicking it
    page.evaluate("cy.getElementById('Culture:CCMCakan1250').emit('dbltap')")
    page.wait_for_function("document.querySelector('#details h2')?.textContent === 'Akan'")
    assert page.evaluate("cy.nodes().length") > n_before
    # edge-type toggle hides the style edges
    page.uncheck("#edge-STYLE_SIMILAR")
    hidden = page.evaluate(
        "cy.edges('[type = \"STYLE_SIMILAR\"]').filter(e => e.style('display') === 'none').length"
    )
    assert hidden == page.evaluate("cy.edges('[type = \"STYLE_SIMILAR\"]').length") > 0


def test_explorer_track_details_play_audio(page):
    page.fill("#search", "NHS2-TBMU")
    page.press("#search", "Enter")
    page.locator("#results li").first.click()
    audio = page.locator("#details audio")
    audio.wait_for()
    assert audio.get_attribute("data-track") == "NHS2-TBMU"
    page.evaluate("document.querySelector('#details audio').play()")
    page.wait_for_function("document.querySelector('#details audio').currentTime > 0.2")
    assert "Dance" in page.inner_text("#details")


def test_map_society_lists_and_plays_recordings(page):
    page.click("#tab-map")
    page.wait_for_function("document.querySelectorAll('path.society').length >= 400")
    legend = page.inner_text("#map-legend")
    assert "South America" in legend and "Oceania" in legend
    page.locator("path.society-CCMCcusc1236").dispatch_event("click")
    page.wait_for_selector("#society-tracks li")
    assert "Cusco Quechua" in page.inner_text("#society h2")
    items = page.locator("#society-tracks li")
    assert items.count() >= 3
    page.evaluate("document.querySelector('#society-tracks audio').play()")
    page.wait_for_function("document.querySelector('#society-tracks audio').currentTime > 0.2")


def test_cypher_console_table_graph_and_refused_write(page, request):
    page.click("#tab-cypher")
    page.click("#cypher-run")
    page.wait_for_selector("#cypher-result tr:nth-child(2)")
    text = page.inner_text("#cypher-result")
    assert "Central Andes" in text and "Cusco Quechua" in text
    assert page.evaluate("cypherCy.nodes().length") == 9  # 8 societies + the region
    assert page.evaluate("cypherCy.edges('[type = \"PART_OF\"]').length") == 8
    page.fill("#cypher-query", "CREATE (n:Track {id: 'nope'}) RETURN n")
    page.click("#cypher-run")
    page.wait_for_function("document.querySelector('#cypher-error').textContent.length > 0")
    assert "read-only" in page.inner_text("#cypher-error")
    # the refused write is a 400 answer, which Chromium logs; it is the one error we expect
    refused = [p for p in request.node.console_problems if "400 (Bad Request)" in p]
    assert len(refused) == 1
    request.node.console_problems.remove(refused[0])
