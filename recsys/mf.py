"""Matrix factorisation from the ``implicit`` package: ALS and BPR, on the CPU.

Both wrap implicit's CPU classes explicitly (never its GPU ones, whatever the machine has) and
end as one vector per user and per item (:class:`~recsys.embedding.EmbeddingRecommender`).

- :class:`ALS` (Hu, Koren & Volinsky, 2008): weighted least squares on the binary preference
  matrix, each observed pair weighted by a confidence that grows with its play count.
- :class:`BPR` (Rendle et al., 2009): stochastic gradient ascent on the pairwise ranking
  likelihood, a listened item above a sampled unlistened one.

implicit warns when OpenBLAS or MKL runs its own thread pool (it slows its solvers down); fits
run inside ``threadpoolctl.threadpool_limits(1, "blas")``, which is the fix it asks for, so the
warning never fires and the BLAS threads of the rest of the process are left as they were.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking
from threadpoolctl import threadpool_limits

from recsys.embedding import EmbeddingRecommender

__all__ = ["ALS", "BPR", "log_confidence"]


def log_confidence(x: sp.csr_matrix, alpha: float) -> sp.csr_matrix:
    """ALS confidences ``1 + alpha · log(1 + count)`` of the stored entries (zeros stay zero).

    Play counts on Last.fm span five orders of magnitude; a linear confidence lets a few heavy
    listens decide a user's vector, the log keeps every listened artist in play.

    Shapes:
        x: ``(num_users, num_items)`` counts; returns the same shape, float32.

    Examples:
        >>> c = log_confidence(sp.csr_matrix(np.array([[0.0, 1.0, np.e - 1]])), 2.0)
        >>> c.toarray().astype(float).round(3).tolist()
        [[0.0, 2.386, 3.0]]
    """
    c = sp.csr_matrix(x, dtype=np.float32, copy=True)
    c.data = (1.0 + alpha * np.log1p(c.data)).astype(np.float32)
    return c


class _Factorisation(EmbeddingRecommender):
    """The part ALS and BPR share: scores computed in float64.

    Items that play the same part in the data end with scores a few float32 ulps apart (on the
    checkerboard, every unseen item of a user); in float32 their order followed the rounding of
    BLAS's blocking, which changes with the batch size, so ``recommend`` answered differently by
    batch. In float64 the rounding is far below the gaps the factors hold.
    """

    def _scores(self, users: np.ndarray) -> np.ndarray:
        u = self.user_factors_[users].astype(np.float64)
        return u @ self.item_factors_.T.astype(np.float64)


class ALS(_Factorisation):
    """Implicit-feedback ALS (implicit's ``AlternatingLeastSquares``, conjugate-gradient solver).

    Minimises ``Σ_ui c_ui (p_ui − x_u·y_i)² + λ (Σ‖x_u‖² + Σ‖y_i‖²)`` with ``p_ui = 1`` on
    listened pairs and 0 elsewhere. The confidence is logarithmic in the play count:
    ``c_ui = 1 + alpha · log(1 + count_ui)`` on listened pairs (:func:`log_confidence`) and 1
    elsewhere; implicit takes the matrix values as the confidences themselves, so its own linear
    ``alpha`` stays at 1.

    Deterministic for a given ``seed`` at any ``threads``: each half-step solves every user (or
    item) independently against fixed factors of the other side.

    Args:
        factors: dimension of the user and item vectors.
        regularization: the ridge weight λ.
        alpha: slope of the log confidence (0 makes every listened pair count 1, like a
            binarised matrix with no confidence at all).
        iterations: ALS sweeps (users, then items).
        seed: seeds the initial factors.
        threads: threads of implicit's solver (0: one per core).

    Shapes:
        ``user_factors_``: ``(num_users, factors)``; ``item_factors_``: ``(num_items, factors)``,
        float32.

    Examples:
        >>> x = sp.csr_matrix(np.kron(np.eye(2), np.ones((3, 3))).astype(np.float32))
        >>> x[0, 0] = 0.0
        >>> ALS(factors=4, regularization=0.1, iterations=10).fit(x).recommend([0], k=1)[0].tolist()
        [[0]]
    """

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 1.0,
        alpha: float = 1.0,
        iterations: int = 15,
        seed: int = 0,
        threads: int = 1,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.seed = seed
        self.threads = threads

    def _fit(self, interactions: sp.csr_matrix, **side: Any) -> None:
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=1.0,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=self.threads,
            )
            model.fit(log_confidence(interactions, self.alpha), show_progress=False)
        self.user_factors_ = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)


class BPR(_Factorisation):
    """Bayesian personalised ranking (implicit's ``BayesianPersonalizedRanking``).

    Trains on which pairs were listened, not on how much: play counts are ignored. Each epoch
    draws one (user, listened item, unlistened item) triple per training pair; sampled negatives
    are checked against the user's history.

    implicit adds an item bias as one more dimension, so the vectors have ``factors + 1``
    entries: the users' last one is 1 and the items' last one is the item's bias, and
    ``user · item`` is the model's full score. Similar items and users are cosines of these
    vectors, bias included (as in implicit's own ``similar_items``).

    Deterministic for a given ``seed`` only with ``threads=1``: with more threads implicit runs
    lock-free parallel SGD (Hogwild), whose updates interleave differently on every run.

    Args:
        factors: dimension of the vectors before the bias.
        learning_rate: SGD step size.
        regularization: L2 weight on the vectors touched by each step.
        iterations: epochs.
        seed: seeds the initial factors and the sampling.
        threads: SGD threads (0: one per core; more than one is not reproducible).

    Shapes:
        ``user_factors_``: ``(num_users, factors + 1)``; ``item_factors_``:
        ``(num_items, factors + 1)``, float32.

    Examples:
        >>> x = sp.csr_matrix(np.kron(np.eye(2), np.ones((3, 3))).astype(np.float32))
        >>> x[0, 0] = 0.0
        >>> m = BPR(factors=4, learning_rate=0.05, iterations=200).fit(x)
        >>> m.recommend([0], k=1)[0].tolist(), m.user_factors_.shape
        ([[0]], (6, 5))
    """

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.01,
        regularization: float = 0.01,
        iterations: int = 100,
        seed: int = 0,
        threads: int = 1,
    ) -> None:
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.seed = seed
        self.threads = threads

    def _fit(self, interactions: sp.csr_matrix, **side: Any) -> None:
        with threadpool_limits(1, "blas"):
            model = BayesianPersonalizedRanking(
                factors=self.factors,
                learning_rate=self.learning_rate,
                regularization=self.regularization,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=self.threads,
            )
            model.fit(interactions, show_progress=False)
        self.user_factors_ = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)
