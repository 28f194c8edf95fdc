"""Fill an empty database from the synthetic generator's ``neo4j-admin`` CSVs; derive over Bolt.

Bolt ingestion (:mod:`kg.ingest`) writes about 10⁵ relationships a second; ``neo4j-admin database
import full`` writes the store files directly, an order of magnitude faster, but only into an
empty database and, in Neo4j Community, only while the server is stopped. :func:`bulk_ingest`
runs the whole path on soundbridge's own server (:class:`kg.server.Neo4jServer`):

1. check the folder (``synth.json`` and every CSV it lists: :func:`loaders.synth.read_summary`);
2. refuse a database that holds any node or relationship (nothing is changed; the Bolt path,
   ``soundbridge ingest``, adds to a filled graph);
3. stop the server, run the import tool of the installed jars
   (:meth:`~kg.server.Neo4jServer.run_admin`), start the server again;
4. derive over Bolt what ingestion derives: the schema's constraints and indexes
   (:func:`kg.schema.ensure_schema`), ``CO_COLLECTED`` between tracks from ``COLLECTED`` and
   between artists from ``LISTENED`` (weight ``|U_i ∩ U_j| / |U_i|``, the ``top_k`` targets per
   source, as :func:`kg.cocollection.co_collection_weights` keeps them), and a check that every
   society reaches a world region through the imported ``PART_OF`` tree.

Co-collection is computed in blocks of source items (:func:`co_collection_blocks`) so that memory
stays bounded; its work grows with the sum over users of (items per user)², which heavy
collectors dominate.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import neo4j
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from tqdm.auto import tqdm

from kg import queries as q
from kg.batches import DEFAULT_BATCH_SIZE, DEFAULT_WORKERS, BatchWriter, Write
from kg.cocollection import DEFAULT_TOP_K, co_collection_blocks
from kg.config import Neo4jSettings
from kg.connection import connect as connect_driver
from kg.errors import DatabaseError
from kg.schema import ensure_schema
from kg.server import Neo4jServer
from kg.stats import GraphCounts, graph_counts
from loaders.synth import SynthSummary, read_summary

__all__ = ["DERIVED", "BulkSummary", "bulk_ingest", "require_empty"]

#: What is derived after the import: (bulk CSV of (user, item) pairs, the write, its name).
DERIVED: tuple[tuple[str, q.RelWrite, str], ...] = (
    ("collected", q.TRACK_CO_COLLECTED, "Track CO_COLLECTED"),
    ("listened", q.ARTIST_CO_COLLECTED, "Artist CO_COLLECTED"),
)

_IMPORTED = re.compile(r"^\s*(\d+) (nodes|relationships|properties)\s*$")


@dataclass
class BulkSummary:
    """What :func:`bulk_ingest` did.

    Attributes:
        folder: the synthetic dataset's folder.
        database: the database filled.
        imported: what the import tool reported: ``nodes``, ``relationships``, ``properties``.
        import_seconds: wall-clock seconds of the import tool (JVM start included).
        restart_seconds: seconds to stop the server before and start it after the import.
        derived: relationship rows written per derivation (``"Track CO_COLLECTED"``, …).
        derive_seconds: seconds of every derivation (schema, co-collection, checks).
        counts: node and relationship counts of the whole graph afterwards.
        notes: things a person should know.
        total_seconds: the whole call.
    """

    folder: Path
    database: str
    imported: dict[str, int]
    import_seconds: float
    restart_seconds: float
    derived: dict[str, int]
    derive_seconds: float
    counts: GraphCounts
    notes: list[str] = field(default_factory=list)
    total_seconds: float = 0.0

    @property
    def import_rate(self) -> float:
        """Imported relationships per second of the import tool."""
        return self.imported.get("relationships", 0) / max(self.import_seconds, 1e-9)

    @property
    def derive_rate(self) -> float:
        """Derived relationships per second of the derivations."""
        return sum(self.derived.values()) / max(self.derive_seconds, 1e-9)

    def figures(self) -> dict[str, object]:
        """The figures as JSON-ready values (what ``soundbridge ingest --bulk --json`` prints)."""
        return {
            "folder": str(self.folder),
            "database": self.database,
            "imported": self.imported,
            "import_seconds": round(self.import_seconds, 3),
            "import_relationships_per_second": round(self.import_rate),
            "restart_seconds": round(self.restart_seconds, 3),
            "derived": self.derived,
            "derive_seconds": round(self.derive_seconds, 3),
            "derive_relationships_per_second": round(self.derive_rate),
            "nodes": self.counts.nodes,
            "relationships": self.counts.relationships,
            "notes": self.notes,
            "total_seconds": round(self.total_seconds, 3),
            "end_to_end_relationships_per_second": round(
                (self.imported.get("relationships", 0) + sum(self.derived.values()))
                / max(self.total_seconds, 1e-9)
            ),
        }


def require_empty(driver: neo4j.Driver, *, database: str, uri: str) -> None:
    """Refuse a database that holds any node or relationship.

    Raises:
        DatabaseError: it is not empty; the message names it and the Bolt path to use instead.
    """
    with driver.session(database=database, default_access_mode=neo4j.READ_ACCESS) as session:
        record = session.run(q.COUNT_ALL).single(strict=True)
    nodes, rels = int(record["nodes"]), int(record["relationships"])
    if nodes or rels:
        raise DatabaseError(
            f"database {database!r} at {uri} is not empty ({nodes:,} nodes, {rels:,} "
            "relationships): a bulk import only fills an empty database; add to it over Bolt "
            "with `soundbridge ingest` instead (a synthetic folder with its NetEase export: "
            "`soundbridge ingest --source netease --netease DIR`)"
        )


def bulk_ingest(
    server: Neo4jServer,
    folder: str | Path,
    *,
    database: str = "neo4j",
    connect: Callable[[Neo4jSettings], neo4j.Driver] = connect_driver,
    co_collection_top_k: int = DEFAULT_TOP_K,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = DEFAULT_WORKERS,
    import_heap: str = "1g",
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
) -> BulkSummary:
    """Bulk-import a ``soundbridge synth`` folder into an empty database; see the module docstring.

    The server restarts in the middle, and a driver's bookmarks from before the import name
    transactions the new store does not have; so this takes the driver factory rather than a
    driver, and opens one driver for the emptiness check and another after the restart.

    Args:
        server: soundbridge's server (running or not) whose database is filled.
        folder: the ``--out`` folder of ``soundbridge synth`` (``synth.json``, ``bulk/``).
        database: the database to fill (Neo4j Community has one: ``neo4j``).
        connect: builds a driver for ``server.settings`` (:func:`kg.connection.connect`).
        co_collection_top_k: neighbours kept per track / artist for ``CO_COLLECTED``.
        batch_size: rows per transaction of the derived writes.
        workers: concurrent writer sessions (see :mod:`kg.batches`).
        import_heap: the import tool's JVM heap.
        progress: progress bars and the import tool's own output (``None``: on a terminal).
        log: where to say what is happening (e.g. ``click.echo``); silent when ``None``.

    Returns:
        A :class:`BulkSummary`; the server is left running.

    Raises:
        DataError: the folder, ``synth.json`` or a CSV is missing (nothing is touched).
        DatabaseError: Neo4j is not installed, the database is not empty (nothing is changed),
            or the server or the import tool fails.

    Examples:
        >>> server = Neo4jServer(Neo4jSettings.from_env())  # doctest: +SKIP
        >>> s = bulk_ingest(server, "data/synth")  # doctest: +SKIP
        >>> s.imported["relationships"], round(s.import_rate)  # doctest: +SKIP
    """
    say = log or (lambda _msg: None)
    t_start = time.perf_counter()
    synth = read_summary(folder)
    if not server.is_installed():
        raise DatabaseError(
            f"Neo4j is not installed in {server.settings.lib}; run `soundbridge neo4j install` "
            "first (or point SOUNDBRIDGE_NEO4J_LIB at the installed jars)"
        )
    uri = server.settings.uri
    store = server.home / "data" / "databases" / database
    restart = 0.0
    if server.status().running or store.exists():
        # A database that exists may hold data: only a running server can say.
        t0 = time.perf_counter()
        started = server.start()
        try:
            with connect(server.settings) as driver:
                require_empty(driver, database=database, uri=uri)
        except BaseException:
            if started:  # leave the server as it was found
                server.stop()
            raise
        say(f"database {database!r} at {uri} is empty; stopping the server for the import")
        server.stop()
        restart += time.perf_counter() - t0
    else:
        say(f"database {database!r} of {server.home} does not exist yet: importing into it")

    show = progress if progress is not None else sys.stderr.isatty()
    args = [*synth.import_command(database)[1:-1], "--overwrite-destination=true"]
    args += [f"--report-file={server.logs_dir / 'import.report'}", database]
    say(f"neo4j-admin {' '.join(args[:3])} from {synth.out_dir / 'bulk'}")
    t0 = time.perf_counter()
    output = server.run_admin(args, heap=import_heap, echo=say if show else None)
    import_seconds = time.perf_counter() - t0
    imported = _imported(output)
    say(
        f"imported {imported.get('nodes', 0):,} nodes, {imported.get('relationships', 0):,} "
        f"relationships in {import_seconds:.1f}s; starting the server"
    )
    t0 = time.perf_counter()
    server.start()
    restart += time.perf_counter() - t0

    t0 = time.perf_counter()
    with connect(server.settings) as driver:
        derived, notes = _derive(
            driver,
            synth,
            database=database,
            top_k=co_collection_top_k,
            batch_size=batch_size,
            workers=workers,
            progress=show,
            say=say,
        )
        derive_seconds = time.perf_counter() - t0
        counts = graph_counts(driver, database=database)
    return BulkSummary(
        folder=synth.out_dir,
        database=database,
        imported=imported,
        import_seconds=import_seconds,
        restart_seconds=restart,
        derived=derived,
        derive_seconds=derive_seconds,
        counts=counts,
        notes=notes,
        total_seconds=time.perf_counter() - t_start,
    )


def _imported(output: str) -> dict[str, int]:
    """The counts after ``IMPORT DONE`` in the import tool's output."""
    found: dict[str, int] = {}
    done = output.rfind("IMPORT DONE")
    for line in output[max(done, 0) :].splitlines():
        m = _IMPORTED.match(line)
        if m:
            found[m.group(2)] = int(m.group(1))
    return found


def _derive(
    driver: neo4j.Driver,
    synth: SynthSummary,
    *,
    database: str,
    top_k: int,
    batch_size: int,
    workers: int,
    progress: bool,
    say: Callable[[str], None],
) -> tuple[dict[str, int], list[str]]:
    say("creating the schema's constraints and indexes")
    ensure_schema(driver, database=database)
    notes: list[str] = []
    with driver.session(database=database, default_access_mode=neo4j.READ_ACCESS) as session:
        gaps = int(session.run(q.CULTURE_TREE_GAPS).single(strict=True)["n"])
    if gaps:
        notes.append(f"culture tree: {gaps:,} societies do not reach a world region via PART_OF")
    writer = BatchWriter(
        driver, database=database, batch_size=batch_size, workers=workers, progress=False
    )
    derived: dict[str, int] = {}
    for name, rw, kind in DERIVED:
        users, items, item_ids = _pairs(synth.bulk[name])
        eids = _element_ids(driver, rw.src_label, database=database)
        missing = [i for i in item_ids if i not in eids]
        if missing:
            raise DatabaseError(
                f"{synth.bulk[name]}: {len(missing):,} {rw.src_label} ids (e.g. {missing[0]!r}) "
                f"are not in database {database!r} after the import; write the folder again "
                "with `soundbridge synth --force` and import it into an empty database"
            )
        item_eids = np.array([eids[i] for i in item_ids.tolist()], dtype=object)
        written = 0
        with tqdm(
            total=len(item_ids), desc=f"derive {kind}", unit="item", disable=not progress
        ) as bar:
            for src, dst, weight, common in co_collection_blocks(
                users, items, len(item_ids), top_k=top_k, progress=bar.update
            ):
                rows: list[dict[str, Any]] = [
                    {"src": s, "dst": d, "weight": w, "common": c}
                    for s, d, w, c in zip(
                        item_eids[src].tolist(),
                        item_eids[dst].tolist(),
                        weight.tolist(),
                        common.tolist(),
                        strict=True,
                    )
                ]
                # The import wrote no CO_COLLECTED and the database was empty: CREATE.
                writer.write_phase("derive", [Write(rw.create, rows, kind, "bulk")])
                written += len(rows)
        derived[kind] = written
        say(f"derived {kind}: {written:,} relationships")
    return derived, notes


def _pairs(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (user, item) pairs of a relationship CSV: user codes, item codes, item ids.

    Items are numbered in sorted id order, as :func:`kg.cocollection.co_collection_weights`
    numbers them (``np.unique``), so that ties are broken the same way.

    Shapes: returns ``(pairs,)`` int64, ``(pairs,)`` int64, ``(items,)`` object.
    """
    with path.open(encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split(",")
    start, end = header[0], header[1]
    table = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            include_columns=[start, end],
            column_types={start: pa.large_string(), end: pa.large_string()},
        ),
    )

    def codes(column: str, *, ordered: bool) -> tuple[np.ndarray, np.ndarray]:
        encoded = pc.dictionary_encode(table.column(column).combine_chunks())
        idx = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        values = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
        if not ordered:
            return idx, values
        order = np.argsort(values, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        return rank[idx], values[order]

    users, _ = codes(start, ordered=False)
    items, item_ids = codes(end, ordered=True)
    return users, items, item_ids


def _element_ids(driver: neo4j.Driver, label: str, *, database: str) -> dict[str, str]:
    with driver.session(database=database, default_access_mode=neo4j.READ_ACCESS) as session:
        return {r["id"]: r["eid"] for r in session.run(q.ELEMENT_IDS[label])}
