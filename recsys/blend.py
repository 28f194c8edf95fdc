"""A blend: one fitted estimator whose scores are a weighted sum of its members' scores.

Each member's scores are standardised per user (mean 0, standard deviation 1 over the catalogue;
items a member cannot score count as its lowest score) before they are weighed, so members on
different scales (cosines, EASE's regression outputs, ALS's dot products) add up. The weights are
chosen on an **inner validation split** carved from the training rows
(:func:`recsys.split.inner_split`): every member is fitted without those rows, the weights that
give the best inner Recall@k on a grid over the simplex are kept, and the members are then fitted
on all the rows. A member that validates itself on the same inner split
(``validates_inner``: :class:`recsys.gnn.HeteroGNN`, :class:`recsys.lightgcn.LightGCN`) is
trained once: its scores as
validated weigh it, and its final embeddings serve.

The first member answers ``similar_items`` and ``similar_users`` (friend suggestions).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from loaders.errors import ConfigError
from recsys.base import Recommender, top_k
from recsys.embedding import EmbeddingRecommender
from recsys.evaluate import ranking_metrics
from recsys.split import inner_split

__all__ = ["Blend", "standardise"]


def standardise(scores: np.ndarray) -> np.ndarray:
    """Per row: ``(s - mean) / std``, with ``-inf`` (cannot score) counted as the row's minimum.

    Shapes:
        scores: ``(n, m)``; returns ``(n, m)`` float32.

    Examples:
        >>> standardise(np.array([[1.0, 3.0, -np.inf]])).astype(float).round(3).tolist()
        [[-0.707, 1.414, -0.707]]
    """
    s = np.asarray(scores, dtype=np.float64)
    finite = np.isfinite(s)
    low = np.where(finite, s, np.inf).min(axis=1, keepdims=True)
    low = np.where(np.isfinite(low), low, 0.0)
    s = np.where(finite, s, low)
    std = s.std(axis=1, keepdims=True)
    return ((s - s.mean(axis=1, keepdims=True)) / np.where(std > 0, std, 1.0)).astype(np.float32)


def _simplex(n: int, step: float) -> list[tuple[float, ...]]:
    """Every weight vector of ``n`` non-negative multiples of ``step`` that sums to one."""
    units = int(round(1 / step))
    grid = []
    for combo in itertools.product(range(units + 1), repeat=n - 1):
        rest = units - sum(combo)
        if rest >= 0:
            grid.append(tuple(c / units for c in (*combo, rest)))
    return grid


class Blend(Recommender):
    """Weighted sum of standardised member scores, weights chosen on an inner split.

    Args:
        members: ``(name, unfitted recommender)`` pairs; the first answers similar items and
            users.
        weights: fixed weights, one per member (``None``: chosen on the inner split).
        step: spacing of the weight grid over the simplex (``0.1``: 11 candidates for two
            members, 66 for three).
        inner_fraction: share of each user's rows (users with ≥ 10) held out for the choice.
        seed: the inner split's seed, also given to every member that has a ``seed``.
        k: the list length of the Recall@k the weights maximise.
        min_items: users with fewer rows are not held out from
            (:func:`~recsys.split.inner_split`).

    Learned:
        ``weights_`` ``(n_members,)``; ``tuning_``: one row per weight vector tried (weights,
        inner Recall@k, NDCG@k); ``members_``: the fitted members.

    Examples:
        >>> from recsys.mostpop import MostPop
        >>> from recsys.itemknn import ItemKNN
        >>> x = sp.csr_matrix(np.kron(np.eye(2), np.ones((12, 12))), dtype=np.float32)
        >>> b = Blend([("knn", ItemKNN()), ("pop", MostPop())], weights=[1.0, 0.0]).fit(x)
        >>> b.weights_.tolist()
        [1.0, 0.0]
    """

    weights_: np.ndarray
    tuning_: list[dict[str, Any]]
    members_: list[tuple[str, Recommender]]

    def __init__(
        self,
        members: Sequence[tuple[str, Recommender]] = (),
        weights: Sequence[float] | None = None,
        step: float = 0.1,
        inner_fraction: float = 0.1,
        seed: int = 0,
        k: int = 20,
        min_items: int = 10,
    ) -> None:
        self.members = members
        self.weights = weights
        self.step = step
        self.inner_fraction = inner_fraction
        self.seed = seed
        self.k = k
        self.min_items = min_items

    def _fit(self, interactions: sp.csr_matrix, *, progress: bool = False, **side: Any) -> None:
        if not self.members:
            raise ConfigError("a Blend needs at least one member: Blend([(name, model), ...])")
        if self.weights is not None and len(self.weights) != len(self.members):
            raise ConfigError(
                f"a Blend of {len(self.members)} members got {len(self.weights)} weights"
            )
        fit_x, check_x = inner_split(
            interactions, fraction=self.inner_fraction, min_items=self.min_items, seed=self.seed
        )
        if self.weights is None and check_x.nnz == 0:
            raise ConfigError(
                f"no user has {self.min_items} rows to hold out for choosing the blend's "
                "weights: give weights=[...] or a smaller min_items"
            )
        users = np.flatnonzero(check_x.getnnz(axis=1) > 0)
        inner: list[np.ndarray] = []
        fitted: list[tuple[str, Recommender]] = []
        for name, member in self.members:
            model = type(member)(**member.get_params())
            if hasattr(model, "seed"):
                model.seed = self.seed
            if getattr(model, "validates_inner", False):
                model.inner_fraction = self.inner_fraction  # type: ignore[attr-defined]
                model.fit(interactions, progress=progress, **side)
                scores, rows = cast(EmbeddingRecommender, model).inner_scores(users)
                if rows.nnz != fit_x.nnz:
                    raise ConfigError(f"member {name} validated on another inner split")
            else:
                clone = type(member)(**member.get_params())
                if hasattr(clone, "seed"):
                    clone.seed = self.seed
                clone.fit(fit_x, progress=progress, **side)
                scores = clone._scores(users)
                model.fit(interactions, progress=progress, **side)
            inner.append(standardise(scores))
            fitted.append((name, model))
        self.members_ = fitted
        self.weights_, self.tuning_ = self._choose(inner, fit_x[users], check_x[users], progress)

    def _choose(
        self,
        inner: list[np.ndarray],
        seen: sp.csr_matrix,
        truth: sp.csr_matrix,
        progress: bool,
    ) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """The weights with the best inner Recall@k (ties: the first on the grid)."""
        grid = (
            [tuple(self.weights)] if self.weights is not None else _simplex(len(inner), self.step)
        )
        rows = np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr))
        table: list[dict[str, Any]] = []
        for w in tqdm(grid, disable=not progress or len(grid) == 1, desc="blend weights"):
            s = sum(wi * si for wi, si in zip(w, inner, strict=True))
            s = np.asarray(s, dtype=np.float32)
            s[rows, seen.indices] = -np.inf
            ids, _ = top_k(s, self.k)
            recall, ndcg = ranking_metrics(ids, truth) if truth.nnz else (np.nan, np.nan)
            table.append({"weights": [float(v) for v in w], "recall": recall, "ndcg": ndcg})
        best = max(range(len(table)), key=lambda i: (np.nan_to_num(table[i]["recall"], nan=-1), -i))
        return np.asarray(table[best]["weights"], dtype=np.float32), table

    def member(self, name: str) -> Recommender:
        """The fitted member called ``name`` (KeyError naming the members when unknown)."""
        for n, m in self.members_:
            if n == name:
                return m
        raise KeyError(f"no member {name!r}; the members are {[n for n, _ in self.members_]}")

    def _scores(self, users: np.ndarray) -> np.ndarray:
        total: np.ndarray | None = None
        for w, (_, m) in zip(self.weights_, self.members_, strict=True):
            if w == 0:
                continue
            part = float(w) * standardise(m._scores(users))
            total = part if total is None else total + part
        assert total is not None  # the weights sum to one
        return total

    def use_history(self, interactions: sp.spmatrix) -> None:
        """Serve with another history (e.g. every public play), for the blend and its members."""
        super().use_history(interactions)
        for _, m in self.members_:
            m.use_history(self.interactions_)

    @property
    def item_factors_(self) -> np.ndarray:
        """The first member's item vectors (AttributeError when it has none).

        Shapes:
            ``(num_items, dim)``.
        """
        first: Any = self.members_[0][1]
        return cast(np.ndarray, first.item_factors_)

    def _item_similarity(self, items: np.ndarray) -> np.ndarray:
        return self.members_[0][1]._item_similarity(items)

    def _user_similarity(self, users: np.ndarray) -> np.ndarray:
        return self.members_[0][1]._user_similarity(users)

    # -- persistence: the members' states side by side in one file ---------------------------

    def _state(self, prefix: str = "") -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            f"{prefix}weights_": self.weights_,
        }
        own = sp.csr_matrix(self.interactions_)
        for part in ("data", "indices", "indptr"):
            arrays[f"{prefix}interactions_{part}"] = getattr(own, part)
        arrays[f"{prefix}interactions_shape"] = np.asarray(own.shape)
        members = []
        for i, (name, m) in enumerate(self.members_):
            saved = getattr(m, "best_estimator_", m)  # a tuned member: the model it chose
            a, meta = saved._state(f"{prefix}m{i}.")
            arrays.update(a)
            members.append({"name": name, "meta": meta})
        params = {k: v for k, v in self.get_params().items() if k != "members"}
        params["weights"] = None if self.weights is None else [float(w) for w in self.weights]
        meta = {"class": "Blend", "params": params, "members": members, "sparse": []}
        return arrays, meta

    @classmethod
    def _restore(cls, meta: dict[str, Any], f: Any, prefix: str = "") -> Recommender:
        members = [
            (m["name"], Recommender._restore(m["meta"], f, f"{prefix}m{i}."))
            for i, m in enumerate(meta["members"])
        ]
        model = cls(members=[(n, m) for n, m in members], **meta["params"])
        model.members_ = members
        model.weights_ = f[f"{prefix}weights_"]
        model.interactions_ = sp.csr_matrix(
            (
                f[f"{prefix}interactions_data"],
                f[f"{prefix}interactions_indices"],
                f[f"{prefix}interactions_indptr"],
            ),
            shape=tuple(f[f"{prefix}interactions_shape"]),
        )
        model.tuning_ = []
        return model
