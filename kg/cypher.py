"""Cypher for analysts: read-only, allow-listed, and limited in time, memory and size.

Every analyst query (``soundbridge cypher``, the dashboard's console, :func:`run_read`) goes
through :func:`run_read`, which

- refuses, before anything runs, what an analyst has no business asking a shared server: any
  procedure or namespaced function outside :data:`ALLOWED_PROCEDURES` /
  :data:`ALLOWED_FUNCTIONS` (so no ``dbms.*``, no connection or transaction management), ``SHOW``
  of anything but indexes, constraints, procedures and functions, ``TERMINATE``, ``LOAD CSV``
  (the server would fetch files and URLs), ``USE`` (other databases, ``system`` among them) and
  ``CALL {…} IN TRANSACTIONS`` (:class:`QueryRefused`);
- runs it in a READ transaction, so the server refuses any write (:class:`ReadOnlyViolation`),
  with a transaction timeout that the *server* enforces (:class:`QueryTimeout`): a query whose
  client went away still stops;
- stops reading at a number of rows and of bytes and says so (:attr:`QueryResult.notice`); a
  single row larger than the byte cap is refused (:class:`QueryTooLarge`);
- asks the server for its warnings about the query, which the project's own queries leave off
  (:mod:`kg.connection`), and hands them on in the notice in the analyst's terms: a misspelled
  label, relationship type or property matches nothing, and the empty result says why, with the
  closest name the graph has;
- words the server's errors in one line, at the line and column of the query as it was written
  (not of the text sent, where projected graphs' names are parameters), and tells a procedure or
  function that does not exist (with the closest allowed names) from one that is refused.

The server's own per-transaction memory cap (``db.memory.transaction.max``, which soundbridge's
local server sets to half its heap) ends a query that would use more; that failure reaches the
caller as :class:`QueryTooLarge` too. The limits are settings (:class:`QueryLimits`):
``SOUNDBRIDGE_QUERY_TIMEOUT`` (seconds, default 30), ``SOUNDBRIDGE_QUERY_MAX_ROWS`` (1000),
``SOUNDBRIDGE_QUERY_MAX_BYTES`` (10000000) and ``SOUNDBRIDGE_QUERY_MAX_PROJECTION_BYTES``
(200000000); every message names the one that was hit.

Graph algorithms (Graph Data Science) run on an in-memory projection that ``gds.graph.project``
puts in the server's graph catalog, which outlives the transaction and, on Neo4j Community where
everyone connects as one user, is shared by everyone. So an analyst's projections belong to one
query:

- the query projects its own graphs (``CALL gds.graph.project('styles', …) YIELD graphName``)
  and hands them on by that literal name or by the ``graphName`` it yields; a graph it did not
  project cannot be named, and ``sudo`` (which turns off GDS's memory guard) is refused;
- each projected name is replaced, as a parameter, by a name of its own
  (``analyst:<deadline>:<random>:styles``), so two people running the same example do not
  collide, and every such graph is dropped in a ``finally`` when the query ends, however it ends;
  a graph left by a process that was killed is dropped by the next analyst query that projects,
  once the deadline in its name has passed;
- before anything runs, GDS's estimate of each projection is compared with
  ``SOUNDBRIDGE_QUERY_MAX_PROJECTION_BYTES`` (:class:`QueryTooLarge` when over), and GDS's own
  memory guard refuses an algorithm whose estimate exceeds the heap it has free (also
  :class:`QueryTooLarge`);
- GDS notices the end of a transaction only every 10 s, and some algorithms (betweenness) then
  return what they have so far instead of failing; a GDS query that outlived its time limit is
  therefore reported as :class:`QueryTimeout`, never as a result.

The project's own parameterised queries (the dashboard's views) use :func:`read_records`: the same
read transaction and timeout, without the analyst's allow-list and caps.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import neo4j
import neo4j.exceptions
import neo4j.graph

from kg import queries as q
from kg.config import HEAP_MAX_ENV
from kg.errors import DatabaseError
from loaders.errors import ConfigError

__all__ = [
    "ALLOWED_FUNCTIONS",
    "ALLOWED_PROCEDURES",
    "CypherError",
    "GDS_ALGORITHMS",
    "QueryLimits",
    "QueryRefused",
    "QueryResult",
    "QueryTimeout",
    "QueryTooLarge",
    "ReadOnlyViolation",
    "check_allowed",
    "format_table",
    "read_records",
    "run_read",
]

TIMEOUT_ENV = "SOUNDBRIDGE_QUERY_TIMEOUT"
MAX_ROWS_ENV = "SOUNDBRIDGE_QUERY_MAX_ROWS"
MAX_BYTES_ENV = "SOUNDBRIDGE_QUERY_MAX_BYTES"
MAX_PROJECTION_ENV = "SOUNDBRIDGE_QUERY_MAX_PROJECTION_BYTES"

#: Graph Data Science algorithms analysts may run, each with the modes they may run it in. Every
#: algorithm also has ``.estimate`` of each mode. ``.mutate`` is allowed: it adds the result (a
#: property, or relationships) to the projection itself, in memory and never in the database,
#: which is how one algorithm feeds the next in a single statement (FastRP embeddings → KNN); the
#: projection is the query's own and is dropped with it, and GDS's memory guard counts what mutate
#: adds. ``.write`` stores results in the database and is refused (the READ transaction would
#: refuse it too, with a less helpful message).
GDS_ALGORITHMS: dict[str, tuple[str, ...]] = {
    # community detection
    "louvain": ("stream", "stats", "mutate"),
    "leiden": ("stream", "stats", "mutate"),
    "wcc": ("stream", "stats", "mutate"),
    # centrality
    "pageRank": ("stream", "stats", "mutate"),
    "betweenness": ("stream", "stats", "mutate"),
    "degree": ("stream", "stats", "mutate"),
    # similarity
    "nodeSimilarity": ("stream", "stats", "mutate"),
    "knn": ("stream", "stats", "mutate"),
    # paths
    "shortestPath.dijkstra": ("stream", "mutate"),
    "bfs": ("stream", "stats", "mutate"),
    # embeddings
    "fastRP": ("stream", "stats", "mutate"),
}

#: GDS's graph catalog as analysts may use it: project (natively), estimate a projection, list,
#: drop, and read the properties an algorithm's ``.mutate`` added.
_GDS_CATALOG = (
    "gds.graph.project",
    "gds.graph.project.estimate",
    "gds.graph.list",
    "gds.graph.drop",
    "gds.graph.nodeProperty.stream",
    "gds.graph.nodeProperties.stream",
)
_GDS_ALGORITHM_PROCEDURES = tuple(
    f"gds.{algo}.{mode}{estimate}"
    for algo, modes in GDS_ALGORITHMS.items()
    for mode in modes
    for estimate in ("", ".estimate")
)

#: Procedures an analyst may CALL: the schema, and the full-text and vector indexes.
ALLOWED_PROCEDURES = frozenset(
    {
        "db.labels",
        "db.relationshipTypes",
        "db.propertyKeys",
        "db.schema.visualization",
        "db.schema.nodeTypeProperties",
        "db.schema.relTypeProperties",
        "db.index.fulltext.queryNodes",
        "db.index.fulltext.queryRelationships",
        "db.index.vector.queryNodes",
        "db.index.vector.queryRelationships",
        "db.ping",
        # APOC Core: the schema's summary, and bounded path expansion (read-only).
        "apoc.meta.schema",
        "apoc.meta.stats",
        "apoc.path.expandConfig",
        "apoc.path.subgraphNodes",
        "apoc.path.subgraphAll",
        "apoc.path.spanningTree",
        # GDS: its version, the catalog and the algorithms of GDS_ALGORITHMS, on projections
        # that belong to the query (see the module docstring and _check_gds).
        "gds.version",
        *_GDS_CATALOG,
        *_GDS_ALGORITHM_PROCEDURES,
    }
)

#: Namespaced functions an analyst may use (a name ending in ``.`` allows the whole
#: namespace). Functions without a namespace are Cypher's own (``count``, ``toLower``, …) and are
#: all allowed.
ALLOWED_FUNCTIONS = frozenset(
    {
        "date.",
        "datetime.",
        "localdatetime.",
        "localtime.",
        "time.",
        "duration.",
        "point.distance",
        "point.withinBBox",
        "vector.similarity.cosine",
        "vector.similarity.euclidean",
        "db.nameFromElementId",
        # APOC Core's pure functions: on values, never on the store or the network.
        "apoc.version",
        "apoc.coll.",
        "apoc.text.",
        "apoc.map.",
        "apoc.convert.",
        "apoc.math.",
        "apoc.number.",
        "apoc.date.",
        "apoc.temporal.",
        "apoc.label.exists",
        "apoc.node.degree",
        "apoc.node.degree.in",
        "apoc.node.degree.out",
        "apoc.node.labels",
        "apoc.rel.type",
        "gds.version",
        # GDS's functions on values and on the nodes an algorithm streams back by id.
        "gds.util.asNode",
        "gds.util.asNodes",
        "gds.util.nodeProperty",
        "gds.util.NaN",
        "gds.util.infinity",
        "gds.util.isFinite",
        "gds.util.isInfinite",
        "gds.similarity.",
        "gds.graph.exists",
    }
)

_PROCEDURES_LC = frozenset(p.lower() for p in ALLOWED_PROCEDURES)
_FUNCTIONS_LC = frozenset(f.lower() for f in ALLOWED_FUNCTIONS)

#: What may follow ``SHOW``: the schema and the catalogue of procedures and functions.
_SHOW_ALLOWED = {
    "INDEX",
    "INDEXES",
    "CONSTRAINT",
    "CONSTRAINTS",
    "PROCEDURE",
    "PROCEDURES",
    "FUNCTION",
    "FUNCTIONS",
}
_SHOW_MODIFIERS = {
    "ALL",
    "RANGE",
    "TEXT",
    "POINT",
    "LOOKUP",
    "FULLTEXT",
    "VECTOR",
    "BUILTIN",
    "BUILT",
    "IN",
    "USER",
    "DEFINED",
    "UNIQUE",
    "UNIQUENESS",
    "EXIST",
    "EXISTENCE",
    "NODE",
    "RELATIONSHIP",
    "REL",
    "KEY",
    "PROPERTY",
    "TYPE",
    "BTREE",
}


class CypherError(DatabaseError):
    """The query is not valid Cypher, or the server could not run it."""


class ReadOnlyViolation(CypherError):
    """The query tried to write; analysts' queries are read-only."""


class QueryRefused(CypherError):
    """The query uses something analysts may not (a procedure, ``LOAD CSV``, ``USE``, …)."""


class QueryTimeout(CypherError):
    """The server stopped the query at the analysts' time limit."""


class QueryTooLarge(CypherError):
    """The query needed more memory than the server allows one transaction, or one row of its
    result is larger than the byte cap."""


@dataclass(frozen=True)
class QueryLimits:
    """How long an analyst's query may run, how much of its result is read, and how large a graph
    it may project.

    Args:
        timeout: seconds; the server ends the transaction then (``SOUNDBRIDGE_QUERY_TIMEOUT``).
        max_rows: rows read at most (``SOUNDBRIDGE_QUERY_MAX_ROWS``).
        max_bytes: bytes of result (as JSON) read at most (``SOUNDBRIDGE_QUERY_MAX_BYTES``).
        max_projection_bytes: bytes of heap that the graphs one query projects may take, by
            GDS's estimate (``SOUNDBRIDGE_QUERY_MAX_PROJECTION_BYTES``). The default, 200 MB, is
            about fifty times the whole ingested graph (about 4 MB without array properties), and
            five analysts at the cap stay under half the local server's default 2 GB heap.

    Examples:
        >>> QueryLimits.from_env({"SOUNDBRIDGE_QUERY_TIMEOUT": "5"})
        QueryLimits(timeout=5.0, max_rows=1000, max_bytes=10000000, max_projection_bytes=200000000)
    """

    timeout: float = 30.0
    max_rows: int = 1000
    max_bytes: int = 10_000_000
    max_projection_bytes: int = 200_000_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> QueryLimits:
        """Read the limits from the environment (``os.environ`` when ``environ`` is ``None``).

        Raises:
            ConfigError: a variable that is not a positive number, naming it and an example.
        """
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            timeout=_positive(env, TIMEOUT_ENV, default.timeout, float, "seconds, e.g. 30"),
            max_rows=int(_positive(env, MAX_ROWS_ENV, default.max_rows, int, "rows, e.g. 1000")),
            max_bytes=int(
                _positive(env, MAX_BYTES_ENV, default.max_bytes, int, "bytes, e.g. 10000000")
            ),
            max_projection_bytes=int(
                _positive(
                    env,
                    MAX_PROJECTION_ENV,
                    default.max_projection_bytes,
                    int,
                    "bytes, e.g. 200000000",
                )
            ),
        )


def _positive(env: Mapping[str, str], name: str, default: float, kind: type, what: str) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigError(f"{name}={raw!r}: not a positive number of {what}; set it or unset it")
    return float(value)


@dataclass(frozen=True)
class QueryResult:
    """Column names, rows (each a list of plain values, in column order), and a one-line
    ``notice`` for the reader.

    The notice holds the server's warnings about the query (``warning: the graph has no label
    Cultur; …``: a misspelled label, relationship type or property matches nothing, so the
    result is empty for a reason other than the data), then, when the result was cut at a limit,
    which limit and how to change it; ``None`` when there is neither. ``warnings`` holds the
    warnings alone, and ``truncated`` says whether rows were left unread.
    """

    columns: list[str]
    rows: list[list[Any]]
    notice: str | None = None
    truncated: bool = False
    warnings: tuple[str, ...] = ()

    def records(self) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column."""
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]

    def to_json(self) -> str:
        """The rows as a JSON array of objects."""
        return json.dumps(self.records(), ensure_ascii=False, default=str, indent=2)


# --------------------------------------------------------------------------- the allow-list
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<line_comment>//[^\n]*)
  | (?P<block_comment>/\*.*?(?:\*/|\Z))
  | (?P<string>'(?:[^'\\]|\\.)*(?:'|\Z)|"(?:[^"\\]|\\.)*(?:"|\Z))
  | (?P<quoted>`(?:[^`]|``)*(?:`|\Z))
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<word>[^\W\d]\w*)
  | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_ESCAPES = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", "'": "'", '"': '"', "\\": "\\"}
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|.)", re.DOTALL)


class _Token(NamedTuple):
    """One token of a query: ``kind`` (word, string, number, punct), ``text`` (a string blanked
    to ``''``), its span in the query, and a string literal's value."""

    kind: str
    text: str
    start: int
    end: int
    value: str = ""


def _tokens(query: str) -> list[_Token]:
    """The query's tokens; comments and white space dropped, strings blanked (their value kept
    aside), back-quoted names unquoted (a quoted ``a.b`` reads as the name ``a.b``)."""
    out = []
    for m in _TOKEN.finditer(query):
        kind = m.lastgroup or "punct"
        text = m.group()
        if kind in ("space", "line_comment", "block_comment"):
            continue
        if kind == "string":
            out.append(_Token("string", "''", m.start(), m.end(), _unescape(text[1:-1])))
        elif kind == "quoted":
            parts = text.strip("`").replace("``", "`").split(".")
            for i, part in enumerate(parts):
                if i:
                    out.append(_Token("punct", ".", m.start(), m.end()))
                out.append(_Token("word", part, m.start(), m.end()))
        else:
            out.append(_Token(kind, text, m.start(), m.end()))
    return out


def _unescape(body: str) -> str:
    def one(m: re.Match[str]) -> str:
        esc = m.group(1)
        if len(esc) == 5:
            return chr(int(esc[1:], 16))
        return _ESCAPES.get(esc, "\\" + esc)

    return _ESCAPE.sub(one, body)


def check_allowed(query: str, params: Mapping[str, Any] | None = None) -> None:
    """Refuse a query that uses what analysts may not (see the module docstring).

    Args:
        query: the analyst's Cypher.
        params: its parameters; a GDS configuration passed as one may not carry ``sudo``
            either.

    Raises:
        QueryRefused: naming what was refused and what is allowed instead.

    Examples:
        >>> check_allowed("MATCH (t:Track) RETURN toLower(t.name) LIMIT 5")
        >>> check_allowed("CALL dbms.listConfig()")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        kg.cypher.QueryRefused: procedure dbms.listConfig is not open to analysts
        >>> check_allowed(
        ...     "CALL gds.graph.project('g', 'Culture', 'PART_OF') YIELD graphName "
        ...     "CALL gds.wcc.stream(graphName) YIELD nodeId RETURN count(*)"
        ... )
    """
    _analyse(query, params)


#: Looks up the names of one kind (``"procedure"``, ``"function"``, ``"label"``, …, the keys of
#: :data:`kg.queries.SCHEMA_NAMES`) on the server; ``None`` when they cannot be had.
_Names = Callable[[str], "list[str] | None"]


@dataclass
class _Projection:
    """A native projection of an analyst's query: the name as written, and its node projection,
    relationship projection and configuration as tokens (sized before the query runs)."""

    name: str
    args: list[list[_Token]]


@dataclass
class _Plan:
    """What :func:`run_read` must do around an allowed query that uses GDS."""

    uses_gds: bool = False
    projections: list[_Projection] = field(default_factory=list)
    #: spans ``(start, end, name)`` of the string literals that name a projected graph
    graph_names: list[tuple[int, int, str]] = field(default_factory=list)


def _analyse(
    query: str, params: Mapping[str, Any] | None = None, names: _Names | None = None
) -> _Plan:
    """The checks of :func:`check_allowed`, and the plan :func:`run_read` follows for GDS.

    ``names`` looks up what the server has, so that a refusal can tell a name that does not
    exist (a typo: the closest allowed names are suggested) from one that is not open to
    analysts; without it the refusal cannot tell and suggests close names when there are any.
    """
    toks = _tokens(query)
    words = [(i, t.text.upper()) for i, t in enumerate(toks) if t.kind == "word"]

    def prev(i: int) -> str:
        return toks[i - 1].text.upper() if i > 0 else ""

    def after(i: int) -> str:
        return toks[i + 1].text.upper() if i + 1 < len(toks) else ""

    for i, w in words:
        if prev(i) in (".", "$"):  # a property key or a parameter, not a keyword
            continue
        if w == "LOAD" and after(i) == "CSV":
            raise QueryRefused(
                "LOAD CSV is not open to analysts (it makes the server read files and URLs); "
                "query the graph, or ask an operator to ingest the file"
            )
        if w == "USE" and after(i) != ":":
            raise QueryRefused(
                "USE is not open to analysts: queries run on the soundbridge graph only; "
                "remove the USE clause"
            )
        if w == "TERMINATE":
            raise QueryRefused(
                "TERMINATE is not open to analysts: other people's queries are theirs; an "
                "operator can stop a query with the Neo4j tools"
            )
        if w == "TRANSACTIONS" and prev(i) in ("IN", "CONCURRENT"):
            raise QueryRefused(
                "CALL { … } IN TRANSACTIONS is not open to analysts: it commits in batches, and "
                "analysts' queries are read-only in one transaction; remove IN TRANSACTIONS"
            )
        if w == "SHOW":
            j = i + 1
            while j < len(toks) and toks[j].text.upper() in _SHOW_MODIFIERS:
                j += 1
            what = toks[j].text.upper() if j < len(toks) else ""
            if what not in _SHOW_ALLOWED:
                raise QueryRefused(
                    f"SHOW {what or '…'} is not open to analysts; SHOW INDEXES, CONSTRAINTS, "
                    "PROCEDURES and FUNCTIONS are"
                )
    calls = list(_dotted_calls(toks))
    for start, _, name in calls:
        called = name.lower()
        is_procedure = prev(start) == "CALL"
        if is_procedure and called not in _PROCEDURES_LC:
            raise QueryRefused(_procedure_refusal(name, names))
        if not is_procedure and called == "gds.graph.project":
            raise QueryRefused(
                "gds.graph.project as a function (Cypher aggregation) is not open to analysts: "
                "such a projection cannot be sized before it runs; use the native projection, "
                "CALL gds.graph.project('name', labels, relationship types) (docs/cypher.md)"
            )
        if not is_procedure and not _function_allowed(called):
            raise QueryRefused(_unlisted("function", name, names))
    plan = _Plan(uses_gds=any(name.lower().startswith("gds.") for _, _, name in calls))
    if plan.uses_gds:
        _check_gds(toks, calls, plan, params or {})
    return plan


def _function_allowed(called: str) -> bool:
    """Whether a namespaced function (its name lower-cased) is open to analysts."""
    return any(called == f or (f.endswith(".") and called.startswith(f)) for f in _FUNCTIONS_LC)


#: What each GDS mode gives, for the refusal of ``.write``.
_MODES = {
    "stream": "rows",
    "stats": "a summary",
    "mutate": "into the query's own projection",
}


def _procedure_refusal(name: str, names: _Names | None) -> str:
    called = name.lower()
    if called.startswith("gds.") and (called.endswith(".write") or ".write." in called):
        stem = name[: called.index(".write")]
        prefix = stem.lower() + "."
        modes = {
            p.lower()[len(prefix) :].split(".")[0]
            for p in ALLOWED_PROCEDURES
            if p.lower().startswith(prefix)
        }
        offered = [f".{m} ({what})" for m, what in _MODES.items() if m in modes]
        if offered:
            alternatives = f"use {stem}{_or(offered)}"
        else:
            alternatives = (
                "analysts may run the stream, stats and mutate modes of the algorithms in "
                "docs/cypher.md#limits"
            )
        return (
            f"procedure {name} is not open to analysts: .write stores results in the graph, and "
            f"analysts' queries are read-only; {alternatives}"
        )
    if called.startswith("gds.graph.project."):
        return (
            f"procedure {name} is not open to analysts: it projects from Cypher given as text, "
            "outside these checks; use the native projection, CALL gds.graph.project('name', "
            "labels, relationship types) (docs/cypher.md)"
        )
    return _unlisted("procedure", name, names)


def _unlisted(kind: str, name: str, names: _Names | None) -> str:
    """The refusal of a procedure or function outside the allow-list: one that does not exist
    (with the closest allowed names), or one that is not open to analysts."""
    server = names(kind) if names is not None else None
    close = _closest(name, _allowed_names(kind, server))
    hint = f"; did you mean {close}?" if close else ""
    if server is not None and name.lower() not in {n.lower() for n in server}:
        return f"{kind} {name} does not exist{hint or _LIMITS_POINTER}"
    if server is not None:
        hint = ""  # it exists: a close allowed name is not what was meant
    return f"{kind} {name} is not open to analysts{hint}{_LIMITS_POINTER}"


_LIMITS_POINTER = " (what analysts may call: docs/cypher.md#limits)"


def _allowed_names(kind: str, server: list[str] | None) -> list[str]:
    """The procedures (or functions) an analyst may call: those the server has when it is known,
    namespaces (``apoc.coll.``) expanded into their functions."""
    if kind == "procedure":
        if server is None:
            return sorted(ALLOWED_PROCEDURES)
        return sorted(n for n in server if n.lower() in _PROCEDURES_LC)
    if server is None:
        return sorted(f for f in ALLOWED_FUNCTIONS if not f.endswith("."))
    return sorted(n for n in server if "." not in n or _function_allowed(n.lower()))


def _closest(name: str, candidates: list[str]) -> str:
    """Up to three of ``candidates`` closest to ``name`` (case aside), as ``a, b or c``."""
    by_lower = {c.lower(): c for c in candidates}
    if name.lower() in by_lower:
        return by_lower[name.lower()]  # only the case differs
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.75)
    return _or([by_lower[c] for c in close])


def _or(items: list[str]) -> str:
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} or {items[-1]}"


def _dotted_calls(toks: list[_Token]) -> Iterator[tuple[int, int, str]]:
    """Namespaced names that are called: ``a.b(`` anywhere, and ``CALL a.b`` with or without
    parentheses. Yields ``(index of the name's first token, index of its last, name)``."""
    i = 0
    while i < len(toks):
        kind = toks[i].kind
        starts_chain = kind == "word" and (i == 0 or toks[i - 1].text not in (".", "$"))
        if not starts_chain:
            i += 1
            continue
        j = i
        while j + 2 < len(toks) and toks[j + 1].text == "." and toks[j + 2].kind == "word":
            j += 2
        name = "".join(t.text for t in toks[i : j + 1])
        called = j + 1 < len(toks) and toks[j + 1].text == "("
        after_call = i > 0 and toks[i - 1].text.upper() == "CALL"
        if (j > i and called) or (after_call and toks[i].text != "{"):
            yield i, j, name
        i = j + 1


# ------------------------------------------------------------------ GDS: a query's own graphs
#: Procedures and functions whose first argument names a projected graph that must be the
#: query's own (an algorithm's ``.estimate`` may instead take a map describing a projection).
_GRAPH_USERS = frozenset(
    [p.lower() for p in _GDS_ALGORITHM_PROCEDURES]
    + [
        "gds.graph.drop",
        "gds.graph.nodeproperty.stream",
        "gds.graph.nodeproperties.stream",
        "gds.util.nodeproperty",
    ]
)
#: Ones that may name any graph (they only look); a literal naming the query's own is renamed.
_GRAPH_LOOKERS = frozenset({"gds.graph.list", "gds.graph.exists"})

#: Words that end a ``YIELD`` list.
_CLAUSES = frozenset(
    {"WHERE", "RETURN", "WITH", "CALL", "MATCH", "OPTIONAL", "UNWIND", "ORDER", "LIMIT", "SKIP"}
    | {"UNION", "FINISH", "CREATE", "MERGE", "SET", "DELETE", "DETACH", "REMOVE", "FOREACH"}
)


def _call_args(toks: list[_Token], open_paren: int) -> tuple[list[list[_Token]], int]:
    """The arguments (as token lists) of the call whose ``(`` is at ``open_paren``, and the index
    of its ``)``."""
    args: list[list[_Token]] = []
    current: list[_Token] = []
    depth = 0
    i = open_paren + 1
    while i < len(toks):
        t = toks[i].text
        if t in ("(", "[", "{"):
            depth += 1
        elif t in (")", "]", "}"):
            if depth == 0:
                if current or args:
                    args.append(current)
                return args, i
            depth -= 1
        elif t == "," and depth == 0:
            args.append(current)
            current = []
            i += 1
            continue
        current.append(toks[i])
        i += 1
    if current or args:
        args.append(current)
    return args, len(toks)


def _yielded(toks: list[_Token], i: int) -> tuple[list[tuple[int, str, str]], bool]:
    """The variables bound by a ``YIELD`` at ``i``: ``[(index of the variable's token, field,
    variable)]``, and whether it is ``YIELD *``."""
    if _text(toks, i).upper() != "YIELD":
        return [], False
    i += 1
    if _text(toks, i) == "*":
        return [], True
    bound = []
    while _kind(toks, i) == "word" and toks[i].text.upper() not in _CLAUSES:
        j = i
        if _text(toks, i + 1).upper() == "AS" and _kind(toks, i + 2) == "word":
            j = i + 2
        bound.append((j, toks[i].text, toks[j].text))
        i = j + 1
        if _text(toks, i) != ",":
            break
        i += 1
    return bound, False


def _check_gds(
    toks: list[_Token], calls: list[tuple[int, int, str]], plan: _Plan, params: Mapping[str, Any]
) -> None:
    """Refuse GDS calls that could reach beyond the query's own projections or past the memory
    guard, and fill ``plan`` with the projections to size, rename and drop."""
    for i, t in enumerate(toks):
        if t.kind == "word" and t.text.lower() == "sudo" and _text(toks, i + 1) == ":":
            raise QueryRefused(_SUDO_REFUSAL)
    if _has_sudo(params):
        raise QueryRefused(_SUDO_REFUSAL)
    projected: set[str] = set()
    graph_vars: dict[str, int] = {}  # variable bound to a projection's graphName → its token
    other_bindings: list[tuple[int, str]] = []  # every other place a variable is bound
    star_elsewhere = False
    sites: list[tuple[str, str, list[list[_Token]]]] = []
    for start, end, name in calls:
        called = name.lower()
        is_procedure = start > 0 and toks[start - 1].text.upper() == "CALL"
        args: list[list[_Token]] = []
        close = end
        if _text(toks, end + 1) == "(":
            args, close = _call_args(toks, end + 1)
        if not is_procedure:
            if called in _GRAPH_USERS or called in _GRAPH_LOOKERS:
                sites.append((called, name, args))
            continue
        config_at = _CONFIG_ARGUMENT.get(called, 1 if called in _GDS_ALGORITHMS_LC else None)
        if config_at is not None:
            configs = args[config_at : config_at + 1]
            if called.endswith(".estimate") and args and _text(args[0], 0) == "{":
                configs.append(args[0])  # a projection described by a map
            for config in configs:
                _check_config(name, config)
        bound, star = _yielded(toks, close + 1)
        if called == "gds.graph.project":
            graph_name = args[0] if args else []
            if len(graph_name) != 1 or graph_name[0].kind != "string":
                raise QueryRefused(
                    "gds.graph.project needs the new graph's name as a string, e.g. "
                    "CALL gds.graph.project('styles', 'Culture', 'STYLE_SIMILAR'), so that the "
                    "graph can be dropped when the query ends"
                )
            if len(args) not in (3, 4):
                raise QueryRefused(
                    "gds.graph.project takes a name, the node labels, the relationship types "
                    "and optionally a configuration, e.g. CALL gds.graph.project('styles', "
                    "'Culture', 'STYLE_SIMILAR')"
                )
            projected.add(graph_name[0].value)
            plan.graph_names.append((graph_name[0].start, graph_name[0].end, graph_name[0].value))
            plan.projections.append(_Projection(graph_name[0].value, args[1:]))
            for j, yielded, variable in bound:
                if yielded == "graphName":
                    graph_vars[variable] = j
                else:
                    other_bindings.append((j, variable))
            if star:
                graph_vars["graphName"] = -1
        else:
            star_elsewhere = star_elsewhere or star
            other_bindings.extend((j, variable) for j, _, variable in bound)
            if called in _GRAPH_USERS or called in _GRAPH_LOOKERS:
                sites.append((called, name, args))
    yield_vars = set(graph_vars.values())
    for i, t in enumerate(toks):
        if t.kind != "word" or i in yield_vars:
            continue
        aliased = _text(toks, i - 1).upper() == "AS" and _text(toks, i - 2) != "."
        iterated = _text(toks, i - 1) in ("[", "(") and _text(toks, i + 1).upper() == "IN"
        if aliased or iterated:  # WITH … AS v, UNWIND … AS v, [v IN …], any(v IN …)
            other_bindings.append((i, t.text))
    rebound = {v for _, v in other_bindings} | (set(graph_vars) if star_elsewhere else set())
    for called, name, args in sites:
        first = args[0] if args else []
        if len(first) == 1 and first[0].kind == "string":
            if first[0].value in projected:
                plan.graph_names.append((first[0].start, first[0].end, first[0].value))
            elif called == "gds.graph.drop":
                raise QueryRefused(
                    f"graph '{first[0].value}' is not projected by this query, and a query may "
                    "drop only the graphs it projects (which are dropped when it ends anyway); "
                    "remove the gds.graph.drop call"
                )
            elif called not in _GRAPH_LOOKERS:
                raise QueryRefused(
                    f"graph '{first[0].value}' is not projected by this query: an analyst's "
                    "graphs live for one query; project it in the same statement, e.g. CALL "
                    f"gds.graph.project('{first[0].value}', …) YIELD graphName CALL "
                    f"{name}(graphName, …)"
                )
        elif called in _GRAPH_LOOKERS or not first:
            continue
        elif called.endswith(".estimate") and first[0].text == "{":
            continue  # an estimate of a projection described by a map: nothing is made
        elif not (len(first) == 1 and first[0].text in graph_vars and first[0].text not in rebound):
            raise QueryRefused(
                f"{name} must name a graph this query projected: its name as written in "
                "gds.graph.project, or the graphName that gds.graph.project yields (as it is "
                "or aliased in that YIELD, YIELD graphName AS g; not bound again by WITH, "
                "UNWIND or another YIELD), since an analyst's graphs live for one query"
            )


#: Where the configuration map is among a procedure's arguments (0-based), beyond the
#: algorithms' (their second).
_CONFIG_ARGUMENT = {"gds.graph.project": 3, "gds.graph.project.estimate": 2}
_GDS_ALGORITHMS_LC = frozenset(p.lower() for p in _GDS_ALGORITHM_PROCEDURES)


def _check_config(name: str, config: list[_Token]) -> None:
    """A GDS configuration must be a map written out (``{key: value, …}``, values any
    expression) or a ``$parameter``, so that its keys can be read: no ``sudo`` among them. An
    expression (``apoc.map.setKey(…)``) could hide one."""
    if not config or (len(config) == 2 and config[0].text == "$"):
        return  # a parameter's value is checked with the parameters
    if config[0].text != "{" or _call_args(config, 0)[1] != len(config) - 1:
        raise QueryRefused(
            f"the configuration of {name} must be written as a map ({{key: value, …}}) or "
            "given as a $parameter, so that it can be checked before it runs"
        )
    depth = 0
    for i, t in enumerate(config):
        if t.text in ("(", "[", "{"):
            depth += 1
        elif t.text in (")", "]", "}"):
            depth -= 1
        elif (
            depth == 1
            and t.kind == "word"
            and t.text.lower() == "sudo"
            and _text(config, i + 1) == ":"
        ):
            raise QueryRefused(_SUDO_REFUSAL)


_SUDO_REFUSAL = (
    "sudo is not open to analysts: it turns off Graph Data Science's memory guard, which refuses "
    "a projection or an algorithm that would not fit in the server's heap; remove it"
)


def _text(toks: list[_Token], i: int) -> str:
    return toks[i].text if 0 <= i < len(toks) else ""


def _has_sudo(value: Any) -> bool:
    """Whether a parameter value holds a map with a ``sudo`` key (GDS reads keys in any case)."""
    if isinstance(value, Mapping):
        return any(
            (isinstance(k, str) and k.lower() == "sudo") or _has_sudo(v) for k, v in value.items()
        )
    if isinstance(value, list | tuple):
        return any(_has_sudo(v) for v in value)
    return False


class _NotLiteral(Exception):
    """An argument that is not written out as a value (a variable, an expression)."""


def _literal(toks: list[_Token], params: Mapping[str, Any]) -> Any:
    """The value of tokens written as a Cypher literal: strings, numbers, booleans, null, lists,
    maps and ``$parameters``.

    Raises:
        _NotLiteral: anything else.
    """
    value, i = _literal_at(toks, 0, params)
    if i != len(toks):
        raise _NotLiteral
    return value


def _literal_at(toks: list[_Token], i: int, params: Mapping[str, Any]) -> tuple[Any, int]:
    if i >= len(toks):
        raise _NotLiteral
    t = toks[i]
    if t.kind == "string":
        return t.value, i + 1
    if t.kind == "number" or (t.text == "-" and _kind(toks, i + 1) == "number"):
        sign, j = (-1, i + 1) if t.text == "-" else (1, i)
        text = toks[j].text
        number = float(text) if any(c in text for c in ".eE") else int(text)
        return sign * number, j + 1
    if t.kind == "word" and t.text.upper() in ("TRUE", "FALSE", "NULL"):
        return {"TRUE": True, "FALSE": False, "NULL": None}[t.text.upper()], i + 1
    if t.text == "$" and _kind(toks, i + 1) in ("word", "number"):
        key = toks[i + 1].text
        if key not in params:
            raise QueryRefused(_missing_parameters([key]))
        return params[key], i + 2
    if t.text == "[":
        items: list[Any] = []
        i += 1
        while _text(toks, i) != "]":
            item, i = _literal_at(toks, i, params)
            items.append(item)
            if _text(toks, i) == ",":
                i += 1
            elif _text(toks, i) != "]":
                raise _NotLiteral
        return items, i + 1
    if t.text == "{":
        entries: dict[str, Any] = {}
        i += 1
        while _text(toks, i) != "}":
            if _kind(toks, i) != "word" or _text(toks, i + 1) != ":":
                raise _NotLiteral
            key = toks[i].text
            entries[key], i = _literal_at(toks, i + 2, params)
            if _text(toks, i) == ",":
                i += 1
            elif _text(toks, i) != "}":
                raise _NotLiteral
        return entries, i + 1
    raise _NotLiteral


def _missing_parameters(keys: list[str]) -> str:
    """The message for parameters a query uses and was given no value for (the same words for
    the command line and the console, naming each one's way)."""
    names = ", ".join(f"${k}" for k in keys)
    first = keys[0] if keys else "name"
    return (
        f"the query uses {names} but no value was given; pass "
        f"{'it' if len(keys) == 1 else 'each'} as a parameter (soundbridge cypher: "
        f'-p {first}=VALUE; the console\'s API: "params": {{"{first}": …}}), or write the '
        "value into the query"
    )


def _kind(toks: list[_Token], i: int) -> str:
    return toks[i].kind if 0 <= i < len(toks) else ""


# --------------------------------------------------------------------------- running queries
def run_read(
    driver: neo4j.Driver,
    query: str,
    params: Mapping[str, Any] | None = None,
    *,
    database: str | None = None,
    limit: int | None = None,
    limits: QueryLimits | None = None,
) -> QueryResult:
    """Run an analyst's ``query`` read-only, within the analysts' limits, and return its rows.

    A query that projects graphs for Graph Data Science (``CALL gds.graph.project('name', …)``)
    has them sized before it runs, renamed to names of their own, and dropped when it ends (see
    the module docstring).

    Args:
        driver: an open driver.
        query: Cypher; values belong in ``params`` (``$name``), never formatted in.
        params: query parameters.
        database: the database; ``None`` is the server default.
        limit: read at most this many rows (below ``limits.max_rows``; the notice then says so).
        limits: time, row, byte and projection limits; default: :meth:`QueryLimits.from_env`.

    Returns:
        The rows read; ``notice`` says when a limit cut them. Reading stops at the cut and the
        transaction is rolled back, so the server stops the rest of the query.

    Raises:
        QueryRefused: the query uses what analysts may not (:func:`check_allowed`).
        ReadOnlyViolation: the query writes.
        QueryTimeout: the server stopped it at ``limits.timeout`` (a graph algorithm notices
            within 10 s more).
        QueryTooLarge: it needed more memory than the server allows, a projection is larger than
            ``limits.max_projection_bytes``, GDS's memory guard refused it, or one row is larger
            than ``limits.max_bytes``.
        CypherError: a syntax or semantic error, with the server's message.

    Examples:
        >>> # run_read(driver, "MATCH (f:Function) RETURN f.name AS name ORDER BY name").rows[0]
        >>> # ['Dance']
    """
    if not query.strip():
        raise CypherError(
            "empty query: give a Cypher statement such as 'MATCH (n) RETURN count(n)'"
        )
    limits = limits if limits is not None else QueryLimits.from_env()
    run = _Query(driver, database, limits, query)
    plan = _analyse(query, params, run.names)
    run.uses_gds = plan.uses_gds
    values = dict(params or {})
    if not plan.projections:
        return _read(run, values, limit)
    # Each projected name gets a catalog name of its own, passed as a parameter in place of the
    # literal; the deadline in it lets a later query drop it if this process dies before its
    # ``finally`` (the server ends the query by then, and GDS notices within 10 s).
    deadline = int(time.time() + limits.timeout + _GDS_GRACE)
    run.catalog = {
        p.name: f"{_GRAPH_PREFIX}{deadline}:{secrets.token_hex(4)}:{p.name}"
        for p in plan.projections
    }
    run.keys = {name: f"{_GRAPH_PARAM}{i}" for i, name in enumerate(run.catalog)}
    pieces, last, length = [], 0, 0
    for start, end, name in sorted(plan.graph_names):
        kept = query[last:start]
        parameter = "$" + run.keys[name]
        length += len(kept)
        run.spans.append((start, end, length, length + len(parameter)))
        length += len(parameter)
        pieces += [kept, parameter]
        last = end
    run.text = "".join([*pieces, query[last:]])
    values.update({run.keys[name]: catalog_name for name, catalog_name in run.catalog.items()})
    try:
        _drop_expired(run)
        _check_projection_size(run, plan, params or {})
        return _read(run, values, limit)
    finally:
        _drop(driver, list(run.catalog.values()), database, limits)


#: Projections made for analysts' queries are named ``analyst:<deadline>:<random>:<name>``.
_GRAPH_PREFIX = "analyst:"
_GRAPH_PARAM = "soundbridge_graph_"
#: Seconds after a query's timeout by which its projections are surely unused: GDS checks for the
#: end of a transaction every 10 s.
_GDS_GRACE = 60


@dataclass
class _Query:
    """One analyst query on its way through :func:`run_read`: where it runs, the text the server
    is sent (``text``: the query with each projected graph's name replaced by a parameter), and
    what turns the server's messages back into the words of the query as the analyst wrote it."""

    driver: neo4j.Driver
    database: str | None
    limits: QueryLimits
    query: str
    uses_gds: bool = False
    text: str = ""
    #: ``(start, end)`` in ``query`` and ``(start, end)`` in ``text`` of each replaced name
    spans: list[tuple[int, int, int, int]] = field(default_factory=list)
    #: projected name as written → its name in the graph catalog, and → its parameter
    catalog: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    _names: dict[str, list[str] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.text = self.text or self.query

    def names(self, kind: str) -> list[str] | None:
        """The server's labels, relationship types, property keys, procedures or functions
        (:data:`kg.queries.SCHEMA_NAMES`); ``None`` when the server would not say."""
        if kind not in self._names:
            try:
                records = _operator_read(
                    self.driver, q.SCHEMA_NAMES[kind], {}, self.database, self.limits
                )
                self._names[kind] = [str(n) for n in records[0]["names"]] if records else []
            except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError):
                self._names[kind] = None
        return self._names[kind]

    def where(self, offset: int) -> str:
        """``line L, column C`` in the analyst's query of ``offset`` in the text sent."""
        original = offset
        for start, end, sent_start, sent_end in self.spans:
            if offset < sent_start:
                break
            if offset < sent_end:
                original = start  # inside a replaced name: its start
                break
            original = offset + end - sent_end
        offset = min(max(original, 0), len(self.query))
        line = self.query.count("\n", 0, offset) + 1
        column = offset - (self.query.rfind("\n", 0, offset) + 1) + 1
        return f"line {line}, column {column}"

    def restore(self, message: str) -> str:
        """``message`` with the parameters and catalog names this module put in the query
        turned back into the graph names the analyst wrote."""
        for name in sorted(self.keys, key=lambda n: -len(self.keys[n])):
            message = message.replace("$" + self.keys[name], f"'{name}'")
            message = message.replace(self.catalog[name], name)
        return message

    def unknown(self, kind: str, names: list[str], where: str = "") -> str:
        """``the graph has no label Cultur (line 1, column 10); did you mean Culture? (labels:
        …)``: ``where`` goes after the name."""
        plural = {"label": "labels", "relationship type": "relationship types"}.get(kind)
        known = self.names(kind)
        text = f"the graph has no {kind} {', '.join(names)}{where}"
        if known is None:
            return text
        close = _closest(names[0], known) if len(names) == 1 else ""
        if close:
            text += f"; did you mean {close}?"
        if plural and len(known) <= _LISTED_AT_MOST:
            return f"{text} ({plural}: {', '.join(sorted(known)) or 'none yet'})"
        return f"{text} ({_LISTING[kind]} lists them all)"

    def warning(self, status: neo4j.GqlStatusObject, shift: int = 0) -> str:
        """One of the server's warnings about the query, in the analyst's terms (``shift``: how
        many characters were sent before the query's text)."""
        # "warn: label does not exist. The label `Cultur` does not exist. Verify that …": the
        # first sentence is the warning's class, the rest says what in this query.
        description = " ".join(status.status_description.split())
        specific = re.sub(r"^warn: [^.]*\.\s*", "", description) or description
        position = status.position
        where = ""
        if position is not None and position.line > 0:
            where = f" ({self.where(position.offset - shift)})"
        kind = _UNKNOWN_NAME.get(status.gql_status)
        named = re.search(r"`((?:[^`]|``)+)`", specific)
        if kind and named:
            return self.unknown(kind, [self.restore(named.group(1).replace("``", "`"))], where)
        return f"{self.restore(specific)}{where}"

    def unknown_callable(self, kind: str, name: str) -> str:
        """``procedure gds.pagerank.stream does not exist; did you mean gds.pageRank.stream?``."""
        close = _closest(name, _allowed_names(kind, self.names(kind)))
        return f"{kind} {name} does not exist" + (
            f"; did you mean {close}?" if close else _LIMITS_POINTER
        )


#: The server's warnings (GQLSTATUS) that a label, relationship type or property key the query
#: names is not in the graph: a typo, usually, and the reason the result is empty.
_UNKNOWN_NAME = {"01N50": "label", "01N51": "relationship type", "01N52": "property"}
_LISTING = {
    "label": "CALL db.labels()",
    "relationship type": "CALL db.relationshipTypes()",
    "property": "CALL db.propertyKeys()",
}
#: A graph with more labels (or types) than this gets a pointer to the list instead of it.
_LISTED_AT_MOST = 12


def _read(run: _Query, params: dict[str, Any], limit: int | None) -> QueryResult:
    """Run the (allowed) query in a READ transaction and read its rows within the caps."""
    limits = run.limits
    max_rows = limits.max_rows if limit is None else min(limit, limits.max_rows)
    rows: list[list[Any]] = []
    size = 0
    notice = None
    warnings: list[str] = []
    started = time.monotonic()
    interrupted = False
    try:
        with _session(run, fetch_size=min(max_rows + 1, 100)) as session:
            tx = session.begin_transaction(timeout=limits.timeout)
            try:
                result = tx.run(run.text, params)
                columns = list(result.keys())
                for record in result:
                    if len(rows) == max_rows:
                        notice = _rows_notice(max_rows, limit, limits)
                        break
                    # Measure before copying: a row of a hundred megabytes is refused without
                    # being converted and serialised again (the driver has decoded it once).
                    n = _json_size(record.values(), limits.max_bytes + 1)
                    row = [_plain(v) for v in record.values()] if n <= limits.max_bytes else []
                    if row:
                        n = len(json.dumps(row, ensure_ascii=False, default=str).encode())
                    if n > limits.max_bytes:
                        raise QueryTooLarge(
                            f"row {len(rows) + 1} of the result is larger than the "
                            f"{_size(limits.max_bytes)} a result may hold ({MAX_BYTES_ENV}="
                            f"{limits.max_bytes}); return less per row (e.g. size(collect(…)) "
                            f"or LIMIT inside collect), or raise {MAX_BYTES_ENV}"
                        )
                    if size + n > limits.max_bytes:
                        notice = (
                            f"truncated at {len(rows):,} rows / {_size(size)}: the result may "
                            f"hold {_size(limits.max_bytes)} ({MAX_BYTES_ENV}="
                            f"{limits.max_bytes}); add LIMIT, return fewer columns, or raise it"
                        )
                        break
                    rows.append(row)
                    size += n
                else:
                    warnings = _warnings(run, result.consume())
            except KeyboardInterrupt:
                # A rollback would wait for the server to finish the query; drop the connection
                # instead (the server ends a transaction whose connection closed, and its
                # timeout would anyway). The sync driver has no public cancel (the async one has).
                interrupted = True
                session._handle_cancellation(message="interrupted")
                raise
            finally:
                if not interrupted:
                    tx.close()  # a read has nothing to commit; closing stops whatever is unread
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError) as e:
        if interrupted:
            # Closing the session whose connection the interrupt dropped may complain; the
            # interrupt is what happened.
            raise KeyboardInterrupt from e
        if isinstance(e, neo4j.exceptions.Neo4jError):
            raise _query_error(e, limits, run) from e
        raise
    if run.uses_gds and time.monotonic() - started >= limits.timeout:
        # The server has ended this transaction, but a GDS algorithm that notices it may stop
        # early and stream what it has (betweenness does): those rows are not an answer.
        raise QueryTimeout(_timeout_message(limits, gds=True))
    if notice is not None:
        warnings = _planning_warnings(run, params)
    parts = [f"warning: {w}" for w in dict.fromkeys(warnings)] + ([notice] if notice else [])
    return QueryResult(
        columns=columns,
        rows=rows,
        notice="; ".join(parts) or None,
        truncated=notice is not None,
        warnings=tuple(dict.fromkeys(warnings)),
    )


def _session(run: _Query, **config: Any) -> neo4j.Session:
    """A read session that asks the server for its warnings about the analyst's query: the
    driver has them off (kg.connection), and a misspelled label matches nothing, silently."""
    return run.driver.session(
        database=run.database,
        default_access_mode=neo4j.READ_ACCESS,
        notifications_min_severity="WARNING",
        notifications_disabled_classifications=[],
        **config,
    )


def _warnings(run: _Query, summary: neo4j.ResultSummary, shift: int = 0) -> list[str]:
    """The server's warnings in a result's summary, in the analyst's terms (``shift``: how many
    characters were put before the query)."""
    return [
        run.warning(status, shift)
        for status in summary.gql_status_objects
        if status.is_notification and status.severity == neo4j.NotificationSeverity.WARNING
    ]


def _planning_warnings(run: _Query, params: dict[str, Any]) -> list[str]:
    """The warnings about a query whose result was cut at a cap.

    The server sends its notifications with the end of a result, and reading on would run the
    rest of the query; planning it again (``EXPLAIN``, which runs nothing) gives them.
    """
    first = _tokens(run.query)[:1]
    if first and first[0].text.upper() in ("EXPLAIN", "PROFILE", "CYPHER"):
        return []  # EXPLAIN cannot go before these
    prefix = "EXPLAIN "
    try:
        with _session(run) as session:
            query = neo4j.Query(prefix + run.text, timeout=run.limits.timeout)
            return _warnings(run, session.run(query, params).consume(), len(prefix))
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError):
        return []  # the rows were read; a failure to plan again only loses the warnings


def _operator_read(
    driver: neo4j.Driver,
    query: str,
    params: Mapping[str, Any],
    database: str | None,
    limits: QueryLimits,
) -> list[neo4j.Record]:
    """Run one of this module's own statements (around an analyst's query) as a read."""
    records, _, _ = driver.execute_query(
        neo4j.Query(query, timeout=limits.timeout),
        dict(params),
        database_=database,
        routing_=neo4j.RoutingControl.READ,
    )
    return list(records)


def _drop_expired(run: _Query) -> None:
    """Drop analysts' projections whose deadline has passed (left by a process that died)."""
    try:
        records = _operator_read(
            run.driver, q.GDS_GRAPHS_NAMED, {"prefix": _GRAPH_PREFIX}, run.database, run.limits
        )
    except neo4j.exceptions.Neo4jError as e:
        raise _query_error(e, run.limits, run) from e
    now = time.time()
    expired = []
    for r in records:
        deadline = r["graphName"][len(_GRAPH_PREFIX) :].split(":", 1)[0]
        if deadline.isdigit() and int(deadline) < now:
            expired.append(r["graphName"])
    _drop(run.driver, expired, run.database, run.limits)


def _check_projection_size(run: _Query, plan: _Plan, params: Mapping[str, Any]) -> None:
    """Refuse the query when GDS's estimate of its projections exceeds the limit."""
    limits = run.limits
    total = 0
    for p in plan.projections:
        try:
            nodes, relationships, *rest = (_literal(arg, params) for arg in p.args)
        except _NotLiteral:
            raise QueryRefused(
                f"the labels, relationship types and configuration of gds.graph.project('"
                f"{p.name}', …) must be written out (strings, lists, maps, numbers or "
                "$parameters), so that the projection can be sized before it runs"
            ) from None
        estimate = {"nodes": nodes, "relationships": relationships, "configuration": {}}
        if rest:
            estimate["configuration"] = rest[0] if rest[0] is not None else {}
        try:
            record = _operator_read(
                run.driver, q.GDS_PROJECT_ESTIMATE, estimate, run.database, limits
            )[0]
        except neo4j.exceptions.Neo4jError as e:
            raise _query_error(e, limits, run) from e
        total += int(record["bytesMax"])
        if total > limits.max_projection_bytes:
            raise QueryTooLarge(
                f"the projection '{p.name}' ({record['nodeCount']:,} nodes, "
                f"{record['relationshipCount']:,} relationships) would take about "
                f"{_size(int(record['bytesMax']))}, and one query's projections may take "
                f"{_size(limits.max_projection_bytes)} ({MAX_PROJECTION_ENV}="
                f"{limits.max_projection_bytes}); project fewer labels, relationship types or "
                f"properties, or raise {MAX_PROJECTION_ENV}"
            )


def _drop(
    driver: neo4j.Driver, names: list[str], database: str | None, limits: QueryLimits
) -> None:
    """Drop projections; one that cannot be dropped now is left to :func:`_drop_expired`."""
    if not names:
        return
    # Not raised over the query's own outcome (this runs in a ``finally``): the server may be
    # gone, or the query's own projection may still be finishing after a Ctrl-C. The name's
    # deadline lets the next analyst query that projects drop it.
    with contextlib.suppress(neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError):
        _operator_read(driver, q.GDS_DROP_GRAPHS, {"names": names}, database, limits)


def read_records(
    driver: neo4j.Driver,
    query: str,
    params: Mapping[str, Any] | None = None,
    *,
    timeout: float | None = None,
) -> list[dict[str, Any]]:
    """Run one of the project's own read queries (never an analyst's text) and return its rows.

    The same READ transaction and server-enforced timeout as :func:`run_read`, without the
    allow-list and the row and byte caps: the project's queries bound their own results.

    Args:
        driver: an open driver.
        query: a parameterised query from one of the project's queries modules.
        params: its parameters.
        timeout: seconds; default ``SOUNDBRIDGE_QUERY_TIMEOUT`` (30).

    Returns:
        The rows as dicts of plain values (nodes and relationships as dicts).
    """
    seconds = timeout if timeout is not None else QueryLimits.from_env().timeout
    try:
        records, _, _ = driver.execute_query(
            neo4j.Query(query, timeout=seconds),
            dict(params or {}),
            routing_=neo4j.RoutingControl.READ,
        )
    except neo4j.exceptions.Neo4jError as e:
        raise _query_error(e, QueryLimits(timeout=seconds)) from e
    return [{k: _plain(v) for k, v in r.items()} for r in records]


def _json_size(value: Any, budget: int) -> int:
    """About how many bytes ``value`` takes as JSON, counting no further than ``budget``."""
    stack = [value]
    total = 0
    while stack and total < budget:
        v = stack.pop()
        if isinstance(v, str):
            total += len(v) + 2
        elif isinstance(v, neo4j.graph.Node | neo4j.graph.Relationship):
            total += 64
            stack.extend(v.items())
        elif isinstance(v, neo4j.graph.Path):
            stack.extend(v.nodes)
            stack.extend(v.relationships)
        elif isinstance(v, dict):
            total += 2
            stack.extend(v.items())
        elif isinstance(v, list | tuple):
            total += 2 + len(v)
            stack.extend(v)
        else:
            total += 8
    return min(total, budget)


def _rows_notice(max_rows: int, limit: int | None, limits: QueryLimits) -> str:
    if limit is not None and limit < limits.max_rows:
        return f"truncated at {max_rows:,} rows (the limit asked for)"
    return (
        f"truncated at {max_rows:,} rows ({MAX_ROWS_ENV}={limits.max_rows}); add LIMIT or "
        "aggregate, or raise it"
    )


def _size(n: int) -> str:
    """Bytes for people: ``640 bytes``, ``12.5 KB``, ``4.2 MB`` (a cap of 1000 is not 0.0 MB)."""
    if n < 1000:
        return f"{n:,} bytes"
    if n < 1_000_000:
        return f"{n / 1e3:.1f} KB"
    return f"{n / 1e6:.1f} MB"


def _query_error(
    e: neo4j.exceptions.Neo4jError, limits: QueryLimits, run: _Query | None = None
) -> CypherError:
    """The server's refusal of a query as the :class:`CypherError` that names its cause, in one
    line and in the terms of the query as its author wrote it (``run``: an analyst's query, whose
    projected graphs were renamed and whose misspelled names can be looked up)."""
    code = e.code or ""
    lines = (e.message or str(e)).splitlines() or [""]
    position = _POSITION.search(lines[0])
    if position:
        # What follows is the server's copy of the line and a caret under the column: of the
        # text it was sent, which for a projecting query is not what the analyst wrote.
        lines = [lines[0][: position.start()] + lines[0][position.end() :]]
    message = _JAVA_CAUSE.sub("", " ".join(" ".join(lines).split()))
    where = ""
    if position and int(position.group("line")) > 0:
        offset = int(position.group("offset"))
        if run is not None:
            where = f" ({run.where(offset)})"
        else:
            where = f" (line {position.group('line')}, column {position.group('column')})"
    if run is not None:
        message = run.restore(message)
    gds = run is not None and run.uses_gds
    if "AccessMode" in code or "ForbiddenOnReadOnly" in code or "WriteOnReadOnly" in code:
        return ReadOnlyViolation(
            "this query writes to the graph, and analysts' queries are read-only "
            f"(server said: {message}); use 'soundbridge ingest' or the Python API to change data"
        )
    # A GDS algorithm that notices the end of its transaction fails with TerminatedException.
    if "TransactionTimedOut" in code or "TerminatedException" in (e.message or ""):
        return QueryTimeout(_timeout_message(limits, gds=gds))
    if "MemoryPoolOutOfMemory" in code or "OutOfMemory" in code:
        return QueryTooLarge(
            "the query needed more memory than the server allows one transaction "
            "(db.memory.transaction.max); aggregate earlier, add LIMIT, or ask an operator to "
            f"raise it (server said: {message})"
        )
    guard = _GDS_MEMORY_GUARD.search(message)
    if guard:
        need, free = (int(x) for x in guard.group("need", "free"))
        return QueryTooLarge(
            f"Graph Data Science's memory guard refused {guard.group('what')}: it needs about "
            f"{_size(need)}, and {_size(free)} of the server's heap is free for it; project "
            "fewer nodes, relationships or properties, lower the algorithm's sizes (topK, "
            "embeddingDimension, …), or ask an operator to raise the heap "
            f"({HEAP_MAX_ENV})"
        )
    if "exceeds available memory" in message or "exceeds current free memory" in message:
        return QueryTooLarge(
            "Graph Data Science's memory guard refused the query: it would need more of the "
            "server's heap than is free; project less or lower the algorithm's sizes, or ask an "
            f"operator to raise the heap ({HEAP_MAX_ENV}) (server said: {message})"
        )
    if "ParameterMissing" in code:
        missing = message.partition(":")[2]
        return CypherError(_missing_parameters([k.strip() for k in missing.split(",")]))
    projection = _PROJECTION_NOT_FOUND.search(message)
    if projection:
        kind = "label" if projection.group("what") == "node" else "relationship type"
        names = re.findall(r"'((?:[^'\\]|\\.)*)'", projection.group("names"))
        unknown = (
            run.unknown(kind, names)
            if run is not None
            else f"the graph has no {kind} {', '.join(names)} ({_LISTING[kind]} lists them)"
        )
        return CypherError(f"gds.graph.project: {unknown}")
    if run is not None:
        procedure = _NO_PROCEDURE.search(message)
        function = _NO_FUNCTION.search(message) if "SyntaxError" in code else None
        if procedure:
            return CypherError(run.unknown_callable("procedure", procedure.group(1)))
        if function:
            return CypherError(f"{run.unknown_callable('function', function.group(1))}{where}")
    return CypherError(f"{code}: {message}{where}" if code else f"{message}{where}")


#: Where the server says a syntax or semantic error is: ``(line 1, column 90 (offset: 89))``.
_POSITION = re.compile(
    r"\s*\(line (?P<line>\d+), column (?P<column>\d+) \(offset: (?P<offset>\d+)\)\)"
)
#: A Java exception's class in a procedure's failure ("Caused by: java.lang.Illegal…: ").
_JAVA_CAUSE = re.compile(r"Caused by: (?:[A-Za-z_$][\w$]*\.)+[A-Za-z_$][\w$]*: ")
#: GDS 2.13's native projection of a label or relationship type the graph does not have.
_PROJECTION_NOT_FOUND = re.compile(
    r"Invalid (?P<what>node|relationship) projection, one or more (?:labels|relationship types) "
    r"not found: (?P<names>.*)$"
)
_NO_PROCEDURE = re.compile(r"There is no procedure with the name `((?:[^`]|``)+)`")
_NO_FUNCTION = re.compile(r"Unknown function '([^']+)'")


#: GDS 2.13's memory guard: "Memory required to run FastRP (11280028408b) exceeds available
#: memory (2147176968b)"; available is the heap less what the catalog's graphs and the running
#: algorithms have reserved.
_GDS_MEMORY_GUARD = re.compile(
    r"Memory required to (?:run )?(?P<what>.+?) \((?P<need>\d+)b\) exceeds available memory "
    r"\((?P<free>\d+)b\)"
)


def _timeout_message(limits: QueryLimits, *, gds: bool = False) -> str:
    advice = (
        "project a smaller graph (fewer labels or relationship types) or ask the algorithm for "
        "less (fewer iterations, a smaller topK or embeddingDimension)"
        if gds
        else "add LIMIT or narrow the MATCH"
    )
    return (
        f"the query ran longer than {limits.timeout:g} s, the limit for analysts' queries "
        f"({TIMEOUT_ENV}); {advice}, or raise {TIMEOUT_ENV}"
    )


def _plain(value: Any) -> Any:
    """Driver values → JSON-able values. Nodes and relationships keep their element ids (and a
    relationship its ends') so that a client can draw the result as a graph."""
    if isinstance(value, neo4j.graph.Node):
        return {
            "_labels": sorted(value.labels),
            "_element_id": value.element_id,
            **{k: _plain(v) for k, v in value.items()},
        }
    if isinstance(value, neo4j.graph.Relationship):
        start, end = value.start_node, value.end_node
        return {
            "_type": value.type,
            "_element_id": value.element_id,
            "_start": start.element_id if start is not None else None,
            "_end": end.element_id if end is not None else None,
            **{k: _plain(v) for k, v in value.items()},
        }
    if isinstance(value, neo4j.graph.Path):
        return {
            "_nodes": [_plain(n) for n in value.nodes],
            "_relationships": [_plain(r) for r in value.relationships],
        }
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "iso_format"):
        return value.iso_format()
    return value


def format_table(result: QueryResult, *, max_width: int = 60) -> str:
    """Render rows as an aligned text table (long cells are cut with '…')."""

    def cell(v: Any) -> str:
        s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
        return s if len(s) <= max_width else s[: max_width - 1] + "…"

    body = [[cell(v) for v in row] for row in result.rows]
    widths = [max([len(c)] + [len(r[i]) for r in body]) for i, c in enumerate(result.columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(result.columns, widths, strict=True))
    rule = "  ".join("-" * w for w in widths)
    rows = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in body]
    footer = f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})"
    return "\n".join([line, rule, *rows, footer])
