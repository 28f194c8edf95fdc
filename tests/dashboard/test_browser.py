"""End to end in headless Chromium (Debian's, at /usr/bin/chromium): every view, asserted.

Each test fails on any console error or failed request, and saves a screenshot of its view under
test-artifacts/dashboard/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.dashboard.conftest import ARTIFACTS, PASSWORDS, write_metrics

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
def blank_page(browser, dashboard_url, request):
    """A fresh browser context on the dashboard's sign-in form (nobody signed in)."""
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
    page.wait_for_selector("#login-form", state="visible")
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()
    assert not problems, problems


def sign_in(page, role: str) -> None:
    """Sign in through the form as the test account of ``role`` and wait for the views."""
    page.fill("#login-user", role)
    page.fill("#login-pass", PASSWORDS[role])
    page.click("#login-submit")
    page.wait_for_function("document.querySelector('#status').textContent === 'ready'")


@pytest.fixture
def page(blank_page):
    """The dashboard, signed in as an analyst (every view, the Cypher console included)."""
    sign_in(blank_page, "analyst")
    return blank_page


def test_sign_in_roles_and_sign_out(blank_page, request):
    page = blank_page
    page.fill("#login-user", "viewer")
    page.fill("#login-pass", "not the password")
    page.click("#login-submit")
    page.wait_for_function("document.querySelector('#login-error').textContent !== ''")
    assert "wrong account name or password" in page.inner_text("#login-error")
    _expected_console_error(request, "401 (Unauthorized)")
    sign_in(page, "viewer")
    assert page.inner_text("#account-name") == "viewer (viewer)"
    assert not page.is_visible("#tab-cypher")  # the console is the analysts'
    page.reload()  # still signed in after a reload, without a failed request
    page.wait_for_function("document.querySelector('#status').textContent === 'ready'")
    assert page.is_visible("#account") and not page.is_visible("#login-form")
    page.click("#logout")
    page.wait_for_selector("#login-form", state="visible")
    assert "Signed out." in page.inner_text("#login-error")


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


def _expected_console_error(request, status: str) -> None:
    """Remove the one console error a provoked HTTP error leaves (Chromium logs every 4xx)."""
    hits = [p for p in request.node.console_problems if status in p]
    assert len(hits) == 1, request.node.console_problems
    request.node.console_problems.remove(hits[0])


def _pick_query_song(page, text: str, track_id: str) -> None:
    page.click("#tab-search")
    page.fill("#cc-track-search", text)
    page.press("#cc-track-search", "Enter")
    page.locator(f"#cc-tracks li[data-id='{track_id}']").click()
    assert track_id in page.inner_text("#cc-picked")


def test_crosscultural_search_plays_query_and_results_side_by_side(page):
    _pick_query_song(page, "abkhaz dance", "NHS2-TBMU")
    page.fill("#cc-culture", "Central Andes")
    page.fill("#cc-k", "5")
    page.click("#cc-run")
    page.wait_for_function("document.querySelectorAll('#cc-results li.result').length === 5")
    # the query's card, with its recording, beside the results
    assert "Abkhaz dance song" in page.inner_text("#cc-query")
    assert "Target: Central Andes (region)" in page.inner_text("#cc-target")
    first = page.locator("#cc-results li.result").first
    assert first.get_attribute("data-id") == "NHS2-CN26"
    text = first.inner_text()
    assert "Chicham" in text and "Both serve Dance." in text and "Graph path:" in text
    assert page.locator("#cc-results audio").count() == 5
    for sel in ("#cc-query audio", "#cc-results li.result audio"):
        assert page.locator(sel).first.get_attribute("data-track") in ("NHS2-TBMU", "NHS2-CN26")
        page.evaluate(f"document.querySelector('{sel}').play()")
        page.wait_for_function(f"document.querySelector('{sel}').currentTime > 0.2")


def test_crosscultural_unknown_culture_offers_clickable_suggestions(page, request):
    _pick_query_song(page, "abkhaz dance", "NHS2-TBMU")
    page.select_option("#cc-alignment", "none")
    page.fill("#cc-culture", "Andes mountains")
    page.click("#cc-run")
    page.wait_for_selector("#cc-suggestions .chip")
    assert "unknown culture 'Andes mountains'" in page.inner_text("#cc-error")
    chip = page.locator("#cc-suggestions .chip", has_text="Central Andes").first
    chip.click()
    page.wait_for_function("document.querySelectorAll('#cc-results li.result').length === 10")
    assert page.input_value("#cc-culture") == "Central Andes"
    assert page.inner_text("#cc-error") == "" and "alignment: none" in page.inner_text("#cc-target")
    _expected_console_error(request, "422 (Unprocessable")


def test_crosscultural_text_mode_only_where_it_exists(page, dashboard_home, monkeypatch):
    import importlib.util

    page.click("#tab-search")
    if importlib.util.find_spec("recsys.text") is None:  # no dead UI without recsys.text
        assert page.locator("#cc-mode-text").count() == 0
        return
    monkeypatch.setenv("SOUNDBRIDGE_HOME", str(dashboard_home))  # the text heads' cache
    page.click("#cc-mode-text")
    assert page.locator("#cc-track-search").is_hidden()
    assert page.locator("#cc-alignment").is_hidden()
    page.fill("#cc-text", "a lullaby")
    page.fill("#cc-culture", "Central Andes")
    page.fill("#cc-k", "3")
    page.click("#cc-run")
    page.wait_for_function(
        "document.querySelectorAll('#cc-results li.result').length === 3", timeout=180_000
    )
    assert "“a lullaby”" in page.inner_text("#cc-query")
    assert "Target: Central Andes (region)" in page.inner_text("#cc-target")
    assert page.locator("#cc-results li.result audio").count() == 3


def test_embedding_map_colours_and_opens_a_song_in_the_explorer(page, request):
    page.click("#tab-embedding")
    points = "document.querySelectorAll('#em-plot .scatterlayer .point').length"
    page.wait_for_function(f"{points} === 1007")
    assert "z_a: affect and function" in page.text_content("#em-plot .gtitle")
    legend = page.text_content("#em-plot .legend")
    assert "Central Andes" in legend and "Caucasus" in legend
    page.select_option("#em-colour", "function")
    page.wait_for_function("document.querySelector('#em-plot').data.length === 11")
    legend = page.text_content("#em-plot .legend")
    assert "Dance" in legend and "unknown" in legend
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.select_option("#em-space", "gnn")
    page.wait_for_function("document.querySelector('#em-plot .gtitle').textContent.includes('GNN')")
    assert page.evaluate(points) == 1007
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-map.png"))
    # click a point: the explorer opens on that song
    page.evaluate(
        "document.querySelector('#em-plot').on('plotly_click',"
        " (e) => { window.clicked = e.points[0].customdata; })"
    )
    box = page.locator("#em-plot .scatterlayer .point").nth(500).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function("window.clicked !== undefined")
    clicked = page.evaluate("window.clicked")
    page.wait_for_function(
        f"document.querySelector('#details h2')?.textContent.endsWith('({clicked})')"
    )
    assert page.locator("#view-explorer").get_attribute("class") == "view active"


def test_alignment_heatmap_and_most_coupled_pairs(page, request):
    page.click("#tab-alignment")  # opens on Western Africa -> Central Andes
    page.wait_for_selector("#al-pairs tr:nth-child(16)")  # header + 15 pairs
    heatmap = page.evaluate(
        "(() => { const d = document.querySelector('#al-heatmap').data[0];"
        " return {rows: d.y.length, cols: d.x.length, z: d.z.length, x: d.x}; })()"
    )
    assert heatmap["cols"] == 17 and heatmap["z"] == heatmap["rows"] > 5
    assert "Cusco Quechua story song (NHS2-74S4)" in heatmap["x"]
    assert "Western Africa → Central Andes" in page.text_content("#al-heatmap .gtitle")
    first = page.locator("#al-pairs tr").nth(1)
    cells = first.locator("td").all_inner_texts()
    assert cells[2] == cells[4] != "not public"  # the strongest coupling: one function both sides
    assert first.get_attribute("class") == "same"
    assert "% of the plan's mass couples songs of the same" in page.inner_text("#al-summary")
    # an unknown culture: the message and its suggestions, one click away from a plan
    page.fill("#al-target", "Andes mountains")
    page.click("#al-run")
    page.wait_for_selector("#al-suggestions .chip")
    page.locator("#al-suggestions .chip", has_text="Central Andes").first.click()
    page.wait_for_function("document.querySelector('#al-error').textContent === ''")
    assert page.input_value("#al-target") == "Central Andes"
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('plan ')")
    _expected_console_error(request, "422 (Unprocessable")


def test_metrics_view_says_what_to_run_without_a_report(page, dashboard_home):
    (dashboard_home / "reports/crosscultural/metrics.json").unlink(missing_ok=True)
    page.click("#tab-metrics")
    page.wait_for_selector("#metrics-message.warning")
    message = page.inner_text("#metrics-message")
    assert "No cross-cultural evaluation report yet" in message
    assert "Run `soundbridge evaluate`" in message
    assert page.locator("#metrics-charts .chart").count() == 0


def test_metrics_view_draws_a_chart_per_metric(page, dashboard_home):
    path = write_metrics(dashboard_home)
    try:
        page.click("#tab-metrics")
        page.wait_for_function("document.querySelectorAll('#metrics-charts .chart .bars').length")
        page.wait_for_selector("#metric-coverage .main-svg")
        ids = page.eval_on_selector_all("#metrics-charts .chart", "cs => cs.map(c => c.id)")
        assert ids[:5] == [
            "metric-minority_exposure",
            "metric-calibration_kl",
            "metric-serendipity",
            "metric-function_share",
            "metric-ndcg",
        ]
        exposure = page.evaluate("document.querySelector('#metric-minority_exposure').data[0]")
        assert exposure["x"] == ["random", "no-alignment", "ot-unbalanced"]
        assert exposure["y"] == [0.2, 0.3, 0.45]
        share = page.evaluate("document.querySelector('#metric-function_share').data")
        assert [t["name"] for t in share] == ["function share", "chance"]  # grouped bars
        assert "lower" in page.text_content("#metric-calibration_kl .gtitle")
        assert "generated 2025-01-01T00:00:00" in page.inner_text("#metrics-message")
    finally:
        path.unlink()


def test_expert_reviews_a_song_and_the_recommendation_changes(blank_page):
    page = blank_page
    sign_in(page, "expert")
    assert page.is_visible("#tab-review")
    page.click("#tab-review")
    first = page.locator("#rv-queue li[data-id]").first
    first.wait_for()
    track = first.get_attribute("data-id")
    assert "uncertainty" in first.inner_text()
    first.click()
    page.wait_for_selector("#rv-card h2")
    assert page.locator("#rv-card .guess").count() == 3
    assert page.locator("#rv-nearest li").count() == 3
    page.evaluate("document.querySelector('#rv-card audio').play()")
    page.wait_for_function("document.querySelector('#rv-card audio').currentTime > 0.2")
    # before: the cross-cultural search sees a predicted function
    page.click("#rv-find-similar")
    page.fill("#cc-culture", "Central Andes")
    page.click("#cc-run")
    page.wait_for_function("document.querySelectorAll('#cc-results li.result').length === 10")
    assert "function not public" in page.inner_text("#cc-query")
    # the answer
    page.click("#tab-review")
    page.locator(f"#rv-queue li[data-id='{track}']").click()
    page.select_option("#rv-label", "Lullaby")
    page.fill("#rv-rationale", "sung to put a child to sleep")
    page.click("#rv-answer")
    page.wait_for_function(
        "document.querySelector('#rv-message').textContent.startsWith('Saved ans-')"
    )
    answer = page.locator("#rv-log li[data-answer]").first.get_attribute("data-answer")
    assert answer and answer.startswith("ans-")
    assert f"{track} is Lullaby" in page.inner_text("#rv-log")
    # after: the same search knows the song as a lullaby, from the expert, at once
    page.click("#rv-find-similar")
    page.click("#cc-run")
    page.wait_for_function(
        "!document.querySelector('#cc-query').textContent.includes('function not public')"
    )
    assert "Lullaby" in page.inner_text("#cc-query")
    # and the expert can take it back
    page.click("#tab-review")
    page.locator(f"#rv-log li[data-answer='{answer}'] button.retract").click()
    page.wait_for_function(
        f"document.querySelector('#rv-message').textContent === 'Retracted {answer}.'"
    )
    page.wait_for_selector(f"#rv-log li[data-answer='{answer}']", state="detached")
