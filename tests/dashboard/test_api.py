"""The dashboard's JSON API over a real graph (no browser)."""

import httpx
import pytest

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
    for asset in ("cytoscape.min.js", "leaflet.js", "leaflet.css", "countries-110m.json"):
        assert httpx.get(f"{dashboard_url}/vendor/{asset}").status_code == 200, asset
