"""Batched, idempotent writes over Bolt.

Every bulk write in soundbridge goes through :class:`BatchWriter`: rows are sent as a ``$rows``
parameter to an ``UNWIND …`` statement in fixed-size batches, one managed transaction per batch
(retried by the driver on transient errors such as deadlocks), with a progress bar per source.

Three things make it fast on a small machine without giving up idempotency:

- **Phases.** :meth:`BatchWriter.write_phase` takes every write that may run in any order (all node
  writes; all relationship writes) and feeds their batches to one pool, so that the many small
  writes (the 60 KGCN relation types) overlap instead of paying a round trip each in turn.
- **Parallel batches.** ``workers`` sessions write concurrently, so the server uses more than one
  core. Concurrent relationship writes may deadlock on shared end nodes; the driver retries those
  transactions, and the statements are idempotent, so the result is the same.
- **CREATE when nothing exists yet.** For a relationship shape (:class:`~kg.queries.RelWrite`) the
  writer first asks the count store how many such relationships exist. If none, it uses the
  ``CREATE`` statement (rows are unique per pair, so the result is what MERGE would give,
  without the existence checks); otherwise ``MERGE``. A run killed half-way leaves some
  relationships, so the next run takes the MERGE path and converges to the same graph. Two
  ingestions into the same graph must not run at the same time (both could see "none yet").
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import neo4j
from tqdm.auto import tqdm

from kg.queries import RelWrite

__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_WORKERS", "BatchWriter", "Write", "WriteStats"]

DEFAULT_BATCH_SIZE = 10_000
DEFAULT_WORKERS = 2


@dataclass(frozen=True)
class Write:
    """One bulk write: ``rows`` through ``statement``.

    Attributes:
        statement: a Cypher string taking ``$rows``, or a :class:`~kg.queries.RelWrite`.
        rows: the rows (plain Python values).
        kind: what is written, for the statistics (``"Track"``, ``"Track.mir"``, ``"LISTENED"``).
        group: the progress bar it counts towards (the source name).
    """

    statement: str | RelWrite
    rows: Sequence[dict[str, Any]]
    kind: str
    group: str = ""


@dataclass
class WriteStats:
    """Rows written per kind, seconds per phase, and the relationship kinds written by CREATE."""

    rows: dict[str, int] = field(default_factory=dict)
    phase_seconds: dict[str, float] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)


class BatchWriter:
    """Send rows to parameterised ``UNWIND $rows`` statements in parallel batches.

    Args:
        driver: an open driver (see :func:`kg.connection.connect`).
        database: the database name; ``None`` uses the server's default.
        batch_size: rows per transaction.
        workers: concurrent sessions (1 writes strictly in order).
        progress: progress bars; ``None`` shows them only on a terminal.

    Examples:
        >>> # writer = BatchWriter(driver)
        >>> # writer.write_phase("nodes", [Write(queries.MERGE_USERS, rows, "User", "lastfm")])
    """

    def __init__(
        self,
        driver: neo4j.Driver,
        *,
        database: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        workers: int = DEFAULT_WORKERS,
        progress: bool | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.driver = driver
        self.database = database
        self.batch_size = batch_size
        self.workers = workers
        self.progress = progress
        self.stats = WriteStats()

    def write_phase(self, name: str, writes: Sequence[Write]) -> float:
        """Write every batch of ``writes``, in any order; returns the seconds spent.

        A :class:`~kg.queries.RelWrite` is written with CREATE when no relationship of its shape
        exists yet, else with MERGE (see the module docstring). Raises the first failing batch's
        error after the batches already in flight finish.
        """
        t0 = time.perf_counter()
        tasks: list[tuple[str, list[dict[str, Any]], str]] = []
        totals: dict[str, int] = {}
        for w in writes:
            if not w.rows:
                continue
            text = self._resolve(w)
            for i in range(0, len(w.rows), self.batch_size):
                tasks.append((text, list(w.rows[i : i + self.batch_size]), w.group))
            totals[w.group] = totals.get(w.group, 0) + len(w.rows)
            self.stats.rows[w.kind] = self.stats.rows.get(w.kind, 0) + len(w.rows)
        disable = None if self.progress is None else not self.progress
        with ExitStack() as stack:
            bars = {
                g: stack.enter_context(
                    tqdm(
                        total=n,
                        desc=f"{g} {name}".strip(),
                        unit="row",
                        position=i,
                        disable=disable,
                        leave=False,
                    )
                )
                for i, (g, n) in enumerate(totals.items())
            }
            self._run_tasks(tasks, bars)
        seconds = time.perf_counter() - t0
        self.stats.phase_seconds[name] = self.stats.phase_seconds.get(name, 0.0) + seconds
        return seconds

    def _resolve(self, w: Write) -> str:
        if not isinstance(w.statement, RelWrite):
            return w.statement
        # A type that does not exist yet is the normal case here: silence the server's
        # "relationship type does not exist" notification for the probe.
        with self.driver.session(
            database=self.database,
            default_access_mode=neo4j.READ_ACCESS,
            notifications_min_severity="OFF",
        ) as session:
            existing = int(session.run(w.statement.probe).single(strict=True)["n"])
        if existing == 0:
            self.stats.created.add(w.kind)
            return w.statement.create
        return w.statement.merge

    def _run_tasks(
        self, tasks: list[tuple[str, list[dict[str, Any]], str]], bars: dict[str, Any]
    ) -> None:
        if self.workers == 1:
            with self.driver.session(database=self.database) as session:
                for text, rows, group in tasks:
                    session.execute_write(_run, text, rows)
                    bars[group].update(len(rows))
            return

        def one(text: str, rows: list[dict[str, Any]]) -> None:
            with self.driver.session(database=self.database) as session:
                session.execute_write(_run, text, rows)

        # At most `workers` batches in flight, so a failure stops the rest quickly.
        with ThreadPoolExecutor(self.workers, thread_name_prefix="kg-write") as pool:
            running: dict[Future[None], tuple[str, int]] = {}
            for text, rows, group in tasks:
                running[pool.submit(one, text, rows)] = (group, len(rows))
                if len(running) >= self.workers:
                    _drain(running, bars)
            while running:
                _drain(running, bars)


def _drain(running: dict[Future[None], tuple[str, int]], bars: dict[str, Any]) -> None:
    done, _ = wait(running, return_when=FIRST_COMPLETED)
    for f in done:
        group, n = running.pop(f)
        f.result()  # re-raises a failed batch's error here
        bars[group].update(n)


def _run(tx: neo4j.ManagedTransaction, statement: str, rows: list[dict[str, Any]]) -> None:
    tx.run(statement, rows=rows).consume()
