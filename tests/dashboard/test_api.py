"""The dashboard's JSON API over a real graph (no browser)."""

import httpx
import pytest

from tests.dashboard.conftest import write_metrics

pytestmark = pytest.mark.neo4j


def test_search_finds_a_society_first(dashboard_url):
    rows = httpx.get(f"{dashboard_url}/api/search", params={"q": "ewe"}).json()
    assert rows[0] == {"label": "Culture", "id": "CCMCewee1241", "name": "Ewe", "level": "society"}


def test_neighbours_are_cytoscape_elements_of_the_asked_types(dashboard_url):
    res = httpx.get(
        f"{dashboard_url}/api/neighbours/Culture/CCMCewee1241", params={"types": "STYLE_SIMILAR"}
    ).json()
    edges = [e["data"] for e in res["elements"] if "source" in e["data"]]
    assert {e["type"] for e in edges} == {"STYLE_SIMILAR"}
    ewe = "Culture:CCMCewee1241"
    assert sum(e["source"] == ewe for e in edges) == 5  # its 5 style neighbours, plus any
    assert all(ewe in (e["source"], e["target"]) for e in edges)  # society naming Ewe as its own
    nodes = {e["data"]["id"]: e["data"] for e in res["elements"] if "source" not in e["data"]}
    assert nodes["Culture:CCMCakan1250"]["world"] == "Africa"


def test_audio_is_served_from_the_data_folder_and_traversal_is_refused(dashboard_url):
    ok = httpx.get(f"{dashboard_url}/audio/NHS2-TBMU")
    assert ok.status_code == 200 and ok.headers["content-type"] == "audio/mpeg"
    assert ok.content[:3] in (b"ID3", b"\xff\xfb", b"\xff\xf3")
    assert httpx.get(f"{dashboard_url}/audio/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_cypher_is_read_only(dashboard_url):
    r = httpx.post(f"{dashboard_url}/api/cypher", json={"query": "CREATE (n:Track {id: 'x'})"})
    assert r.status_code == 400 and "read-only" in r.json()["detail"]
    r = httpx.post(
        f"{dashboard_url}/api/cypher",
        json={"query": "MATCH (f:Function) RETURN count(f) AS n"},
    )
    assert r.json() == {"columns": ["n"], "rows": [[10]]}


def test_unknown_label_and_node_give_404_with_a_reason(dashboard_url):
    r = httpx.get(f"{dashboard_url}/api/node/Planet/1")
    assert r.status_code == 404 and "unknown label 'Planet'" in r.json()["detail"]
    r = httpx.get(f"{dashboard_url}/api/node/Track/NHS2-NOPE")
    assert r.status_code == 404 and "no Track with id" in r.json()["detail"]


def test_every_asset_is_local(dashboard_url):
    html = httpx.get(dashboard_url + "/").text
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    for asset in (
        "cytoscape.min.js",
        "leaflet.js",
        "leaflet.css",
        "countries-110m.json",
        "plotly.min.js",
    ):
        assert httpx.get(f"{dashboard_url}/vendor/{asset}").status_code == 200, asset


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


def _get(url: str, **params) -> httpx.Response:
    return httpx.get(url, params=params, timeout=120)


def test_track_search_lists_songs_with_factors_and_their_recording(dashboard_url):
    rows = _get(f"{dashboard_url}/api/tracks", q="abkhaz dance").json()
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


def test_recommend_gives_k_songs_of_the_target_culture_with_explanations(dashboard_url):
    res = _get(f"{dashboard_url}/api/recommend", track="NHS2-TBMU", culture="Central Andes", k=5)
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


def test_recommend_resolves_aliases_and_takes_an_alignment(dashboard_url):
    body = _get(f"{dashboard_url}/api/recommend", track="NHS2-TBMU", culture="Quechua", k=3).json()
    assert body["target"]["via"] == "alias" and len(body["target"]["ids"]) > 1
    assert all("Quechua" in r["culture_name"] for r in body["results"])
    for alignment in ("none", "sinkhorn"):
        body = _get(
            f"{dashboard_url}/api/recommend",
            track="NHS2-TBMU",
            culture="Andean",
            k=3,
            alignment=alignment,
        ).json()
        assert body["alignment"] == alignment and body["results"][0]["track_id"] == "NHS2-CN26"
    bad = _get(f"{dashboard_url}/api/recommend", track="NHS2-TBMU", culture="Andean", alignment="x")
    assert bad.status_code == 422


def test_recommend_errors_are_404_and_422_with_the_closest_cultures(dashboard_url):
    r = _get(f"{dashboard_url}/api/recommend", track="NHS2-NOPE", culture="Andean")
    assert r.status_code == 404 and "'NHS2-NOPE' is not in the catalogue" in r.json()["detail"]
    r = _get(f"{dashboard_url}/api/recommend", track="NHS2-TBMU", culture="Andes mountains")
    assert r.status_code == 422 and "unknown culture 'Andes mountains'" in r.json()["detail"]
    assert "Central Andes" in r.json()["suggestions"]
    # a society with a single recording has nothing to recommend when that recording is the query
    lone = httpx.post(
        f"{dashboard_url}/api/cypher",
        json={
            "query": "MATCH (c:Culture {level: 'society'})<-[:FROM_CULTURE]-(t:Track) "
            "WITH c, collect(t.id) AS ts WHERE size(ts) = 1 "
            "RETURN c.name AS name, ts[0] AS track ORDER BY name LIMIT 1"
        },
    ).json()["rows"][0]
    r = _get(f"{dashboard_url}/api/recommend", track=lone[1], culture=lone[0])
    assert (
        r.status_code == 422
        and "no track with audio factors other than the query" in (r.json()["detail"])
    )


# --- alignment ------------------------------------------------------------------------------
def test_alignment_plan_couples_songs_of_the_same_function(dashboard_url):
    body = _get(
        f"{dashboard_url}/api/alignment", source="Western Africa", target="Central Andes", top=5
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


def test_alignment_of_an_unknown_culture_is_422_with_suggestions(dashboard_url):
    r = _get(f"{dashboard_url}/api/alignment", source="Andes mountains", target="Polynesia")
    assert r.status_code == 422 and "Central Andes" in r.json()["suggestions"]


# --- embedding map --------------------------------------------------------------------------
@pytest.mark.parametrize("space", ["zc", "zs", "za", "gnn"])
def test_embedding_map_projects_every_track(dashboard_url, space):
    body = _get(f"{dashboard_url}/api/embeddings/{space}").json()
    assert body["dim"] == 16 and len(body["points"]) == 1007 and body["message"] == ""
    assert body["explained"][0] >= body["explained"][1] > 0
    tbmu = next(p for p in body["points"] if p["id"] == "NHS2-TBMU")
    assert (tbmu["name"], tbmu["culture"], tbmu["function"]) == (
        "Abkhaz dance song (NHS2-TBMU)",
        "Caucasus",
        "Dance",
    )
    assert sum(p["function"] == "unknown" for p in body["points"]) == 201  # withheld labels


def test_embedding_map_of_an_unknown_space_is_404(dashboard_url):
    r = _get(f"{dashboard_url}/api/embeddings/zq")
    assert r.status_code == 404 and "spaces are zc, zs, za, gnn" in r.json()["detail"]


# --- metrics --------------------------------------------------------------------------------
def test_metrics_without_a_report_say_to_run_evaluate(dashboard_url, dashboard_home):
    (dashboard_home / "reports/crosscultural/metrics.json").unlink(missing_ok=True)
    body = _get(f"{dashboard_url}/api/metrics").json()
    assert body["available"] is False
    assert "Run `soundbridge evaluate`" in body["message"] and body["path"] in body["message"]


def test_metrics_report_is_read_with_known_metrics_first(dashboard_url, dashboard_home):
    write_metrics(dashboard_home)
    body = _get(f"{dashboard_url}/api/metrics").json()
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
def test_config_says_whether_text_search_exists(dashboard_url):
    import importlib.util

    has = importlib.util.find_spec("recsys.text") is not None
    assert httpx.get(f"{dashboard_url}/api/config").json()["text_search"] is has


def test_text_search_answers_with_songs_of_the_named_culture(
    dashboard_url, dashboard_home, monkeypatch
):
    pytest.importorskip("recsys.text")
    monkeypatch.setenv("SOUNDBRIDGE_HOME", str(dashboard_home))  # the text heads' cache
    r = _get(f"{dashboard_url}/api/search-text", q="a lullaby", culture="Central Andes", k=3)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"] == "a lullaby" and body["target"]["name"] == "Central Andes"
    assert len(body["results"]) == 3
    assert {x["culture_name"] for x in body["results"]} <= CENTRAL_ANDES_SOCIETIES
    assert all(x["audio_url"] == f"/audio/{x['track_id']}" for x in body["results"])
    r = _get(f"{dashboard_url}/api/search-text", q="a lullaby", culture="Andes mountains")
    assert r.status_code == 422 and "Central Andes" in r.json()["suggestions"]
