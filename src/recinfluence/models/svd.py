"""Biased matrix factorisation (Funk SVD) as scikit-surprise defines it.

Three backends of the same algorithm: ``surprise`` runs scikit-surprise itself on a trainset
whose inner ids are the global ids; ``compiled`` runs a numba loop that reproduces it exactly
(same RandomState draws, same rating order, same updates, bit for bit) several times faster;
``fast`` runs the same loop compiled with fastmath, which lets the compiler reorder and
vectorise the dot products: no longer bit-identical, equal to scikit-surprise within a relative
1e-9 on every score (tested), and faster again (``benchmarks/speed.py``).
Either way the initial factors are drawn for the whole global id space in id order, so a
deletion leaves every retained entity's initial factors unchanged.
"""

from __future__ import annotations

from collections import defaultdict

import numba
import numpy as np

from .base import TrainSet

BACKENDS = ("compiled", "fast", "surprise")


@numba.njit(inline="always")
def _sgd_epochs(users, items, ratings, global_mean, bu, bi, pu, qi, n_epochs, biased, lr, reg):
    lr_bu, lr_bi, lr_pu, lr_qi = lr
    reg_bu, reg_bi, reg_pu, reg_qi = reg
    n_factors = pu.shape[1]
    for _ in range(n_epochs):
        for index in range(users.shape[0]):
            u = users[index]
            i = items[index]
            dot = 0.0
            for f in range(n_factors):
                dot += qi[i, f] * pu[u, f]
            err = ratings[index] - (global_mean + bu[u] + bi[i] + dot)
            if biased:
                bu[u] += lr_bu * (err - reg_bu * bu[u])
                bi[i] += lr_bi * (err - reg_bi * bi[i])
            for f in range(n_factors):
                puf = pu[u, f]
                qif = qi[i, f]
                pu[u, f] += lr_pu * (err * qif - reg_pu * puf)
                qi[i, f] += lr_qi * (err * puf - reg_qi * qif)


# The loop is inlined into each at numba's IR level, so each compiles it with its own flags.
@numba.njit(cache=True)
def _sgd(users, items, ratings, global_mean, bu, bi, pu, qi, n_epochs, biased, lr, reg):
    _sgd_epochs(users, items, ratings, global_mean, bu, bi, pu, qi, n_epochs, biased, lr, reg)


@numba.njit(cache=True, fastmath=True)
def _sgd_fast(users, items, ratings, global_mean, bu, bi, pu, qi, n_epochs, biased, lr, reg):
    _sgd_epochs(users, items, ratings, global_mean, bu, bi, pu, qi, n_epochs, biased, lr, reg)


class SVD:
    """scikit-surprise's SVD with its default hyperparameters; ``backend`` picks the engine
    (``compiled``, bit-identical to scikit-surprise; ``fast``, within 1e-9; ``surprise``)."""

    def __init__(
        self,
        n_factors=100,
        n_epochs=20,
        biased=True,
        init_mean=0.0,
        init_std_dev=0.1,
        lr_all=0.005,
        reg_all=0.02,
        lr_bu=None,
        lr_bi=None,
        lr_pu=None,
        lr_qi=None,
        reg_bu=None,
        reg_bi=None,
        reg_pu=None,
        reg_qi=None,
        backend="compiled",
    ):
        if backend not in BACKENDS:
            raise ValueError(f"SVD backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        self.n_factors, self.n_epochs, self.biased = n_factors, n_epochs, biased
        self.init_mean, self.init_std_dev = init_mean, init_std_dev
        self.lr = tuple(float(lr_all if x is None else x) for x in (lr_bu, lr_bi, lr_pu, lr_qi))
        self.reg = tuple(float(reg_all if x is None else x) for x in (reg_bu, reg_bi, reg_pu, reg_qi))
        self.backend = backend

    def fit(self, train: TrainSet, seed: int) -> "SVD":
        self.rating_scale = train.rating_scale
        # surprise visits ratings user by user (its ``ur`` dict in id order), each user's ratings
        # in insertion order: a stable sort by user reproduces that order.
        order = np.argsort(train.users, kind="stable")
        users, items, ratings = train.users[order], train.items[order], train.ratings[order]
        self.global_mean = float(np.mean(ratings)) if len(ratings) else 0.0
        if self.backend == "surprise":
            self._fit_surprise(train, users, items, ratings, seed)
        else:
            rng = np.random.RandomState(seed)
            self.bu = np.zeros(train.n_users)
            self.bi = np.zeros(train.n_items)
            self.pu = rng.normal(self.init_mean, self.init_std_dev, size=(train.n_users, self.n_factors))
            self.qi = rng.normal(self.init_mean, self.init_std_dev, size=(train.n_items, self.n_factors))
            mean = self.global_mean if self.biased else 0.0
            (_sgd_fast if self.backend == "fast" else _sgd)(users, items, ratings, mean, self.bu, self.bi, self.pu, self.qi, self.n_epochs, self.biased, self.lr, self.reg)
        return self

    def _fit_surprise(self, train, users, items, ratings, seed):
        from surprise import SVD as SurpriseSVD
        from surprise import Trainset

        ur = {u: [] for u in range(train.n_users)}
        ir = defaultdict(list)
        for u, i, r in zip(users.tolist(), items.tolist(), ratings.tolist()):
            ur[u].append((i, r))
            ir[i].append((u, r))
        trainset = Trainset(
            ur, {i: ir[i] for i in range(train.n_items)}, train.n_users, train.n_items, len(ratings),
            train.rating_scale, {u: u for u in range(train.n_users)}, {i: i for i in range(train.n_items)},
        )
        lr_bu, lr_bi, lr_pu, lr_qi = self.lr
        reg_bu, reg_bi, reg_pu, reg_qi = self.reg
        algo = SurpriseSVD(
            n_factors=self.n_factors, n_epochs=self.n_epochs, biased=self.biased, init_mean=self.init_mean,
            init_std_dev=self.init_std_dev, lr_bu=lr_bu, lr_bi=lr_bi, lr_pu=lr_pu, lr_qi=lr_qi,
            reg_bu=reg_bu, reg_bi=reg_bi, reg_pu=reg_pu, reg_qi=reg_qi, random_state=seed,
        ).fit(trainset)
        self.bu, self.bi, self.pu, self.qi = algo.bu, algo.bi, algo.pu, algo.qi

    def score(self, users: np.ndarray) -> np.ndarray:
        scores = self.pu[users] @ self.qi.T
        if self.biased:
            scores += self.global_mean + self.bu[users, None] + self.bi[None, :]
        return scores
