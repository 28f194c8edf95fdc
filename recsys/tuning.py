"""Hyper-parameters chosen on an inner validation split: the :class:`Tuned` meta-estimator."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from loaders.errors import SoundbridgeError
from recsys.base import Recommender
from recsys.evaluate import ranking_metrics
from recsys.split import inner_split

__all__ = ["Tuned"]


class Tuned(Recommender):
    """A recommender whose hyper-parameters are picked by Recall@k on an inner split.

    ``fit(x, **side)`` carves ``fit, check = inner_split(x, fraction, min_items, seed)``, fits a
    fresh copy of ``estimator`` on ``fit`` for every combination of ``grid`` (in
    ``itertools.product`` order, the grid's keys in the order given), scores Recall@k of its
    recommendations (seen items excluded) on the users with ``check`` rows, keeps the best
    combination (the first on ties), and refits a fresh copy with it on all of ``x``. Every fit
    gets the same ``**side``; a ``progress=True`` among them also shows a bar over the grid.
    Copies that have a ``seed`` hyper-parameter get this model's ``seed`` (unless the grid
    varies it), so setting ``seed`` here seeds both the split and the model.

    ``estimator`` itself is never fitted. Answers come from ``best_estimator_``. :meth:`save`
    writes ``best_estimator_``: ``Recommender.load`` of that file returns the tuned underlying
    model (e.g. an ``EASE``), not a ``Tuned``, since the search itself is not needed to answer.

    Args:
        estimator: an unfitted recommender whose parameters are the defaults of the search.
        grid: hyper-parameter name → values to try, e.g. ``{"l2": [50, 100, 200, 400]}``.
        fraction: share of each eligible user's items held out for the inner check.
        seed: seeds the inner split and, where they have one, the copies of ``estimator``.
        k: list length of the Recall@k that picks the winner.
        min_items: users with fewer items are not held out from (:func:`~recsys.split.inner_split`).

    Attributes:
        best_params_: the winning combination (name → value).
        tuning_: one row per combination, in grid order: its parameters and ``"recall"``.
        best_estimator_: the copy with ``best_params_`` fitted on the whole matrix.

    Shapes:
        ``fit(interactions)``: ``(num_users, num_items)``; answers as :class:`Recommender`.

    Examples:
        >>> from recsys.ease import EASE
        >>> x = sp.csr_matrix(np.kron(np.eye(2), np.ones((4, 10))).astype(np.float32))
        >>> t = Tuned(EASE(min_item_users=1), {"l2": [1.0, 10.0]}, fraction=0.2, k=2).fit(x)
        >>> t.tuning_
        [{'l2': 1.0, 'recall': 1.0}, {'l2': 10.0, 'recall': 1.0}]
        >>> t.best_estimator_
        EASE(l2=1.0, min_item_users=1)
    """

    best_params_: dict[str, Any]
    tuning_: list[dict[str, Any]]
    best_estimator_: Recommender

    def __init__(
        self,
        estimator: Recommender,
        grid: dict[str, list[Any]],
        fraction: float = 0.1,
        seed: int = 0,
        k: int = 20,
        min_items: int = 10,
    ) -> None:
        self.estimator = estimator
        self.grid = grid
        self.fraction = fraction
        self.seed = seed
        self.k = k
        self.min_items = min_items

    def _make(self, combo: dict[str, Any]) -> Recommender:
        """A fresh, unfitted copy of ``estimator`` with ``combo`` over its parameters."""
        model = type(self.estimator)(**{**self.estimator.get_params(), **combo})
        if hasattr(model, "seed") and "seed" not in combo:
            model.seed = self.seed
        return model

    def _fit(self, interactions: sp.csr_matrix, **side: Any) -> None:
        name = type(self.estimator).__name__
        known = self.estimator.get_params()
        unknown = [p for p in self.grid if p not in known]
        if unknown:
            raise SoundbridgeError(
                f"Tuned grid: {', '.join(map(repr, unknown))} not a hyper-parameter of {name}; "
                f"its hyper-parameters are {', '.join(known) or 'none'}"
            )
        fit, check = inner_split(
            interactions, fraction=self.fraction, min_items=self.min_items, seed=self.seed
        )
        users = np.flatnonzero(np.diff(check.indptr))
        if not len(users):
            raise SoundbridgeError(
                f"Tuned({name}): the inner split holds nothing out, since no user has "
                f"{self.min_items} items; lower min_items or tune on more data"
            )
        truth = check[users]
        combos = [
            dict(zip(self.grid, values, strict=True))
            for values in itertools.product(*self.grid.values())
        ]
        rows: list[dict[str, Any]] = []
        bar = tqdm(combos, disable=not side.get("progress", False), desc=f"tune[{name}]")
        for combo in bar:
            model = self._make(combo).fit(fit, **side)
            ids, _ = model.recommend(users, k=self.k, exclude_seen=True)
            rows.append({**combo, "recall": ranking_metrics(ids, truth)[0]})
        # max keeps the first of equal recalls: the earlier grid value wins ties
        best = max(range(len(rows)), key=lambda r: rows[r]["recall"])
        self.tuning_ = rows
        self.best_params_ = combos[best]
        self.best_estimator_ = self._make(combos[best]).fit(interactions, **side)

    def _scores(self, users: np.ndarray) -> np.ndarray:
        return self.best_estimator_._scores(users)

    def _item_similarity(self, items: np.ndarray) -> np.ndarray:
        return self.best_estimator_._item_similarity(items)

    def _user_similarity(self, users: np.ndarray) -> np.ndarray:
        return self.best_estimator_._user_similarity(users)

    def save(self, path: str | Path) -> Path:
        """Write ``best_estimator_`` (``Recommender.load`` returns it, not a ``Tuned``).

        Returns:
            The path written (``.npz`` is appended when missing).
        """
        self._check_fitted()
        return self.best_estimator_.save(path)
