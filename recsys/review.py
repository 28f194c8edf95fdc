"""The review queue: the songs whose function the models are least sure of, for experts to answer.

Plain functions — :func:`uncertainty` of a function posterior, :func:`review_order` (most
uncertain first, spread across societies and regions) — and :func:`review_queue`, which applies
them to a fitted :class:`~recsys.similar.CrossCulturalRecommender` and describes each song for
the person who answers (:class:`QueueItem`: what the model predicts, and the nearest songs whose
function is known). How answers are stored and combined is docs/experts.md; what the loop buys
is measured by ``bench/pal.py`` (docs/pal.md).

Examples:
    >>> import numpy as np
    >>> p = np.array([[0.9, 0.1], [0.5, 0.5], [0.6, 0.4]])
    >>> uncertainty(p).round(3).tolist()
    [0.469, 1.0, 0.971]
    >>> review_order(uncertainty(p), ["A", "A", "B"], ["R", "R", "R"], k=3).tolist()
    [1, 2, 0]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from recsys.base import NotFittedError

if TYPE_CHECKING:
    from kg.expert import Concept
    from recsys.similar import CrossCulturalRecommender

__all__ = [
    "METHODS",
    "KnownNeighbour",
    "QueueItem",
    "review_order",
    "review_queue",
    "uncertainty",
]

#: The uncertainty measures :func:`uncertainty` knows.
METHODS = ("entropy", "margin")


def uncertainty(posterior: np.ndarray, method: str = "entropy") -> np.ndarray:
    """How unsure a posterior is, per row, in ``[0, 1]`` (1 = knows nothing).

    ``"entropy"``: Shannon entropy over the ``C`` classes divided by ``log C`` (a uniform row is
    1, a one-hot row 0). ``"margin"``: ``1 - (p1 - p2)`` with ``p1 >= p2`` the two largest
    probabilities (a tie between the top two is 1). Rows are renormalised to sum to 1 first.

    Args:
        posterior: Shapes: ``(n, C)``, non-negative; rows with positive mass.
        method: ``"entropy"`` or ``"margin"``.

    Returns:
        Shapes: ``(n,)`` float64.

    Raises:
        ValueError: not a 2-D non-negative array with positive rows, or an unknown method.

    Examples:
        >>> import numpy as np
        >>> p = np.array([[1.0, 0.0, 0.0, 0.0], [0.25] * 4, [0.5, 0.5, 0.0, 0.0]])
        >>> uncertainty(p).tolist()
        [0.0, 1.0, 0.5]
        >>> uncertainty(np.array([[0.6, 0.3, 0.1]]), "margin").round(3).tolist()
        [0.7]
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r}: choose one of {', '.join(METHODS)}")
    p = np.asarray(posterior, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] == 0:
        raise ValueError(f"posterior {p.shape}: expected (n_tracks, n_classes)")
    total = p.sum(axis=1, keepdims=True)
    if (p < 0).any() or not np.isfinite(p).all() or (total <= 0).any():
        raise ValueError("posterior: every row must be finite, non-negative and have mass")
    p = p / total
    n, c = p.shape
    if c == 1:
        return np.zeros(n)
    if method == "entropy":
        with np.errstate(divide="ignore", invalid="ignore"):
            h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
        return np.clip(h / np.log(c), 0.0, 1.0) + 0.0  # + 0.0: no -0.0 for a one-hot row
    top = -np.partition(-p, 1, axis=1)[:, :2]
    return 1.0 - (top[:, 0] - top[:, 1])


def review_order(
    uncertainty: np.ndarray,
    societies: Sequence[str] | np.ndarray,
    regions: Sequence[str] | np.ndarray,
    k: int,
    answered: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """The ``k`` songs to ask about first: most uncertain first, spread over societies and regions.

    The rule, exactly. Candidates are the songs with a finite uncertainty that are not
    ``answered``, ranked by uncertainty (highest first; ties by the lower index, so the caller's
    order breaks them). Songs are picked one at a time:

    1. *Societies in rounds* (a hard filter): a song is eligible only if no song of its society
       was picked in the current round. When no remaining candidate is eligible, a new round
       begins and every society is eligible again. So no society appears twice before every
       society with candidates has appeared once.
    2. *Regions first* (among the eligible): pick the song whose region has been picked the
       fewest times so far in this batch; among those, the first in the ranking. So no region
       gets a second song before every region with candidates has one.

    The first pick is therefore the most uncertain song overall, and a batch shows each region's
    most uncertain song before any region's second one. ``societies`` and ``regions`` are plain
    labels: ``""`` (no culture link) is one society or region like any other.

    Args:
        uncertainty: Shapes: ``(n,)``, higher = ask sooner (NaN: never ask).
        societies: ``(n,)`` society id of each song.
        regions: ``(n,)`` region id of each song (its society's region).
        k: how many to return (fewer when fewer candidates remain).
        answered: songs to skip: ``(n,)`` bool mask, or indices.

    Returns:
        Shapes: ``(min(k, candidates),)`` int64 indices into the inputs, in asking order.

    Raises:
        ValueError: inputs of different lengths, or a negative ``k``.

    Examples:
        Society A (region R1) has three songs, B and C (region R2) two and one:

        >>> u = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
        >>> soc = ["A", "A", "A", "B", "B", "C"]
        >>> reg = ["R1", "R1", "R1", "R2", "R2", "R2"]
        >>> review_order(u, soc, reg, k=6).tolist()
        [0, 3, 5, 1, 4, 2]
        >>> review_order(u, soc, reg, k=2, answered=[0]).tolist()
        [1, 3]
    """
    u = np.asarray(uncertainty, dtype=np.float64)
    soc, reg = np.asarray(societies).astype(str), np.asarray(regions).astype(str)
    n = len(u)
    if u.ndim != 1 or soc.shape != (n,) or reg.shape != (n,):
        raise ValueError(
            f"review_order: uncertainty {u.shape}, societies {soc.shape} and regions {reg.shape} "
            "must be one value per song"
        )
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 0:
        raise ValueError(f"k={k!r}: must be a non-negative integer")
    eligible = np.isfinite(u)
    if answered is not None:
        a = np.asarray(answered)
        if a.dtype == bool:
            if a.shape != (n,):
                raise ValueError(f"answered mask {a.shape}: expected ({n},)")
            eligible &= ~a
        elif a.size:
            eligible[a.astype(np.int64)] = False
    cand = np.flatnonzero(eligible)
    cand = cand[np.lexsort((cand, -u[cand]))]
    # integer codes: the loop below compares codes, never strings
    _, soc_code = np.unique(soc[cand], return_inverse=True)
    _, reg_code = np.unique(reg[cand], return_inverse=True)
    used = np.zeros(soc_code.max(initial=-1) + 1, dtype=bool)  # societies of the current round
    count = np.zeros(reg_code.max(initial=-1) + 1, dtype=np.int64)  # picks per region in the batch
    taken = np.zeros(len(cand), dtype=bool)
    out: list[int] = []
    while len(out) < min(k, len(cand)):
        ok = ~taken & ~used[soc_code]
        if not ok.any():
            used[:] = False  # every society with candidates had its turn: a new round
            ok = ~taken
        pos = np.flatnonzero(ok)
        j = pos[np.argmin(count[reg_code[pos]])]  # argmin: the first, i.e. the most uncertain
        taken[j] = True
        used[soc_code[j]] = True
        count[reg_code[j]] += 1
        out.append(int(cand[j]))
    return np.array(out, dtype=np.int64)


@dataclass(frozen=True)
class KnownNeighbour:
    """A song whose function is known, close to a queued song in feel (z_a cosine).

    Attributes:
        track_id: its id.
        name: its title.
        function: its known function (public label or combined expert answers).
        culture_name: its society's name.
        similarity: z_a cosine to the queued song, in ``[-1, 1]``.
    """

    track_id: str
    name: str
    function: str
    culture_name: str
    similarity: float


@dataclass(frozen=True)
class QueueItem:
    """One song of the review queue.

    Attributes:
        track_id: the Track's id.
        name: its title.
        culture: the id of its society (``""`` when unlinked).
        culture_name: the society's name.
        region: the id of the society's region (``""`` when none).
        region_name: the region's name.
        uncertainty: in ``[0, 1]`` (see :func:`uncertainty`); higher = less sure.
        predicted: the three most probable functions, ``(label, probability)``, best first.
        nearest_known: the three songs with a known function closest in z_a, closest first.
        concept_score: with a concept, how likely the song serves it, zero-shot
            (:func:`recsys.concepts.concept_scores`); ``None`` otherwise.
    """

    track_id: str
    name: str
    culture: str
    culture_name: str
    region: str
    region_name: str
    uncertainty: float
    predicted: tuple[tuple[str, float], ...]
    nearest_known: tuple[KnownNeighbour, ...]
    concept_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict: ``predicted`` as ``[label, probability]`` pairs,
        ``nearest_known`` as objects."""
        d = asdict(self)
        d["predicted"] = [[label, p] for label, p in self.predicted]
        return d


def review_queue(
    model: CrossCulturalRecommender,
    *,
    k: int = 20,
    culture_rows: np.ndarray | Sequence[int] | None = None,
    answered: Iterable[str] = (),
    method: str = "entropy",
    n_predicted: int = 3,
    n_neighbours: int = 3,
    concept: Concept | None = None,
    function_embeddings: np.ndarray | None = None,
) -> list[QueueItem]:
    """The ``k`` songs of a fitted recommender to ask experts about, in asking order.

    Candidates are the tracks whose function the model does not know — no public (or combined
    expert) label in its catalogue, and none hidden at ``fit`` (``model.labels_ == ""``) —
    within ``culture_rows`` when given, minus ``answered``. They are ordered by
    :func:`review_order` on the :func:`uncertainty` of the model's function posterior
    (``model.distribution_``), with societies and their HRAF regions from the catalogue's Culture
    tree; ties go to the lower track id (the catalogue's order).

    With a ``concept`` (an expert's, perhaps not yet given to any song), the ordering key is
    :func:`recsys.concepts.concept_scores` × uncertainty instead: first the songs the model thinks
    may serve the concept but is unsure of, with the same spreading over societies and regions.

    Reads only the fitted recommender's attributes: ``catalogue_``, ``labels_``,
    ``distribution_``, ``za_`` (unit z_a rows) and ``function_model_.classes_``.

    Args:
        model: a fitted :class:`~recsys.similar.CrossCulturalRecommender`.
        k: how many songs (fewer when fewer are unknown).
        culture_rows: Shapes: ``(m,)`` catalogue rows to choose from (a culture's, e.g.
            ``model.rows(resolved.ids)``; an expert's scope); ``None``: the whole catalogue.
        answered: track ids to leave out (already answered, e.g. an answer not yet in the
            catalogue); unknown ids are ignored.
        method: ``"entropy"`` or ``"margin"``.
        n_predicted: functions listed per song.
        n_neighbours: known songs listed per song.
        concept: a :class:`kg.expert.Concept` to ask about (see above).
        function_embeddings: Shapes: ``(C, d)`` the function table for the concept's zero-shot
            placement (:func:`recsys.concepts.concept_scores`); default: MiniLM.

    Raises:
        NotFittedError: the model is not fitted.
        ValueError: ``k`` is not a positive integer.

    Examples:
        >>> import numpy as np
        >>> from recsys.catalogue import TrackCatalogue
        >>> from recsys.cultures import CultureResolver
        >>> from recsys.similar import CrossCulturalRecommender
        >>> tree = CultureResolver.from_rows([
        ...     {"id": "R", "name": "Coast", "level": "region", "parent": None},
        ...     {"id": "S", "name": "Shore people", "level": "society", "parent": "R"}],
        ...     aliases={})
        >>> cat = TrackCatalogue(track_ids=np.array(["a", "b", "c"]),
        ...     names=np.array(["A", "B", "C"]), cultures=np.array(["S"] * 3),
        ...     functions=np.array(["Dance", "", "Lullaby"]),
        ...     factors=np.array([[1, 0], [1, 0.2], [0, 1]], np.float32), dims=(0, 0, 2),
        ...     tree=tree)
        >>> p = np.array([[0.9, 0.1], [0.55, 0.45], [0.2, 0.8]])
        >>> model = CrossCulturalRecommender(alignment="none").fit(cat, predicted=p)
        >>> item, = review_queue(model, k=5)
        >>> item.track_id, item.region_name, item.predicted[0], item.nearest_known[0].function
        ('b', 'Coast', ('Dance', 0.55), 'Dance')
    """
    if not hasattr(model, "distribution_"):
        raise NotFittedError("review_queue needs a fitted recommender; call fit(catalogue)")
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k={k!r}: must be a positive integer")
    cat = model.catalogue_
    tree = cat.tree
    labels = np.asarray(model.labels_).astype(str)
    classes = tuple(model.function_model_.classes_)
    unknown = labels == ""
    if culture_rows is not None:
        inside = np.zeros(len(cat), dtype=bool)
        inside[np.asarray(culture_rows, dtype=np.int64)] = True
        unknown &= inside
    skip = {str(t) for t in answered}
    if skip:
        unknown &= ~np.isin(cat.track_ids.astype(str), list(skip))
    rows = np.flatnonzero(unknown)
    if len(rows) == 0:
        return []
    posterior = model.distribution_[rows]
    societies = cat.cultures[rows].astype(str)
    region_of = {s: tree.ancestor(s, "region") or "" for s in set(societies.tolist())}
    regions = np.array([region_of[s] for s in societies.tolist()], dtype=object).astype(str)
    u = uncertainty(posterior, method)
    fit: np.ndarray | None = None
    if concept is not None:
        from recsys.concepts import concept_scores

        fit = concept_scores(model, concept, function_embeddings=function_embeddings)[rows]
    picked = review_order(u if fit is None else fit * u, societies, regions, k)
    chosen = rows[picked]

    known = np.flatnonzero(labels != "")
    neighbours: list[tuple[KnownNeighbour, ...]] = [() for _ in chosen]
    if len(known):
        sims = model.za_[chosen] @ model.za_[known].T  # (k, n_known)
        m = min(n_neighbours, len(known))
        for i, row in enumerate(sims):
            top = np.lexsort((known, -row))[:m]  # ties: the lower track id
            neighbours[i] = tuple(
                KnownNeighbour(
                    track_id=str(cat.track_ids[known[j]]),
                    name=str(cat.names[known[j]]),
                    function=str(labels[known[j]]),
                    culture_name=_name(tree.name, str(cat.cultures[known[j]])),
                    similarity=float(row[j]),
                )
                for j in top
            )
    out: list[QueueItem] = []
    for i, (p, r) in enumerate(zip(picked.tolist(), chosen.tolist(), strict=True)):
        dist = posterior[p]
        best = np.lexsort((np.arange(len(classes)), -dist))[:n_predicted]
        society, region = str(societies[p]), str(regions[p])
        out.append(
            QueueItem(
                track_id=str(cat.track_ids[r]),
                name=str(cat.names[r]),
                culture=society,
                culture_name=_name(tree.name, society),
                region=region,
                region_name=_name(tree.name, region),
                uncertainty=float(u[p]),
                predicted=tuple((classes[j], float(dist[j])) for j in best),
                nearest_known=neighbours[i],
                concept_score=None if fit is None else float(fit[p]),
            )
        )
    return out


def _name(names: dict[str, str], culture: str) -> str:
    return names.get(culture, culture) if culture else ""
