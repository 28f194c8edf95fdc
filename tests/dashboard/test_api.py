"""The dashboard's JSON API over a real graph (no browser)."""

import httpx
import pytest

from tests.dashboard.conftest import PASSWORDS, write_metrics

pytestmark = pytest.mark.neo4j


def test_search_finds_a_society_first(dashboard_url, api):
    rows = api.get(f"{dashboard_url}/api/search", params={"q": "ewe"}).json()
    assert rows[0] == {"label": "Culture", "id": "CCMCewee1241", "name": "Ewe", "level": "society"}


def test_neighbours_are_cytoscape_elements_of_the_asked_types(dashboard_url, api):
    res = api.get(
        f"{dashboard_url}/api/neighbours/Culture/CCMCewee1241", params={"types": "STYLE_SIMILAR"}
    ).json()
    edges = [e["data"] for e in res["elements"] if "source" in e["data"]]
    assert {e["type"] for e in edges} == {"STYLE_SIMILAR"}
    ewe = "Culture:CCMCewee1241"
    assert sum(e["source"] == ewe for e in edges) == 5  # its 5 style neighbours, plus any
    assert all(ewe in (e["source"], e["target"]) for e in edges)  # society naming Ewe as its own
    nodes = {e["data"]["id"]: e["data"] for e in res["elements"] if "source" not in e["data"]}
    assert nodes["Culture:CCMCakan1250"]["world"] == "Africa"


def test_audio_is_served_from_the_data_folder_and_traversal_is_refused(dashboard_url, api):
    ok = api.get(f"{dashboard_url}/audio/NHS2-TBMU")
    assert ok.status_code == 200 and ok.headers["content-type"] == "audio/mpeg"
    assert ok.content[:3] in (b"ID3", b"\xff\xfb", b"\xff\xf3")
    assert api.get(f"{dashboard_url}/audio/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_cypher_is_read_only(dashboard_url, api):
    r = api.post(f"{dashboard_url}/api/cypher", json={"query": "CREATE (n:Track {id: 'x'})"})
    assert r.status_code == 400 and "read-only" in r.json()["detail"]
    r = api.post(
        f"{dashboard_url}/api/cypher",
        json={"query": "MATCH (f:Function) RETURN count(f) AS n"},
    )
    assert r.json() == {"columns": ["n"], "rows": [[10]], "truncated": None}


def test_unknown_label_and_node_give_404_with_a_reason(dashboard_url, api):
    r = api.get(f"{dashboard_url}/api/node/Planet/1")
    assert r.status_code == 404 and "unknown label 'Planet'" in r.json()["detail"]
    r = api.get(f"{dashboard_url}/api/node/Track/NHS2-NOPE")
    assert r.status_code == 404 and "no Track with id" in r.json()["detail"]


def test_every_asset_is_local(dashboard_url, api):
    html = api.get(dashboard_url + "/").text
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    for asset in (
        "cytoscape.min.js",
        "leaflet.js",
        "leaflet.css",
        "countries-110m.json",
        "plotly.min.js",
    ):
        assert api.get(f"{dashboard_url}/vendor/{asset}").status_code == 200, asset


# --- cross-cultural search ------------------------------------------------------------------
# The graph's factors are the known-answer ones of conftest.store_known_factors: z_a carries the
# public function, so a Dance query's best match in the Central Andes is its one Dance song.
CENTRAL_ANDES_SOCIETIES = {
    "Ayacucho Quechua",
    "Central Aymara",
    "Central-Southern Aymara",
    "Chicham",
    "Cocama-Cocamilla",
    "Cusco Quechua",
    "Shipibo-Conibo",
    "South Bolivian Quechua",
}


def _get(api: httpx.Client, url: str, **params) -> httpx.Response:
    return api.get(url, params=params, timeout=120)


def test_track_search_lists_songs_with_factors_and_their_recording(dashboard_url, api):
    rows = _get(api, f"{dashboard_url}/api/tracks", q="abkhaz dance").json()
    assert rows == [
        {
            "id": "NHS2-TBMU",
            "name": "Abkhaz dance song (NHS2-TBMU)",
            "culture_name": "Abkhaz",
            "hraf_region": "Caucasus",
            "function": "Dance",
            "audio_url": "/audio/NHS2-TBMU",
        }
    ]


def test_recommend_gives_k_songs_of_the_target_culture_with_explanations(dashboard_url, api):
    res = _get(
        api, f"{dashboard_url}/api/recommend", track="NHS2-TBMU", culture="Central Andes", k=5
    )
    assert res.status_code == 200
    body = res.json()
    assert body["query"]["title"] == "Abkhaz dance song (NHS2-TBMU)"
    assert body["query"]["audio_url"] == "/audio/NHS2-TBMU"
    assert body["target"] == {
        "ids": ["HRAF-central-andes"],
        "name": "Central Andes",
        "level": "region",
        "via": "name",
        "note": "",
    }
    results = body["results"]
    assert len(results) == 5
    assert {r["culture_name"] for r in results} <= CENTRAL_ANDES_SOCIETIES
    best = results[0]
    assert (best["track_id"], best["culture_name"], best["function"]) == (
        "NHS2-CN26",
        "Chicham",
        "Dance",
    )
    assert best["explanation"].startswith("Both serve Dance.")
    assert best["details"]["path"][2] == "(:Function {name: 'Dance'})"
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert all(r["audio_url"] == f"/audio/{r['track_id']}" for r in results)


def test_recommend_resolves_aliases_and_takes_an_alignment(dashboard_url, api):
    body = _get(
        api, f"{dashboard_url}/api/recommend", track="NHS2-TBMU", culture="Quechua", k=3
    ).json()
    assert body["target"]["via"] == "alias" and len(body["target"]["ids"]) > 1
    assert all("Quechua" in r["culture_name"] for r in body["results"])
    for alignment in ("none", "sinkhorn"):
        body = _get(
            api,
            f"{dashboard_url}/api/recommend",
            track="NHS2-TBMU",
            culture="Andean",
            k=3,
            alignment=alignment,
        ).json()
        assert body["alignment"] == alignment and body["results"][0]["track_id"] == "NHS2-CN26"
    bad = _get(
        api, f"{dashboard_url}/api/recommend", track="NHS2-TBMU", culture="Andean", alignment="x"
    )
    assert bad.status_code == 422


def test_recommend_errors_are_404_and_422_with_the_closest_cultures(dashboard_url, api):
    r = _get(api, f"{dashboard_url}/api/recommend", track="NHS2-NOPE", culture="Andean")
    assert r.status_code == 404 and "'NHS2-NOPE' is not in the catalogue" in r.json()["detail"]
    r = _get(api, f"{dashboard_url}/api/recommend", track="NHS2-TBMU", culture="Andes mountains")
    assert r.status_code == 422 and "unknown culture 'Andes mountains'" in r.json()["detail"]
    assert "Central Andes" in r.json()["suggestions"]
    # a society with a single recording has nothing to recommend when that recording is the query
    lone = api.post(
        f"{dashboard_url}/api/cypher",
        json={
            "query": "MATCH (c:Culture {level: 'society'})<-[:FROM_CULTURE]-(t:Track) "
            "WITH c, collect(t.id) AS ts WHERE size(ts) = 1 "
            "RETURN c.name AS name, ts[0] AS track ORDER BY name LIMIT 1"
        },
    ).json()["rows"][0]
    r = _get(api, f"{dashboard_url}/api/recommend", track=lone[1], culture=lone[0])
    assert (
        r.status_code == 422
        and "no track with audio factors other than the query" in (r.json()["detail"])
    )


# --- alignment ------------------------------------------------------------------------------
def test_alignment_plan_couples_songs_of_the_same_function(dashboard_url, api):
    body = _get(
        api,
        f"{dashboard_url}/api/alignment",
        source="Western Africa",
        target="Central Andes",
        top=5,
    ).json()
    assert body["source"]["name"] == "Western Africa" and body["target"]["name"] == "Central Andes"
    rows, cols, plan = body["rows"], body["cols"], body["plan"]
    assert len(cols) == 17 and {c["culture_name"] for c in cols} <= CENTRAL_ANDES_SOCIETIES
    assert len(plan) == len(rows) and all(len(p) == len(cols) for p in plan)
    assert abs(sum(map(sum, plan)) - body["total"]) < 1e-9
    pairs = body["pairs"]
    assert len(pairs) == 5
    assert [p["mass"] for p in pairs] == sorted((p["mass"] for p in pairs), reverse=True)
    assert pairs[0]["mass"] == max(map(max, plan))
    # z_a carries the function, so the strongest couplings pair songs that serve the same one
    public = [(rows[p["source"]]["function"], cols[p["target"]]["function"]) for p in pairs[:3]]
    assert all(a is not None and a == b for a, b in public), public
    assert body["same_function"] > 0.5


def test_alignment_of_an_unknown_culture_is_422_with_suggestions(dashboard_url, api):
    r = _get(api, f"{dashboard_url}/api/alignment", source="Andes mountains", target="Polynesia")
    assert r.status_code == 422 and "Central Andes" in r.json()["suggestions"]


# --- embedding map --------------------------------------------------------------------------
@pytest.mark.parametrize("space", ["zc", "zs", "za", "gnn"])
def test_embedding_map_projects_every_track(dashboard_url, api, space):
    body = _get(api, f"{dashboard_url}/api/embeddings/{space}").json()
    assert body["dim"] == 16 and len(body["points"]) == 1007 and body["message"] == ""
    assert body["explained"][0] >= body["explained"][1] > 0
    tbmu = next(p for p in body["points"] if p["id"] == "NHS2-TBMU")
    assert (tbmu["name"], tbmu["culture"], tbmu["function"]) == (
        "Abkhaz dance song (NHS2-TBMU)",
        "Caucasus",
        "Dance",
    )
    assert sum(p["function"] == "unknown" for p in body["points"]) == 201  # withheld labels


def test_embedding_map_of_an_unknown_space_is_404(dashboard_url, api):
    r = _get(api, f"{dashboard_url}/api/embeddings/zq")
    assert r.status_code == 404 and "spaces are zc, zs, za, gnn" in r.json()["detail"]


# --- metrics --------------------------------------------------------------------------------
def test_metrics_without_a_report_say_to_run_evaluate(dashboard_url, api, dashboard_home):
    (dashboard_home / "reports/crosscultural/metrics.json").unlink(missing_ok=True)
    body = _get(api, f"{dashboard_url}/api/metrics").json()
    assert body["available"] is False
    assert "Run `soundbridge evaluate`" in body["message"] and body["path"] in body["message"]


def test_metrics_report_is_read_with_known_metrics_first(dashboard_url, api, dashboard_home):
    write_metrics(dashboard_home)
    body = _get(api, f"{dashboard_url}/api/metrics").json()
    assert body["available"] is True and body["generated"] == "2025-01-01T00:00:00"
    keys = [m["key"] for m in body["metrics"]]
    assert keys == [
        "minority_exposure",
        "calibration_kl",
        "serendipity",
        "function_share",
        "ndcg",
        "coverage",
    ]  # chance is drawn inside function_share
    assert body["methods"]["ot-unbalanced"]["function_share_ci95"] == [0.3, 0.4]
    assert next(m for m in body["metrics"] if m["key"] == "function_share")["ci"] is True
    (dashboard_home / "reports/crosscultural/metrics.json").unlink()


# --- text queries (only where recsys.text is installed) ---------------------------------------
def test_config_says_whether_text_search_exists(dashboard_url, api):
    import importlib.util

    has = importlib.util.find_spec("recsys.text") is not None
    assert api.get(f"{dashboard_url}/api/config").json()["text_search"] is has


def test_text_search_answers_with_songs_of_the_named_culture(
    dashboard_url, api, dashboard_home, monkeypatch
):
    pytest.importorskip("recsys.text")
    monkeypatch.setenv("SOUNDBRIDGE_HOME", str(dashboard_home))  # the text heads' cache
    r = _get(api, f"{dashboard_url}/api/search-text", q="a lullaby", culture="Central Andes", k=3)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"] == "a lullaby" and body["target"]["name"] == "Central Andes"
    assert len(body["results"]) == 3
    assert {x["culture_name"] for x in body["results"]} <= CENTRAL_ANDES_SOCIETIES
    assert all(x["audio_url"] == f"/audio/{x['track_id']}" for x in body["results"])
    r = _get(api, f"{dashboard_url}/api/search-text", q="a lullaby", culture="Andes mountains")
    assert r.status_code == 422 and "Central Andes" in r.json()["suggestions"]


# -- sign-in, roles, CSRF, Host, hostile input --------------------------------------------------


@pytest.fixture(scope="module")
def fresh_app(dashboard_graph, dashboard_home):
    """A second app on the same graph, for the in-process client (its own sessions and throttle)."""
    from fastapi.testclient import TestClient

    from soundbridge.dashboard import create_app
    from tests.dashboard.conftest import HOSTS

    app = create_app(dashboard_graph, None, dashboard_home, allowed_hosts=HOSTS)
    return app, TestClient


def _routes(app):
    from fastapi.routing import APIRoute

    for route in app.routes:
        if isinstance(route, APIRoute) and route.path.startswith(("/api", "/audio")):
            for method in route.methods:
                yield method, route.path


@pytest.mark.reliability
def test_every_api_route_needs_a_session(fresh_app):
    app, TestClient = fresh_app
    client = TestClient(app)
    asked = 0
    for method, path in _routes(app):
        if path == "/api/login":
            continue
        url = path.format(
            label="Track", node_id="NHS2-TBMU", society_id="x", space="zc", track_id="x"
        )
        r = client.request(method, url, json={} if method == "POST" else None)
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert r.json()["detail"] == "sign in first (POST /api/login)"
        asked += 1
    assert asked >= 18


@pytest.mark.reliability
def test_roles_csrf_cookie_and_host(dashboard_url, fresh_app, sign_in_as):
    viewer = sign_in_as("viewer")
    r = viewer.post("/api/cypher", json={"query": "RETURN 1 AS one"})
    assert r.status_code == 403 and "needs the analyst role; viewer is viewer" in r.json()["detail"]
    assert viewer.get("/api/search", params={"q": "ewe"}).status_code == 200
    analyst = sign_in_as("analyst")
    assert analyst.post("/api/cypher", json={"query": "RETURN 1 AS one"}).status_code == 200
    del analyst.headers["X-CSRF-Token"]
    r = analyst.post("/api/cypher", json={"query": "RETURN 1 AS one"})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = analyst.post("/api/cypher", json={"query": "RETURN 1"}, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    # the cookie: HttpOnly and SameSite=Strict; the password is nowhere in the answer
    login = httpx.post(
        f"{dashboard_url}/api/login", json={"username": "viewer", "password": PASSWORDS["viewer"]}
    )
    cookie = next(h for h in login.headers.get_list("set-cookie") if "soundbridge_session=" in h)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert PASSWORDS["viewer"] not in login.text and "hash" not in login.text
    # a page whose DNS name was rebound to 127.0.0.1 still sends its own Host: refused
    evil = httpx.get(f"{dashboard_url}/api/search?q=ewe", headers={"Host": "evil.example"})
    assert evil.status_code == 400
    # signing out ends the session
    token = viewer.headers.pop("X-CSRF-Token")
    assert viewer.post("/api/logout").status_code == 403  # signing out needs the token too
    assert viewer.get("/api/session").json()["csrf_token"] == token
    assert viewer.post("/api/logout", headers={"X-CSRF-Token": token}).status_code == 200
    assert viewer.get("/api/search", params={"q": "ewe"}).status_code == 401


@pytest.mark.reliability
def test_failed_sign_ins_are_slowed_down_and_disabled_accounts_end(
    fresh_app, dashboard_graph, monkeypatch
):
    from kg.accounts import disable_account
    from soundbridge.dashboard import auth

    app, TestClient = fresh_app
    client = TestClient(app)
    for _ in range(auth.FREE_FAILURES):
        r = client.post("/api/login", json={"username": "expert", "password": "guess-guess"})
        assert r.status_code == 401 and r.json()["detail"] == "wrong account name or password"
    r = client.post("/api/login", json={"username": "expert", "password": PASSWORDS["expert"]})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "too many failed sign-ins" in r.json()["detail"]
    # the admin account signs in from elsewhere (the throttle is per name and per address)
    admin = TestClient(app, client=("10.0.0.9", 5000))
    r = admin.post("/api/login", json={"username": "admin", "password": PASSWORDS["admin"]})
    assert r.status_code == 200 and r.json()["role"] == "admin"
    assert admin.get("/api/config").status_code == 200
    monkeypatch.setattr(auth, "ACCOUNT_TTL", 0.0)
    disable_account(dashboard_graph, "admin")
    try:
        assert admin.get("/api/config").status_code == 401
    finally:
        dashboard_graph.execute_query(
            "MATCH (a:Account {username: 'admin'}) SET a.disabled = false"
        )


@pytest.mark.reliability
def test_hostile_input_gets_clear_4xx_answers_and_changes_nothing(
    api, dashboard_url, dashboard_graph
):
    before = dashboard_graph.execute_query("MATCH (n) RETURN count(n) AS n").records[0]["n"]
    r = api.get(f"/api/node/User/{2**64}")
    assert r.status_code == 404 and "below 2^63" in r.json()["detail"]
    assert api.get("/api/node/User/²").status_code == 404  # a digit to str.isdigit, not to int()
    deep = "[" * 50_000 + "]" * 50_000
    r = api.post(
        "/api/cypher",
        content='{"query": "RETURN $p AS p", "params": {"p": ' + deep + "}}",
        headers={"content-type": "application/json"},
    )
    assert 400 <= r.status_code < 500, r.text
    for query, status, words in [
        ("LOAD CSV FROM 'http://127.0.0.1:1/x' AS r RETURN r", 400, "LOAD CSV"),
        ("CALL dbms.listConfig()", 400, "dbms.listConfig"),
        ("SHOW TRANSACTIONS", 400, "SHOW TRANSACTIONS"),
        ("TERMINATE TRANSACTIONS 'neo4j-transaction-1'", 400, "TERMINATE"),
        ("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS", 400, "IN TRANSACTIONS"),
        ("MATCH (n:Track) DETACH DELETE n", 400, "read-only"),
        ("CREATE (:Track {id: 'FROM_CULTURE'})", 400, "read-only"),
    ]:
        r = api.post("/api/cypher", json={"query": query})
        assert r.status_code == status and words in r.json()["detail"], (query, r.text)
    r = api.post("/api/cypher", json={"query": "UNWIND range(1, 5000) AS x RETURN x"})
    body = r.json()
    assert len(body["rows"]) == 1000 and "truncated at 1,000 rows" in body["truncated"]
    after = dashboard_graph.execute_query("MATCH (n) RETURN count(n) AS n").records[0]["n"]
    assert after == before


@pytest.mark.reliability
def test_a_slow_console_query_times_out_with_a_message(api, monkeypatch):
    monkeypatch.setenv("SOUNDBRIDGE_QUERY_TIMEOUT", "1")
    query = "UNWIND range(1, 100000) AS a UNWIND range(1, 100000) AS b RETURN count(*)"
    r = api.post("/api/cypher", json={"query": query})
    assert r.status_code == 408
    assert (
        "longer than 1 s" in r.json()["detail"]
        and "SOUNDBRIDGE_QUERY_TIMEOUT" in r.json()["detail"]
    )


# -- the review view (experts) ------------------------------------------------------------------


def test_review_routes_are_the_experts_and_keep_to_their_scope(
    dashboard_url, dashboard_graph, sign_in_as
):
    assert sign_in_as("analyst").get("/api/review/queue").status_code == 403
    expert = sign_in_as("expert")  # scoped to South Asia
    queue = expert.get("/api/review/queue", params={"k": 5}).json()
    assert queue["scope"] == "HRAF-south-asia" and len(queue["items"]) == 5
    item = queue["items"][0]
    assert {"track_id", "culture", "uncertainty", "predicted", "nearest_known", "audio_url"} <= set(
        item
    )
    assert len(item["predicted"]) == 3 and item["audio_url"] == f"/audio/{item['track_id']}"
    labels = expert.get("/api/review/labels").json()
    assert {"name": "Lullaby", "kind": "function"} in labels
    before = dashboard_graph.execute_query("MATCH (a:Answer) RETURN count(a) AS n").records[0]["n"]
    outside = expert.post(
        "/api/review/answer", json={"track": "NHS2-QAHO", "label": "Dance"}
    )  # an Ewe song: West Africa
    assert outside.status_code == 403 and "scope" in outside.json()["detail"]
    for body, status in [
        ({"track": "NHS2-NOPE", "label": "Dance"}, 404),
        ({"track": item["track_id"], "label": "Dancing"}, 404),
        ({"track": item["track_id"], "label": "Dance", "confidence": 1.5}, 422),
        ({"track": item["track_id"], "label": "Dance", "rationale": "x" * 1_000_000}, 422),
    ]:
        r = expert.post("/api/review/answer", json=body)
        assert r.status_code == status, (body, r.text)
    r = expert.post(
        "/api/review/link",
        json={"a": item["track_id"], "b": "NHS2-QAHO", "kind": "must_link", "rationale": "alike"},
    )
    assert r.status_code == 403  # the pair's second song is outside the scope
    after = dashboard_graph.execute_query("MATCH (a:Answer) RETURN count(a) AS n").records[0]["n"]
    assert after == before  # nothing refused was written
    made = expert.post(
        "/api/review/answer",
        json={"track": item["track_id"], "label": "Healing", "confidence": 0.8},
    ).json()
    assert made["id"].startswith("ans-") and made["expert"] == "expert"
    assert [a["id"] for a in expert.get("/api/review/log").json()][0] == made["id"]
    gone = expert.post("/api/review/retract", json={"answer_id": made["id"]})
    assert gone.status_code == 200 and gone.json()["id"] == made["id"]
    assert expert.get("/api/review/log").json() == []
