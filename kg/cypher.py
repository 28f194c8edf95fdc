"""Read-only Cypher for analysts.

Queries run in READ access mode inside a managed read transaction, so the server itself refuses any
write (``CREATE``, ``MERGE``, ``SET``, ``DELETE``…); the refusal comes back as
:class:`ReadOnlyViolation` with a message that says so. Results are plain Python values (nodes and
relationships become dicts) so that they print as tables or JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import neo4j
import neo4j.exceptions
import neo4j.graph

from kg.errors import DatabaseError

__all__ = ["QueryResult", "ReadOnlyViolation", "CypherError", "format_table", "run_read"]


class CypherError(DatabaseError):
    """The query is not valid Cypher, or the server could not run it."""


class ReadOnlyViolation(CypherError):
    """The query tried to write; analysts' queries are read-only."""


@dataclass(frozen=True)
class QueryResult:
    """Column names and rows (each a list of plain values, in column order)."""

    columns: list[str]
    rows: list[list[Any]]

    def records(self) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column."""
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]

    def to_json(self) -> str:
        """The rows as a JSON array of objects."""
        return json.dumps(self.records(), ensure_ascii=False, default=str, indent=2)


def run_read(
    driver: neo4j.Driver,
    query: str,
    params: Mapping[str, Any] | None = None,
    *,
    database: str | None = None,
    limit: int | None = None,
) -> QueryResult:
    """Run ``query`` read-only and return its rows.

    Args:
        driver: an open driver.
        query: Cypher; values belong in ``params`` (``$name``), never formatted in.
        params: query parameters.
        database: the database; ``None`` is the server default.
        limit: keep at most this many rows (the query still runs whole; add LIMIT for big results).

    Raises:
        ReadOnlyViolation: the query writes.
        CypherError: a syntax or semantic error, with the server's message.

    Examples:
        >>> # run_read(driver, "MATCH (f:Function) RETURN f.name AS name ORDER BY name").rows[0]
        >>> # ['Dance']
    """
    if not query.strip():
        raise CypherError(
            "empty query: give a Cypher statement such as 'MATCH (n) RETURN count(n)'"
        )

    def work(tx: neo4j.ManagedTransaction) -> QueryResult:
        result = tx.run(query, dict(params or {}))
        columns = list(result.keys())
        rows = []
        for i, record in enumerate(result):
            if limit is not None and i >= limit:
                break
            rows.append([_plain(v) for v in record.values()])
        result.consume()
        return QueryResult(columns=columns, rows=rows)

    try:
        with driver.session(database=database, default_access_mode=neo4j.READ_ACCESS) as session:
            return session.execute_read(work)
    except neo4j.exceptions.ClientError as e:
        code = e.code or ""
        if "AccessMode" in code or "ForbiddenOnReadOnly" in code or "WriteOnReadOnly" in code:
            raise ReadOnlyViolation(
                "this query writes to the graph, and analysts' queries are read-only "
                f"(server said: {e.message}); use 'soundbridge ingest' or the Python API to "
                "change data"
            ) from e
        raise CypherError(f"{code}: {e.message}") from e


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
