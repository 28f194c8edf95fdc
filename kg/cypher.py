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
  single row larger than the byte cap is refused (:class:`QueryTooLarge`).

The server's own per-transaction memory cap (``db.memory.transaction.max``, which soundbridge's
local server sets to half its heap) ends a query that would use more; that failure reaches the
caller as :class:`QueryTooLarge` too. The limits are settings (:class:`QueryLimits`):
``SOUNDBRIDGE_QUERY_TIMEOUT`` (seconds, default 30), ``SOUNDBRIDGE_QUERY_MAX_ROWS`` (1000) and
``SOUNDBRIDGE_QUERY_MAX_BYTES`` (10000000); every message names the one that was hit.

The project's own parameterised queries (the dashboard's views) use :func:`read_records`: the same
read transaction and timeout, without the analyst's allow-list and caps.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import neo4j
import neo4j.exceptions
import neo4j.graph

from kg.errors import DatabaseError
from loaders.errors import ConfigError

__all__ = [
    "ALLOWED_FUNCTIONS",
    "ALLOWED_PROCEDURES",
    "CypherError",
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
        # GDS: its version only. Its algorithms run on a projection that must first be written
        # to the graph catalog (gds.graph.project), which lives on after the query and is shared
        # by everyone; analysts get them once projections are made and dropped for them.
        "gds.version",
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
    """How long an analyst's query may run and how much of its result is read.

    Args:
        timeout: seconds; the server ends the transaction then (``SOUNDBRIDGE_QUERY_TIMEOUT``).
        max_rows: rows read at most (``SOUNDBRIDGE_QUERY_MAX_ROWS``).
        max_bytes: bytes of result (as JSON) read at most (``SOUNDBRIDGE_QUERY_MAX_BYTES``).

    Examples:
        >>> QueryLimits.from_env({"SOUNDBRIDGE_QUERY_TIMEOUT": "5"})
        QueryLimits(timeout=5.0, max_rows=1000, max_bytes=10000000)
    """

    timeout: float = 30.0
    max_rows: int = 1000
    max_bytes: int = 10_000_000

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
    """Column names, rows (each a list of plain values, in column order) and, when the result was
    cut at a limit, a one-line ``notice`` saying which limit and how to change it."""

    columns: list[str]
    rows: list[list[Any]]
    notice: str | None = None

    @property
    def truncated(self) -> bool:
        """Whether rows were left unread at a limit."""
        return self.notice is not None

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


def _tokens(query: str) -> Iterator[tuple[str, str]]:
    """``(kind, text)`` of the query's tokens; comments and white space dropped, strings blanked,
    back-quoted names unquoted (a quoted ``a.b`` reads as the name ``a.b``)."""
    for m in _TOKEN.finditer(query):
        kind = m.lastgroup or "punct"
        text = m.group()
        if kind in ("space", "line_comment", "block_comment"):
            continue
        if kind == "string":
            yield "string", "''"
        elif kind == "quoted":
            parts = text.strip("`").replace("``", "`").split(".")
            for i, part in enumerate(parts):
                if i:
                    yield "punct", "."
                yield "word", part
        else:
            yield kind, text


def check_allowed(query: str) -> None:
    """Refuse a query that uses what analysts may not (see the module docstring).

    Raises:
        QueryRefused: naming what was refused and what is allowed instead.

    Examples:
        >>> check_allowed("MATCH (t:Track) RETURN toLower(t.name) LIMIT 5")
        >>> check_allowed("CALL dbms.listConfig()")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        kg.cypher.QueryRefused: procedure dbms.listConfig is not open to analysts
    """
    toks = list(_tokens(query))
    words = [(i, t.upper()) for i, (k, t) in enumerate(toks) if k == "word"]

    def prev(i: int) -> str:
        return toks[i - 1][1].upper() if i > 0 else ""

    def after(i: int) -> str:
        return toks[i + 1][1].upper() if i + 1 < len(toks) else ""

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
            while j < len(toks) and toks[j][1].upper() in _SHOW_MODIFIERS:
                j += 1
            what = toks[j][1].upper() if j < len(toks) else ""
            if what not in _SHOW_ALLOWED:
                raise QueryRefused(
                    f"SHOW {what or '…'} is not open to analysts; SHOW INDEXES, CONSTRAINTS, "
                    "PROCEDURES and FUNCTIONS are"
                )
    for start, name in _dotted_calls(toks):
        called = name.lower()
        is_procedure = prev(start) == "CALL"
        if is_procedure and called not in _PROCEDURES_LC:
            raise QueryRefused(
                f"procedure {name} is not open to analysts; allowed: "
                f"{', '.join(sorted(ALLOWED_PROCEDURES))} (docs/cypher.md)"
            )
        if not is_procedure and not any(
            called == f or (f.endswith(".") and called.startswith(f)) for f in _FUNCTIONS_LC
        ):
            raise QueryRefused(
                f"function {name} is not open to analysts; Cypher's own functions are, and "
                f"{', '.join(sorted(ALLOWED_FUNCTIONS))} (docs/cypher.md)"
            )


def _dotted_calls(toks: list[tuple[str, str]]) -> Iterator[tuple[int, str]]:
    """Namespaced names that are called: ``a.b(`` anywhere, and ``CALL a.b`` with or without
    parentheses. Yields ``(index of the name's first token, name)``."""
    i = 0
    while i < len(toks):
        kind, _ = toks[i]
        starts_chain = kind == "word" and (i == 0 or toks[i - 1][1] not in (".", "$"))
        if not starts_chain:
            i += 1
            continue
        j = i
        while j + 2 < len(toks) and toks[j + 1][1] == "." and toks[j + 2][0] == "word":
            j += 2
        name = "".join(t for _, t in toks[i : j + 1])
        called = j + 1 < len(toks) and toks[j + 1][1] == "("
        after_call = i > 0 and toks[i - 1][1].upper() == "CALL"
        if (j > i and called) or (after_call and toks[i][1] != "{"):
            yield i, name
        i = j + 1


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

    Args:
        driver: an open driver.
        query: Cypher; values belong in ``params`` (``$name``), never formatted in.
        params: query parameters.
        database: the database; ``None`` is the server default.
        limit: read at most this many rows (below ``limits.max_rows``; the notice then says so).
        limits: time, row and byte limits; default: :meth:`QueryLimits.from_env`.

    Returns:
        The rows read; ``notice`` says when a limit cut them. Reading stops at the cut and the
        transaction is rolled back, so the server stops the rest of the query.

    Raises:
        QueryRefused: the query uses what analysts may not (:func:`check_allowed`).
        ReadOnlyViolation: the query writes.
        QueryTimeout: the server stopped it at ``limits.timeout``.
        QueryTooLarge: it needed more memory than the server allows, or one row is larger than
            ``limits.max_bytes``.
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
    check_allowed(query)
    max_rows = limits.max_rows if limit is None else min(limit, limits.max_rows)
    rows: list[list[Any]] = []
    size = 0
    notice = None
    try:
        with driver.session(
            database=database,
            default_access_mode=neo4j.READ_ACCESS,
            fetch_size=min(max_rows + 1, 100),  # what the driver buffers ahead of the caps
        ) as session:
            tx = session.begin_transaction(timeout=limits.timeout)
            interrupted = False
            try:
                result = tx.run(query, dict(params or {}))
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
                            f"{_mb(limits.max_bytes)} a result may hold ({MAX_BYTES_ENV}="
                            f"{limits.max_bytes}); return less per row (e.g. size(collect(…)) "
                            f"or LIMIT inside collect), or raise {MAX_BYTES_ENV}"
                        )
                    if size + n > limits.max_bytes:
                        notice = (
                            f"truncated at {len(rows):,} rows / {_mb(size)}: the result may "
                            f"hold {_mb(limits.max_bytes)} ({MAX_BYTES_ENV}={limits.max_bytes}); "
                            "add LIMIT, return fewer columns, or raise it"
                        )
                        break
                    rows.append(row)
                    size += n
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
    except neo4j.exceptions.Neo4jError as e:
        raise _query_error(e, limits) from e
    return QueryResult(columns=columns, rows=rows, notice=notice)


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


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _query_error(e: neo4j.exceptions.Neo4jError, limits: QueryLimits) -> CypherError:
    """The server's refusal of a query as the :class:`CypherError` that names its cause."""
    code = e.code or ""
    message = " ".join((e.message or str(e)).split())
    if "AccessMode" in code or "ForbiddenOnReadOnly" in code or "WriteOnReadOnly" in code:
        return ReadOnlyViolation(
            "this query writes to the graph, and analysts' queries are read-only "
            f"(server said: {message}); use 'soundbridge ingest' or the Python API to change data"
        )
    if "TransactionTimedOut" in code:
        return QueryTimeout(
            f"the query ran longer than {limits.timeout:g} s, the limit for analysts' queries "
            f"({TIMEOUT_ENV}); add LIMIT or narrow the MATCH, or raise {TIMEOUT_ENV}"
        )
    if "MemoryPoolOutOfMemory" in code or "OutOfMemory" in code:
        return QueryTooLarge(
            "the query needed more memory than the server allows one transaction "
            "(db.memory.transaction.max); aggregate earlier, add LIMIT, or ask an operator to "
            f"raise it (server said: {message})"
        )
    return CypherError(f"{code}: {message}" if code else message)


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
