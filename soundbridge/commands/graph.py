"""``soundbridge ingest`` and ``soundbridge cypher``: fill the graph, and query it read-only."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from kg.bulk import BulkSummary, bulk_ingest
from kg.config import Neo4jSettings
from kg.connection import connect
from kg.cypher import format_table, run_read
from kg.ingest import SOURCES, IngestSummary, ingest, require_sources
from kg.server import Neo4jServer
from kg.stats import GraphCounts

__all__ = ["cypher", "ingest_cmd", "print_bulk_summary", "print_summary"]


def print_summary(summary: IngestSummary) -> None:
    """Print what an ingestion wrote and what the graph now holds."""
    echo = click.echo
    echo(
        f"ingested: {', '.join(summary.sources)}"
        + (f"  (absent: {', '.join(summary.missing)})" if summary.missing else "")
    )
    echo(
        f"time: load {summary.load_seconds:.1f}s, write {summary.write_seconds:.1f}s, "
        f"total {summary.total_seconds:.1f}s; {summary.relationships_written:,} relationship rows "
        f"({summary.relationships_written / max(summary.write_seconds, 1e-9):,.0f}/s while writing)"
    )
    print_counts(summary.counts, summary.notes, societies=True)


def print_counts(
    counts: GraphCounts, notes: list[str], *, width: int = 9, societies: bool = False
) -> None:
    """Print the graph's nodes per label and relationships per type, then the notes."""
    echo = click.echo
    echo("nodes:")
    for label, n in counts.nodes.items():
        echo(f"  {label:<12} {n:>{width},}")
    if societies:
        echo(f"  (society-level Culture nodes: {counts.societies:,})")
    echo("relationships:")
    for rel, n in counts.relationships.items():
        echo(f"  {rel:<40} {n:>{width},}")
    for note in notes:
        echo(f"note: {note}")


def print_bulk_summary(s: BulkSummary) -> None:
    """Print what a bulk import wrote, how fast, and what the graph now holds."""
    echo = click.echo
    imported = s.imported
    echo(
        f"imported {s.folder} into {s.database!r}: {imported.get('nodes', 0):,} nodes, "
        f"{imported.get('relationships', 0):,} relationships in {s.import_seconds:.1f}s "
        f"({s.import_rate:,.0f} relationships/s; server stop and start {s.restart_seconds:.1f}s)"
    )
    echo(
        f"derived {sum(s.derived.values()):,} relationships in {s.derive_seconds:.1f}s "
        f"({s.derive_rate:,.0f}/s): " + ", ".join(f"{kind} {n:,}" for kind, n in s.derived.items())
    )
    echo(
        f"total {s.total_seconds:.1f}s; the graph holds {s.counts.total_nodes:,} nodes and "
        f"{s.counts.total_relationships:,} relationships"
    )
    print_counts(s.counts, s.notes, width=11)


@click.command("ingest")
@click.option(
    "--data",
    "data",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data root (default: $SOUNDBRIDGE_DATA).",
)
@click.option(
    "--source",
    "sources",
    multiple=True,
    type=click.Choice(list(SOURCES)),
    help="Ingest only this source (repeatable; default: every source present).",
)
@click.option(
    "--netease",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of NetEase Cloud Music API exports (default: <data>/netease).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Rows per transaction.",
)
@click.option(
    "--bulk",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Fill an EMPTY database from the neo4j-admin CSVs of a `soundbridge synth --out` "
    "folder: stops soundbridge's server, imports, starts it, derives CO_COLLECTED.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def ingest_cmd(
    data: Path | None,
    sources: tuple[str, ...],
    netease: Path | None,
    batch_size: int,
    bulk: Path | None,
    as_json: bool,
) -> None:
    """Load every dataset present into Neo4j (idempotent: run it again safely).

    With --bulk DIR, fill an empty database from a synthetic folder with neo4j-admin instead.
    """
    if bulk is not None:
        if data is not None or sources or netease is not None:
            raise click.UsageError(
                "--bulk imports one synthetic folder; leave out --data, --source and --netease"
            )
        done = bulk_ingest(
            Neo4jServer(Neo4jSettings.from_env()),
            bulk,
            batch_size=batch_size,
            progress=None if not as_json else False,
            log=None if as_json else lambda m: click.echo(m, err=True),
        )
        if as_json:
            click.echo(json.dumps(done.figures(), indent=2))
        else:
            print_bulk_summary(done)
        return
    # A data folder without any dataset is refused before a server is needed.
    require_sources(data, sources=list(sources) or None, netease_path=netease)
    settings = Neo4jSettings.from_env()
    with connect(settings) as driver:
        summary = ingest(
            driver,
            data,
            sources=list(sources) or None,
            netease_path=netease,
            batch_size=batch_size,
            progress=None if not as_json else False,
            log=None if as_json else lambda m: click.echo(m, err=True),
        )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "sources": summary.sources,
                    "missing": summary.missing,
                    "rows": summary.rows,
                    "nodes": summary.counts.nodes,
                    "relationships": summary.counts.relationships,
                    "societies": summary.counts.societies,
                    "notes": summary.notes,
                    "load_seconds": summary.load_seconds,
                    "write_seconds": summary.write_seconds,
                    "total_seconds": summary.total_seconds,
                },
                indent=2,
            )
        )
    else:
        print_summary(summary)


@click.command("cypher")
@click.argument("query", required=False)
@click.option(
    "-f",
    "--file",
    "query_file",
    type=click.File("r"),
    default=None,
    help="Read the query from a file ('-' for standard input).",
)
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=JSON",
    help="A query parameter, e.g. -p culture='\"Central Andes\"' or -p k=5.",
)
@click.option("--json", "as_json", is_flag=True, help="Print rows as JSON instead of a table.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Print at most N rows.")
def cypher(
    query: str | None,
    query_file: click.utils.LazyFile | None,
    params: tuple[str, ...],
    as_json: bool,
    limit: int | None,
) -> None:
    """Run a read-only Cypher QUERY and print the result.

    Writes, LOAD CSV and procedures outside the analysts' allow-list are refused; the query stops
    after SOUNDBRIDGE_QUERY_TIMEOUT seconds (30), and at most SOUNDBRIDGE_QUERY_MAX_ROWS rows
    (1000) and SOUNDBRIDGE_QUERY_MAX_BYTES bytes (10 MB) are printed, with a note when cut.
    """
    if query_file is not None:
        query = query_file.read()
    if not query:
        raise click.UsageError("give a QUERY argument or --file")
    values = {}
    for p in params:
        name, sep, raw = p.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{p!r}: expected NAME=VALUE", param_hint="--param")
        try:
            values[name] = json.loads(raw)
        except json.JSONDecodeError:
            values[name] = raw  # a bare word is a string
    settings = Neo4jSettings.from_env()
    with connect(settings) as driver:
        result = run_read(driver, query, values, limit=limit)
    if as_json:
        click.echo(result.to_json())
    else:
        click.echo(format_table(result))
    sys.stdout.flush()
    if result.notice:
        # The server's warnings begin with "warning:"; a result cut at a limit is a note.
        click.echo(result.notice if result.warnings else f"note: {result.notice}", err=True)
