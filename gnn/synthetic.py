"""The training graph of a synthetic dataset, read from its bulk CSVs without Neo4j.

:func:`loaders.synth.generate` writes the whole graph as ``neo4j-admin`` CSV files under
``bulk/``. :func:`synthetic_graph` turns such a folder into the ``HeteroData`` that
:func:`gnn.train.train` takes, shaped as :func:`gnn.graph.training_graph` shapes the real one,
so that training can be measured at tens of millions of relationships without a database:

* node types ``User``, ``Track``, ``Artist``, ``Playlist``, ``Culture``, ``Function``; the
  ``Track`` features ``x`` are ``factors.npy`` (z_c | z_s | z_a, float32), the other labels have
  none (:class:`gnn.model.HeteroLightGCN` gives them id embeddings);
* node indices are contiguous per label: ``netease:<n>`` is index ``n - 1`` (the generator
  numbers users, tracks, artists and playlists from 1 in file order), cultures and functions
  are numbered in the order of ``cultures.csv`` and ``functions.csv``;
* one edge type per relationship file, ``(User, LISTENED, Artist)`` and the others, and a
  reverse ``rev_<TYPE>`` for each one between two labels, so that messages flow both ways.
  Relations within one label are symmetric, as in the training graph: ``FRIEND`` as written
  (``friend.csv`` holds both directions of every tie), ``PART_OF`` with each edge in both
  directions. The ``LISTENED`` weights are not read (training uses the pairs only), and
  ``CO_COLLECTED`` is not built: it is derived, not generated, and the training graph of the
  served model leaves it out by default.

The generator writes every pair once (distinct (user, artist), (user, track), (track,
playlist) pairs; distinct ties), so the edges are taken as read, without the sort that
deduplication would cost at 50M rows; each edge type then holds exactly its file's rows.

**Memory.** The CSVs are streamed by pyarrow in blocks of ``block_size`` bytes, each id column
parsed to int32 indices on the way (``netease:<n>`` → ``n - 1``, no Python string per row). PyG
samples and indexes ``int64`` edge indices only, so the graph holds 8 bytes per node index; a
relation and its reverse share one ``(3, E)`` buffer ``[src; dst; src]`` whose rows 0–1 are the
edges and rows 1–2 the reversed ones (24 bytes a relationship instead of 32). While a file is
read its int32 columns (8 bytes a row) are held beside the graph built so far, so the build
peaks at about 24 bytes a relationship plus 8 bytes a row of the largest file, plus the track
factors (192 bytes a track).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import torch
from pyarrow import csv as pacsv
from torch_geometric.data import HeteroData
from tqdm.auto import tqdm

from loaders.errors import DataError
from loaders.synth import PREFIX, SynthSummary, read_summary

__all__ = ["LABELS", "RELATIONS", "SyntheticGraph", "node_id", "synthetic_graph"]

EdgeType = tuple[str, str, str]

#: The node labels of a synthetic graph, in the order of its ``HeteroData``.
LABELS = ("User", "Track", "Artist", "Playlist", "Culture", "Function")
#: ``bulk/`` relationship file → its edge type (source label, relationship type, target label).
RELATIONS: dict[str, EdgeType] = {
    "listened": ("User", "LISTENED", "Artist"),
    "friend": ("User", "FRIEND", "User"),
    "collected": ("User", "COLLECTED", "Track"),
    "in_playlist": ("Track", "IN_PLAYLIST", "Playlist"),
    "performed_by": ("Track", "PERFORMED_BY", "Artist"),
    "from_culture": ("Track", "FROM_CULTURE", "Culture"),
    "serves_function": ("Track", "SERVES_FUNCTION", "Function"),
    "part_of": ("Culture", "PART_OF", "Culture"),
}
#: Labels whose ids are ``netease:<n>`` (index ``n - 1``), and their counts in the summary.
_NUMBERED = {"User": "users", "Track": "tracks", "Artist": "artists", "Playlist": "playlists"}
_NAMED = {"Culture": "cultures", "Function": "functions"}
_AGAIN = "generate the folder again with `soundbridge synth --bulk-only`"


@dataclass(frozen=True, eq=False)
class SyntheticGraph:
    """What :func:`synthetic_graph` built.

    Attributes:
        data: the training graph (see the module docstring).
        summary: the folder's :class:`loaders.synth.SynthSummary`.
        named_ids: the ids of the labels not numbered ``netease:<n>``, in index order:
            ``{"Culture": (...), "Function": (...)}``.
        relationships: relationships read per edge type (the rows of its file).
    """

    data: HeteroData
    summary: SynthSummary
    named_ids: dict[str, tuple[str, ...]]
    relationships: dict[EdgeType, int]

    def nbytes(self) -> int:
        """Bytes of the graph's tensors, shared buffers counted once."""
        seen: dict[int, int] = {}
        for store in (*self.data.node_stores, *self.data.edge_stores):
            for value in store.values():
                if isinstance(value, torch.Tensor):
                    storage = value.untyped_storage()
                    seen[storage.data_ptr()] = storage.nbytes()
        return sum(seen.values())


def node_id(graph: SyntheticGraph, label: str, index: int) -> str:
    """The graph id of node ``index`` of ``label``.

    Examples:
        >>> import tempfile
        >>> from loaders.synth import generate
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = generate(d, users=20, tracks=50, artists=10, plays=200, cultures=20, seed=1,
        ...                  netease_json=False)
        ...     g = synthetic_graph(d)
        >>> node_id(g, "User", 0), node_id(g, "Culture", 20), node_id(g, "Function", 0)
        ('netease:1', 'synth-region-1', 'dance')
    """
    if label in graph.named_ids:
        return graph.named_ids[label][index]
    return f"{PREFIX}{index + 1}"


def synthetic_graph(
    folder: str | os.PathLike[str],
    *,
    relations: Collection[str] | None = None,
    block_size: int = 1 << 26,
    progress: bool = False,
) -> SyntheticGraph:
    """Build the training graph of a :func:`loaders.synth.generate` folder from its bulk CSVs.

    Args:
        folder: the ``--out`` folder of ``soundbridge synth`` (``synth.json`` and ``bulk/``).
        relations: relationship types to keep (e.g. ``{"LISTENED", "PERFORMED_BY"}``; ``None``:
            all of :data:`RELATIONS`); ``LISTENED``, the training pairs, is always kept.
        block_size: bytes of CSV parsed at a time.
        progress: show a progress bar over the relationship files.

    Returns:
        The graph, its summary, the culture and function ids and the relationships read.

    Shapes:
        ``data[label].num_nodes`` is the label's node count; ``data["Track"].x`` is
        ``(tracks, 48)`` float32; every ``edge_index`` is ``(2, E)`` int64 and
        ``data[dst, "rev_" + rel, src].edge_index`` its rows swapped.

    Raises:
        DataError: the folder is not a finished synthetic dataset (:func:`read_summary`), a CSV
            header is not the generator's, an id is malformed or refers to no node, or
            ``factors.npy`` does not hold one row per track.
        ValueError: ``relations`` names a type the synthetic data does not have.

    Examples:
        >>> import tempfile
        >>> from loaders.synth import generate
        >>> with tempfile.TemporaryDirectory() as d:
        ...     s = generate(d, users=20, tracks=50, artists=10, plays=200, cultures=20, seed=1,
        ...                  netease_json=False)
        ...     g = synthetic_graph(d)
        >>> g.data["User", "LISTENED", "Artist"].num_edges == s.listened
        True
        >>> g.data["Track"].x.shape, g.data["Culture"].num_nodes
        (torch.Size([50, 48]), 24)
    """
    summary = read_summary(folder)
    known = {rel for _, rel, _ in RELATIONS.values()}
    if relations is not None and not set(relations) <= known:
        unknown = ", ".join(sorted(set(relations) - known))
        raise ValueError(
            f"unknown relationship type(s) {unknown}; a synthetic graph has "
            + ", ".join(sorted(known))
        )
    keep = known if relations is None else {*relations, "LISTENED"}

    named = {label: _named_ids(summary.bulk[name]) for label, name in _NAMED.items()}
    counts = {label: int(getattr(summary, name)) for label, name in _NUMBERED.items()}
    counts.update({label: len(ids) for label, ids in named.items()})
    lookup = {label: pd.Index(ids) for label, ids in named.items()}

    data = HeteroData()
    for label in LABELS:
        data[label].num_nodes = counts[label]
    data["Track"].x = torch.from_numpy(_factors(summary))

    read: dict[EdgeType, int] = {}
    files = [(name, e) for name, e in RELATIONS.items() if e[1] in keep]
    for name, (src, rel, dst) in tqdm(files, desc="graph", unit="file", disable=not progress):
        path = summary.bulk[name]
        s, d = _read_pairs(path, src, dst, counts, lookup, block_size)
        read[src, rel, dst] = len(s)
        if src == dst:
            # within one label messages flow both ways on the relation itself, as in
            # gnn.graph.training_graph: FRIEND is written in both directions, PART_OF is not
            if rel == "FRIEND":
                ei = torch.from_numpy(np.stack([s, d]).astype(np.int64))
            else:
                ei = torch.from_numpy(
                    np.stack([np.concatenate([s, d]), np.concatenate([d, s])]).astype(np.int64)
                )
            data[src, rel, dst].edge_index = ei
        else:
            # [src; dst; src]: rows 0-1 are the edges, rows 1-2 the reverse ones, both
            # contiguous views of one buffer
            buf = torch.empty((3, len(s)), dtype=torch.long)
            buf[0] = torch.from_numpy(s)
            buf[1] = torch.from_numpy(d)
            buf[2] = buf[0]
            data[src, rel, dst].edge_index = buf[0:2]
            data[dst, f"rev_{rel}", src].edge_index = buf[1:3]
        del s, d
    return SyntheticGraph(data, summary, named, read)


def _named_ids(path: Path) -> tuple[str, ...]:
    """The ids of a small node file (cultures, functions), in file order."""
    try:
        table = pd.read_csv(path, usecols=[0], dtype=str, keep_default_na=False)
    except (OSError, ValueError) as e:
        raise DataError(path, f"unreadable ({e}); {_AGAIN}") from e
    return tuple(table.iloc[:, 0].tolist())


def _factors(summary: SynthSummary) -> np.ndarray:
    """``factors.npy`` checked against the track count. Shapes: ``(tracks, 48)`` float32."""
    try:
        factors = np.load(summary.factors)
    except (OSError, ValueError) as e:
        raise DataError(summary.factors, f"unreadable ({e}); {_AGAIN}") from e
    if factors.ndim != 2 or factors.shape[0] != summary.tracks:
        raise DataError(
            summary.factors,
            f"shape {factors.shape}, expected one row per track ({summary.tracks:,}); {_AGAIN}",
        )
    return np.ascontiguousarray(factors, dtype=np.float32)


def _read_pairs(
    path: Path,
    src: str,
    dst: str,
    counts: dict[str, int],
    lookup: dict[str, pd.Index],
    block_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The (source, target) node indices of every row of a relationship file, as int32.

    Shapes: returns two ``(rows,)`` int32 arrays.
    """
    columns = (f":START_ID({src})", f":END_ID({dst})")
    with path.open(encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split(",")
    if tuple(header[:2]) != columns:
        raise DataError(
            path,
            f"header starts {','.join(header[:2])!r}, expected {','.join(columns)!r}; {_AGAIN}",
            line=1,
        )
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=block_size),
        convert_options=pacsv.ConvertOptions(
            include_columns=list(columns), column_types={c: pa.string() for c in columns}
        ),
    )
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    row = 2  # the first data line
    try:
        for batch in reader:
            s = _indices(batch.column(0), src, counts, lookup, path, row, columns[0])
            d = _indices(batch.column(1), dst, counts, lookup, path, row, columns[1])
            parts.append((s, d))
            row += batch.num_rows
    except pa.ArrowInvalid as e:
        raise DataError(path, f"unreadable near line {row} ({e}); {_AGAIN}") from e
    if not parts:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
    )


def _indices(
    column: pa.Array,
    label: str,
    counts: dict[str, int],
    lookup: dict[str, pd.Index],
    path: Path,
    first_row: int,
    name: str,
) -> np.ndarray:
    """Node indices of one block's id column. Shapes: ``(rows,)`` int32."""
    if label in lookup:
        idx = lookup[label].get_indexer(column.to_numpy(zero_copy_only=False))
        bad = np.flatnonzero(idx < 0)
        if len(bad):
            raise DataError(
                path,
                f"{label} {column[int(bad[0])].as_py()!r} is not in {_NAMED[label]}.csv; {_AGAIN}",
                line=first_row + int(bad[0]),
                key=name,
            )
        return idx.astype(np.int32)
    numbered = pc.starts_with(column, PREFIX)
    if not pc.all(numbered).as_py():
        at = int(np.flatnonzero(~numbered.to_numpy(zero_copy_only=False))[0])
        raise DataError(
            path,
            f"id {column[at].as_py()!r} is not {PREFIX}<n>; {_AGAIN}",
            line=first_row + at,
            key=name,
        )
    try:
        n = pc.cast(pc.utf8_slice_codeunits(column, len(PREFIX)), pa.int64()).to_numpy()
    except pa.ArrowInvalid as e:
        raise DataError(path, f"an id is not {PREFIX}<n> ({e}); {_AGAIN}", key=name) from e
    bad = np.flatnonzero((n < 1) | (n > counts[label]))
    if len(bad):
        raise DataError(
            path,
            f"{label} {PREFIX}{int(n[bad[0]])} does not exist: synth.json counts "
            f"{counts[label]:,} ({_NUMBERED[label]}); {_AGAIN}",
            line=first_row + int(bad[0]),
            key=name,
        )
    return (n - 1).astype(np.int32)
