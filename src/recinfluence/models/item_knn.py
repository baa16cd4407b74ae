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

``save_nbrs`` (LensKit's own parameter; None, the default, keeps every similarity) keeps only
each item's ``save_nbrs`` largest similarities as a reference item (ties: the lowest item ids):
item j can then be a neighbour of target i only if i is among j's ``save_nbrs`` most similar
items, as in LensKit's ItemKNNScorer, whose trained matrix holds each item's ``save_nbrs``
best rows and whose scorer walks the rows of the items a user rated (Ekstrand, "LensKit for
Python", CIKM 2020). The similarities are then computed a block of items at a time and stored
sparse, so the dense item x item matrix is never held: the way past some 30,000 items.

Deterministic: ``seed`` is ignored. An entity without training rows changes nothing when
deleted (it has no column, and no user holds it). Deleting items is derived without refitting
(:meth:`ItemKNN.deletion_variants`); deleting users refits.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp

from .base import DataSize, MemoryNeed, TrainSet

FEEDBACK = ("implicit", "explicit")
AGGREGATES = ("sum", "weighted-average")
# With save_nbrs: the memory a block of similarity columns takes while its saved neighbours are
# picked (per item x item cell: the sparse product and its dense copy, the partitioned copy, the
# tie counts).
BLOCK_BYTES, BYTES_PER_BLOCK_CELL = 2**28, 40


class ItemKNN:
    """Item-item kNN (LensKit's ItemKNNScorer semantics); ``aggregate`` defaults to ``sum`` for
    implicit and ``weighted-average`` for explicit feedback, as LensKit's do."""

    deterministic = True  # fit ignores its seed: one fit stands for every seed

    def __init__(
        self,
        k: int = 20,
        min_nbrs: int = 1,
        min_sim: float = 1e-6,
        feedback: str = "implicit",
        aggregate: str | None = None,
        save_nbrs: int | None = None,
    ):
        if feedback not in FEEDBACK:
            raise ValueError(f"feedback must be one of {FEEDBACK}, not {feedback!r}")
        aggregate = aggregate or ("sum" if feedback == "implicit" else "weighted-average")
        if aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {AGGREGATES}, not {aggregate!r}")
        if k < 1 or min_nbrs < 1 or min_sim < 0 or (save_nbrs is not None and save_nbrs < 1):
            raise ValueError("k, min_nbrs and save_nbrs must be >= 1 and min_sim >= 0")
        self.k, self.min_nbrs, self.min_sim = int(k), int(min_nbrs), float(min_sim)
        self.feedback, self.aggregate = feedback, aggregate
        self.save_nbrs = None if save_nbrs is None else int(save_nbrs)

    def memory_needed(self, size: DataSize) -> MemoryNeed:
        """The baseline's similarities held while a variant is refitted (a deletion of users) or
        a user is scored. Dense: a refit's sparse product, its dense copy and mask (21 bytes per
        item pair), or a slice of n_items x the busiest user's ratings; both beside the baseline's
        matrix. Sparse: the saved similarities (their copies while a fit joins its blocks or a
        deletion replaces columns), a block of columns, and the busiest user's rated items' saved
        neighbours, sliced and turned into rows (24 bytes each). Then the rating matrices of the
        baseline and a refit, plain and scaled."""
        n_items, ratings = size.items, 48 * size.ratings
        if self.save_nbrs is None:
            peak = 8 * n_items**2 + max(21 * n_items**2, 8 * n_items * size.busiest_user)
            return MemoryNeed(
                peak + ratings, f"{n_items:,} items: a dense item x item similarity matrix", "set its save_nbrs"
            )
        neighbours = min(self.save_nbrs, n_items)
        return MemoryNeed(
            60 * n_items * neighbours + BLOCK_BYTES + 24 * neighbours * size.busiest_user + ratings,
            f"{n_items:,} items with {self.save_nbrs} saved neighbours each",
        )

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
        self.scaled = matrix @ sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0))
        every_item = np.arange(train.n_items)
        if self.save_nbrs is None:
            self.similarity = self._similarity_columns(every_item)
        else:
            self.similarity = self._saved_neighbours(every_item)
        self.rated = matrix
        self.predicts_ratings = self.feedback == "explicit" and self.aggregate == "weighted-average"
        self.fallback = self.item_means if self.predicts_ratings else np.zeros(train.n_items)
        if self.predicts_ratings:
            self.rating_scale = train.rating_scale
        self._last = None
        return self

    def _similarity_columns(self, columns: np.ndarray, deleted=()) -> np.ndarray:
        """Dense similarities of every item (rows) to the items ``columns``; an item's own, those
        at or below ``min_sim`` and those of the ``deleted`` items (they have no rows left) are 0.
        Each value is summed in the same order whichever columns come with it."""
        block = (self.scaled.T @ self.scaled[:, columns]).toarray()
        block[columns, np.arange(len(columns))] = 0.0
        block[block <= self.min_sim] = 0.0
        block[np.asarray(deleted, dtype=np.int64)] = 0.0
        return block

    def _saved_neighbours(self, columns: np.ndarray, deleted=()) -> sp.csc_matrix:
        """:meth:`_similarity_columns`, each column cut to its ``save_nbrs`` largest positive
        values (of equal ones, the lowest item ids: a refit keeps the same), sparse; computed a
        block of about :data:`BLOCK_BYTES` at a time."""
        width = max(1, BLOCK_BYTES // (BYTES_PER_BLOCK_CELL * self.scaled.shape[1]))
        blocks = [self._saved_block(columns[start : start + width], deleted) for start in range(0, len(columns), width)]
        return sp.hstack(blocks, format="csc")

    def _saved_block(self, columns: np.ndarray, deleted=()) -> sp.csc_matrix:
        block = self._similarity_columns(columns, deleted)
        n_items = block.shape[0]
        keep = block > 0
        if self.save_nbrs < n_items:
            cut = np.partition(block, n_items - self.save_nbrs, axis=0)[n_items - self.save_nbrs]
            ties = block == cut
            keep &= (block > cut) | (ties & (np.cumsum(ties, axis=0) <= self.save_nbrs - (block > cut).sum(axis=0)))
        return sp.csc_matrix(np.where(keep, block, 0.0))

    def score(self, users: np.ndarray) -> np.ndarray:
        """Scores of ``users`` (read-only; the last call's are kept, for the deletion variants
        that reuse the rows a deletion leaves unchanged)."""
        users = np.asarray(users, dtype=np.int64)
        if self._last is None or not np.array_equal(self._last[0], users):
            scores = self._scores(users, self.rated, self.fallback, self.similarity)
            scores.flags.writeable = False
            self._last = (users, scores)
        return self._last[1]

    def _scores(self, users: np.ndarray, rated: sp.csr_matrix, fallback: np.ndarray, similarity) -> np.ndarray:
        """Per user: for every target item, the ``k`` largest positive similarities to the items
        the user rated (of equal ones, the first rated in id order), aggregated, or ``fallback``
        with fewer than ``min_nbrs``. Dense: every target at once. Sparse: only the targets some
        rated item saved, from the saved similarities themselves (:func:`_aggregate_saved`),
        never a dense targets x rated block."""
        out = np.empty((len(users), similarity.shape[0]))
        implicit, weighted = self.feedback == "implicit", self.aggregate == "weighted-average"
        for row, user in enumerate(users):
            span = slice(rated.indptr[user], rated.indptr[user + 1])
            items, values = rated.indices[span], rated.data[span]
            if isinstance(similarity, np.ndarray):
                out[row] = self._aggregate(similarity[:, items], values, fallback)  # >= 0: those <= min_sim are 0
            else:
                saved = similarity[:, items].tocsr()  # rows: targets; columns: positions among items
                saved.sort_indices()
                out[row] = _aggregate_saved(
                    saved.indptr, saved.indices, saved.data, values, fallback, self.k, self.min_nbrs, implicit, weighted
                )
        return out

    def _aggregate(self, sims: np.ndarray, values: np.ndarray, fallback: np.ndarray) -> np.ndarray:
        """The scores of the targets whose similarities to a user's rated items (of ratings
        ``values``) are the rows of ``sims``."""
        implicit = self.feedback == "implicit"  # every value is 1: only the similarities count
        if sims.shape[1] > self.k and implicit:
            sims = np.partition(sims, sims.shape[1] - self.k, axis=1)[:, -self.k :]
        elif sims.shape[1] > self.k:
            top = np.argpartition(sims, sims.shape[1] - self.k, axis=1)[:, -self.k :]
            # of equal similarities at the cut numpy keeps any; the values differ, so keep the
            # first, as the sparse path does (ties are rare: those rows alone are sorted)
            kept = np.take_along_axis(sims, top, axis=1)
            cut = kept.min(axis=1, keepdims=True)
            tied = (cut[:, 0] > 0) & ((sims == cut).sum(axis=1) > (kept == cut).sum(axis=1))
            if tied.any():
                top[tied] = np.argsort(-sims[tied], axis=1, kind="stable")[:, : self.k]
            sims, values = np.take_along_axis(sims, top, axis=1), values[top]
        total = sims.sum(axis=1) if implicit else (sims * values).sum(axis=1)
        enough = (sims > 0).sum(axis=1) >= self.min_nbrs
        if self.aggregate == "weighted-average":
            with np.errstate(invalid="ignore", divide="ignore"):
                total = fallback + total / sims.sum(axis=1)
        return np.where(enough, total, fallback)

    def deletion_variants(self, train: TrainSet, kind: str, deletions):
        """Deleting items needs no refit: the other items' similarities do not change (each is
        the cosine of two item columns, with each item's own mean and norm), so only the users
        who rated a deleted item are scored again, without it, and the deleted items score as
        items without rows do. With ``save_nbrs``, an item that had a deleted one among its
        saved neighbours gets its next most similar instead: its column is computed again, and
        the users who rated it are scored again too. Deleting users changes the similarities of
        every item they rated: those variants are refitted."""
        for ids in deletions:
            ids = np.unique(np.atleast_1d(np.asarray(ids, dtype=np.int64)))
            if kind == "item":
                yield _WithoutItems(self, ids)
            else:
                yield type(self)(
                    self.k, self.min_nbrs, self.min_sim, self.feedback, self.aggregate, self.save_nbrs
                ).fit(train.without(kind, ids))


@numba.njit(cache=True)
def _aggregate_saved(indptr, positions, sims, values, fallback, k, min_nbrs, implicit, weighted):
    """Each target's score from its saved similarities, CSR row t (positive ``sims`` to the
    rated items at ``positions``, in order, of ratings ``values``): the ``k`` largest (of equal
    ones the first), summed from the smallest up (times their values unless ``implicit``; over
    their sum plus ``fallback`` if ``weighted``), or ``fallback`` with fewer than ``min_nbrs``.
    The same bits for a deletion variant as for a refit; the dense path's to rounding (numpy
    sums in another order)."""
    out = fallback.copy()
    kept_sims, kept_values = np.empty(k), np.empty(k)  # ascending
    for t in range(len(indptr) - 1):
        count = 0
        for entry in range(indptr[t], indptr[t + 1]):
            sim = sims[entry]
            if count == k:
                if sim <= kept_sims[0]:  # of equal ones the first stays
                    continue
                for j in range(k - 1):  # drop the smallest
                    kept_sims[j], kept_values[j] = kept_sims[j + 1], kept_values[j + 1]
                slot = k - 1
            else:
                slot = count
                count += 1
            while slot > 0 and kept_sims[slot - 1] >= sim:  # below the equal ones kept before it
                kept_sims[slot], kept_values[slot] = kept_sims[slot - 1], kept_values[slot - 1]
                slot -= 1
            kept_sims[slot], kept_values[slot] = sim, values[positions[entry]]
        if count < min_nbrs:
            continue
        total, sim_total = 0.0, 0.0
        for j in range(count):
            total += kept_sims[j] if implicit else kept_sims[j] * kept_values[j]
            sim_total += kept_sims[j]
        out[t] = fallback[t] + total / sim_total if weighted else total
    return out


class _WithoutItems:
    """An :class:`ItemKNN` refitted without ``items``, derived from the fitted ``base``."""

    def __init__(self, base: ItemKNN, items: np.ndarray):
        self.base, self.items = base, items
        if base.predicts_ratings:
            self.rating_scale = base.rating_scale
        rated, similarity = base.rated, base.similarity
        self.similarity, recomputed = similarity, np.empty(0, dtype=np.int64)
        if base.save_nbrs is not None:  # the full columns that saved a deleted item take their next best
            column_of = np.repeat(np.arange(similarity.shape[1]), np.diff(similarity.indptr))
            full = np.diff(similarity.indptr) >= base.save_nbrs
            recomputed = np.setdiff1d(column_of[np.isin(similarity.indices, items)], items)
            recomputed = recomputed[full[recomputed]]
            if len(recomputed):
                self.similarity = _replace_columns(similarity, recomputed, base._saved_neighbours(recomputed, items))
        self.dropped = np.isin(rated.indices, items)
        owner = np.repeat(np.arange(rated.shape[0]), np.diff(rated.indptr))
        self.changed = np.zeros(rated.shape[0], dtype=bool)  # users with a deleted or recomputed item
        self.changed[owner[self.dropped | np.isin(rated.indices, recomputed)]] = True

    def changed_users(self, users: np.ndarray) -> np.ndarray:
        """Which of ``users`` score the items other than the deleted ones differently from the
        baseline (:class:`recinfluence.models.base.ChangesFewUsers`)."""
        return self.changed[np.asarray(users, dtype=np.int64)]

    def score(self, users: np.ndarray) -> np.ndarray:
        base, users = self.base, np.asarray(users, dtype=np.int64)
        rated, dropped = base.rated, self.dropped
        changed = self.changed_users(users)
        # the others' rows are the baseline's (kept from its last call when it scored these users)
        scores = np.empty((len(users), rated.shape[1])) if changed.all() else np.array(base.score(users))
        touched = np.flatnonzero(changed)
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
            scores[touched] = base._scores(users[touched], kept, fallback, self.similarity)
        scores[:, self.items] = (
            0.0  # no similarity left: unscored, and a refit's fallback for an item without rows is 0
        )
        return scores


def _replace_columns(matrix: sp.csc_matrix, columns: np.ndarray, replacement: sp.csc_matrix) -> sp.csc_matrix:
    """``matrix`` with its ``columns`` replaced by those of ``replacement`` (values unchanged)."""
    column_of = np.repeat(np.arange(matrix.shape[1]), np.diff(matrix.indptr))
    kept = ~np.isin(column_of, columns)
    rows = np.concatenate([matrix.indices[kept], replacement.indices])
    new_columns = columns[np.repeat(np.arange(len(columns)), np.diff(replacement.indptr))]
    data = np.concatenate([matrix.data[kept], replacement.data])
    return sp.csc_matrix((data, (rows, np.concatenate([column_of[kept], new_columns]))), shape=matrix.shape)
