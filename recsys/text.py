"""Text queries for the cross-cultural recommender: "a healing song from the Amazon".

A joint text–music embedding in the manner of CLAP/MuLan (design note 001), small enough to train
on the CPU in seconds:

- **Text side.** Every catalogue track gets several *captions* written from its graph facts: its
  known function ("a healing song"; public, or the experts' combined answer), its society, HRAF
  region and world region, and a few of its society's Cantometrics style lines
  (``Culture.style_codes``, "solo singer", "polyphony"). The captions are embedded by the
  shipped, frozen MiniLM (:func:`gnn.features.embed_texts`, 384 numbers) and a small head maps
  them into the shared space.
- **Music side.** The track's audio factors ``z_c | z_s | z_a`` (standardised) next to the function
  distribution of the fitted :class:`~recsys.similar.CrossCulturalRecommender` (the known label
  where there is one, the audio prediction otherwise) go through another small head. Because the
  head reads that distribution, an expert's new label needs no training: the song's vector is
  projected again (:meth:`TextMusicEmbedding.follow`).
- **Loss.** Symmetric InfoNCE over (track, caption) pairs. A caption such as "a dance song" is true
  of every dance track, so the targets are *all* pairs in the batch whose caption belongs to the
  track (normalised), not only the diagonal: identical captions are not pushed apart.

Search embeds the query with MiniLM, maps it through the text head and ranks tracks by cosine.
As in :meth:`~recsys.similar.CrossCulturalRecommender.recommend_similar`, a culture (given as
``target_culture``, or named in the query: "from the Amazon" → the alias *Amazon* → HRAF's Amazon
and Orinoco, the longest name wins) restricts the search to that culture's tracks (all of them,
then top-k): every result belongs to it and a culture with at least ``k`` tracks yields ``k``.

:func:`search_text` serves it from the graph; the trained heads are cached per catalogue stamp in
memory and in ``$SOUNDBRIDGE_HOME/cache/text``. :func:`evaluate_function_queries` measures "a
<function> song" on societies whose labels were hidden from both the captions and the recommender.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import neo4j
import numpy as np

from kg.config import DEFAULT_HOME, HOME_ENV
from loaders.files import replacing
from recsys import queries
from recsys.base import Estimator, NotFittedError
from recsys.catalogue import TrackCatalogue
from recsys.concepts import concept_scores, detect_concept, nearest_functions
from recsys.cultures import CultureResolver, ResolvedCulture
from recsys.embedding import unit_rows
from recsys.sentences import function_phrase, sentence_vectors, style_phrase
from recsys.similar import (
    CrossCulturalRecommender,
    EmptyCultureError,
    Recommendation,
    served_catalogue,
)

__all__ = [
    "TextMusicEmbedding",
    "detect_culture",
    "evaluate_function_queries",
    "function_phrase",
    "info_nce",
    "read_style_codes",
    "search_text",
    "served_text_model",
    "style_phrase",
    "text_cache_dir",
    "track_captions",
]

if TYPE_CHECKING:
    from kg.expert import Concept

# This statement belongs in recsys/queries.py beside CATALOGUE_TRACKS; it lives here until that
# module takes it (the catalogue does not read style codes).
#: Each profiled society's predominant Cantometrics codes (``"line_1:SoloSinger"``, …).
#: Style lines per style caption (drawn per society, fixed by the seed).
STYLE_LINES = 3


def text_cache_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """``path``, else ``$SOUNDBRIDGE_HOME/cache/text``."""
    if path is not None:
        return Path(path)
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser() / "cache" / "text"


# ---------------------------------------------------------------------------------- captions
def _society_rng(seed: int, society: str, variant: int) -> np.random.Generator:
    digest = int(hashlib.sha256(f"{society}/{variant}".encode()).hexdigest()[:12], 16)
    return np.random.default_rng([seed, digest])


@dataclass(frozen=True)
class _Facts:
    function: str
    society: str
    region: str
    world: str
    styles: tuple[tuple[str, ...], ...]


def _facts(
    cat: TrackCatalogue, row: int, label: str, style_codes: Mapping[str, Sequence[str]], seed: int
) -> _Facts:
    tree = cat.tree
    society = str(cat.cultures[row])
    region = tree.ancestor(society, "region") if society else None
    world = tree.ancestor(society, "world_region") if society else None
    codes = list(style_codes.get(society, ()))
    styles: list[tuple[str, ...]] = []
    if codes:
        for variant in range(2):
            pick = _society_rng(seed, society, variant).permutation(len(codes))[:STYLE_LINES]
            styles.append(tuple(style_phrase(codes[i]) for i in sorted(pick)))
    return _Facts(
        function=label,
        society=tree.name.get(society, "") if society else "",
        region=tree.name.get(region, "") if region else "",
        world=tree.name.get(world, "") if world else "",
        styles=tuple(styles),
    )


def _captions_of(f: _Facts) -> list[str]:
    out: list[str] = []
    where = ", ".join(x for x in (f.region, f.world) if x)
    if f.function:
        ph = function_phrase(f.function)
        out += [f"a {ph}", f"{f.function.lower()} music"]
        if where:
            out.append(f"a {ph} from {where}")
        if f.society:
            out.append(f"a {ph} of the {f.society}")
    if f.society:
        out.append(f"a song of the {f.society} people" + (f" of {where}" if where else ""))
    if f.region:
        out.append(f"traditional music from {f.region}")
    if f.world:
        out.append(f"music from {f.world}")
    for styles in f.styles:
        out.append(f"{f.society or 'a'} singing: {', '.join(styles)}")
    return out or ["a song"]


def track_captions(
    catalogue: TrackCatalogue,
    labels: np.ndarray,
    style_codes: Mapping[str, Sequence[str]],
    *,
    seed: int = 0,
) -> list[list[str]]:
    """The captions of every track, written from its graph facts.

    Args:
        catalogue: the tracks.
        labels: Shapes: ``(n,)`` str, the function each caption may state (``""``: none, as for
            unlabelled tracks and those hidden by an evaluation).
        style_codes: society id → its predominant Cantometrics codes.
        seed: fixes which style lines each society's style captions name.

    Returns:
        One list of captions per track (at least one each).
    """
    return [
        _captions_of(_facts(catalogue, i, str(labels[i]), style_codes, seed))
        for i in range(len(catalogue))
    ]


# ---------------------------------------------------------------------------------- culture
def _culture_patterns(tree: CultureResolver) -> list[tuple[str, re.Pattern[str]]]:
    labels = {tree.name[i] for i in tree.ids} | {a for a, _, _ in tree.aliases.values()}
    out: list[tuple[str, re.Pattern[str]]] = []
    for label in sorted(labels, key=lambda s: (-len(s), s)):
        # Short names ("Poke", "Amis", "Mari") are also English or Romance words: they count only
        # when written as proper nouns; longer names match in any case.
        flags = re.IGNORECASE if len(label) > 4 else 0
        out.append((label, re.compile(rf"(?<!\w){re.escape(label)}(?!\w)", flags)))
    return out


_PATTERNS: dict[int, tuple[CultureResolver, list[tuple[str, re.Pattern[str]]]]] = {}


def detect_culture(text: str, tree: CultureResolver) -> tuple[str, ResolvedCulture] | None:
    """The culture a query names, if any: (the words matched, the culture). Longest name wins.

    Examples:
        >>> tree = CultureResolver.from_rows([
        ...     {"id": "WR-sa", "name": "South America", "level": "world_region", "parent": None},
        ...     {"id": "HRAF-ao", "name": "Amazon and Orinoco", "level": "region",
        ...      "parent": "WR-sa"},
        ...     {"id": "S1", "name": "Warao", "level": "society", "parent": "HRAF-ao"},
        ... ], aliases={"amazon": ("Amazon", ("HRAF-ao",), "")})
        >>> words, culture = detect_culture("a healing song from the Amazon", tree)
        >>> words, culture.ids
        ('Amazon', ('HRAF-ao',))
        >>> detect_culture("music of the amazon and orinoco", tree)[1].name
        'Amazon and Orinoco'
        >>> detect_culture("a lullaby", tree) is None
        True
    """
    hit = _PATTERNS.get(id(tree))
    if hit is None or hit[0] is not tree:
        hit = (tree, _culture_patterns(tree))
        _PATTERNS[id(tree)] = hit
    for label, pattern in hit[1]:
        m = pattern.search(text)
        if m is not None:
            return m.group(0), tree.resolve(label)
    return None


# ---------------------------------------------------------------------------------- the loss
def info_nce(audio: Any, text: Any, positives: Any, scale: Any) -> Any:
    """Symmetric InfoNCE with several positives per row.

    ``positives[i, j]`` says caption ``j`` is true of track ``i`` (the diagonal always is); each
    direction's target spreads evenly over the true pairs, so a caption shared by several tracks
    of the batch ("a dance song") is not pushed away from any of them.

    Args:
        audio: Shapes: ``(b, d)`` torch tensor, unit rows.
        text: ``(b, d)``, unit rows.
        positives: ``(b, b)`` bool.
        scale: the inverse temperature (scalar tensor).

    Returns:
        The mean of the track→caption and caption→track cross-entropies (scalar tensor).

    Examples:
        >>> import torch
        >>> x = torch.eye(3)
        >>> good = info_nce(x, x, torch.eye(3, dtype=torch.bool), torch.tensor(10.0))
        >>> bad = info_nce(x, x.roll(1, 0), torch.eye(3, dtype=torch.bool), torch.tensor(10.0))
        >>> bool(good < 0.01 < bad)
        True
    """
    import torch

    logits = scale * audio @ text.T
    pos = positives.to(logits.dtype)
    to_text = pos / pos.sum(1, keepdim=True)
    to_audio = pos.T / pos.T.sum(1, keepdim=True)
    loss_a = -(to_text * torch.log_softmax(logits, 1)).sum(1).mean()
    loss_t = -(to_audio * torch.log_softmax(logits.T, 1)).sum(1).mean()
    return (loss_a + loss_t) / 2


Encoder = Callable[[Sequence[str]], np.ndarray]


# ---------------------------------------------------------------------------------- estimator
class TextMusicEmbedding(Estimator):
    """A joint text–music space over a fitted :class:`CrossCulturalRecommender`'s catalogue.

    Args:
        dim: size of the shared space.
        hidden: width of each head's hidden layer.
        epochs: passes over the tracks (one caption drawn per track and pass).
        batch_size: pairs per InfoNCE batch.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        temperature: initial temperature (learned, kept within ``[0.01, 1]``).
        dropout: dropout on the text head's input (captions are few; queries vary).
        swap: share of passes in which a labelled track's music side gets the function model's
            prediction instead of its one-hot label (so unlabelled tracks are read right).
        function_weight: scale of the function distribution next to the standardised factors.
        seed: random state (captions' style lines, initialisation, batches).
        cache: folder for the MiniLM caption embeddings (``None``: no disk cache).
        encoder: texts → ``(n, 384)`` unit rows; default: the shipped MiniLM.
    """

    def __init__(
        self,
        dim: int = 64,
        hidden: int = 256,
        epochs: int = 60,
        batch_size: int = 256,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        temperature: float = 0.07,
        dropout: float = 0.1,
        swap: float = 0.9,
        function_weight: float = 10.0,
        seed: int = 0,
        cache: Path | None = None,
        encoder: Encoder | None = None,
    ) -> None:
        self.dim = dim
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.temperature = temperature
        self.dropout = dropout
        self.swap = swap
        self.function_weight = function_weight
        self.seed = seed
        self.cache = cache
        self.encoder = encoder

    _HYPER = ("dim", "hidden", "epochs", "batch_size", "lr", "weight_decay", "temperature",
              "dropout", "swap", "function_weight", "seed")  # fmt: skip

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if self.encoder is not None:
            x = np.asarray(self.encoder(list(texts)), dtype=np.float32)
            return unit_rows(x)
        return sentence_vectors(texts, self.cache)

    def _heads(self, audio_in: int, text_in: int) -> tuple[Any, Any]:
        from torch import nn

        def mlp(d: int, drop: float) -> nn.Sequential:
            return nn.Sequential(
                nn.Dropout(drop), nn.Linear(d, self.hidden), nn.GELU(),
                nn.Linear(self.hidden, self.dim),
            )  # fmt: skip

        return mlp(audio_in, 0.0), mlp(text_in, self.dropout)

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        recommender: CrossCulturalRecommender,
        style_codes: Mapping[str, Sequence[str]] | None = None,
        hide: np.ndarray | None = None,
    ) -> Self:
        """Train both heads on the recommender's catalogue.

        Args:
            recommender: fitted; its ``distribution_`` is the music side's function input (fit it
                with the same ``hide`` when evaluating, or the labels leak through it).
            style_codes: society id → predominant Cantometrics codes (``None``: no style facts).
            hide: Shapes: ``(n,)`` bool; these tracks' functions are left out of their captions.
        """
        import torch

        if not hasattr(recommender, "distribution_"):
            raise NotFittedError("fit the CrossCulturalRecommender before the text embedding")
        t0 = time.perf_counter()
        cat = recommender.catalogue_
        labels = recommender.labels_.astype(str).copy()
        if hide is not None:
            labels[np.asarray(hide, dtype=bool)] = ""
        styles = dict(style_codes or {})
        captions = track_captions(cat, labels, styles, seed=self.seed)
        texts = sorted({c for cs in captions for c in cs})
        pos = {t: j for j, t in enumerate(texts)}
        owner = [np.array([pos[c] for c in cs]) for cs in captions]
        member = np.zeros((len(cat), len(texts)), dtype=bool)
        for i, js in enumerate(owner):
            member[i, js] = True
        text_x = self._encode(texts)
        t1 = time.perf_counter()
        self.labels_ = labels
        self.caption_texts_ = texts
        threads = torch.get_num_threads()
        # These heads are tiny: one thread is faster than two fighting over a busy machine (10 ms
        # against 60 ms a step measured on the 2-core box), and keeps the sums in one order.
        torch.set_num_threads(1)
        try:
            self._train(recommender, captions, owner, member, text_x, t0, t1)
        finally:
            torch.set_num_threads(threads)
        return self

    def _train(
        self,
        recommender: CrossCulturalRecommender,
        captions: list[list[str]],
        owner: list[np.ndarray],
        member: np.ndarray,
        text_x: np.ndarray,
        t0: float,
        t1: float,
    ) -> None:
        import torch
        import torch.nn.functional as F

        cat = recommender.catalogue_
        factors = cat.factors.astype(np.float32)
        mean, std = factors.mean(0), factors.std(0) + 1e-6
        self.feature_mean_, self.feature_std_ = mean, std
        audio_x = self._music_inputs(recommender)
        torch.manual_seed(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        audio_head, text_head = self._heads(audio_x.shape[1], text_x.shape[1])
        log_scale = torch.nn.Parameter(torch.tensor(float(np.log(1.0 / self.temperature))))
        params = [*audio_head.parameters(), *text_head.parameters(), log_scale]
        opt = torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        A = torch.from_numpy(audio_x)
        # Labelled tracks come in with a one-hot distribution, the others with the audio model's
        # soft prediction: without this swap the head only learns to read one-hots and cannot
        # place an unlabelled track. Each pass shows a labelled track its prediction with
        # probability ``swap``.
        A_pred = torch.from_numpy(self._music_inputs(recommender, recommender.predicted_))
        labelled = torch.from_numpy(recommender.labels_ != "")
        T = torch.from_numpy(text_x)
        M = torch.from_numpy(member)
        n = len(cat)
        bs = min(self.batch_size, n)
        losses: list[float] = []
        audio_head.train()
        text_head.train()
        for _ in range(self.epochs):
            order = torch.randperm(n, generator=gen)
            pick = torch.from_numpy(np.array([rng.choice(owner[i]) for i in order.numpy()]))
            total = 0.0
            for s in range(0, n, bs):
                idx, cap = order[s : s + bs], pick[s : s + bs]
                if len(idx) < 2:
                    continue
                swap = labelled[idx] & (torch.rand(len(idx), generator=gen) < self.swap)
                x = torch.where(swap[:, None], A_pred[idx], A[idx])
                a = F.normalize(audio_head(x), dim=1)
                t = F.normalize(text_head(T[cap]), dim=1)
                positives = M[idx][:, cap]
                scale = log_scale.clamp(0.0, float(np.log(100.0))).exp()
                loss = info_nce(a, t, positives, scale)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.detach().item() * len(idx)
            losses.append(total / n)
        audio_head.eval()
        text_head.eval()
        self.recommender_ = recommender
        self.captions_ = captions
        self.caption_vectors_ = text_x
        self.audio_head_ = audio_head
        self.text_head_ = text_head
        self.scale_ = float(log_scale.detach().clamp(0.0, float(np.log(100.0))).exp())
        self.losses_ = losses
        self.timing_ = {"captions_s": t1 - t0, "train_s": time.perf_counter() - t1}
        self.track_vectors_ = self._project(audio_head, audio_x)

    def _music_inputs(
        self, recommender: CrossCulturalRecommender, distribution: np.ndarray | None = None
    ) -> np.ndarray:
        cat = recommender.catalogue_
        p = recommender.distribution_ if distribution is None else distribution
        z = (cat.factors.astype(np.float32) - self.feature_mean_) / self.feature_std_
        return np.hstack([z, self.function_weight * p]).astype(np.float32)

    @staticmethod
    def _project(head: Any, x: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        with torch.no_grad():
            return F.normalize(head(torch.from_numpy(x)), dim=1).numpy().astype(np.float64)

    def can_follow(self, recommender: CrossCulturalRecommender) -> bool:
        """Whether :meth:`follow` applies: ``recommender`` has this one's tracks, factors and
        function classes (what the music head reads), whatever their labels."""
        self._check()
        mine, theirs = self.recommender_, recommender
        return (
            mine.function_model_.classes_ == theirs.function_model_.classes_
            and np.array_equal(mine.catalogue_.track_ids, theirs.catalogue_.track_ids)
            and np.array_equal(mine.catalogue_.factors, theirs.catalogue_.factors)
        )

    def follow(
        self,
        recommender: CrossCulturalRecommender,
        style_codes: Mapping[str, Sequence[str]] | None = None,
    ) -> TextMusicEmbedding:
        """The same heads over ``recommender``: this one's with experts' answers folded in, or
        refitted on the same tracks (see :meth:`can_follow`), without training (this embedding is
        left as it is).

        The music head reads a track's function *distribution*, and a song an expert labels gets
        the distribution of a song with that public label, so the head places it like one: the
        changed tracks' vectors are projected again, and their captions (which name the known
        function, as for a public label) are written again for the explanations.

        Args:
            recommender: fitted, :meth:`can_follow` true.
            style_codes: as given to :meth:`fit`.

        Raises:
            ValueError: the heads do not fit ``recommender``; train a new embedding.
        """
        if not self.can_follow(recommender):
            raise ValueError(
                "follow: the recommender has other tracks, factors or function classes than "
                "the one these heads were trained over; fit a new TextMusicEmbedding"
            )
        old = self.recommender_
        moved = np.flatnonzero(
            (recommender.distribution_ != old.distribution_).any(axis=1)
            | (recommender.labels_ != self.labels_)
        )
        out = copy.copy(self)
        out.recommender_ = recommender
        out.labels_ = recommender.labels_.astype(str).copy()
        if len(moved):
            vectors = self.track_vectors_.copy()
            x = self._music_inputs(recommender)[moved]
            vectors[moved] = self._project(self.audio_head_, x)
            out.track_vectors_ = vectors
            captions = list(self.captions_)
            styles = dict(style_codes or {})
            for i in moved.tolist():
                facts = _facts(recommender.catalogue_, i, str(out.labels_[i]), styles, self.seed)
                captions[i] = _captions_of(facts)
            out.captions_ = captions
            known = set(self.caption_texts_)
            fresh = sorted({c for i in moved.tolist() for c in captions[i]} - known)
            if fresh:
                out.caption_texts_ = [*self.caption_texts_, *fresh]
                out.caption_vectors_ = np.vstack([self.caption_vectors_, self._encode(fresh)])
        vars(out).pop("_pos", None)  # the caption index of this one's texts
        return out

    def _check(self) -> None:
        if not hasattr(self, "track_vectors_"):
            raise NotFittedError("TextMusicEmbedding is not fitted; call fit(recommender)")

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Queries in the shared space.

        Shapes:
            returns ``(len(texts), dim)`` float64, unit rows.
        """
        self._check()
        return self._project(self.text_head_, self._encode(texts))

    # ------------------------------------------------------------------ searching
    def search(
        self,
        query: str,
        k: int = 10,
        *,
        target_culture: str | ResolvedCulture | None = None,
        detect: bool = True,
        pool: np.ndarray | None = None,
        concept: Concept | None = None,
        function_embeddings: np.ndarray | None = None,
    ) -> list[Recommendation]:
        """The ``k`` tracks whose music side is closest to the query's text side.

        With a ``concept`` (an expert's, named in the query), tracks are ranked by how likely they
        serve it, zero-shot (:func:`recsys.concepts.concept_scores`, to two decimals), and within
        equal concept scores by the cosine: the concept decides what a result is, the rest of the
        query's words (a culture, a style) order the songs it cannot tell apart.

        Args:
            query: free text ("a healing song from the Amazon").
            k: how many (exactly ``k`` when the searched tracks number at least ``k``).
            target_culture: search only this culture's tracks (wins over a culture in the text).
            detect: look for a culture named in the query when ``target_culture`` is not given.
            pool: Shapes: ``(m,)`` int rows to search among (evaluation); default: all.
            concept: a :class:`kg.expert.Concept` the query names.
            function_embeddings: Shapes: ``(C, d)`` the function table for the concept's placement;
                default: MiniLM (:func:`recsys.concepts.function_text_embeddings`).

        Raises:
            ValueError (bad ``k`` or empty query), UnknownCultureError, EmptyCultureError.
        """
        self._check()
        if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k={k!r}: must be a positive integer")
        if not isinstance(query, str) or not query.strip():
            raise ValueError(f"query={query!r}: give some words, e.g. 'a healing song'")
        cat = self.recommender_.catalogue_
        rows = np.arange(len(cat)) if pool is None else np.asarray(pool, dtype=np.int64)
        culture, via, words = None, "", ""
        if target_culture is not None:
            culture = (
                target_culture
                if isinstance(target_culture, ResolvedCulture)
                else cat.tree.resolve(target_culture)
            )
            via = "argument"
        elif detect:
            found = detect_culture(query, cat.tree)
            if found is not None:
                words, culture = found
                via = "query"
        if culture is not None:
            rows = np.intersect1d(rows, self.recommender_.rows(culture.ids))
            if len(rows) == 0:
                raise EmptyCultureError(
                    f"culture {culture.name!r} ({', '.join(culture.ids)}) has no track with audio "
                    "factors; choose a larger culture (its region or world region) or add "
                    "recordings with `soundbridge add-track`"
                )
        q = self.embed_queries([query])[0]
        scores = self.track_vectors_[rows] @ q
        n = min(int(k), len(rows))
        raw = self._encode([query])[0]
        if concept is not None:
            fits = concept_scores(
                self.recommender_, concept, function_embeddings=function_embeddings
            )
            near = nearest_functions(
                self.recommender_, concept, function_embeddings=function_embeddings
            )
            key = np.round(fits[rows], 2)
            top = np.lexsort((cat.track_ids[rows], -scores, -key))[:n]
            return [
                self._result(
                    query,
                    raw,
                    int(rows[i]),
                    float(scores[i]),
                    culture,
                    via,
                    words,
                    concept=(concept, float(fits[rows[i]]), near),
                )  # fmt: skip
                for i in top
            ]
        top = np.argpartition(-scores, n - 1)[:n] if n < len(rows) else np.arange(len(rows))
        top = top[np.lexsort((cat.track_ids[rows[top]], -scores[top]))]
        return [
            self._result(query, raw, int(rows[i]), float(scores[i]), culture, via, words)
            for i in top
        ]

    def _result(
        self,
        query: str,
        raw: np.ndarray,
        j: int,
        score: float,
        culture: ResolvedCulture | None,
        via: str,
        words: str,
        concept: tuple[Concept, float, list[tuple[str, float]]] | None = None,
    ) -> Recommendation:
        rec = self.recommender_
        cat = rec.catalogue_
        society = str(cat.cultures[j])
        label = str(rec.labels_[j]) or None
        classes = rec.function_model_.classes_
        p = rec.distribution_[j]
        best = int(p.argmax())
        function_src = "label" if label else "predicted"
        source, experts, date = rec.label_origin(j)
        expert = f"expert label, by {experts or 'an expert'}" + (f" on {date}" if date else "")
        function = label or str(classes[best])
        low = query.lower()
        matched: list[str] = []
        if function.lower() in low or function_phrase(function) in low:
            how = f" ({expert})" if source == "expert" else ""
            matched.append(
                f"function {function}" + (how if label else f" (predicted, p={p[best]:.2f})")
            )
        tree = cat.tree
        for level in ("society", "region", "world_region"):
            c = tree.ancestor(society, level) if society else None
            if c is not None and tree.name.get(c, "").lower() in low:
                matched.append(f"{level.replace('_', ' ')} {tree.name[c]}")
        caps = self.captions_[j]
        where = self._caption_pos()
        ids = [where[c] for c in caps]
        closest = caps[int(np.argmax(self.caption_vectors_[ids] @ raw))] if ids else ""
        for c in caps:
            if "singing:" in c:
                for s in c.split("singing:", 1)[1].split(","):
                    if s.strip() and s.strip() in low and f"style {s.strip()}" not in matched:
                        matched.append(f"style {s.strip()}")
        parts = [f"Cosine {score:.3f} between the query and the track in the joint space."]
        if culture is not None:
            how = f"named in the query ({words!r})" if via == "query" else "asked for"
            parts.append(f"Searched only {culture.name} ({', '.join(culture.ids)}), {how}.")
        parts.append(
            "Matched facts: " + "; ".join(matched) + "."
            if matched
            else "No caption fact is named in the query; the match is by meaning."
        )
        if source == "expert":
            parts.append(f"Function {function}: {expert}.")
        elif label:
            parts.append(f"Function public: {function}.")
        else:
            parts.append(f"Function not public; predicted {function} (p={p[best]:.2f}).")
        parts.append(f"Closest caption: {closest!r}.")
        if concept is not None:
            con, fit, near = concept
            placed = ", ".join(f"{f} ({w:.2f})" for f, w in near)
            parts.insert(
                0,
                f"Matches the concept {con.name} (added by {con.expert}): "
                f"{_short(con.description)}; "
                f"score {fit:.2f}, placed nearest {placed}.",
            )
        details = {
            "cosine": score,
            "matched_facts": matched,
            "culture_filter": (
                {"name": culture.name, "ids": list(culture.ids), "via": via, "words": words}
                if culture is not None
                else None
            ),
            "function": function,
            "function_source": function_src,
            "label_source": source or None,
            "function_experts": experts or None,
            "function_date": date or None,
            "closest_caption": closest,
        }
        if concept is not None:
            con, fit, near = concept
            details["concept"] = {
                "id": con.id,
                "name": con.name,
                "expert": con.expert,
                "score": fit,
                "placed_nearest": [[f, w] for f, w in near],
            }
        return Recommendation(
            track_id=str(cat.track_ids[j]),
            score=score,
            culture=society,
            culture_name=tree.name.get(society, society),
            title=str(cat.names[j]),
            function=label,
            explanation=" ".join(parts),
            details=details,
            audio=str(cat.audio[j]) if cat.audio is not None else "",
        )

    def _caption_pos(self) -> dict[str, int]:
        pos: dict[str, int] | None = getattr(self, "_pos", None)
        if pos is None:
            pos = {t: j for j, t in enumerate(self.caption_texts_)}
            self._pos = pos
        return pos

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the heads, the track vectors and the captions to one ``.npz``."""
        self._check()
        arrays: dict[str, Any] = {}
        for side, head in (("audio", self.audio_head_), ("text", self.text_head_)):
            for name, value in head.state_dict().items():
                arrays[f"{side}.{name}"] = value.numpy()
        meta = {
            "params": {k: getattr(self, k) for k in self._HYPER},
            "scale": self.scale_,
            "captions": self.captions_,
            "caption_texts": self.caption_texts_,
            "losses": self.losses_,
            "timing": self.timing_,
        }
        with replacing(path) as tmp:
            np.savez(
                tmp,
                meta=np.array(json.dumps(meta)),
                track_ids=self.recommender_.catalogue_.track_ids.astype(str),
                labels=self.labels_.astype(str),
                track_vectors=self.track_vectors_,
                caption_vectors=self.caption_vectors_,
                feature_mean=self.feature_mean_,
                feature_std=self.feature_std_,
                **arrays,
            )

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        recommender: CrossCulturalRecommender,
        *,
        cache: Path | None = None,
        encoder: Encoder | None = None,
    ) -> TextMusicEmbedding:
        """Read what :meth:`save` wrote, for the recommender it was trained over.

        Raises:
            ValueError: the file was written for other tracks.
        """
        import torch

        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        meta = json.loads(str(data["meta"]))
        ids = recommender.catalogue_.track_ids.astype(str)
        if not np.array_equal(data["track_ids"], ids):
            raise ValueError(f"{path}: written for another catalogue; refit the text embedding")
        self = cls(**meta["params"], cache=cache, encoder=encoder)
        self.feature_mean_ = data["feature_mean"]
        self.feature_std_ = data["feature_std"]
        audio_head, text_head = self._heads(
            data["audio.1.weight"].shape[1], data["text.1.weight"].shape[1]
        )
        for side, head in (("audio", audio_head), ("text", text_head)):
            state = {
                k.split(".", 1)[1]: torch.from_numpy(v)
                for k, v in data.items()
                if k.startswith(side + ".")
            }
            head.load_state_dict(state)
            head.eval()
        self.recommender_ = recommender
        self.labels_ = data["labels"]
        self.captions_ = meta["captions"]
        self.caption_texts_ = meta["caption_texts"]
        self.caption_vectors_ = data["caption_vectors"]
        self.audio_head_, self.text_head_ = audio_head, text_head
        self.scale_ = meta["scale"]
        self.losses_ = meta["losses"]
        self.timing_ = meta["timing"]
        self.track_vectors_ = data["track_vectors"]
        return self


# ---------------------------------------------------------------------------------- evaluation
def evaluate_function_queries(
    recommender: CrossCulturalRecommender,
    style_codes: Mapping[str, Sequence[str]] | None = None,
    *,
    holdout: float = 0.25,
    splits: int = 5,
    k: int = 10,
    seed: int = 0,
    queries: Mapping[str, str] | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Precision@k of "a <function> song" on tracks whose function was hidden.

    For each split, a share ``holdout`` of the labelled societies is drawn; their tracks' labels are
    hidden from the recommender (refitted with ``hide``, so its function distribution for them is
    the audio prediction) and from the captions. Each query then searches the hidden labelled
    tracks only; precision@k is the share of the top ``k`` whose hidden label is the function.
    Compared with chance (the function's share of that pool) and with ranking by the function
    model's own predicted probability.

    Args:
        recommender: fitted on the full catalogue (its parameters are reused).
        style_codes: society id → codes.
        holdout: share of labelled societies hidden per split.
        splits: how many random splits.
        k: the cut-off.
        seed: random state of the splits (and of the models).
        queries: function → query text; default ``"a <function phrase>"`` ("a healing song").
        params: :class:`TextMusicEmbedding` parameters.

    Returns:
        ``{"precision": mean over functions and splits, "chance": …, "predicted": …,
        "per_function": {f: {"precision", "chance", "predicted"}}, "splits", "pool", "train_s"}``.
    """
    cat = recommender.catalogue_
    labelled = cat.labelled
    societies = np.array(sorted({str(c) for c in cat.cultures[labelled] if c}))
    functions = list(recommender.function_model_.classes_)
    texts = dict(queries or {f: f"a {function_phrase(f)}" for f in functions})
    rng = np.random.default_rng(seed)
    per: dict[str, dict[str, list[float]]] = {
        f: {"precision": [], "chance": [], "predicted": []} for f in texts
    }
    pools: list[int] = []
    train_s: list[float] = []
    base = {k_: v for k_, v in recommender.get_params().items() if k_ != "seed"}
    for s in range(splits):
        held = rng.choice(societies, size=max(1, round(holdout * len(societies))), replace=False)
        hide = np.isin(cat.cultures, held) & labelled
        rec = CrossCulturalRecommender(**base, seed=seed + s).fit(cat, hide=hide)
        emb = TextMusicEmbedding(**{"seed": seed + s, **params}).fit(rec, style_codes, hide=hide)
        train_s.append(emb.timing_["train_s"])
        pool = np.flatnonzero(hide)
        pools.append(len(pool))
        truth = cat.functions[pool]
        classes = list(rec.function_model_.classes_)
        for f, q in texts.items():
            got = emb.search(q, k, pool=pool, detect=False)
            rows = np.array([cat.index(r.track_id) for r in got])
            per[f]["precision"].append(float(np.mean(cat.functions[rows] == f)))
            per[f]["chance"].append(float(np.mean(truth == f)))
            p = rec.distribution_[pool, classes.index(f)]
            order = np.lexsort((cat.track_ids[pool], -p))[:k]
            per[f]["predicted"].append(float(np.mean(truth[order] == f)))
    summary = {f: {m: float(np.mean(v)) for m, v in d.items()} for f, d in per.items()}
    return {
        "precision": float(np.mean([d["precision"] for d in summary.values()])),
        "chance": float(np.mean([d["chance"] for d in summary.values()])),
        "predicted": float(np.mean([d["predicted"] for d in summary.values()])),
        "per_function": summary,
        "queries": texts,
        "splits": splits,
        "k": k,
        "holdout": holdout,
        "pool": float(np.mean(pools)),
        "train_s": float(np.mean(train_s)),
    }


# ---------------------------------------------------------------------------------- serving
def read_style_codes(driver: neo4j.Driver) -> dict[str, list[str]]:
    """Society id → its predominant Cantometrics codes, from the graph."""
    records, _, _ = driver.execute_query(queries.STYLE_CODES, routing_=neo4j.RoutingControl.READ)
    return {str(r["culture"]): [str(c) for c in r["codes"] or []] for r in records}


#: stamp-digest -> (the digest without the stamp, the embedding over that catalogue); the
#: newest few only, since every expert's answer makes a new stamp
_SERVED: dict[str, tuple[str, TextMusicEmbedding]] = {}
_SERVED_KEEP = 8
_SERVED_LOCK = threading.Lock()
#: One gate per key while its model is being made, so that concurrent cold callers train once.
_MAKING: dict[str, threading.Lock] = {}


def _digest(
    recommender: CrossCulturalRecommender,
    styles: Mapping[str, Sequence[str]],
    *,
    stamp: bool = True,
) -> str:
    probe = TextMusicEmbedding()
    payload = json.dumps(
        {
            "stamp": recommender.catalogue_.stamp if stamp else "",
            "params": {k: getattr(probe, k) for k in probe._HYPER},
            "recommender": repr(recommender),
            "styles": sorted((k, list(v)) for k, v in styles.items()),
            "version": 1,
        }
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _keep(key: str, family: str, model: TextMusicEmbedding) -> None:
    with _SERVED_LOCK:
        _SERVED.pop(key, None)
        _SERVED[key] = (family, model)
        while len(_SERVED) > _SERVED_KEEP:
            del _SERVED[next(iter(_SERVED))]


def served_text_model(
    driver: neo4j.Driver, *, cache: str | os.PathLike[str] | None = None
) -> TextMusicEmbedding:
    """The text embedding over the graph's current catalogue: from memory, from disk
    (``$SOUNDBRIDGE_HOME/cache/text/heads-<stamp>-<digest>.npz``), else trained and stored.

    When the served recommender changed only in what experts answered (or was refitted in the
    background with those answers), the newest embedding in memory follows it without training
    (:meth:`TextMusicEmbedding.follow`); a concept new to the function classes widens what the
    music head reads, and trains anew.
    """
    recommender = served_catalogue(driver)
    styles = read_style_codes(driver)
    key = f"{recommender.catalogue_.stamp}-{_digest(recommender, styles)}"
    family = _digest(recommender, styles, stamp=False)
    with _SERVED_LOCK:
        hit = _SERVED.get(key)
        if hit is not None and hit[1].recommender_ is recommender:
            return hit[1]
        gate = _MAKING.setdefault(key, threading.Lock())
    with gate:  # the first caller makes it; the others find it in memory when they get in
        try:
            return _served_text_model(key, family, recommender, styles, cache)
        finally:
            with _SERVED_LOCK:
                _MAKING.pop(key, None)


def _served_text_model(
    key: str,
    family: str,
    recommender: CrossCulturalRecommender,
    styles: Mapping[str, Sequence[str]],
    cache: str | os.PathLike[str] | None,
) -> TextMusicEmbedding:
    with _SERVED_LOCK:
        hit = _SERVED.get(key)
        if hit is not None and hit[1].recommender_ is recommender:
            return hit[1]
        kin = [m for f, m in reversed(_SERVED.values()) if f == family]
    if kin and kin[0].can_follow(recommender):
        followed = kin[0].follow(recommender, styles)
        _keep(key, family, followed)
        return followed
    folder = text_cache_dir(cache)
    path = folder / f"heads-{key}.npz"
    model: TextMusicEmbedding | None = None
    if path.exists():
        try:
            model = TextMusicEmbedding.load(path, recommender, cache=folder)
        except (ValueError, KeyError, OSError):
            model = None  # a stale or partial file: train again and overwrite it
    if model is None:
        model = TextMusicEmbedding(cache=folder).fit(recommender, styles)
        model.save(path)
    _keep(key, family, model)
    return model


def search_text(
    query: str,
    k: int = 10,
    *,
    target_culture: str | None = None,
    driver: neo4j.Driver | None = None,
) -> list[Recommendation]:
    """Tracks that fit a free-text description, e.g. ``search_text("a healing song from the
    Amazon", 10)``.

    Args:
        query: what to look for: a function, a culture, a singing style, in any words.
        k: how many results (exactly ``k`` when the searched culture has at least ``k`` tracks).
        target_culture: search only this culture (a name, id, Glottocode or alias); without it, a
            culture named in the query is used (longest name wins).
        driver: an open Neo4j driver; default: one from ``NEO4J_URI``/``NEO4J_USER``/
            ``NEO4J_PASSWORD`` (kept for the process).

    Returns:
        Best first; each with an explanation (facts matched, culture filter, cosine). When the
        query names an active expert concept (its name, case ignored, the longest first), the
        tracks are ranked by the concept's zero-shot score and then the cosine (see
        :meth:`TextMusicEmbedding.search`), and each explanation says where the concept was placed.

    Raises:
        ValueError (bad ``k`` or empty query), UnknownCultureError (with the closest names),
        EmptyCultureError.

    Examples:
        >>> search_text("a healing song from the Amazon", 3)  # doctest: +SKIP
        [Recommendation(track_id='NHS2-…', culture_name='Warao', function='Healing', …), …]
    """
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k={k!r}: must be a positive integer")
    if driver is None:
        from recsys.similar import _default_driver

        driver = _default_driver()
    from kg.expert import list_concepts

    concept = detect_concept(query, list_concepts(driver))
    return served_text_model(driver).search(
        query, k, target_culture=target_culture, concept=concept
    )


def _short(text: str, limit: int = 80) -> str:
    """``text`` on one line, cut at a word before ``limit`` characters (with "…")."""
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1].rsplit(" ", 1)[0] + "…"
