"""Sentences: how captions name functions and style traits, and their MiniLM vectors.

The text search (:mod:`recsys.text`) and the experts' concepts (:mod:`recsys.concepts`) both embed
short English phrases with the shipped, frozen MiniLM (:func:`gnn.features.embed_texts`); this
module is that shared ground, so neither imports the other for it.

Examples:
    >>> style_phrase("line_1:SoloSinger"), style_phrase("line_34:MarkedNasalization")
    ('solo singer', 'marked nasalization')
    >>> function_phrase("Healing"), function_phrase("Lullaby")
    ('healing song', 'lullaby')
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recsys.embedding import unit_rows

__all__ = ["function_phrase", "sentence_vectors", "style_phrase"]

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def style_phrase(code: str) -> str:
    """A Cantometrics code as words: ``"line_1:SoloSinger"`` → ``"solo singer"``."""
    name = code.split(":", 1)[-1]
    return _CAMEL.sub(" ", name).lower().strip()


def function_phrase(function: str) -> str:
    """How captions name a function: ``"Healing"`` → ``"healing song"``; a lullaby is a lullaby."""
    low = function.strip().lower()
    return low if low == "lullaby" else f"{low} song"


_MEMO: dict[str, np.ndarray] = {}
_MEMO_LOCK = threading.Lock()


def sentence_vectors(texts: Sequence[str], cache: Path | None) -> np.ndarray:
    """MiniLM rows for ``texts``, memoised per text for the process.

    Args:
        cache: where :func:`gnn.features.embed_texts` keeps vectors on disk (``None``: memory only).

    Shapes:
        returns ``(len(texts), 384)`` float32, unit rows.
    """
    with _MEMO_LOCK:
        missing = sorted({t for t in texts if t not in _MEMO})
    if missing:
        from gnn.features import embed_texts

        vectors = np.asarray(embed_texts(missing, cache=cache), dtype=np.float32)
        vectors = unit_rows(vectors)
        with _MEMO_LOCK:
            _MEMO.update(zip(missing, vectors, strict=True))
    with _MEMO_LOCK:
        return np.stack([_MEMO[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)
