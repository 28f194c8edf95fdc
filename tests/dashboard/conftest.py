"""A dashboard served by uvicorn on a free port, over a real graph (CCMC + Cantometrics).

The real CCMC tracks get known-answer audio factors and GNN embeddings (16 dimensions each, drawn
with a fixed seed), so the cross-cultural views have something to fit on and a predictable answer:

- ``za`` (affect) is the centre of the track's public function plus a little noise, so the function
  model learns the labels and a Dance query's best match in a culture is its Dance song; tracks
  whose function is withheld get noise only.
- ``zs`` (style) and the GNN ``embedding`` are the centre of the track's HRAF region plus noise, so
  the embedding map shows one cluster per region; ``zc`` (content) is noise.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import neo4j
import numpy as np
import pytest
import uvicorn

from audio.graph import store_factors
from gnn.queries import set_embeddings
from kg.accounts import ROLES, account_key, add_account
from kg.ingest import ingest
from soundbridge.dashboard import LOOPBACK_HOSTS, create_app

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
DIM = 16

# Test-only Cypher: what the known-answer factors are drawn from.
_TRACKS = "MATCH (t:Track) RETURN t.id AS id, t.function AS function, t.hraf_region AS region"


def store_known_factors(driver: neo4j.Driver, seed: int = 0) -> int:
    """Give every Track ``zc``/``zs``/``za`` and a GNN ``embedding`` (see the module docstring)."""
    records, _, _ = driver.execute_query(_TRACKS, routing_=neo4j.RoutingControl.READ)
    rows = sorted((r["id"], r["function"] or "", r["region"] or "") for r in records)
    ids = [r[0] for r in rows]
    functions = sorted({r[1] for r in rows if r[1]})
    regions = sorted({r[2] for r in rows})
    rng = np.random.default_rng(seed)
    f_centre = {f: 3.0 * rng.normal(size=DIM) for f in functions} | {"": np.zeros(DIM)}
    r_centre = {r: 3.0 * rng.normal(size=DIM) for r in regions}
    n = len(rows)
    za = np.array([f_centre[r[1]] for r in rows]) + 0.5 * rng.normal(size=(n, DIM))
    zs = np.array([r_centre[r[2]] for r in rows]) + 0.5 * rng.normal(size=(n, DIM))
    zc = rng.normal(size=(n, DIM))
    gnn = np.array([r_centre[r[2]] for r in rows]) + 0.5 * rng.normal(size=(n, DIM))
    driver.execute_query(
        set_embeddings("Track"),
        rows=[{"id": t, "embedding": v.tolist()} for t, v in zip(ids, gnn, strict=True)],
    )
    return store_factors(driver, ids, zc, zs, za)


#: One account per role, made in the dashboard's graph; each password is ``PASSWORDS[role]``.
PASSWORDS = {role: f"{role}-password-1" for role in ROLES}
#: The Host the in-process test client sends, allowed beside the loopback names.
HOSTS = [*LOOPBACK_HOSTS, "testserver"]


@pytest.fixture(scope="module")
def dashboard_home(tmp_path_factory) -> Path:
    """The dashboard's ``SOUNDBRIDGE_HOME``: its metrics report and the account key."""
    return tmp_path_factory.mktemp("dashboard-home")


@pytest.fixture(scope="module")
def dashboard_graph(neo4j_driver, graph_wiper, dashboard_home):
    graph_wiper(neo4j_driver)
    ingest(neo4j_driver, sources=["ccmc", "cantometrics"], progress=False)
    assert store_known_factors(neo4j_driver) == 1007
    key = account_key(dashboard_home)
    for role, password in PASSWORDS.items():
        scopes = ["HRAF-south-asia"] if role == "expert" else []  # 18 songs without a label
        add_account(neo4j_driver, role, password, role, key=key, scopes=scopes)
    return neo4j_driver


def signed_in(base_url: str, role: str = "analyst") -> httpx.Client:
    """An HTTP client signed in as the test account of ``role``, sending its CSRF token."""
    client = httpx.Client(base_url=base_url, timeout=60)
    r = client.post("/api/login", json={"username": role, "password": PASSWORDS[role]})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client


@pytest.fixture
def sign_in_as(dashboard_url) -> Iterator[Callable[[str], httpx.Client]]:
    """Make signed-in clients (``sign_in_as("viewer")``); each is closed after the test."""
    made: list[httpx.Client] = []

    def make(role: str) -> httpx.Client:
        made.append(signed_in(dashboard_url, role))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture(scope="module")
def api(dashboard_url) -> Iterator[httpx.Client]:
    """A client of the served dashboard, signed in as an analyst."""
    client = signed_in(dashboard_url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def dashboard_url(dashboard_graph, dashboard_home) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(
        dashboard_graph, Path(os.environ["SOUNDBRIDGE_DATA"]), dashboard_home, allowed_hosts=HOSTS
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "dashboard did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


#: A small cross-cultural evaluation report, shaped as ``soundbridge evaluate`` writes it.
METRICS_REPORT = {
    "generated": "2025-01-01T00:00:00",
    "k": 10,
    "methods": {
        "random": {
            "function_share": 0.1,
            "chance": 0.1,
            "minority_exposure": 0.2,
            "calibration_kl": 0.9,
            "serendipity": 0.05,
            "ndcg": 0.1,
            "coverage": 0.8,
        },
        "no-alignment": {
            "function_share": 0.25,
            "chance": 0.1,
            "minority_exposure": 0.3,
            "calibration_kl": 0.5,
            "serendipity": 0.12,
            "ndcg": 0.3,
        },
        "ot-unbalanced": {
            "function_share": 0.35,
            "function_share_ci95": [0.3, 0.4],
            "chance": 0.1,
            "minority_exposure": 0.45,
            "calibration_kl": 0.3,
            "serendipity": 0.2,
            "ndcg": 0.4,
        },
    },
}


def write_metrics(home: Path) -> Path:
    """Write :data:`METRICS_REPORT` where the dashboard reads it under ``home``."""
    import json

    path = home / "reports" / "crosscultural" / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(METRICS_REPORT))
    return path
