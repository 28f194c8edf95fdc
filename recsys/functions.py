"""What a song is *for*: :class:`FunctionModel` predicts the behavioural context (Dance, Lullaby, …)
of every catalogue track from its audio factors (and its MIRtoolbox features where the track has
them), trained on the tracks whose context is public.

Calibrated SVMs (scikit-learn's ``CalibratedClassifierCV`` around ``SVC``) on standardised
inputs; where both views exist the two posteriors are combined as independent evidence,
``p ∝ p_factors · p_mir / prior``. Blank labels are not trained on, which is how the
evaluation treats its validation societies as unlabelled.

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

from typing import Any, Self

import numpy as np

from recsys.base import Estimator, NotFittedError

__all__ = ["FunctionModel", "label_distribution"]


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

        Args:
            X: Shapes: ``(n, d)`` audio factors.
            y: ``(n,)`` str labels, ``""`` for unknown.
            mir: ``(n, p)`` MIRtoolbox features with NaN rows where absent, or ``None``.
        """
        y = np.asarray(y).astype(str)
        known = y != ""
        classes = sorted(set(y[known]))
        if len(classes) < 2:
            raise ValueError("FunctionModel needs labelled tracks of at least two functions")
        self.classes_ = tuple(str(c) for c in classes)
        yi = np.searchsorted(np.array(classes), y[known])
        self.prior_ = np.bincount(yi, minlength=len(classes)) / len(yi)
        self.factors_ = _svm(self.C, self.seed).fit(X[known], yi)
        self.mir_ = None
        if mir is not None:
            ok = known & np.isfinite(mir).all(axis=1)
            if len(set(yi[ok[known]])) == len(classes) and ok.sum() >= 5 * len(classes):
                self.mir_ = _svm(self.C, self.seed).fit(mir[ok], np.searchsorted(classes, y[ok]))
        return self

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
        return p / p.sum(axis=1, keepdims=True)


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
