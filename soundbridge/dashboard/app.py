"""The dashboard's web application: a JSON API over the graph plus the static single-page front end.

Why FastAPI with Cytoscape.js and Leaflet rather than Dash: the graph explorer needs incremental,
click-driven expansion of a neighbourhood, which Cytoscape.js does natively in the browser, and the
map must work offline, which Leaflet does with a vector basemap (the world-atlas country shapes)
and no tile server. FastAPI keeps the server a thin, typed JSON layer over :mod:`kg` that the same
tests drive without a browser. Every script, style and shape file is served from this process
(``/vendor``, installed by npm into ``web/node_modules``); nothing comes from a CDN.

The cross-cultural views (search, alignment) answer from :func:`recsys.similar.served_catalogue`;
the embedding map and the metrics view draw with Plotly (loaded by the page on first use). Their
data functions live beside the concept each serves: :mod:`~soundbridge.dashboard.crosscultural`,
:mod:`~soundbridge.dashboard.embedding_map`, :mod:`~soundbridge.dashboard.metrics`.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import neo4j
from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from kg.cypher import CypherError, run_read
from kg.queries import LABELS
from loaders.errors import ConfigError, SoundbridgeError
from soundbridge.dashboard import queries as q
from soundbridge.dashboard.embedding_map import SPACES, embedding_points
from soundbridge.dashboard.metrics import dashboard_home, read_metrics

__all__ = ["EDGE_TYPES", "create_app"]

WEB = Path(__file__).resolve().parent / "web"

#: Relationship types the explorer can show, and whether they are on by default.
EDGE_TYPES: dict[str, bool] = {
    "FROM_CULTURE": True,
    "PART_OF": True,
    "SERVES_FUNCTION": True,
    "STYLE_SIMILAR": True,
    "CO_COLLECTED": True,
    "EXPERT_CONSTRAINT": True,
    "LISTENED": False,
    "FRIEND": False,
    "HAS_TAG": False,
}

#: Files the front end loads from npm packages (path under node_modules).
VENDOR: dict[str, str] = {
    "cytoscape.min.js": "cytoscape/dist/cytoscape.min.js",
    "leaflet.js": "leaflet/dist/leaflet.js",
    "leaflet.css": "leaflet/dist/leaflet.css",
    "topojson-client.min.js": "topojson-client/dist/topojson-client.min.js",
    "countries-110m.json": "world-atlas/countries-110m.json",
    "plotly.min.js": "plotly.js-dist-min/plotly.min.js",
}

#: Node properties too large or too internal for the details panel.
HIDDEN_PROPS = {"mir", "style_profile", "zc", "zs", "za", "embedding"}


class CypherRequest(BaseModel):
    """A read-only query from the Cypher console."""

    query: str
    params: dict[str, Any] = {}


def _node_id(label: str, raw: str) -> Any:
    """Graph ids of Last.fm/KGCN nodes are integers; the URL carries text."""
    if label not in LABELS:
        raise HTTPException(404, f"unknown label {label!r}; labels are {', '.join(LABELS)}")
    return int(raw) if raw.isdigit() else raw


def _key(label: str, node_id: Any) -> str:
    return f"{label}:{node_id}"


def _has_text_search() -> bool:
    """Whether ``recsys.text`` (the text-query mode) is installed, without importing recsys."""
    spec = importlib.util.find_spec("recsys")
    return any(
        (Path(p) / "text.py").is_file() for p in (spec and spec.submodule_search_locations) or ()
    )


def _library_error(e: SoundbridgeError) -> JSONResponse:
    """A library error as ``{"detail": message, "suggestions": [closest culture names]}``."""
    from soundbridge.dashboard.crosscultural import error_status

    suggestions = list(getattr(e, "suggestions", []))
    return JSONResponse({"detail": str(e), "suggestions": suggestions}, status_code=error_status(e))


def create_app(driver: neo4j.Driver, data_root: Path | None, home: Path | None = None) -> FastAPI:
    """Build the app around an open driver and the data root (for audio; ``None``: no audio).

    Args:
        driver: an open driver (see :func:`kg.connection.connect`).
        data_root: ``SOUNDBRIDGE_DATA``, where recordings are read from; ``None``: no audio.
        home: ``SOUNDBRIDGE_HOME``, where the metrics view reads the evaluation report; default:
            the one :class:`kg.config.Neo4jSettings` reads from the environment.

    Examples:
        >>> # uvicorn.run(create_app(driver, data_root()), host="127.0.0.1", port=8080)
    """
    for name, rel in VENDOR.items():
        if not (WEB / "node_modules" / rel).is_file():
            raise ConfigError(
                f"dashboard asset {name} is missing ({WEB / 'node_modules' / rel}); install the "
                f"front-end packages with `npm ci --prefix {WEB}` (make setup does this)"
            )
    app = FastAPI(title="soundbridge dashboard", docs_url="/api/docs", redoc_url=None)
    home_dir = home if home is not None else dashboard_home()

    def audio_url(track_id: str, path: str) -> str | None:
        return f"/audio/{track_id}" if path and data_root is not None else None

    def read(query: str, **params: Any) -> list[dict[str, Any]]:
        return run_read(driver, query, params).records()

    @app.get("/api/config")
    def config() -> dict[str, Any]:
        return {
            "edge_types": EDGE_TYPES,
            "audio": data_root is not None,
            "text_search": _has_text_search(),
        }

    @app.get("/api/search")
    def search(q_: str = Query(..., alias="q", min_length=1), limit: int = 20) -> list[dict]:
        return read(q.SEARCH, q=q_.strip().lower(), limit=max(1, min(limit, 100)))

    @app.get("/api/node/{label}/{node_id}")
    def node(label: str, node_id: str) -> dict[str, Any]:
        nid = _node_id(label, node_id)
        rows = read(q.NODE[label], id=nid)
        if not rows:
            raise HTTPException(404, f"no {label} with id {node_id!r}")
        row = rows[0]
        props = {k: v for k, v in row["props"].items() if k not in HIDDEN_PROPS}
        audio = f"/audio/{nid}" if label == "Track" and props.get("audio") and data_root else None
        return {
            "key": _key(label, nid),
            "label": label,
            "id": nid,
            "name": row["name"],
            "world": row["world"],
            "props": props,
            "audio_url": audio,
        }

    @app.get("/api/neighbours/{label}/{node_id}")
    def neighbours(
        label: str,
        node_id: str,
        types: Annotated[list[str] | None, Query()] = None,
        limit: int = 40,
    ) -> dict[str, Any]:
        nid = _node_id(label, node_id)
        asked = [t for t in types or [] if t in EDGE_TYPES]
        wanted = asked or [t for t, on in EDGE_TYPES.items() if on]
        centre = node(label, node_id)
        nodes = {
            centre["key"]: {
                "data": {
                    "id": centre["key"],
                    "label": label,
                    "nid": nid,
                    "name": centre["name"],
                    "world": centre["world"],
                    "function": centre["props"].get("function"),
                }
            }
        }
        edges = []
        for r in read(q.NEIGHBOURS[label], id=nid, types=wanted, limit=max(1, min(limit, 200))):
            k = _key(r["label"], r["id"])
            nodes.setdefault(
                k,
                {
                    "data": {
                        "id": k,
                        "label": r["label"],
                        "nid": r["id"],
                        "name": r["name"],
                        "world": r["world"],
                        "function": r["function"],
                    }
                },
            )
            src, dst = (centre["key"], k) if r["outgoing"] else (k, centre["key"])
            edges.append(
                {
                    "data": {
                        "id": f"{src}-{r['type']}-{dst}",
                        "source": src,
                        "target": dst,
                        "type": r["type"],
                        "weight": r["weight"],
                    }
                }
            )
        return {"centre": centre["key"], "elements": [*nodes.values(), *edges]}

    @app.get("/api/societies")
    def societies() -> list[dict[str, Any]]:
        return read(q.SOCIETIES)

    @app.get("/api/societies/{society_id}/tracks")
    def society_tracks(society_id: str) -> list[dict[str, Any]]:
        rows = read(q.SOCIETY_TRACKS, id=society_id)
        for r in rows:
            r["audio_url"] = f"/audio/{r['id']}" if r.pop("has_audio") and data_root else None
        return rows

    @app.get("/audio/{track_id}")
    def audio(track_id: str) -> FileResponse:
        if data_root is None:
            raise HTTPException(404, "audio is off: start the dashboard with SOUNDBRIDGE_DATA set")
        rows = read(q.TRACK_AUDIO, id=track_id)
        if not rows or not rows[0]["audio"]:
            raise HTTPException(404, f"no recording for track {track_id!r}")
        root = data_root.resolve()
        path = (root / rows[0]["audio"]).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise HTTPException(404, f"recording of {track_id!r} is not under the data folder")
        return FileResponse(path, media_type="audio/mpeg")

    @app.post("/api/cypher")
    def cypher(req: CypherRequest) -> dict[str, Any]:
        try:
            result = run_read(driver, req.query, req.params, limit=1000)
        except CypherError as e:  # includes ReadOnlyViolation
            raise HTTPException(400, str(e)) from e
        return {"columns": result.columns, "rows": json.loads(json.dumps(result.rows, default=str))}

    # --- cross-cultural search, alignment, embedding map, metrics --------------------------------
    @app.get("/api/tracks")
    def tracks(q_: str = Query(..., alias="q", min_length=1), limit: int = 20) -> list[dict]:
        rows = read(q.TRACK_SEARCH, q=q_.strip().lower(), limit=max(1, min(limit, 100)))
        for r in rows:
            r["audio_url"] = f"/audio/{r['id']}" if r.pop("has_audio") and data_root else None
        return rows

    # recsys (and with it torch) is imported on first use of these views, not at start-up.
    @app.get("/api/cultures")
    def cultures() -> list[dict[str, str]]:
        from recsys.cultures import load_aliases

        names = [{"name": r["name"], "kind": r["level"]} for r in read(q.CULTURE_NAMES)]
        aliases = [{"name": a, "kind": "alias"} for a, _, _ in load_aliases().values()]
        return [*names, *sorted(aliases, key=lambda a: a["name"])]

    def model() -> Any:
        """The served recommender; a graph it cannot be fitted on is a 503 naming the cause."""
        from recsys.similar import served_catalogue

        try:
            return served_catalogue(driver)
        except ValueError as e:  # e.g. fewer than two labelled functions to train on
            raise HTTPException(503, f"the cross-cultural recommender cannot be fitted: {e}") from e

    @app.get("/api/recommend", response_model=None)
    def recommend(
        track: str = Query(..., min_length=1),
        culture: str = Query(..., min_length=1),
        k: int = Query(10, ge=1, le=50),
        alignment: Literal["unbalanced", "sinkhorn", "fgw", "none"] = "unbalanced",
    ) -> dict[str, Any] | JSONResponse:
        from soundbridge.dashboard.crosscultural import recommendations

        try:
            return recommendations(model(), track.strip(), culture, k, alignment, audio_url)
        except SoundbridgeError as e:
            return _library_error(e)

    @app.get("/api/search-text", response_model=None)
    def search_text(
        q_: str = Query(..., alias="q", min_length=1),
        k: int = Query(10, ge=1, le=50),
        culture: str | None = None,
    ) -> dict[str, Any] | JSONResponse:
        if not _has_text_search():
            raise HTTPException(404, "text search is not installed (no recsys.text module)")
        from recsys.text import search_text as text_search
        from soundbridge.dashboard.crosscultural import resolved_culture

        try:
            target = resolved_culture(model(), culture) if culture else None
            results = text_search(q_.strip(), k, target_culture=culture or None, driver=driver)
        except SoundbridgeError as e:
            return _library_error(e)
        except ValueError as e:
            raise HTTPException(422, str(e)) from e
        rows = [r.to_dict() | {"audio_url": audio_url(r.track_id, r.audio)} for r in results]
        return {"query": q_.strip(), "target": target, "alignment": None, "results": rows}

    @app.get("/api/alignment", response_model=None)
    def alignment(
        source: str = Query(..., min_length=1),
        target: str = Query(..., min_length=1),
        method: Literal["unbalanced", "sinkhorn", "fgw"] = "unbalanced",
        top: int = Query(15, ge=1, le=100),
    ) -> dict[str, Any] | JSONResponse:
        from soundbridge.dashboard.crosscultural import alignment_plan

        try:
            return alignment_plan(model(), source, target, method, top)
        except SoundbridgeError as e:
            return _library_error(e)

    @app.get("/api/embeddings/{space}")
    def embeddings(space: str) -> dict[str, Any]:
        if space not in SPACES:
            raise HTTPException(404, f"unknown space {space!r}; spaces are {', '.join(SPACES)}")
        return embedding_points(space, read(q.EMBEDDING_POINTS[space]))

    @app.get("/api/metrics")
    def metrics() -> dict[str, Any]:
        return read_metrics(home_dir)

    @app.get("/vendor/{name}")
    def vendor(name: str) -> FileResponse:
        if name not in VENDOR:
            raise HTTPException(404, f"no vendored asset {name!r}")
        return FileResponse(WEB / "node_modules" / VENDOR[name])

    app.mount("/vendor/images", StaticFiles(directory=WEB / "node_modules/leaflet/dist/images"))
    app.mount("/", StaticFiles(directory=WEB / "static", html=True), name="static")
    return app
