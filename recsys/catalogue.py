"""The track catalogue the cross-cultural recommender searches: every Track with audio factors, its
society, its known function, and the Culture tree.

Each track also carries its GNN embedding when the recommenders' build wrote one (``gnn``,
``Track.embedding``) and whether its function label trained that embedding (``gnn_label_used``),
for the recommender's ``space="gnn"`` and the evaluation's leakage check.

A function is *known* when the dataset publishes it or, for a song without one, when experts'
answers agree on it (docs/experts.md, "How answers combine"); ``label_source`` and the provenance
arrays say which, and who answered when. The experts' must-link and cannot-link pairs come along
as ``links``.

:func:`load_catalogue` reads it from Neo4j (the driver is passed in; statements in
:mod:`recsys.queries`); :func:`catalogue_stamp` is the cheap probe that tells whether the graph
changed since (a track added with ``soundbridge add-track``, new labels, new cultures, an
expert's answer given or retracted). :func:`added_rows` and :func:`answered_rows` tell a caller
when the change is one it can fold into a fitted model instead of refitting.

Examples:
    >>> import numpy as np
    >>> from recsys.cultures import CultureResolver
    >>> tree = CultureResolver.from_rows([{"id": "S1", "name": "One", "level": "society",
    ...                                "parent": None}], aliases={})
    >>> cat = TrackCatalogue(track_ids=np.array(["t1", "t2"]), names=np.array(["a", "b"]),
    ...     cultures=np.array(["S1", "S1"]), functions=np.array(["Dance", ""]),
    ...     factors=np.zeros((2, 6), np.float32), dims=(2, 2, 2), tree=tree)
    >>> cat.index("t2"), cat.za.shape, cat.labelled.tolist(), cat.label_source.tolist()
    (1, (2, 2), [True, False], ['dataset', ''])
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from dataclasses import dataclass, field

import neo4j
import numpy as np

from kg.expert import constraints, expert_labels
from loaders.errors import SoundbridgeError
from recsys import queries
from recsys.cultures import CultureResolver

__all__ = [
    "EmptyCatalogueError",
    "ExpertLink",
    "LINK_KINDS",
    "TrackCatalogue",
    "UnknownTrackError",
    "added_rows",
    "answered_rows",
    "answers_only",
    "catalogue_stamp",
    "count_tracks_with_factors",
    "load_catalogue",
    "read_culture_tree",
    "with_answers",
]


class UnknownTrackError(SoundbridgeError):
    """A query track that is not in the catalogue."""


class EmptyCatalogueError(SoundbridgeError):
    """No Track has audio factors yet."""


#: The kinds of expert link between two songs.
LINK_KINDS = ("must_link", "cannot_link")


@dataclass(frozen=True)
class ExpertLink:
    """An expert's must-link or cannot-link between two tracks (undirected).

    Attributes:
        a, b: the tracks' ids.
        kind: ``"must_link"`` or ``"cannot_link"``.
        rationale: the expert's reason, in words.
        author: the expert's account name.
        answer_id: the ``Answer`` that made it (``"ans-…"``).
    """

    a: str
    b: str
    kind: str
    rationale: str = ""
    author: str = ""
    answer_id: str = ""


def _blank(n: int) -> np.ndarray:
    return np.full(n, "", dtype=object).astype(str)


@dataclass(frozen=True, eq=False)
class TrackCatalogue:
    """Tracks with factors, in a fixed order (by id).

    Attributes:
        track_ids: Shapes: ``(n,)`` str.
        names: ``(n,)`` str, display titles.
        cultures: ``(n,)`` str, the id of each track's society (``""`` when unlinked).
        functions: ``(n,)`` str, the known behavioural context — the public label, else the
            experts' combined answer (a Function's or a Concept's name) — ``""`` when unknown.
        factors: ``(n, dc + ds + da)`` float32, ``z_c | z_s | z_a``.
        dims: ``(dc, ds, da)``.
        tree: the Culture tree.
        mir: ``(n, p)`` float64 MIRtoolbox features, NaN rows for tracks without them; or ``None``.
        audio: ``(n,)`` str, audio path relative to the data root (``""`` when none).
        style_similar: society id → {society id: score} (Cantometrics STYLE_SIMILAR).
        function_names: the known behavioural contexts (and the concepts experts label songs
            with), sorted.
        stamp: the :func:`catalogue_stamp` it was read under (``""`` when built by hand).
        label_source: ``(n,)`` str, where each known function comes from: ``"dataset"``,
            ``"expert"`` or ``""`` (unknown); default: ``"dataset"`` wherever ``functions`` is set.
        label_experts: ``(n,)`` str, the experts whose answers decided an expert label, joined
            with ``", "`` (``""`` elsewhere).
        label_dates: ``(n,)`` str, the ISO date of the newest of those answers (``""`` elsewhere).
        links: the experts' must-link and cannot-link pairs between catalogue tracks.
        gnn: ``(n, d)`` float32 GNN track embeddings (``Track.embedding``, written by the
            recommenders' build), NaN rows for tracks without one (added since); ``None`` when
            no track has one.
        gnn_label_used: ``(n,)`` bool, whether each track's function label trained ``gnn``;
            ``None`` when the build did not say (embeddings written by another tool).
    """

    track_ids: np.ndarray
    names: np.ndarray
    cultures: np.ndarray
    functions: np.ndarray
    factors: np.ndarray
    dims: tuple[int, int, int]
    tree: CultureResolver
    mir: np.ndarray | None = None
    audio: np.ndarray | None = None
    style_similar: dict[str, dict[str, float]] = field(default_factory=dict)
    function_names: tuple[str, ...] = ()
    stamp: str = ""
    label_source: np.ndarray = field(default_factory=lambda: _blank(0))
    label_experts: np.ndarray = field(default_factory=lambda: _blank(0))
    label_dates: np.ndarray = field(default_factory=lambda: _blank(0))
    links: tuple[ExpertLink, ...] = ()
    gnn: np.ndarray | None = None
    gnn_label_used: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.track_ids)
        if self.factors.shape != (n, sum(self.dims)):
            raise ValueError(f"factors {self.factors.shape} do not match {n} tracks x {self.dims}")
        if self.gnn is not None and (self.gnn.ndim != 2 or len(self.gnn) != n):
            raise ValueError(f"gnn embeddings {self.gnn.shape} do not match {n} tracks")
        if not self.function_names:
            names = tuple(sorted({str(f) for f in self.functions if f}))
            object.__setattr__(self, "function_names", names)
        if n and len(self.label_source) == 0:
            source = np.where(self.functions != "", "dataset", "").astype(str)
            object.__setattr__(self, "label_source", source)
        for name in ("label_experts", "label_dates"):
            if n and len(getattr(self, name)) == 0:
                object.__setattr__(self, name, _blank(n))
        object.__setattr__(self, "_pos", {str(t): i for i, t in enumerate(self.track_ids.tolist())})

    def __len__(self) -> int:
        return len(self.track_ids)

    @property
    def zc(self) -> np.ndarray:
        """Shapes: ``(n, dc)``."""
        return self.factors[:, : self.dims[0]]

    @property
    def zs(self) -> np.ndarray:
        """Shapes: ``(n, ds)``."""
        return self.factors[:, self.dims[0] : self.dims[0] + self.dims[1]]

    @property
    def za(self) -> np.ndarray:
        """Shapes: ``(n, da)``."""
        return self.factors[:, self.dims[0] + self.dims[1] :]

    @property
    def labelled(self) -> np.ndarray:
        """Shapes: ``(n,)`` bool, whether the function is known (public or decided by experts)."""
        return self.functions != ""

    def links_of(self, row: int) -> list[tuple[int, ExpertLink]]:
        """The experts' links of the track at ``row``: (the other track's row, the link)."""
        return self._links.get(int(row), [])

    @functools.cached_property
    def _links(self) -> dict[int, list[tuple[int, ExpertLink]]]:
        pos: dict[str, int] = self._pos  # type: ignore[attr-defined]
        out: dict[int, list[tuple[int, ExpertLink]]] = {}
        for link in self.links:
            i, j = pos.get(link.a), pos.get(link.b)
            if i is not None and j is not None and i != j:
                out.setdefault(i, []).append((j, link))
                out.setdefault(j, []).append((i, link))
        return out

    def index(self, track_id: str) -> int:
        """Row of ``track_id``.

        Raises:
            UnknownTrackError: the track is not in the graph or has no audio factors.
        """
        pos: dict[str, int] = self._pos  # type: ignore[attr-defined]
        try:
            return pos[str(track_id)]
        except KeyError:
            raise UnknownTrackError(
                f"track {track_id!r} is not in the catalogue: no Track with that id has audio "
                "factors. Ids look like 'NHS2-TBMU'; add a recording with `soundbridge "
                "add-track FILE --culture C`, or store the factors with `soundbridge audio "
                "export-factors`"
            ) from None

    def dataset_only(self) -> TrackCatalogue:
        """This catalogue with the dataset's labels only: experts' labels and links left out.

        Evaluations score against it, so that an expert's answer never becomes the ground truth
        it is measured by.
        """
        expert = self.label_source == "expert"
        if not expert.any() and not self.links:
            return self
        functions = self.functions.copy()
        functions[expert] = ""
        blank = np.where(expert, "", self.label_source)
        return dataclasses.replace(
            self,
            functions=functions,
            label_source=blank,
            label_experts=np.where(expert, "", self.label_experts),
            label_dates=np.where(expert, "", self.label_dates),
            links=(),
        )

    def tracks_of(self, culture_ids: tuple[str, ...]) -> np.ndarray:
        """Rows of the tracks at or below the given cultures, ascending."""
        members = self.tree.societies_of(culture_ids)
        societies, codes = self._society_codes
        wanted = np.flatnonzero(np.isin(societies, list(members)))
        return np.flatnonzero(np.isin(codes, wanted))

    @functools.cached_property
    def _society_codes(self) -> tuple[np.ndarray, np.ndarray]:
        # integer codes: np.isin of a million strings against a world region's societies ~0.3 s
        societies, codes = np.unique(self.cultures, return_inverse=True)
        return societies, codes


def added_rows(before: TrackCatalogue, after: TrackCatalogue) -> np.ndarray | None:
    """Rows of ``after`` that hold tracks ``before`` lacks, when adding them is the only change.

    What ``soundbridge add-track`` does to the graph: new Track rows, everything already there
    untouched. Anything else — a track removed, factors, MIRtoolbox features, a function, a
    culture link, a name or an audio path rewritten, the Culture tree, the STYLE_SIMILAR pairs
    or the function names changed — returns ``None``: what was learned from ``before`` may no
    longer hold, so the caller refits. The comparison is exact (every value of every kept row),
    which is why it reads both catalogues whole rather than trusting the counts of
    :func:`catalogue_stamp`: a rewrite of one track's factors leaves those counts alone.

    Returns:
        Shapes: ``(m,)`` ascending rows of ``after`` (empty when nothing was added), or ``None``.

    Examples:
        >>> import numpy as np
        >>> from recsys.cultures import CultureResolver
        >>> tree = CultureResolver.from_rows([{"id": "S1", "name": "One", "level": "society",
        ...                                "parent": None}], aliases={})
        >>> def cat(ids, za):
        ...     n = len(ids)
        ...     return TrackCatalogue(track_ids=np.array(ids), names=np.array(ids),
        ...         cultures=np.array(["S1"] * n), functions=np.array([""] * n),
        ...         factors=np.array([[0, 0, z] for z in za], np.float32), dims=(1, 1, 1),
        ...         tree=tree)
        >>> added_rows(cat(["a", "c"], [1, 2]), cat(["a", "b", "c"], [1, 5, 2])).tolist()
        [1]
        >>> added_rows(cat(["a", "c"], [1, 2]), cat(["a", "b", "c"], [1, 5, 3])) is None
        True
    """
    if after.function_names != before.function_names or not _same_frame(before, after):
        return None
    kept = np.isin(after.track_ids, before.track_ids)
    old = np.flatnonzero(kept)
    # both are in id order; comparing the ids row by row also rejects any other order
    if len(old) != len(before) or not np.array_equal(after.track_ids[old], before.track_ids):
        return None
    for column in ("names", "cultures", "functions", "audio"):
        a, b = getattr(after, column), getattr(before, column)
        if (a is None) != (b is None) or (a is not None and not np.array_equal(a[old], b)):
            return None
    if not np.array_equal(after.factors[old], before.factors):
        return None
    for column in ("gnn", "gnn_label_used"):
        a, b = getattr(after, column), getattr(before, column)
        if (a is None) != (b is None) or (
            a is not None and not np.array_equal(a[old], b, equal_nan=column == "gnn")
        ):
            return None  # a rebuild rewrote the embeddings: refit
    if before.mir is None:
        if after.mir is not None:
            return None  # the MIRtoolbox view appears: the function model would train on it
    elif after.mir is None or not np.array_equal(after.mir[old], before.mir, equal_nan=True):
        return None
    return np.flatnonzero(~kept)


def answered_rows(before: TrackCatalogue, after: TrackCatalogue) -> np.ndarray | None:
    """Rows whose known function changed, when experts' answers are the only change.

    What answering, retracting or replacing an expert answer does to the graph: the same tracks
    with the same factors, cultures and public labels; only expert labels (and with them the
    concepts among ``function_names``), their provenance and the ``links`` may differ. Anything
    else returns ``None``, as :func:`added_rows` does.

    Returns:
        Shapes: ``(m,)`` ascending rows whose ``functions`` value differs (empty when only
        provenance or links changed), or ``None``.

    Examples:
        >>> import numpy as np
        >>> from recsys.cultures import CultureResolver
        >>> tree = CultureResolver.from_rows([{"id": "S1", "name": "One", "level": "society",
        ...                                "parent": None}], aliases={})
        >>> def cat(functions, source):
        ...     return TrackCatalogue(track_ids=np.array(["a", "b", "c"]), names=np.array(["a",
        ...         "b", "c"]), cultures=np.array(["S1"] * 3), functions=np.array(functions),
        ...         factors=np.zeros((3, 3), np.float32), dims=(1, 1, 1), tree=tree,
        ...         function_names=("Dance", "Harvest"), label_source=np.array(source))
        >>> base = cat(["Dance", "", ""], ["dataset", "", ""])
        >>> answered_rows(base, cat(["Dance", "", "Harvest"], ["dataset", "", "expert"])).tolist()
        [2]
        >>> answered_rows(base, cat(["Dance", "Dance", ""], ["dataset", "dataset", ""])) is None
        True
    """
    if not _same_frame(before, after) or not np.array_equal(before.track_ids, after.track_ids):
        return None
    for column in ("names", "cultures", "audio", "factors", "mir", "gnn", "gnn_label_used"):
        a, b = getattr(after, column), getattr(before, column)
        if (a is None) != (b is None) or (
            a is not None and not np.array_equal(a, b, equal_nan=column in ("mir", "gnn"))
        ):
            return None
    public = (before.label_source == "dataset") | (after.label_source == "dataset")
    if not (
        np.array_equal(before.functions[public], after.functions[public])
        and np.array_equal(before.label_source[public], after.label_source[public])
    ):
        return None
    expert = {str(f) for c in (before, after) for f in c.functions[c.label_source == "expert"]}
    if (set(before.function_names) ^ set(after.function_names)) - expert:
        return None  # a Function node came or went: the ontology changed, not an answer
    return np.flatnonzero(before.functions != after.functions)


def _same_frame(a: TrackCatalogue, b: TrackCatalogue) -> bool:
    """Same factor sizes, STYLE_SIMILAR pairs and Culture tree."""
    return a.dims == b.dims and a.style_similar == b.style_similar and _same_tree(a.tree, b.tree)


def _same_tree(a: CultureResolver, b: CultureResolver) -> bool:
    def key(t: CultureResolver) -> tuple[object, ...]:
        return t.ids, t.name, t.level, t.parent, t.glottocode

    return key(a) == key(b)


#: The stamp's counts that experts' answers move (the rest describe tracks and cultures).
_ANSWER_COUNTS = ("answers", "answered", "constraints", "concepts", "active_concepts")


def catalogue_stamp(driver: neo4j.Driver) -> str:
    """A short digest of the counts the catalogue depends on (one cheap read).

    Two digests joined by a dot: tracks, public labels and cultures, then experts' answers, so
    that :func:`answers_only` can tell from two stamps that only answers changed.
    """
    records, _, _ = driver.execute_query(
        queries.CATALOGUE_STAMP, routing_=neo4j.RoutingControl.READ
    )
    r = records[0]
    graph = ",".join(str(r[k]) for k in r.keys() if k not in _ANSWER_COUNTS)  # noqa: SIM118
    answers = ",".join(str(r[k]) for k in _ANSWER_COUNTS)
    return ".".join(hashlib.sha256(t.encode()).hexdigest()[:16] for t in (graph, answers))


def answers_only(before: str, after: str) -> bool:
    """Whether two :func:`catalogue_stamp` values differ in experts' answers alone.

    Examples:
        >>> answers_only("aaaa.1111", "aaaa.2222"), answers_only("aaaa.1111", "bbbb.2222")
        (True, False)
        >>> answers_only("", "aaaa.2222")  # a catalogue built by hand has no stamp
        False
    """
    a, b = before.split("."), after.split(".")
    return len(a) == len(b) == 2 and a[0] == b[0] and a[1] != b[1]


def with_answers(catalogue: TrackCatalogue, driver: neo4j.Driver, stamp: str) -> TrackCatalogue:
    """``catalogue`` with the experts' answers as they are in the graph now, read alone.

    What :func:`load_catalogue` would read when :func:`answers_only` holds between the
    catalogue's stamp and ``stamp`` (taken before this read, as load_catalogue takes its own):
    the expert labels, their provenance, the links and the function names, in a few small
    queries instead of every track's factors.
    """
    fnames, _, _ = driver.execute_query(queries.FUNCTION_NAMES, routing_=neo4j.RoutingControl.READ)
    public = np.where(catalogue.label_source == "dataset", catalogue.functions, "")
    known = _known_functions(driver, catalogue.track_ids, public)
    out = dataclasses.replace(
        catalogue,
        functions=known.functions,
        function_names=tuple(sorted({str(r["name"]) for r in fnames} | known.names)),
        stamp=stamp,
        label_source=known.source,
        label_experts=known.experts,
        label_dates=known.dates,
        links=_expert_links(driver),
    )
    if "_society_codes" in vars(catalogue):  # same cultures: np.unique over every track again
        vars(out)["_society_codes"] = vars(catalogue)["_society_codes"]
    return out


def count_tracks_with_factors(driver: neo4j.Driver) -> int:
    """How many Track nodes carry audio factors (what the catalogue would hold)."""
    records, _, _ = driver.execute_query(
        queries.TRACKS_WITH_FACTORS, routing_=neo4j.RoutingControl.READ
    )
    return int(records[0]["n"])


def read_culture_tree(driver: neo4j.Driver) -> CultureResolver:
    """The Culture tree as it is in the graph (names, levels, parents, Glottocodes)."""
    rows, _, _ = driver.execute_query(queries.CULTURE_TREE, routing_=neo4j.RoutingControl.READ)
    return CultureResolver.from_rows([dict(r) for r in rows])


def load_catalogue(driver: neo4j.Driver) -> TrackCatalogue:
    """Read the catalogue from the graph.

    Raises:
        EmptyCatalogueError: no Track carries audio factors (run ``soundbridge audio
            export-factors`` or ``soundbridge build``).
    """
    stamp = catalogue_stamp(driver)
    read = neo4j.RoutingControl.READ
    rows, _, _ = driver.execute_query(queries.CATALOGUE_TRACKS, routing_=read)
    if not rows:
        raise EmptyCatalogueError(
            "no Track node has audio factors (zc/zs/za): run `soundbridge build` or "
            "`soundbridge audio export-factors PATH` first"
        )
    pairs, _, _ = driver.execute_query(queries.STYLE_SIMILAR_PAIRS, routing_=read)
    fnames, _, _ = driver.execute_query(queries.FUNCTION_NAMES, routing_=read)
    dims = (len(rows[0]["zc"]), len(rows[0]["zs"]), len(rows[0]["za"]))
    factors = np.array([r["zc"] + r["zs"] + r["za"] for r in rows], dtype=np.float32)
    mir_len = max((len(r["mir"]) for r in rows if r["mir"]), default=0)
    mir = None
    if mir_len:
        mir = np.full((len(rows), mir_len), np.nan)
        for i, r in enumerate(rows):
            if r["mir"] and len(r["mir"]) == mir_len:
                mir[i] = np.asarray(r["mir"], dtype=np.float64)
    gnn, gnn_used = _gnn_columns(rows)
    style: dict[str, dict[str, float]] = {}
    for p in pairs:
        style.setdefault(p["source"], {})[p["target"]] = float(p["score"])
        style.setdefault(p["target"], {}).setdefault(p["source"], float(p["score"]))

    def col(key: str) -> np.ndarray:
        return np.array([r[key] or "" for r in rows], dtype=object).astype(str)

    track_ids = col("id")
    known = _known_functions(driver, track_ids, col("function"))
    return TrackCatalogue(
        track_ids=track_ids,
        names=col("name"),
        cultures=col("culture"),
        functions=known.functions,
        factors=factors,
        dims=dims,
        tree=read_culture_tree(driver),
        mir=mir,
        audio=col("audio"),
        style_similar=style,
        function_names=tuple(sorted({str(r["name"]) for r in fnames} | known.names)),
        stamp=stamp,
        label_source=known.source,
        label_experts=known.experts,
        label_dates=known.dates,
        links=_expert_links(driver),
        gnn=gnn,
        gnn_label_used=gnn_used,
    )


def _gnn_columns(rows: list[neo4j.Record]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The GNN embeddings (NaN rows where missing, or of another size than the most common) and
    whether each one's label trained it (``None`` unless every embedded track says)."""
    sizes = [len(r["embedding"]) for r in rows if r["embedding"]]
    if not sizes:
        return None, None
    dim = max(set(sizes), key=sizes.count)
    gnn = np.full((len(rows), dim), np.nan, dtype=np.float32)
    used = np.zeros(len(rows), dtype=bool)
    told = True
    for i, r in enumerate(rows):
        if r["embedding"] and len(r["embedding"]) == dim:
            gnn[i] = np.asarray(r["embedding"], dtype=np.float32)
            told = told and r["label_used"] is not None
            used[i] = bool(r["label_used"])
    return gnn, used if told else None


@dataclass(frozen=True)
class _Known:
    functions: np.ndarray
    source: np.ndarray
    experts: np.ndarray
    dates: np.ndarray
    names: frozenset[str]


def _known_functions(driver: neo4j.Driver, track_ids: np.ndarray, public: np.ndarray) -> _Known:
    """Each track's known function: its public label, else the experts' combined answer
    (:func:`kg.expert.expert_labels`, which applies docs/experts.md's rule), with provenance.

    Shapes: ``track_ids``, ``public`` and the returned arrays: ``(n,)`` str.
    """
    n = len(track_ids)
    functions = public.astype(object)  # object: a concept's name may be longer than any label
    source = np.where(public != "", "dataset", "").astype(object)
    experts, dates = np.full(n, "", dtype=object), np.full(n, "", dtype=object)
    pos = {str(t): i for i, t in enumerate(track_ids.tolist())}
    names: set[str] = set()
    for track, label in expert_labels(driver).items():
        i = pos.get(track)
        if i is None or source[i] == "dataset":
            continue  # no factors, or a public label: nothing an expert says overrides it
        functions[i], source[i] = label.label, "expert"
        experts[i], dates[i] = ", ".join(label.experts), str(label.last)[:10]
        names.add(label.label)
    f, s, e, d = (a.astype(str) for a in (functions, source, experts, dates))
    return _Known(functions=f, source=s, experts=e, dates=d, names=frozenset(names))


def _expert_links(driver: neo4j.Driver) -> tuple[ExpertLink, ...]:
    """Every EXPERT_CONSTRAINT pair (:func:`kg.expert.constraints`) as an :class:`ExpertLink`."""
    return tuple(
        ExpertLink(c.source, c.target, c.kind, c.rationale, c.author, c.answer_id or "")
        for c in constraints(driver)
        if c.kind in LINK_KINDS
    )
