"""Biased matrix factorisation (Funk SVD) as scikit-surprise defines it.

Three backends of the same algorithm: ``surprise`` runs scikit-surprise itself on a trainset
whose inner ids are the global ids; ``compiled`` runs a numba loop that reproduces it exactly
(same RandomState draws, same rating order, same updates, bit for bit) several times faster;
``fast`` runs the same loop compiled with fastmath, which lets the compiler reorder and
vectorise the dot products: no longer bit-identical, equal to scikit-surprise within a relative
1e-9 on every score (tested), and faster again (``benchmarks/speed.py``).
Either way the initial factors are drawn for the whole global id space in id order, so a
deletion leaves every retained entity's initial factors unchanged.

Two approximations of a deletion, from the fitted model instead of a refit (the ``warm_start``
and ``influence_function`` estimators, docs/method.md "Approximate influence"):

- :meth:`SVD.warm_start` continues SGD for a few epochs on the reduced training set;
- :meth:`SVD.influence_variants` moves every entity that lost rows by the influence of those
  rows on its own parameters (the other side held fixed: a ridge regression), propagated over
  the epochs of gradient descent actually trained: the influence function restricted to the
  parameters a deletion touches (Koh & Liang 2017; Cheng et al. 2019, "fast influence
  analysis" of latent factor models), for a fit stopped early.

In both, an entity left without any row gets its initial parameters back, as in a refit.
"""

from __future__ import annotations

import copy
from collections import defaultdict

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from .base import TrainSet

BACKENDS = ("compiled", "fast", "surprise")


# How many ratings ahead SGD asks for an item's factors: far enough for them to arrive from
# memory (the items' factors outgrow the caches: 15 MB at 10M ratings), near enough to stay.
PREFETCH_AHEAD = 16


@intrinsic
def _prefetch(typingctx, array, index):
    """Ask the CPU to fetch the cache line of ``array.flat[index]`` for writing (llvm.prefetch: a
    hint, no effect on any value). ``array`` must be C-contiguous."""
    if not (isinstance(array, types.Array) and array.layout == "C"):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        address = builder.bitcast(builder.gep(data, [args[1]]), ir.IntType(8).as_pointer())
        int32 = ir.IntType(32)
        name = "llvm.prefetch.p0" if getattr(address.type, "is_opaque", False) else "llvm.prefetch.p0i8"
        function = ir.FunctionType(ir.VoidType(), [address.type, int32, int32, int32])
        # (write, keep in every cache level, data cache)
        builder.call(
            cgutils.get_or_insert_function(builder.module, function, name),
            [address] + [ir.Constant(int32, flag) for flag in (1, 3, 1)],
        )
        return context.get_dummy_value()

    return types.void(array, index), codegen


@numba.njit(inline="always")
def _sgd_epochs(users, items, ratings, global_mean, bu, bi, pu, qi, n_epochs, biased, lr, reg):
    lr_bu, lr_bi, lr_pu, lr_qi = lr
    reg_bu, reg_bi, reg_pu, reg_qi = reg
    n_ratings, n_factors = users.shape[0], pu.shape[1]
    for _ in range(n_epochs):
        for index in range(n_ratings):
            if index + PREFETCH_AHEAD < n_ratings:  # a row spans up to n_factors / 8 + 1 lines
                ahead = items[index + PREFETCH_AHEAD] * n_factors
                for offset in range(0, n_factors, 8):
                    _prefetch(qi, ahead + offset)
                _prefetch(qi, ahead + n_factors - 1)
            u = users[index]
            i = items[index]
            p = pu[u]  # row views: the same arithmetic, but fastmath vectorises them better
            q = qi[i]
            dot = 0.0
            for f in range(n_factors):
                dot += q[f] * p[f]
            err = ratings[index] - (global_mean + bu[u] + bi[i] + dot)
            if biased:
                bu[u] += lr_bu * (err - reg_bu * bu[u])
                bi[i] += lr_bi * (err - reg_bi * bi[i])
            for f in range(n_factors):
                puf = p[f]
                qif = q[f]
                p[f] += lr_pu * (err * qif - reg_pu * puf)
                q[f] += lr_qi * (err * puf - reg_qi * qif)


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
        self.rating_scale, self.seed = train.rating_scale, seed
        self.global_mean = float(np.mean(train.ratings)) if len(train) else 0.0
        if self.backend == "surprise":
            self._fit_surprise(train, seed)
        else:
            rng = np.random.RandomState(seed)
            self.bu = np.zeros(train.n_users)
            self.bi = np.zeros(train.n_items)
            self.pu = rng.normal(self.init_mean, self.init_std_dev, size=(train.n_users, self.n_factors))
            self.qi = rng.normal(self.init_mean, self.init_std_dev, size=(train.n_items, self.n_factors))
            self._train_on(train, self.n_epochs)
        return self

    def _train_on(self, train: TrainSet, epochs: int) -> None:
        """``epochs`` epochs of SGD over ``train`` from the current parameters, with the current
        global mean."""
        order = _surprise_order(train)
        sgd = _sgd_fast if self.backend == "fast" else _sgd
        mean = self.global_mean if self.biased else 0.0
        sgd(
            train.users[order],
            train.items[order],
            train.ratings[order],
            mean,
            self.bu,
            self.bi,
            self.pu,
            self.qi,
            epochs,
            self.biased,
            self.lr,
            self.reg,
        )

    def _copy(self) -> "SVD":
        model = copy.copy(self)
        model._filters = None
        model.bu, model.bi, model.pu, model.qi = (array.copy() for array in (self.bu, self.bi, self.pu, self.qi))
        return model

    def _initial_factors(self) -> tuple[np.ndarray, np.ndarray]:
        """The factors ``fit`` started from (the same draws for every backend)."""
        if getattr(self, "_initial", None) is None:
            rng = np.random.RandomState(self.seed)
            pu = rng.normal(self.init_mean, self.init_std_dev, size=self.pu.shape)
            self._initial = pu, rng.normal(self.init_mean, self.init_std_dev, size=self.qi.shape)
        return self._initial

    def _reset_rowless(self, model: "SVD", train: TrainSet) -> "SVD":
        """``model`` with every entity that has no row in ``train`` back at its initial
        parameters (where a refit leaves it)."""
        pu0, qi0 = self._initial_factors()
        for n_rows, factors, initial, bias in (
            (np.bincount(train.users, minlength=len(model.bu)), model.pu, pu0, model.bu),
            (np.bincount(train.items, minlength=len(model.bi)), model.qi, qi0, model.bi),
        ):
            rowless = n_rows == 0
            factors[rowless], bias[rowless] = initial[rowless], 0.0
        return model

    def warm_start(self, train: TrainSet, epochs: int) -> "SVD":
        """A copy continued for ``epochs`` SGD epochs on ``train`` (global mean kept)."""
        model = self._copy()
        model._train_on(train, epochs)
        return self._reset_rowless(model, train)

    def influence_variants(self, train: TrainSet, trains, epochs: int | None = None):
        """For each training set of ``trains`` (rows of ``train``, the set this model was
        fitted on), the model with every user and item that lost rows moved by the influence of
        those rows on ``epochs`` epochs of gradient descent (default: the model's own).

        For an item j with rows R (inputs x_v = (p_u, 1), residuals e_v) and regularisation
        Lambda per row (as SGD applies it), the loss restricted to theta_j = (q_j, b_j), with
        the users held fixed, is a ridge regression with Hessian H = sum_R (x x' + Lambda).
        Removing rows D changes its gradient by g = sum_D e_v x_v - |D| Lambda theta_j, and
        T epochs of gradient descent with learning rates L turn that into
        delta theta_j = -F g, F = sum_{t<T} (I - L H)^t L; users alike with x = (q_i, 1).
        As T grows F tends to H^-1, the classic influence function (Koh & Liang 2017; Cheng et
        al. 2019 restrict it to the parameters a deletion touches, as here); with few epochs
        and small steps F is far smaller in the directions SGD has not yet fitted, which is
        what the trained model is."""
        epochs = self.n_epochs if epochs is None else epochs
        filters = getattr(self, "_filters", None)
        if filters is None or filters.train is not train or filters.epochs != epochs:  # kept across calls
            filters = self._filters = _Filters(self, train, epochs)
        for reduced in trains:
            removed = np.ones(len(train), dtype=bool)
            removed[np.searchsorted(train.rows, reduced.rows)] = False
            model = self._copy()
            filters.apply(model, np.flatnonzero(removed))
            yield self._reset_rowless(model, reduced)

    def _fit_surprise(self, train, seed):
        from surprise import SVD as SurpriseSVD
        from surprise import Trainset

        order = _surprise_order(train)
        users, items, ratings = train.users[order], train.items[order], train.ratings[order]

        ur = {u: [] for u in range(train.n_users)}
        ir = defaultdict(list)
        for u, i, r in zip(users.tolist(), items.tolist(), ratings.tolist()):
            ur[u].append((i, r))
            ir[i].append((u, r))
        trainset = Trainset(
            ur,
            {i: ir[i] for i in range(train.n_items)},
            train.n_users,
            train.n_items,
            len(ratings),
            train.rating_scale,
            {u: u for u in range(train.n_users)},
            {i: i for i in range(train.n_items)},
        )
        sides = ("bu", "bi", "pu", "qi")
        rates = {f"lr_{side}": lr for side, lr in zip(sides, self.lr)} | {
            f"reg_{side}": reg for side, reg in zip(sides, self.reg)
        }
        algo = SurpriseSVD(
            n_factors=self.n_factors,
            n_epochs=self.n_epochs,
            biased=self.biased,
            init_mean=self.init_mean,
            init_std_dev=self.init_std_dev,
            random_state=seed,
            **rates,
        ).fit(trainset)
        self.bu, self.bi, self.pu, self.qi = algo.bu, algo.bi, algo.pu, algo.qi

    def score(self, users: np.ndarray) -> np.ndarray:
        scores = self.pu[users] @ self.qi.T
        if self.biased:
            # row by row: a users x items array of the biases costs more than the product itself
            # (at 10M ratings, 1.1 of the 2 CPU-s of scoring every user were its page faults)
            for row, user_bias in zip(scores, self.global_mean + self.bu[users]):
                row += user_bias + self.bi
        return scores


def _surprise_order(train: TrainSet) -> np.ndarray:
    """The order scikit-surprise visits the ratings in: user by user (its ``ur`` dict in id
    order), each user's in insertion order, which a stable sort by user reproduces."""
    return np.argsort(train.users, kind="stable")


class _Filters:
    """The per-entity filters F of :meth:`SVD.influence_variants`, computed once per entity
    (on first use, from its rows in the full training set) and kept."""

    def __init__(self, model: SVD, train: TrainSet, epochs: int):
        self.model, self.train, self.epochs = model, train, epochs
        residuals = train.ratings - (model.global_mean if model.biased else 0.0) - _dot_rows(model.pu, model.qi, train)
        if model.biased:
            residuals -= model.bu[train.users] + model.bi[train.items]
        self.residuals = residuals
        lr_bu, lr_bi, lr_pu, lr_qi = model.lr
        reg_bu, reg_bi, reg_pu, reg_qi = model.reg
        n = model.pu.shape[1]

        def per_coordinate(factor_value, bias_value):
            return np.r_[np.full(n, factor_value), [bias_value] * model.biased]

        # side -> (own column, other column, own parameters, other side's factors, Lambda, L)
        self.sides = {
            "item": (
                train.items,
                train.users,
                (model.qi, model.bi),
                model.pu,
                per_coordinate(reg_qi, reg_bi),
                per_coordinate(lr_qi, lr_bi),
            ),
            "user": (
                train.users,
                train.items,
                (model.pu, model.bu),
                model.qi,
                per_coordinate(reg_pu, reg_bu),
                per_coordinate(lr_pu, lr_bu),
            ),
        }
        self.rows_of = {side: _rows_by(column) for side, (column, *_) in self.sides.items()}
        self.filters: dict[tuple[str, int], np.ndarray] = {}

    def inputs(self, side: str, rows: np.ndarray) -> np.ndarray:
        """x_v of ``rows``: the other side's factors, and 1 for the bias when there is one."""
        other, other_factors = self.sides[side][1], self.sides[side][3]
        x = other_factors[other[rows]]
        return np.hstack([x, np.ones((len(rows), 1))]) if self.model.biased else x

    def filter(self, side: str, entity: int) -> np.ndarray:
        """F of one entity, through the eigenvectors of L^1/2 H L^1/2 (symmetric)."""
        key = (side, entity)
        if key not in self.filters:
            rows = self.rows_of[side][entity]
            reg, lr = self.sides[side][4], self.sides[side][5]
            x = self.inputs(side, rows)
            root = np.sqrt(lr)
            curvature, vectors = np.linalg.eigh(root[:, None] * (x.T @ x + np.diag(len(rows) * reg)) * root[None, :])
            # sum_{t<T} (1 - m)^t = (1 - (1 - m)^T) / m; SGD with m >= 1 would have converged
            curvature = np.maximum(curvature, 0.0)
            damped = np.minimum(curvature, 1.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                gain = np.where(
                    curvature > 1e-12,
                    (1 - (1 - damped) ** self.epochs) / np.where(curvature > 1e-12, curvature, 1.0),
                    self.epochs,
                )
            scaled = root[:, None] * vectors
            self.filters[key] = (scaled * gain) @ scaled.T
        return self.filters[key]

    def apply(self, model: SVD, removed: np.ndarray) -> None:
        """Move ``model``'s copy of the parameters of every entity owning a ``removed`` row
        (the baseline's own parameters are read, never written)."""
        n = model.pu.shape[1]
        for side, (column, _, (own_factors, own_bias), _, reg, _) in self.sides.items():
            target_factors, target_bias = (model.qi, model.bi) if side == "item" else (model.pu, model.bu)
            order = np.argsort(column[removed], kind="stable")
            entities, starts = np.unique(column[removed][order], return_index=True)
            for entity, rows in zip(entities.tolist(), np.split(removed[order], starts[1:])):
                if len(rows) == len(self.rows_of[side][entity]):
                    continue  # an entity left without rows is reset by the caller
                theta = np.r_[own_factors[entity], [own_bias[entity]] * self.model.biased]
                gradient = self.inputs(side, rows).T @ self.residuals[rows] - len(rows) * reg * theta
                theta = theta - self.filter(side, entity) @ gradient
                target_factors[entity] = theta[:n]
                if self.model.biased:
                    target_bias[entity] = theta[n]


def _dot_rows(pu: np.ndarray, qi: np.ndarray, train: TrainSet, rows_per_block: int = 1 << 16) -> np.ndarray:
    """p_u . q_i of every row of ``train``, a block of rows at a time: gathering every row's
    factors at once would hold two rows x factors arrays (10.8 GB at 10M ratings)."""
    dots = np.empty(len(train))
    for first in range(0, len(train), rows_per_block):
        block = slice(first, first + rows_per_block)
        dots[block] = np.einsum("rf,rf->r", pu[train.users[block]], qi[train.items[block]])
    return dots


def _rows_by(column: np.ndarray) -> dict[int, np.ndarray]:
    """Row positions of every value of ``column``."""
    order = np.argsort(column, kind="stable")
    values, starts = np.unique(column[order], return_index=True)
    return dict(zip(values.tolist(), np.split(order, starts[1:])))
