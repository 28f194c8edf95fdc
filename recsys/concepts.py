"""An expert's new concept, placed zero-shot among the existing functions so it is usable at once.

A concept ("Rice harvest song") arrives with its description's MiniLM embedding
(``Concept.embedding``). :func:`concept_weights` places it among the functions: a softmax of the
cosines between that embedding and how captions name each function ("a work song", "a lullaby";
:func:`function_text_embeddings`). :func:`concept_scores` then reads how likely each song serves
the concept off the recommender's function posterior (``distribution_ @ weights``; songs labelled
with it score 1). No song needs an answer first: :func:`recsys.text.search_text` ranks by this
score when the query names an active concept, and :func:`recsys.review.review_queue` asks first
about songs that may be the concept but whose function the model is unsure of.

Examples:
    >>> import numpy as np
    >>> functions = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    >>> concept_weights(np.array([0.8, 0.6, 0.0]), functions, temperature=1.0).round(3).tolist()
    [0.441, 0.361, 0.198]
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from loaders.errors import SoundbridgeError
from recsys.sentences import function_phrase, sentence_vectors

if TYPE_CHECKING:
    from kg.expert import Concept
    from recsys.similar import CrossCulturalRecommender

__all__ = [
    "TEMPERATURE",
    "UnknownConceptError",
    "concept_scores",
    "concept_weights",
    "detect_concept",
    "function_text_embeddings",
    "nearest_functions",
    "resolve_concept",
]

#: Softmax temperature over cosines. MiniLM cosines between a description and the short function
#: phrases sit close together (about 0.3–0.45), so a temperature near 1 would spread the concept
#: almost evenly; 0.05 turns a 0.05 lead in cosine into a factor e ≈ 2.7 in weight while still
#: sharing weight between functions that are nearly as close.
TEMPERATURE = 0.05


class UnknownConceptError(SoundbridgeError, ValueError):
    """A concept name that is not an active concept."""


_TABLE: dict[tuple[str, ...], np.ndarray] = {}
_TABLE_LOCK = threading.Lock()


def function_text_embeddings(classes: Sequence[str]) -> np.ndarray:
    """MiniLM embeddings of how captions name each function ("a lullaby", "a healing song").

    Cached per process and class tuple (the texts are also memoised by :mod:`recsys.sentences`).

    Args:
        classes: function names, e.g. ``model.function_model_.classes_``.

    Shapes:
        returns ``(len(classes), 384)`` float32, unit rows, in the order of ``classes``.

    Examples:
        >>> function_text_embeddings(["Lullaby", "Work"]).shape  # doctest: +SKIP
        (2, 384)
    """
    key = tuple(str(c) for c in classes)
    with _TABLE_LOCK:
        hit = _TABLE.get(key)
    if hit is not None:
        return hit
    table = sentence_vectors([f"a {function_phrase(c)}" for c in key], None)
    with _TABLE_LOCK:
        _TABLE[key] = table
    return table


def concept_weights(
    concept_embedding: np.ndarray | Sequence[float],
    function_embeddings: np.ndarray,
    temperature: float = TEMPERATURE,
) -> np.ndarray:
    """The concept placed among the functions: ``softmax(cos(concept, function_j) / temperature)``.

    A softmax (not the raw cosines) so the weights are a distribution over the functions: a
    concept's score for a song then stays a probability, ``distribution_ @ weights`` in ``[0, 1]``.

    Args:
        concept_embedding: Shapes: ``(d,)`` the description's embedding (need not be unit).
        function_embeddings: ``(C, d)`` one row per function (need not be unit).
        temperature: positive; lower concentrates the weight on the nearest function.

    Returns:
        Shapes: ``(C,)`` float64, non-negative, summing to 1.

    Raises:
        ValueError: mismatched shapes, a zero vector, or a non-positive temperature.

    Examples:
        >>> import numpy as np
        >>> f = np.eye(3)
        >>> concept_weights(np.array([1.0, 1.0, 0.0]), f, temperature=0.1).round(3).tolist()
        [0.5, 0.5, 0.0]
    """
    c = np.asarray(concept_embedding, dtype=np.float64)
    f = np.asarray(function_embeddings, dtype=np.float64)
    if c.ndim != 1 or f.ndim != 2 or f.shape[1] != c.shape[0]:
        raise ValueError(f"concept {c.shape} and functions {f.shape}: expected (d,) and (C, d)")
    if not temperature > 0:
        raise ValueError(f"temperature={temperature!r}: must be positive")
    cn, fn = np.linalg.norm(c), np.linalg.norm(f, axis=1)
    if cn == 0 or (fn == 0).any():
        raise ValueError("concept_weights: a zero embedding has no direction")
    logits = (f @ c) / (fn * cn) / temperature
    w = np.exp(logits - logits.max())
    return np.asarray(w / w.sum())


def _embedding(concept: Concept) -> np.ndarray:
    if len(concept.embedding):
        return np.asarray(concept.embedding, dtype=np.float64)
    # A concept stored without one: embed its description now.
    return np.asarray(sentence_vectors([concept.description], None)[0], dtype=np.float64)


def _placement(
    model: CrossCulturalRecommender,
    concept: Concept,
    function_embeddings: np.ndarray | None,
    temperature: float,
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """(classes, which columns are other functions, their weights)."""
    classes = tuple(str(c) for c in model.function_model_.classes_)
    table = (
        function_text_embeddings(classes) if function_embeddings is None else function_embeddings
    )
    table = np.asarray(table)
    if table.shape[0] != len(classes):
        raise ValueError(
            f"function_embeddings {table.shape}: expected one row per class ({len(classes)})"
        )
    others = np.array([c.lower() != concept.name.lower() for c in classes], dtype=bool)
    weights = np.zeros(len(classes))
    if others.any():
        weights[others] = concept_weights(_embedding(concept), table[others], temperature)
    return classes, others, weights


def nearest_functions(
    model: CrossCulturalRecommender,
    concept: Concept,
    n: int = 3,
    *,
    function_embeddings: np.ndarray | None = None,
    temperature: float = TEMPERATURE,
) -> list[tuple[str, float]]:
    """The ``n`` functions with the largest zero-shot weights, ``(name, weight)``, largest first."""
    classes, others, weights = _placement(model, concept, function_embeddings, temperature)
    order = [j for j in np.lexsort((np.arange(len(classes)), -weights)) if others[j]]
    return [(classes[j], float(weights[j])) for j in order[:n]]


def concept_scores(
    model: CrossCulturalRecommender,
    concept: Concept,
    *,
    function_embeddings: np.ndarray | None = None,
    temperature: float = TEMPERATURE,
) -> np.ndarray:
    """How likely each song serves ``concept``, zero-shot: ``distribution_ @ weights``.

    The weights are :func:`concept_weights` over the model's other classes. Once experts have
    labelled songs with the concept it is a class too: its column counts with weight 1, so a song
    labelled with it (one-hot on that column) scores 1 and the others keep a probability in
    ``[0, 1]``. A song whose known function is the concept's name (case ignored) scores 1 in any
    case.

    Args:
        model: a fitted :class:`~recsys.similar.CrossCulturalRecommender`.
        concept: a :class:`kg.expert.Concept` (its ``name`` and ``embedding``).
        function_embeddings: Shapes: ``(C, d)`` one row per ``model.function_model_.classes_``;
            default: :func:`function_text_embeddings` (MiniLM).
        temperature: see :func:`concept_weights`.

    Returns:
        Shapes: ``(n_tracks,)`` float64 in ``[0, 1]``.
    """
    classes, others, weights = _placement(model, concept, function_embeddings, temperature)
    weights = np.where(others, weights, 1.0)
    scores = np.asarray(model.distribution_, dtype=np.float64) @ weights
    labelled = np.char.lower(np.asarray(model.labels_).astype(str)) == concept.name.lower()
    return np.where(labelled, 1.0, np.clip(scores, 0.0, 1.0))


def detect_concept(text: str, concepts: Sequence[Concept]) -> Concept | None:
    """The active concept a query names (case ignored, whole words), longest name first.

    Examples:
        >>> from kg.expert import Concept
        >>> cs = [Concept("concept-a", "Harvest song", "", "function", "rosa", ""),
        ...       Concept("concept-b", "Rice harvest song", "", "function", "rosa", "")]
        >>> detect_concept("a rice harvest song from Java", cs).name
        'Rice harvest song'
        >>> detect_concept("a lullaby", cs) is None
        True
    """
    for c in sorted(concepts, key=lambda c: (-len(c.name), c.name)):
        if (
            c.status == "active"
            and c.name.strip()
            and re.search(rf"(?<!\w){re.escape(c.name.strip())}(?!\w)", text, re.IGNORECASE)
        ):
            return c
    return None


def resolve_concept(name: str, concepts: Sequence[Concept]) -> Concept:
    """The active concept called ``name`` (or with that id), case ignored.

    Raises:
        UnknownConceptError: none is; the message lists the active concepts.
    """
    want = name.strip().lower()
    active = [c for c in concepts if c.status == "active"]
    for c in active:
        if want in (c.name.lower(), c.id.lower()):
            return c
    known = ", ".join(repr(c.name) for c in active) or "none yet"
    raise UnknownConceptError(
        f"no active concept {name!r}; active concepts: {known} "
        "(add one with `soundbridge concepts add`)"
    )
