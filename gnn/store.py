"""Node embeddings out: to disk (for serving without the database) and back into Neo4j.

On disk, :func:`save_embeddings` writes one ``embeddings.npz`` (one ``(n, dim)`` array per label)
beside ``id_map.json`` (:class:`kg.export.IdMap`). In Neo4j, :func:`write_embeddings` sets the
``embedding`` property of every node of each label in :data:`gnn.queries.EMBEDDED_LABELS` and
creates a cosine vector index per label (``artist_embedding``, ``user_embedding``, …), so that
``CALL db.index.vector.queryNodes('artist_embedding', 10, a.embedding)`` finds neighbours.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import neo4j
import numpy as np

from gnn import queries as q
from kg.export import IdMap
from loaders.files import replacing

__all__ = ["load_embeddings", "save_embeddings", "write_embeddings"]


def save_embeddings(folder: str | Path, embeddings: dict[str, np.ndarray], id_map: IdMap) -> Path:
    """Write ``embeddings.npz`` and ``id_map.json`` into ``folder``.

    Shapes:
        embeddings: ``{label: (len(id_map.ids[label]), dim)}``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with replacing(folder / "embeddings.npz") as tmp:
        np.savez(tmp, **embeddings)  # type: ignore[arg-type]
    id_map.save(folder / "id_map.json")
    return folder


def load_embeddings(folder: str | Path) -> tuple[dict[str, np.ndarray], IdMap]:
    """Read what :func:`save_embeddings` wrote."""
    folder = Path(folder)
    with np.load(folder / "embeddings.npz") as f:
        emb = {k: f[k] for k in f.files}
    return emb, IdMap.load(folder / "id_map.json")


def write_embeddings(
    driver: neo4j.Driver,
    embeddings: dict[str, np.ndarray],
    id_map: IdMap,
    *,
    labels: tuple[str, ...] = q.EMBEDDED_LABELS,
    batch_size: int = 2000,
    database: str | None = None,
) -> dict[str, int]:
    """Set ``embedding`` on the nodes of ``labels`` and create their vector indexes.

    Idempotent: a second run overwrites the same properties and keeps the indexes; an index
    built for another embedding size (a model trained with another ``dim``) is dropped and
    rebuilt, since Neo4j leaves vectors of the wrong size out of an index without a word.

    Returns:
        label → nodes written.
    """
    written: dict[str, int] = {}
    with driver.session(database=database) as session:
        for label in labels:
            if label not in embeddings or label not in id_map.ids:
                continue
            x = embeddings[label]
            ids: list[Any] = id_map.ids[label]
            statement = q.set_embeddings(label)
            for s in range(0, len(ids), batch_size):
                rows = [
                    {"id": i, "embedding": v.tolist()}
                    for i, v in zip(ids[s : s + batch_size], x[s : s + batch_size], strict=True)
                ]
                session.execute_write(_write_rows, statement, rows)
            dim = int(x.shape[1])
            old = session.run(q.VECTOR_INDEX_DIMENSION, name=q.vector_index_name(label)).single()
            if old is not None and old["dim"] is not None and int(old["dim"]) != dim:
                session.run(q.drop_vector_index(label)).consume()
            session.run(q.create_vector_index(label), dim=dim).consume()
            written[label] = len(ids)
    return written


def _write_rows(tx: neo4j.ManagedTransaction, statement: str, rows: list[dict[str, Any]]) -> None:
    tx.run(statement, rows=rows).consume()
