"""Item-item k-nearest-neighbour collaborative filtering with LensKit's semantics.

Similarity is the cosine between item columns of the user x item matrix: with
``feedback: implicit`` every training row is a 1; with ``feedback: explicit`` each rating less
its item's mean rating (mean-centred cosine). Similarities at or below ``min_sim`` (and an item
with itself) are dropped. To score item i for user u, the ``k`` most similar items among those u
rated are its neighbours, and they are aggregated by

- ``sum`` (the default with implicit feedback): the sum of their similarities (times u's
  centred ratings of them, with explicit feedback);
- ``weighted-average`` (the default with explicit feedback): the similarity-weighted mean of u's
  centred ratings of them, plus i's mean rating. Fewer than ``min_nbrs`` neighbours leave i
  unscored; it gets its mean rating (a rating prediction) or, with ``sum``, 0.

Deterministic: ``seed`` is ignored. An entity without training rows changes nothing when
deleted (it has no column, and no user holds it). Deleting items is derived without refitting
(:meth:`ItemKNN.deletion_variants`); deleting users refits.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import TrainSet

FEEDBACK = ("implicit", "explicit")
AGGREGATES = ("sum", "weighted-average")


class ItemKNN:
    """Item-item kNN (LensKit's ItemKNNScorer semantics); ``aggregate`` defaults to ``sum`` for
    implicit and ``weighted-average`` for explicit feedback, as LensKit's do."""

    def __init__(
        self,
        k: int = 20,
        min_nbrs: int = 1,
        min_sim: float = 1e-6,
        feedback: str = "implicit",
        aggregate: str | None = None,
    ):
        if feedback not in FEEDBACK:
            raise ValueError(f"feedback must be one of {FEEDBACK}, not {feedback!r}")
        aggregate = aggregate or ("sum" if feedback == "implicit" else "weighted-average")
        if aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {AGGREGATES}, not {aggregate!r}")
        if k < 1 or min_nbrs < 1 or min_sim < 0:
            raise ValueError("k and min_nbrs must be >= 1 and min_sim >= 0")
        self.k, self.min_nbrs, self.min_sim = int(k), int(min_nbrs), float(min_sim)
        self.feedback, self.aggregate = feedback, aggregate

    def fit(self, train: TrainSet, seed: int | None = None) -> "ItemKNN":
        values = np.ones(len(train)) if self.feedback == "implicit" else train.ratings.astype(np.float64)
        counts = np.bincount(train.items, minlength=train.n_items)
        if self.feedback == "explicit":
            with np.errstate(invalid="ignore", divide="ignore"):
                self.item_means = np.bincount(train.items, values, minlength=train.n_items) / counts
            self.item_means[counts == 0] = 0.0
            values = values - self.item_means[train.items]
        matrix = train.matrix(values)
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
        scaled = matrix @ sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0))
        similarity = (scaled.T @ scaled).toarray()
        np.fill_diagonal(similarity, 0.0)
        similarity[similarity <= self.min_sim] = 0.0
        self.similarity = similarity
        self.rated = matrix
        self.predicts_ratings = self.feedback == "explicit" and self.aggregate == "weighted-average"
        self.fallback = self.item_means if self.predicts_ratings else np.zeros(train.n_items)
        if self.predicts_ratings:
            self.rating_scale = train.rating_scale
        self._last = None
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        """Scores of ``users`` (read-only; the last call's are kept, for the deletion variants
        that reuse the rows a deletion leaves unchanged)."""
        users = np.asarray(users, dtype=np.int64)
        if self._last is None or not np.array_equal(self._last[0], users):
            scores = self._scores(users, self.rated, self.fallback)
            scores.flags.writeable = False
            self._last = (users, scores)
        return self._last[1]

    def _scores(self, users: np.ndarray, rated: sp.csr_matrix, fallback: np.ndarray) -> np.ndarray:
        """Per user: for every target item, the ``k`` largest similarities to the items the
        user rated (which of equal ones is kept is numpy's choice; a sum does not depend on it),
        aggregated, or ``fallback`` with fewer than ``min_nbrs`` positive ones."""
        out = np.empty((len(users), self.similarity.shape[0]))
        implicit = self.feedback == "implicit"  # every value is 1: only the similarities count
        for row, user in enumerate(users):
            span = slice(rated.indptr[user], rated.indptr[user + 1])
            items, values = rated.indices[span], rated.data[span]
            sims = self.similarity[:, items]  # similarities are >= 0: those <= min_sim are 0
            if len(items) > self.k and implicit:
                sims = np.partition(sims, len(items) - self.k, axis=1)[:, -self.k :]
            elif len(items) > self.k:
                top = np.argpartition(sims, len(items) - self.k, axis=1)[:, -self.k :]
                sims, values = np.take_along_axis(sims, top, axis=1), values[top]
            total = sims.sum(axis=1) if implicit else (sims * values).sum(axis=1)
            enough = (sims > 0).sum(axis=1) >= self.min_nbrs
            if self.aggregate == "weighted-average":
                with np.errstate(invalid="ignore", divide="ignore"):
                    total = fallback + total / sims.sum(axis=1)
            out[row] = np.where(enough, total, fallback)
        return out

    def deletion_variants(self, train: TrainSet, kind: str, deletions):
        """Deleting items needs no refit: the other items' similarities do not change (each is
        the cosine of two item columns, with each item's own mean and norm), so only the users
        who rated a deleted item are scored again, without it, and the deleted items score as
        items without rows do. Deleting users changes the similarities of every item they
        rated: those variants are refitted."""
        for ids in deletions:
            ids = np.unique(np.atleast_1d(np.asarray(ids, dtype=np.int64)))
            if kind == "item":
                yield _WithoutItems(self, ids)
            else:
                yield type(self)(self.k, self.min_nbrs, self.min_sim, self.feedback, self.aggregate).fit(
                    train.without(kind, ids)
                )


class _WithoutItems:
    """An :class:`ItemKNN` refitted without ``items``, derived from the fitted ``base``."""

    def __init__(self, base: ItemKNN, items: np.ndarray):
        self.base, self.items = base, items
        if base.predicts_ratings:
            self.rating_scale = base.rating_scale

    def score(self, users: np.ndarray) -> np.ndarray:
        base, users = self.base, np.asarray(users, dtype=np.int64)
        rated = base.rated
        dropped = np.isin(rated.indices, self.items)
        scores = np.array(base.score(users))
        holds = np.zeros(rated.shape[0], dtype=bool)  # users who rated a deleted item
        holds[np.repeat(np.arange(rated.shape[0]), np.diff(rated.indptr))[dropped]] = True
        touched = np.flatnonzero(holds[users])
        if len(touched):
            kept = sp.csr_matrix(
                (
                    rated.data[~dropped],
                    rated.indices[~dropped],
                    np.concatenate([[0], np.cumsum(~dropped)])[rated.indptr],
                ),
                shape=rated.shape,
            )
            fallback = base.fallback.copy()
            fallback[self.items] = 0.0
            scores[touched] = base._scores(users[touched], kept, fallback)
        scores[:, self.items] = (
            0.0  # no similarity left: unscored, and a refit's fallback for an item without rows is 0
        )
        return scores
