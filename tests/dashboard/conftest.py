"""A dashboard served by uvicorn on a free port, over a real graph (CCMC + Cantometrics)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from kg.ingest import ingest
from soundbridge.dashboard import create_app

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"


@pytest.fixture(scope="module")
def dashboard_graph(neo4j_driver, graph_wiper):
    graph_wiper(neo4j_driver)
    ingest(neo4j_driver, sources=["ccmc", "cantometrics"], progress=False)
    return neo4j_driver


@pytest.fixture(scope="module")
def dashboard_url(dashboard_graph) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(dashboard_graph, Path(os.environ["SOUNDBRIDGE_DATA"]))
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
