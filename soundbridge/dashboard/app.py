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
import logging
import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import neo4j
import neo4j.exceptions
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.middleware.trustedhost import TrustedHostMiddleware

from kg.accounts import Account
from kg.cypher import CypherError, QueryTimeout, QueryTooLarge, read_records, run_read
from kg.errors import DatabaseError, DatabaseUnavailableError, database_error
from kg.queries import LABELS
from loaders.errors import ConfigError, SoundbridgeError
from soundbridge.dashboard import queries as q
from soundbridge.dashboard.auth import COOKIE, CSRF_COOKIE, Auth, SignInBusy
from soundbridge.dashboard.embedding_map import SPACES, embedding_points
from soundbridge.dashboard.metrics import dashboard_home, read_metrics

__all__ = ["EDGE_TYPES", "LOOPBACK_HOSTS", "create_app"]

WEB = Path(__file__).resolve().parent / "web"
log = logging.getLogger(__name__)

#: The Host names a dashboard on loopback answers to (any other Host header is a 400: a page on
#: another site that rebinds its DNS name to 127.0.0.1 still sends its own name).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
#: Graph ids are Neo4j integers: 64-bit signed.
_MAX_ID = 2**63 - 1

#: Relationship types the explorer can show, and whether they are on by default.
EDGE_TYPES: dict[str, bool] = {
    "FROM_CULTURE": True,
    "PART_OF": True,
    "SERVES_FUNCTION": True,
    "STYLE_SIMILAR": True,
    "CO_COLLECTED": True,
    "EXPERT_CONSTRAINT": True,
    "SIMILAR_STYLE": True,
    "SIMILAR_CONTENT": False,
    "SIMILAR_AFFECT": False,
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


class AnswerRequest(BaseModel):
    """An expert's function for a song (a Function or an active concept)."""

    track: str
    label: str
    confidence: float = 1.0
    rationale: str = ""


class LinkRequest(BaseModel):
    """An expert's must-link or cannot-link between two songs."""

    a: str
    b: str
    kind: Literal["must_link", "cannot_link"]
    rationale: str


class RetractRequest(BaseModel):
    """An answer to take back."""

    answer_id: str


class LoginRequest(BaseModel):
    """A sign-in: the account's name and password."""

    username: str
    password: str


def _node_id(label: str, raw: str) -> Any:
    """Graph ids of Last.fm/KGCN nodes are integers; the URL carries text."""
    if label not in LABELS:
        raise HTTPException(404, f"unknown label {label!r}; labels are {', '.join(LABELS)}")
    if raw.isascii() and raw.isdigit():
        value = int(raw)
        if value > _MAX_ID:
            raise HTTPException(404, f"no {label} with id {raw!r} (ids are below 2^63)")
        return value
    return raw


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


def _error_handlers(app: FastAPI, uri: str) -> None:
    """Every expected failure as a prompt JSON answer with a one-line ``detail``: bad queries 400
    (too slow 408, too big 413), bad input 400/422, Neo4j down 503; a bug is a 500 that says so
    (its traceback goes to the log, never to the client)."""

    def answer(status: int, detail: str) -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(CypherError)
    def cypher_error(request: Request, e: CypherError) -> JSONResponse:
        status = (
            408 if isinstance(e, QueryTimeout) else 413 if isinstance(e, QueryTooLarge) else 400
        )
        return answer(status, str(e))

    @app.exception_handler(DatabaseError)
    def soundbridge_database_error(request: Request, e: DatabaseError) -> JSONResponse:
        return answer(503 if isinstance(e, DatabaseUnavailableError) else 500, str(e))

    @app.exception_handler(neo4j.exceptions.DriverError)
    @app.exception_handler(neo4j.exceptions.Neo4jError)
    @app.exception_handler(OSError)
    def driver_error(request: Request, e: Exception) -> JSONResponse:
        error = database_error(e, uri)  # the CLI's words for the same failure
        if not isinstance(error, DatabaseUnavailableError):
            log.warning("Neo4j refused a dashboard request %s: %s", request.url.path, error)
        return answer(503 if isinstance(error, DatabaseUnavailableError) else 500, str(error))

    @app.exception_handler(RecursionError)
    def too_deep(request: Request, e: RecursionError) -> JSONResponse:
        return answer(400, "the request nests too deeply; send flatter JSON")

    @app.exception_handler(RequestValidationError)
    def bad_input(request: Request, e: RequestValidationError) -> JSONResponse:
        parts = [
            f"{'.'.join(str(x) for x in err.get('loc', ())[1:]) or 'body'}: {err.get('msg')}"
            for err in e.errors()[:3]
        ]
        return answer(422, "; ".join(parts) or "the request is not valid")

    @app.exception_handler(Exception)
    def bug(request: Request, e: Exception) -> JSONResponse:
        log.exception("dashboard request %s %s failed", request.method, request.url.path)
        return answer(500, f"internal error ({type(e).__name__}); the server log has the details")


def create_app(
    driver: neo4j.Driver,
    data_root: Path | None,
    home: Path | None = None,
    *,
    allowed_hosts: list[str] | tuple[str, ...] = LOOPBACK_HOSTS,
    secure_cookies: bool = False,
    neo4j_uri: str = "NEO4J_URI",
) -> FastAPI:
    """Build the app around an open driver and the data root (for audio; ``None``: no audio).

    Every ``/api`` route but ``/api/login`` needs a signed-in account with the route's role
    (:mod:`soundbridge.dashboard.auth`); the page and its scripts are public.

    Args:
        driver: an open driver (see :func:`kg.connection.connect`).
        data_root: ``SOUNDBRIDGE_DATA``, where recordings are read from; ``None``: no audio.
        home: ``SOUNDBRIDGE_HOME``, where the metrics view reads the evaluation report and the
            account key is kept; default: the one :class:`kg.config.Neo4jSettings` reads from the
            environment.
        allowed_hosts: the Host header values answered (others get 400); default loopback.
        secure_cookies: send the session cookie only over HTTPS (behind a TLS proxy).
        neo4j_uri: where the graph is, for messages when it does not answer.

    Examples:
        >>> # uvicorn.run(create_app(driver, data_root()), host="127.0.0.1", port=8080)
    """
    for name, rel in VENDOR.items():
        if not (WEB / "node_modules" / rel).is_file():
            raise ConfigError(
                f"dashboard asset {name} is missing ({WEB / 'node_modules' / rel}); install the "
                f"front-end packages with `npm ci --prefix {WEB}` (make setup does this)"
            )
    app = FastAPI(title="soundbridge dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    home_dir = home if home is not None else dashboard_home()
    auth = Auth(driver, home_dir, secure_cookies=secure_cookies)
    viewer = [Depends(auth.require("viewer"))]
    analyst = [Depends(auth.require("analyst"))]
    _error_handlers(app, neo4j_uri)

    def audio_url(track_id: Any, path: str | None) -> str | None:
        """Where the page plays a track's recording (added ones are served without the data)."""
        servable = data_root is not None or (path or "").startswith("added:")
        return f"/audio/{track_id}" if path and servable else None

    def read(query: str, **params: Any) -> list[dict[str, Any]]:
        return read_records(driver, query, params)

    # --- accounts --------------------------------------------------------------------------------
    @app.post("/api/login")
    def login(req: LoginRequest, request: Request, response: Response) -> dict[str, Any]:
        client = request.client.host if request.client else "?"
        wait = auth.wait_before_login(req.username, client)
        if wait > 0:
            raise HTTPException(
                429,
                f"too many failed sign-ins; try again in {wait:.0f} s",
                headers={"Retry-After": str(int(wait) + 1)},
            )
        try:
            made = auth.login(req.username, req.password, client)
        except SignInBusy as e:
            raise HTTPException(503, str(e), headers={"Retry-After": "5"}) from e
        if made is None:
            raise HTTPException(401, "wrong account name or password")
        token, session = made
        response.set_cookie(
            COOKIE, token, httponly=True, samesite="strict", secure=secure_cookies, path="/"
        )
        # Readable by the page's own script (and no other site's), so a reload knows it is
        # signed in and has the token to send back; the server still checks it per session.
        response.set_cookie(
            CSRF_COOKIE, session.csrf, samesite="strict", secure=secure_cookies, path="/"
        )
        return {**session.account.to_dict(), "csrf_token": session.csrf}

    @app.get("/api/session")
    def session(request: Request) -> dict[str, Any]:
        current = auth.session(request.cookies.get(COOKIE))
        if current is None:
            raise HTTPException(401, "sign in first (POST /api/login)")
        return {**current.account.to_dict(), "csrf_token": current.csrf}

    @app.post("/api/logout", dependencies=viewer)
    def logout(request: Request, response: Response) -> dict[str, bool]:
        auth.logout(request.cookies.get(COOKIE))
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        response.delete_cookie(CSRF_COOKIE, path="/", samesite="strict")
        return {"signed_out": True}

    @app.get("/api/openapi.json", dependencies=viewer)
    def openapi() -> dict[str, Any]:
        return app.openapi()

    # --- the graph -----------------------------------------------------------------------------
    @app.get("/api/config", dependencies=viewer)
    def config(request: Request) -> dict[str, Any]:
        account: Account = request.state.account
        return {
            "edge_types": EDGE_TYPES,
            "audio": data_root is not None,
            "text_search": _has_text_search(),
            "account": account.to_dict(),
        }

    @app.get("/api/search", dependencies=viewer)
    def search(q_: str = Query(..., alias="q", min_length=1), limit: int = 20) -> list[dict]:
        return read(q.SEARCH, q=q_.strip().lower(), limit=max(1, min(limit, 100)))

    @app.get("/api/node/{label}/{node_id}", dependencies=viewer)
    def node(label: str, node_id: str) -> dict[str, Any]:
        nid = _node_id(label, node_id)
        rows = read(q.NODE[label], id=nid)
        if not rows:
            raise HTTPException(404, f"no {label} with id {node_id!r}")
        row = rows[0]
        props = {k: v for k, v in row["props"].items() if k not in HIDDEN_PROPS}
        audio = audio_url(nid, props.get("audio")) if label == "Track" else None
        return {
            "key": _key(label, nid),
            "label": label,
            "id": nid,
            "name": row["name"],
            "world": row["world"],
            "props": props,
            "audio_url": audio,
        }

    @app.get("/api/neighbours/{label}/{node_id}", dependencies=viewer)
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

    @app.get("/api/societies", dependencies=viewer)
    def societies() -> list[dict[str, Any]]:
        return read(q.SOCIETIES)

    @app.get("/api/societies/{society_id}/tracks", dependencies=viewer)
    def society_tracks(society_id: str) -> list[dict[str, Any]]:
        rows = read(q.SOCIETY_TRACKS, id=society_id)
        for r in rows:
            r["audio_url"] = f"/audio/{r['id']}" if r.pop("has_audio") and data_root else None
        return rows

    @app.get("/audio/{track_id}", dependencies=viewer)
    def audio(track_id: str) -> FileResponse:
        from audio.files import track_audio_path

        rows = read(q.TRACK_AUDIO, id=track_id)
        if not rows or not rows[0]["audio"]:
            raise HTTPException(404, f"no recording for track {track_id!r}")
        path = track_audio_path(rows[0]["audio"], data_root, home_dir)
        if path is None:
            where = "data folder (SOUNDBRIDGE_DATA)" if data_root else "served folders"
            raise HTTPException(404, f"the recording of {track_id!r} is not in the {where}")
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media)

    @app.post("/api/cypher", dependencies=analyst)
    def cypher(req: CypherRequest) -> dict[str, Any]:
        result = run_read(driver, req.query, req.params)  # CypherErrors: see _error_handlers
        return {
            "columns": result.columns,
            "rows": json.loads(json.dumps(result.rows, default=str)),
            "truncated": result.notice,
        }

    # --- cross-cultural search, alignment, embedding map, metrics --------------------------------
    @app.get("/api/tracks", dependencies=viewer)
    def tracks(q_: str = Query(..., alias="q", min_length=1), limit: int = 20) -> list[dict]:
        rows = read(q.TRACK_SEARCH, q=q_.strip().lower(), limit=max(1, min(limit, 100)))
        for r in rows:
            r["audio_url"] = f"/audio/{r['id']}" if r.pop("has_audio") and data_root else None
        return rows

    # recsys (and with it torch) is imported on first use of these views, not at start-up.
    @app.get("/api/cultures", dependencies=viewer)
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

    @app.get("/api/recommend", response_model=None, dependencies=viewer)
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

    @app.get("/api/search-text", response_model=None, dependencies=viewer)
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

    @app.get("/api/alignment", response_model=None, dependencies=viewer)
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

    # --- review (experts) ------------------------------------------------------------------------
    expert = [Depends(auth.require("expert"))]

    @app.get("/api/review/queue", response_model=None, dependencies=expert)
    def review_queue(
        request: Request,
        k: int = Query(20, ge=1, le=100),
        culture: str | None = None,
        concept: str | None = None,
    ) -> dict[str, Any] | JSONResponse:
        from kg.expert import list_concepts
        from recsys.concepts import resolve_concept
        from soundbridge.dashboard.review import queue_for

        try:
            asked = resolve_concept(concept, list_concepts(driver)) if concept else None
            return queue_for(model(), request.state.account, culture, k, audio_url, asked)
        except SoundbridgeError as e:
            return _library_error(e)

    @app.get("/api/review/labels", dependencies=expert)
    def review_labels() -> list[dict[str, str]]:
        from kg.expert import list_concepts

        names = [{"name": r["name"], "kind": "function"} for r in read(q.FUNCTION_NAMES)]
        return names + [{"name": c.name, "kind": "concept"} for c in list_concepts(driver)]

    def expert_action(action: Callable[[], Any]) -> dict[str, Any] | JSONResponse:
        from soundbridge.dashboard.review import answer_status

        try:
            return dict(action().to_dict())
        except SoundbridgeError as e:
            return JSONResponse({"detail": str(e)}, status_code=answer_status(e))

    @app.post("/api/review/answer", response_model=None, dependencies=expert)
    def review_answer(req: AnswerRequest, request: Request) -> dict[str, Any] | JSONResponse:
        from kg.expert import answer_function

        return expert_action(
            lambda: answer_function(
                driver,
                req.track.strip(),
                req.label,
                expert=request.state.account.username,
                confidence=req.confidence,
                rationale=req.rationale,
            )
        )

    @app.post("/api/review/link", response_model=None, dependencies=expert)
    def review_link(req: LinkRequest, request: Request) -> dict[str, Any] | JSONResponse:
        from kg.expert import answer_link

        return expert_action(
            lambda: answer_link(
                driver,
                req.a.strip(),
                req.b.strip(),
                req.kind,
                expert=request.state.account.username,
                rationale=req.rationale,
            )
        )

    @app.post("/api/review/retract", response_model=None, dependencies=expert)
    def review_retract(req: RetractRequest, request: Request) -> dict[str, Any] | JSONResponse:
        from kg.expert import retract

        return expert_action(
            lambda: retract(driver, req.answer_id.strip(), by=request.state.account.username)
        )

    @app.get("/api/review/log", dependencies=expert)
    def review_log(request: Request) -> list[dict[str, Any]]:
        from kg.expert import answers

        account: Account = request.state.account
        mine = None if account.role == "admin" else account.username
        return [a.to_dict() for a in answers(driver, expert=mine)]

    @app.get("/api/embeddings/{space}", dependencies=viewer)
    def embeddings(space: str) -> dict[str, Any]:
        if space not in SPACES:
            raise HTTPException(404, f"unknown space {space!r}; spaces are {', '.join(SPACES)}")
        return embedding_points(space, read(q.EMBEDDING_POINTS[space]))

    @app.get("/api/metrics", dependencies=viewer)
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
