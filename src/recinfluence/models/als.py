"""Implicit-feedback ALS (Hu, Koren & Volinsky 2008) from the ``implicit`` library (CPU).

Every training row is a positive with confidence ``alpha`` (implicit's convention: confidence
alpha x value, 1 for the unobserved pairs). The model is trained on a matrix over the *global*
id space, so a deleted user or item keeps its row (empty) and its place, and the initial factors
(drawn here from the seed, uniform in [0, 0.01) like implicit's own, users then items) are the
same for every retained entity whatever was deleted: the common-random-numbers property. ALS has
no other randomness: each half-step solves every user (item) on its own, so with the same seed a
deletion changes nothing but what the deleted rows feed into.
"""

from __future__ import annotations

import numpy as np

from .base import TrainSet


def initial_factors(n_users: int, n_items: int, factors: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The starting user and item factors of a fit with ``seed`` (float32, global id order)."""
    rng = np.random.RandomState(seed)
    users = rng.random_sample((n_users, factors)).astype(np.float32) * np.float32(0.01)
    items = rng.random_sample((n_items, factors)).astype(np.float32) * np.float32(0.01)
    return users, items


class ALS:
    """implicit's ``AlternatingLeastSquares`` on one thread (parallelism comes from shards),
    with implicit's defaults."""

    def __init__(
        self,
        factors: int = 100,
        regularization: float = 0.01,
        alpha: float = 1.0,
        iterations: int = 15,
        use_cg: bool = True,
    ):
        if factors < 1 or iterations < 1 or regularization < 0 or alpha <= 0:
            raise ValueError("factors and iterations must be >= 1, regularization >= 0 and alpha > 0")
        self.factors, self.regularization, self.alpha = int(factors), float(regularization), float(alpha)
        self.iterations, self.use_cg = int(iterations), bool(use_cg)

    def fit(self, train: TrainSet, seed: int) -> "ALS":
        from implicit.cpu.als import AlternatingLeastSquares

        matrix = train.matrix(dtype=np.float32)
        model = AlternatingLeastSquares(
            factors=self.factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
            use_cg=self.use_cg,
            num_threads=1,
            random_state=seed,
        )
        model.user_factors, model.item_factors = initial_factors(train.n_users, train.n_items, self.factors, seed)
        model.fit(matrix, show_progress=False)
        self.user_factors, self.item_factors = model.user_factors, model.item_factors
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        return (self.user_factors[users] @ self.item_factors.T).astype(np.float64)
