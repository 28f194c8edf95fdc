"""What a song is *for*: :class:`FunctionModel` predicts the behavioural context (Dance, Lullaby, …)
of every catalogue track from its audio factors (and its MIRtoolbox features where the track has
them), trained on the tracks whose context is public.

Calibrated SVMs (scikit-learn's ``CalibratedClassifierCV`` around ``SVC``) on standardised
inputs; where both views exist the two posteriors are combined as independent evidence,
``p ∝ p_factors · p_mir / prior``. Blank labels are not trained on, which is how the
evaluation treats its validation societies as unlabelled. A function (or an expert's concept)
with fewer than :data:`MIN_EXAMPLES` labelled tracks is one of the model's classes but is never
predicted: calibration needs an example of every class in each of its folds, and one expert
naming a new concept for one song must not stop the model from fitting.

Examples:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.array(["Dance", "Lullaby"] * 30)
    >>> X = rng.normal(size=(60, 4)) + (y == "Dance")[:, None] * 3.0
    >>> m = FunctionModel().fit(X, y)
    >>> m.classes_, bool((m.predict_proba(X).argmax(1) == (y == "Lullaby")).mean() > 0.9)
    (('Dance', 'Lullaby'), True)
"""

from __future__ import annotations

import copy
from typing import Any, Self

import numpy as np

from recsys.base import Estimator, NotFittedError

__all__ = ["MIN_EXAMPLES", "FunctionModel", "label_distribution"]

#: Labelled tracks a class needs to be trained on (one per calibration fold).
MIN_EXAMPLES = 5


def _svm(C: float, seed: int) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return make_pipeline(
        StandardScaler(),
        CalibratedClassifierCV(SVC(C=C, random_state=seed), ensemble=False, cv=5),
    )


class FunctionModel(Estimator):
    """Behavioural-context posterior from audio factors (+ MIRtoolbox features when present).

    Args:
        C: SVM regularisation.
        seed: random state.
    """

    def __init__(self, C: float = 1.0, seed: int = 0) -> None:
        self.C = C
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray, mir: np.ndarray | None = None) -> Self:
        """Fit on the rows whose label is not ``""``.

        Every label is one of :attr:`classes_`; only those with at least :data:`MIN_EXAMPLES`
        tracks are trained on (the others get probability 0).

        Args:
            X: Shapes: ``(n, d)`` audio factors.
            y: ``(n,)`` str labels, ``""`` for unknown.
            mir: ``(n, p)`` MIRtoolbox features with NaN rows where absent, or ``None``.

        Raises:
            ValueError: fewer than two classes have :data:`MIN_EXAMPLES` labelled tracks.
        """
        y = np.asarray(y).astype(str)
        known = y != ""
        classes, counts = np.unique(y[known], return_counts=True)
        trained = classes[counts >= MIN_EXAMPLES]
        if len(trained) < 2:
            raise ValueError(
                f"FunctionModel needs at least {MIN_EXAMPLES} labelled tracks of each of at least "
                f"two functions; got {dict(zip(classes.tolist(), counts.tolist(), strict=True))}"
            )
        self.classes_ = tuple(str(c) for c in classes)
        self.columns_ = np.searchsorted(classes, trained)
        train = known & np.isin(y, trained)
        yi = np.searchsorted(trained, y[train])
        self.prior_ = np.bincount(yi, minlength=len(trained)) / len(yi)
        self.factors_ = _svm(self.C, self.seed).fit(X[train], yi)
        self.mir_ = None
        if mir is not None:
            ok = train & np.isfinite(mir).all(axis=1)
            if len(set(yi[ok[train]])) == len(trained) and ok.sum() >= 5 * len(trained):
                self.mir_ = _svm(self.C, self.seed).fit(mir[ok], np.searchsorted(trained, y[ok]))
        return self

    def widened(self, classes: tuple[str, ...]) -> FunctionModel:
        """A copy that answers over ``classes``, a superset of :attr:`classes_`, with probability
        0 for the ones it was not trained on (this model is left as it is).

        What the served recommender uses when an expert labels a song with a concept the model
        has not seen, until it is refitted with the new label.

        Examples:
            >>> import numpy as np
            >>> y = np.array(["Dance", "Lullaby"] * 5)
            >>> m = FunctionModel().fit(np.c_[(y == "Dance") * 3.0, np.arange(10) % 3], y)
            >>> w = m.widened(("Dance", "Harvest", "Lullaby"))
            >>> w.classes_, float(w.predict_proba(np.array([[3.0, 0.0]]))[0, 1])
            (('Dance', 'Harvest', 'Lullaby'), 0.0)
        """
        missing = sorted(set(self.classes_) - set(classes))
        if missing:
            raise ValueError(f"widened: {missing} are classes of the model; keep them")
        out = copy.copy(self)
        out.classes_ = tuple(classes)
        if hasattr(self, "columns_"):
            where = {c: i for i, c in enumerate(classes)}
            out.columns_ = np.array([where[self.classes_[i]] for i in self.columns_], dtype=int)
        return out

    def predict_proba(self, X: np.ndarray, mir: np.ndarray | None = None) -> np.ndarray:
        """Posterior over :attr:`classes_`.

        Shapes:
            X: ``(n, d)``; mir: ``(n, p)`` or ``None``; returns ``(n, len(classes_))``.
        """
        if not hasattr(self, "factors_"):
            raise NotFittedError("FunctionModel is not fitted; call fit first")
        p = self.factors_.predict_proba(X)
        if self.mir_ is not None and mir is not None:
            ok = np.isfinite(mir).all(axis=1)
            if ok.any():
                pm = self.mir_.predict_proba(mir[ok])
                p[ok] = p[ok] * pm / np.maximum(self.prior_, 1e-9)
        p = p / p.sum(axis=1, keepdims=True)
        columns = getattr(self, "columns_", None)  # absent on models saved before it existed
        if columns is None or np.array_equal(columns, np.arange(len(self.classes_))):
            return p
        out = np.zeros((len(p), len(self.classes_)))
        out[:, columns] = p
        return out


def label_distribution(
    labels: np.ndarray, classes: tuple[str, ...], predicted: np.ndarray, confidence: float = 0.9
) -> np.ndarray:
    """Each track's function distribution: the known label (weight ``confidence``, the rest from
    the prediction) where public, else the prediction.

    Shapes:
        labels: ``(n,)`` str (``""`` unknown); predicted: ``(n, F)``; returns ``(n, F)``.
    """
    out = predicted.copy()
    index = {c: i for i, c in enumerate(classes)}
    for i, lab in enumerate(np.asarray(labels).astype(str)):
        j = index.get(lab)
        if j is not None:
            out[i] = (1 - confidence) * predicted[i]
            out[i, j] += confidence
    return out
