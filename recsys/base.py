"""The one recommender contract that every model follows, baselines included.

Modelled on implicit's ``RecommenderBase``: a model is fitted on a ``(num_users, num_items)``
sparse interaction matrix and then answers, in index space and in batches,

- ``recommend(users, k, exclude_seen=True) -> (ids, scores)``: the top ``k`` items per user;
- ``similar_items(items, k) -> (ids, scores)``: the ``k`` nearest items of each item (itself
  excluded);
- ``similar_users(users, k) -> (ids, scores)``: the ``k`` nearest users (friend suggestions);
- ``save(path)`` / ``Recommender.load(path)``: a round trip through one ``.npz`` file.

Estimator rules (scikit-learn): ``__init__`` only stores its hyper-parameters as given; learned
state ends in ``_``; :meth:`Recommender.fit` returns ``self``. A subclass implements
:meth:`Recommender._fit` and :meth:`Recommender._scores` and, when it has them, item and user
vectors; the batching, the exclusion of seen items, top-k selection and persistence live here
once. Ids are row / column indices of the interaction matrix; :mod:`recsys.split` maps them to
Last.fm ids.
"""

from __future__ import annotations

import inspect
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from loaders.errors import SoundbridgeError
from loaders.files import replacing

__all__ = ["Estimator", "NotFittedError", "Recommender", "top_k"]


class NotFittedError(SoundbridgeError):
    """A recommender was asked for answers before :meth:`Recommender.fit` (or ``load``)."""


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` largest entries of each row, best first.

    Ties keep the smaller index first, so answers are deterministic.

    Shapes:
        scores: ``(n, m)``; returns ``ids`` ``(n, min(k, m))`` int64 and ``scores`` the same
        shape, float32.

    Examples:
        >>> ids, s = top_k(np.array([[0.25, 0.75, 0.5], [1.0, 1.0, 0.0]]), 2)
        >>> ids.tolist(), s.tolist()
        ([[1, 2], [0, 1]], [[0.75, 0.5], [1.0, 1.0]])
    """
    n, m = scores.shape
    k = min(k, m)
    if k <= 0:
        return np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0), dtype=np.float32)
    # a stable sort on -score puts ties in index order; argpartition first keeps it O(m) per row
    if k < m:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        kth = np.take_along_axis(scores, part, axis=1).min(axis=1, keepdims=True)
        # rows may have ties at the k-th value: take every candidate >= kth, then sort stably
        cand_mask = scores >= kth
        ids = np.empty((n, k), dtype=np.int64)
        for r in range(n):
            cand = np.flatnonzero(cand_mask[r])
            order = np.argsort(-scores[r, cand], kind="stable")[:k]
            ids[r] = cand[order]
    else:
        ids = np.argsort(-scores, axis=1, kind="stable")[:, :k].astype(np.int64)
    return ids, np.take_along_axis(scores, ids, axis=1).astype(np.float32)


class Estimator:
    """scikit-learn's estimator plumbing: ``get_params`` from ``__init__``'s signature, a repr."""

    def get_params(self) -> dict[str, Any]:
        """The hyper-parameters given to ``__init__``, by name."""
        names = [
            p
            for p in inspect.signature(type(self).__init__).parameters
            if p not in ("self", "args", "kwargs")
        ]
        return {n: getattr(self, n) for n in names}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


class Recommender(Estimator, ABC):
    """Base class of every soundbridge recommender (implicit's ``RecommenderBase`` contract).

    Subclasses define ``__init__`` with keyword hyper-parameters stored under the same names,
    :meth:`_fit` (set learned attributes ending in ``_``) and :meth:`_scores`.
    """

    #: registry of subclasses by name, for :meth:`load`
    _registry: ClassVar[dict[str, type[Recommender]]] = {}
    #: False for models that rank items the same for everyone (the shared tests adapt)
    personalised: ClassVar[bool] = True

    interactions_: sp.csr_matrix

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not inspect.isabstract(cls):
            Recommender._registry[cls.__name__] = cls

    # -- estimator plumbing -------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` (or :meth:`load`) has run."""
        return hasattr(self, "interactions_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"{type(self).__name__} is not fitted: call .fit(interactions) or "
                f"Recommender.load(path) first"
            )

    @property
    def num_users(self) -> int:
        """Rows of the interaction matrix the model was fitted on."""
        self._check_fitted()
        return int(self.interactions_.shape[0])

    @property
    def num_items(self) -> int:
        """Columns of the interaction matrix the model was fitted on."""
        self._check_fitted()
        return int(self.interactions_.shape[1])

    # -- the contract ------------------------------------------------------------------------

    def use_history(self, interactions: sp.spmatrix) -> None:
        """Answer with another history than the one fitted on (e.g. every public play).

        The items each user has are what ``recommend`` excludes and what the history-based
        models (ItemKNN, EASE) score from. Shapes: ``(num_users, num_items)``.
        """
        x = sp.csr_matrix(interactions, dtype=np.float32)
        self._check_fitted()
        if x.shape != self.interactions_.shape:
            raise SoundbridgeError(
                f"history of shape {x.shape} for a model fitted on {self.interactions_.shape}"
            )
        self.interactions_ = x

    def fit(self, interactions: sp.spmatrix | np.ndarray, **side: Any) -> Self:
        """Learn from a user × item interaction matrix (any positive value is an interaction).

        Shapes:
            interactions: ``(num_users, num_items)``.

        Args:
            interactions: the training interactions; values are used as confidences by the
                models that use them, and binarised by the others.
            **side: side information some models use (e.g. the knowledge graph); ignored by
                the others.

        Returns:
            ``self``.
        """
        x = sp.csr_matrix(interactions, dtype=np.float32)
        x.eliminate_zeros()
        self.interactions_ = x
        self._fit(x, **side)
        return self

    def recommend(
        self,
        users: np.ndarray | list[int] | int,
        k: int = 10,
        *,
        exclude_seen: bool = True,
        batch_size: int = 1024,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items for each user, best first.

        Shapes:
            users: ``(n,)`` user indices (an int gives ``n = 1``); returns ``ids`` ``(n, k)``
            int64 and ``scores`` ``(n, k)`` float32. Items a model cannot score (and seen items
            when excluded) score ``-inf`` and come last.

        Args:
            users: row indices of the interaction matrix.
            k: how many items per user.
            exclude_seen: leave out the items each user interacted with in training.
            batch_size: users scored at once (memory: ``batch_size × num_items`` floats).
        """
        self._check_fitted()
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        self._check_range(users, self.num_users, "user")
        ids, scores = [], []
        for start in range(0, len(users), batch_size):
            batch = users[start : start + batch_size]
            s = np.asarray(self._scores(batch), dtype=np.float32).copy()
            if exclude_seen:
                seen = self.interactions_[batch]
                rows = np.repeat(np.arange(len(batch)), np.diff(seen.indptr))
                s[rows, seen.indices] = -np.inf
            i, v = top_k(s, k)
            ids.append(i)
            scores.append(v)
        return np.concatenate(ids), np.concatenate(scores)

    def similar_items(
        self, items: np.ndarray | list[int] | int, k: int = 10
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most similar items of each item, itself excluded, best first.

        Shapes:
            items: ``(n,)``; returns ``ids`` and ``scores``, each ``(n, k)``.
        """
        self._check_fitted()
        items = np.atleast_1d(np.asarray(items, dtype=np.int64))
        self._check_range(items, self.num_items, "item")
        s = np.asarray(self._item_similarity(items), dtype=np.float32).copy()
        s[np.arange(len(items)), items] = -np.inf
        return top_k(s, k)

    def similar_users(
        self,
        users: np.ndarray | list[int] | int,
        k: int = 10,
        *,
        exclude: sp.spmatrix | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most similar users of each user (friend suggestions), itself excluded.

        Shapes:
            users: ``(n,)``; exclude: ``(num_users, num_users)`` (e.g. known friendships);
            returns ``ids`` and ``scores``, each ``(n, k)``.
        """
        self._check_fitted()
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        self._check_range(users, self.num_users, "user")
        s = np.asarray(self._user_similarity(users), dtype=np.float32).copy()
        s[np.arange(len(users)), users] = -np.inf
        if exclude is not None:
            ex = sp.csr_matrix(exclude)[users]
            rows = np.repeat(np.arange(len(users)), np.diff(ex.indptr))
            s[rows, ex.indices] = -np.inf
        return top_k(s, k)

    def save(self, path: str | Path) -> Path:
        """Write hyper-parameters and learned state to one ``.npz`` file (no pickle).

        Returns:
            The path written (``.npz`` is appended when missing).
        """
        self._check_fitted()
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        arrays, meta = self._state()
        arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        with replacing(path) as tmp:
            np.savez(tmp, **arrays)  # type: ignore[arg-type]
        return path

    def _state(self, prefix: str = "") -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The arrays of the learned state (names prefixed) and the metadata that rebuilds it."""
        arrays: dict[str, np.ndarray] = {}
        sparse: list[str] = []
        for name, value in vars(self).items():
            if not name.endswith("_") or name.startswith("_"):
                continue
            if sp.issparse(value):
                m = sp.csr_matrix(value)
                arrays[f"{prefix}{name}data"] = m.data
                arrays[f"{prefix}{name}indices"] = m.indices
                arrays[f"{prefix}{name}indptr"] = m.indptr
                arrays[f"{prefix}{name}shape"] = np.asarray(m.shape)
                sparse.append(name)
            elif isinstance(value, np.ndarray | int | float | bool | np.generic):
                arrays[f"{prefix}{name}"] = np.asarray(value)
            # anything else learned (e.g. a training log object) is not part of the saved state
        meta = {
            "class": type(self).__name__,
            "params": self.get_params(),
            "sparse": sparse,
            "arrays": [n for n in vars(self) if f"{prefix}{n}" in arrays],
        }
        return arrays, meta

    @classmethod
    def _restore(cls, meta: dict[str, Any], f: Any, prefix: str = "") -> Recommender:
        """Rebuild a model from :meth:`_state`'s metadata and the open ``.npz`` ``f``."""
        klass = Recommender._registry[meta["class"]]
        model = klass(**meta["params"])
        for name in meta["sparse"]:
            m = sp.csr_matrix(
                (
                    f[f"{prefix}{name}data"],
                    f[f"{prefix}{name}indices"],
                    f[f"{prefix}{name}indptr"],
                ),
                shape=tuple(f[f"{prefix}{name}shape"]),
            )
            setattr(model, name, m)
        if "arrays" in meta:
            names = meta["arrays"]
        else:  # files written before the metadata listed its arrays
            names = [
                n
                for n in f.files
                if n != "__meta__" and not any(n.startswith(s) for s in meta["sparse"])
            ]
        for name in names:
            value = f[f"{prefix}{name}"]
            setattr(model, name, value.item() if value.ndim == 0 else value)
        return model

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """Read a model written by :meth:`save` (of whichever subclass wrote it)."""
        with np.load(Path(path), allow_pickle=False) as f:
            meta = json.loads(f["__meta__"].tobytes().decode())
            klass = Recommender._registry.get(meta["class"])
            if klass is None or not issubclass(klass, cls):
                raise SoundbridgeError(
                    f"{path}: holds a {meta['class']!r} model, not a {cls.__name__}; "
                    "load it with Recommender.load after importing its module"
                )
            return klass._restore(meta, f)

    # -- what subclasses implement -------------------------------------------------------

    @abstractmethod
    def _fit(self, interactions: sp.csr_matrix, **side: Any) -> None:
        """Set the learned attributes from the binarised-or-weighted training matrix."""

    @abstractmethod
    def _scores(self, users: np.ndarray) -> np.ndarray:
        """Scores of every item for a batch of users; ``-inf`` for items it cannot score.

        Shapes:
            users: ``(n,)``; returns ``(n, num_items)``.
        """

    def _item_similarity(self, items: np.ndarray) -> np.ndarray:
        """Similarity of every item to each item of the batch; cosine of co-occurrence here.

        Shapes:
            items: ``(n,)``; returns ``(n, num_items)``.
        """
        x = self.interactions_.T.tocsr()
        x.data[:] = 1.0
        return _cosine_rows(x, items)

    def _user_similarity(self, users: np.ndarray) -> np.ndarray:
        """Similarity of every user to each user of the batch; cosine of histories here.

        Shapes:
            users: ``(n,)``; returns ``(n, num_users)``.
        """
        x = self.interactions_.copy()
        x.data[:] = 1.0
        return _cosine_rows(x, users)

    @staticmethod
    def _check_range(ix: np.ndarray, n: int, what: str) -> None:
        if ix.size and (ix.min() < 0 or ix.max() >= n):
            bad = ix[(ix < 0) | (ix >= n)][0]
            raise SoundbridgeError(
                f"{what} index {bad} is out of range: the model was fitted on {n} {what}s "
                f"(indices 0..{n - 1}); map ids to indices with recsys.split.Interactions"
            )


def _cosine_rows(x: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
    """Cosine similarity between ``x[rows]`` and every row of ``x``.

    Shapes:
        x: ``(m, d)`` sparse; rows: ``(n,)``; returns ``(n, m)`` dense.
    """
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    xn = sp.diags(1.0 / norms) @ x
    return np.asarray((xn[rows] @ xn.T).todense())
