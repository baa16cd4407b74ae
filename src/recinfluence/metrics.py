"""Top-K ranking metrics and rating errors, per user, from one compiled pass per block of users.

Protocol (docs/method.md, "The protocol"):

- candidates: for each user, every item of the catalog the user has no interaction with outside
  the evaluated split (training rows and, under the heldout protocol, the other held-out part);
- relevant: the user's evaluation interactions with rating >= ``relevance_threshold``;
- AP@K = (1 / min(K, R)) * sum_{k <= K} precision@k * rel_k, with R = number of relevant items;
- NDCG@K: binary gains, log2 discount, ideal DCG over min(K, R) hits;
- precision@K = hits / K; recall@K = hits / R; hit_rate@K = 1 if any hit;
- AUC (no cut-off: it does not jump when one item crosses the K-th rank): the share of
  (relevant, non-relevant candidate) pairs the scores order correctly, ties counting one half
  (the Mann-Whitney U statistic over R * N); NaN without a non-relevant candidate;
- users with R = 0 get NaN ranking metrics and are left out of the means;
- RMSE / MAE over all of a user's evaluation ratings, for models that predict ratings
  (their scores clipped to the rating scale, as scikit-surprise does).

The top-K list ranks candidates by score, of equal scores the lower item id first. A candidate
scored NaN or +inf takes a place at the top of the list but is never a hit; one scored -inf
takes none (it would only follow every other); AUC compares finite scores only.

Aggregates are means over users; RMSE and MAE aggregate over ratings (weighted by ``n_rated``).

Every metric is per user, so users can be evaluated a block at a time: a :class:`SparseEvalSet`
holds a whole split sparse and serves it as blocks of at most ``block_rows`` users, sized from a
memory budget, so that the scores of all users over the whole catalog are never held at once:
they come from the model a block of users at a time (``evaluate(model.score, ...)``), and one
compiled pass reads each block's scores against the sparse split, building nothing users x items
of its own. An :class:`EvalSet` is the same split as dense flags (one block), for code that
needs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numba
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .registry import is_metric_column, metric_column

# Bytes one (user, item) cell of a block costs while it is evaluated: its score, and room for two
# more users x items arrays of the model's own while it scores (EASE keeps its rows of X and X P).
# The metric pass adds nothing per cell.
BYTES_PER_CELL = 24
DEFAULT_MEMORY_MB = 512
# What _block_metrics computes per user, in the order of its rows of values.
RANKING_METRICS = ("map", "ndcg", "precision", "recall", "hit_rate", "auc")
RATING_ERRORS = ("rmse", "mae")
# Bits of the per-item flags of the user being evaluated.
NOT_CANDIDATE = 1  # seen, or excluded from the catalog
RELEVANT = 2
# Buckets per relevant score in the AUC's search table: several, so that a search rarely steps
# (at 10M ratings 1 to 4 were slower, 8 to 32 alike; benchmarks/eval_speed.py).
BUCKETS_PER_RELEVANT = 16


@dataclass(frozen=True)
class EvalSet:
    """Dense per-user views of one evaluation split: ``users`` (those with at least one
    evaluation interaction), ``seen`` (items the user interacted with outside this split: not
    candidates), ``rating`` (evaluation ratings, NaN elsewhere) and ``relevant``."""

    users: np.ndarray
    seen: np.ndarray
    rating: np.ndarray
    relevant: np.ndarray

    @cached_property
    def rated_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, item, rating) of every evaluation rating, for errors computed pair by pair."""
        rows, items = np.nonzero(~np.isnan(self.rating))
        return rows, items, self.rating[rows, items]

    @classmethod
    def build(cls, frame: pd.DataFrame, seen_rows, eval_rows, n_items: int, relevance_threshold: float = 4.0):
        """The whole split in one dense block (:meth:`SparseEvalSet.build`)."""
        return SparseEvalSet.build(frame, seen_rows, eval_rows, n_items, relevance_threshold).dense()

    # A dense EvalSet is its own one block, so it serves wherever a SparseEvalSet does.
    def __len__(self) -> int:
        return len(self.users)

    def blocks(self) -> list[tuple[int, int]]:
        return [(0, len(self))]

    def block(self, start: int, stop: int) -> "EvalSet":
        if (start, stop) == (0, len(self)):
            return self
        rows = slice(start, stop)
        return EvalSet(self.users[rows], self.seen[rows], self.rating[rows], self.relevant[rows])

    def dense(self) -> "EvalSet":
        return self

    def sparse(self) -> "SparseEvalSet":
        """The same split stored sparse, in one block (what :func:`evaluate` reads)."""
        return self._sparse

    @cached_property
    def _sparse(self) -> "SparseEvalSet":
        rows, items = np.nonzero(~np.isnan(self.rating) | self.relevant)
        return SparseEvalSet(
            self.users,
            self.seen.shape[1],
            sp.csr_matrix(self.seen),
            rows,
            items,
            self.rating[rows, items],
            self.relevant[rows, items],
            max(len(self), 1),
        )


@dataclass(frozen=True)
class SparseEvalSet:
    """One evaluation split stored sparse, evaluated a block of users at a time: ``users`` (those
    with at least one evaluation interaction), ``seen`` (users x items, CSR: the items each user
    interacted with outside this split, not candidates), and every evaluation rating as a pair
    (``pair_rows`` into ``users``, ``pair_items``, ``pair_ratings``, ``pair_relevant``, sorted by
    row then item; a pair of an :class:`EvalSet` may be relevant without a rating: NaN).
    :meth:`block` is the dense :class:`EvalSet` of a range of users; a block holds at most
    ``block_rows`` users."""

    users: np.ndarray
    n_items: int
    seen: sp.csr_matrix
    pair_rows: np.ndarray
    pair_items: np.ndarray
    pair_ratings: np.ndarray
    pair_relevant: np.ndarray
    block_rows: int

    @classmethod
    def build(
        cls,
        frame: pd.DataFrame,
        seen_rows,
        eval_rows,
        n_items: int,
        relevance_threshold: float = 4.0,
        memory_mb: float = DEFAULT_MEMORY_MB,
    ) -> "SparseEvalSet":
        """``seen_rows``: the rows whose items are not candidates (every row outside the
        evaluated split: the training rows, and under the heldout protocol the other held-out
        part, so that a user's validation items are not counted as misses on test). A block of
        users is sized so that evaluating it takes about ``memory_mb`` (:data:`BYTES_PER_CELL` per
        user and item)."""
        evaluation = frame.iloc[eval_rows]
        users = np.unique(evaluation["user"].to_numpy())
        position = np.full(frame["user"].max() + 1, -1)
        position[users] = np.arange(len(users))
        outside = frame.iloc[seen_rows]
        rows = position[outside["user"].to_numpy()]
        in_eval = rows >= 0
        flags = np.ones(int(in_eval.sum()), dtype=bool)
        seen = sp.csr_matrix((flags, (rows[in_eval], outside["item"].to_numpy()[in_eval])), shape=(len(users), n_items))
        seen.sum_duplicates()
        seen.data[:] = True
        pair_rows, pair_items = position[evaluation["user"].to_numpy()], evaluation["item"].to_numpy()
        order = np.lexsort((pair_items, pair_rows))
        pair_ratings = evaluation["rating"].to_numpy(dtype=float)[order]
        block_rows = max(1, int(memory_mb * 2**20 // (BYTES_PER_CELL * max(n_items, 1))))
        return cls(
            users,
            n_items,
            seen,
            pair_rows[order],
            pair_items[order],
            pair_ratings,
            pair_ratings >= relevance_threshold,
            block_rows,
        )

    def __len__(self) -> int:
        return len(self.users)

    def blocks(self) -> list[tuple[int, int]]:
        """(start, stop) of each block of users, in order."""
        return [(start, min(start + self.block_rows, len(self))) for start in range(0, len(self), self.block_rows)]

    @cached_property
    def _pair_bounds(self) -> np.ndarray:
        return np.searchsorted(self.pair_rows, np.arange(len(self) + 1))

    def block(self, start: int, stop: int) -> "EvalSet":
        """The dense :class:`EvalSet` of users ``start`` to ``stop`` (a split held in one block is
        built once and kept)."""
        if (start, stop) == (0, len(self)) and len(self) <= self.block_rows:
            return self._whole
        return self._dense(start, stop)

    @cached_property
    def _whole(self) -> "EvalSet":
        return self._dense(0, len(self))

    def _dense(self, start: int, stop: int) -> "EvalSet":
        pairs = slice(self._pair_bounds[start], self._pair_bounds[stop])
        cells = (self.pair_rows[pairs] - start, self.pair_items[pairs])
        rating = np.full((stop - start, self.n_items), np.nan)
        rating[cells] = self.pair_ratings[pairs]
        relevant = np.zeros((stop - start, self.n_items), dtype=bool)
        relevant[cells] = self.pair_relevant[pairs]
        seen = self.seen[start:stop].toarray()
        return EvalSet(users=self.users[start:stop], seen=seen, rating=rating, relevant=relevant)

    def dense(self) -> "EvalSet":
        """Every user in one dense block (users x items: only for what needs the whole split at
        once, at the scale that allows it)."""
        return self.block(0, len(self))

    def sparse(self) -> "SparseEvalSet":
        return self


def evaluate(
    scores: np.ndarray | Callable,
    evalset: "EvalSet | SparseEvalSet",
    k: int = 10,
    rating_scale=None,
    excluded_items=(),
) -> pd.DataFrame:
    """Per-user metrics of a score matrix (rows aligned with ``evalset.users``), or of a scoring
    function (``model.score``: user ids -> their scores over every item), called a block of users
    at a time. The table is the same whatever the blocks.

    ``excluded_items`` are taken out of the catalog: out of every candidate list, relevant set
    and rating error (the item-deletion protocol)."""
    evalset = evalset.sparse()
    excluded = np.zeros(evalset.n_items, dtype=np.bool_)
    excluded[np.asarray(excluded_items, dtype=np.int64)] = True
    discounts = 1.0 / np.log2(np.arange(1, min(k, evalset.n_items) + 1) + 1)
    low, high = (-np.inf, np.inf) if rating_scale is None else rating_scale
    values = np.empty((len(RANKING_METRICS) + len(RATING_ERRORS), len(evalset)))
    counts = np.empty((2, len(evalset)), dtype=np.int64)
    for start, stop in evalset.blocks():
        block_scores = scores(evalset.users[start:stop]) if callable(scores) else scores[start:stop]
        values[:, start:stop], counts[:, start:stop] = _block_metrics(
            np.ascontiguousarray(block_scores, dtype=np.float64),
            evalset.seen.indptr[start : stop + 1],
            evalset.seen.indices,
            evalset._pair_bounds[start : stop + 1],
            evalset.pair_items,
            evalset.pair_ratings,
            evalset.pair_relevant,
            excluded,
            k,
            discounts,
            float(low),
            float(high),
        )
    columns = {"user": evalset.users, **{metric_column(name, k): row for name, row in zip(RANKING_METRICS, values)}}
    columns["n_relevant"] = counts[0]
    if rating_scale is not None:
        columns.update(zip(RATING_ERRORS, values[len(RANKING_METRICS) :]))
        columns["n_rated"] = counts[1]
    return pd.DataFrame(columns)


@numba.njit(cache=True)
def _block_metrics(
    scores,
    seen_bounds,
    seen_items,
    pair_bounds,
    pair_items,
    pair_ratings,
    pair_relevant,
    excluded,
    k,
    discounts,
    low,
    high,
):
    """Every metric of one block of users (the protocol of the module docstring), one pass over
    each user's scores: ``values`` (RANKING_METRICS, RATING_ERRORS) x users and ``counts``
    (n_relevant, n_rated) x users. Row ``r``'s seen items are ``seen_items[seen_bounds[r]:
    seen_bounds[r + 1]]``, its pairs (item, rating or NaN, relevant) ``pair_bounds[r]`` to
    ``pair_bounds[r + 1]``; ``discounts`` are NDCG's (one per rank up to min(K, items)) and
    ``low`` / ``high`` clip the scores of the rating errors. Sums run in rank and item order."""
    n_rows, n_items = scores.shape
    n_ranking = len(RANKING_METRICS)
    values = np.full((n_ranking + len(RATING_ERRORS), n_rows), np.nan)
    counts = np.zeros((2, n_rows), dtype=np.int64)
    flags = np.where(excluded, NOT_CANDIDATE, 0).astype(np.uint8)  # each row's marks are undone after it
    most_pairs = 0
    for row in range(n_rows):
        most_pairs = max(most_pairs, pair_bounds[row + 1] - pair_bounds[row])
    mine = np.empty(most_pairs + 1)  # the row's relevant candidates' finite scores, sorted
    run_end = np.empty(most_pairs + 1, dtype=np.int64)
    first = np.empty(BUCKETS_PER_RELEVANT * most_pairs + 1, dtype=np.int64)
    top_scores, top_relevant = np.empty(k), np.zeros(k, dtype=np.bool_)
    for row in range(n_rows):
        for index in range(seen_bounds[row], seen_bounds[row + 1]):
            flags[seen_items[index]] |= NOT_CANDIDATE
        n_relevant, n_mine, n_rated, squared, absolute = 0, 0, 0, 0.0, 0.0
        for index in range(pair_bounds[row], pair_bounds[row + 1]):
            item = pair_items[index]
            if excluded[item]:
                continue
            score = scores[row, item]
            if not np.isnan(pair_ratings[index]):
                error = (low if score < low else high if score > high else score) - pair_ratings[index]
                squared += error * error
                absolute += abs(error)
                n_rated += 1
            if pair_relevant[index]:
                n_relevant += 1
                flags[item] |= RELEVANT
                if not flags[item] & NOT_CANDIDATE and np.isfinite(score):
                    mine[n_mine] = score
                    n_mine += 1
        lowest, scale, last_bucket = _search_table(mine, n_mine, run_end, first)
        # AUC's pair counts: integers, so the result is exact
        ordered, tied, n_other = 0, 0, 0
        # NaN / +inf candidates ahead of the list; the list's length; the score a candidate must beat
        n_front, n_top, cut = 0, 0, -np.inf
        for item in range(n_items):
            flag = flags[item]
            if flag & NOT_CANDIDATE:
                continue
            score = scores[row, item]
            if not np.isfinite(score):
                n_front += score != -np.inf
                continue
            if not flag & RELEVANT and n_mine:
                n_other += 1
                # every relevant score of a lower bucket is below this one: step up from there
                start = first[_bucket(score, lowest, scale, last_bucket)]
                while mine[start] < score:
                    start = run_end[start]
                not_above = run_end[start] if mine[start] == score else start
                ordered += n_mine - not_above
                tied += not_above - start
            if score > cut:  # so an equal score keeps the lower item id ahead
                place = min(n_top, k - 1)
                while place > 0 and top_scores[place - 1] < score:
                    top_scores[place], top_relevant[place] = top_scores[place - 1], top_relevant[place - 1]
                    place -= 1
                top_scores[place], top_relevant[place] = score, (flag & RELEVANT) != 0
                n_top = min(n_top + 1, k)
                if n_top == k:
                    cut = top_scores[k - 1]
        for index in range(seen_bounds[row], seen_bounds[row + 1]):
            flags[seen_items[index]] = NOT_CANDIDATE if excluded[seen_items[index]] else 0
        for index in range(pair_bounds[row], pair_bounds[row + 1]):
            flags[pair_items[index]] = NOT_CANDIDATE if excluded[pair_items[index]] else 0
        counts[0, row], counts[1, row] = n_relevant, n_rated
        if n_rated:
            values[n_ranking, row], values[n_ranking + 1, row] = np.sqrt(squared / n_rated), absolute / n_rated
        if n_relevant == 0:
            continue
        n_hits, precisions, gain = 0, 0.0, 0.0
        for place in range(min(n_top, k - n_front)):
            if top_relevant[place]:
                n_hits += 1
                precisions += n_hits / (n_front + place + 1)
                gain += discounts[n_front + place]
        ideal = min(n_relevant, k)
        ideal_gain = 0.0
        for place in range(min(ideal, len(discounts))):
            ideal_gain += discounts[place]
        values[0, row] = precisions / ideal
        values[1, row] = gain / ideal_gain
        values[2, row] = n_hits / k
        values[3, row] = n_hits / n_relevant
        values[4, row] = 1.0 if n_hits else 0.0
        if n_mine and n_other:
            values[5, row] = (ordered + tied / 2.0) / (n_mine * n_other)
    return values, counts


@numba.njit(cache=True)
def _search_table(mine, n_mine, run_end, first):
    """Sorts ``mine[:n_mine]`` (finite scores) in place and prepares the search of
    :func:`_block_metrics`: a +inf sentinel after them, ``run_end[j]`` (the end of the run of
    scores equal to ``mine[j]``) and ``first[b]`` (how many fall in a bucket below ``b``, of
    BUCKETS_PER_RELEVANT * n_mine equal-width ones over their range). Returns (lowest, scale,
    last bucket) for :func:`_bucket`."""
    mine[:n_mine].sort()
    mine[n_mine] = np.inf
    run_end[n_mine] = n_mine + 1
    for index in range(n_mine - 1, -1, -1):
        run_end[index] = run_end[index + 1] if mine[index] == mine[index + 1] else index + 1
    if n_mine == 0:
        return 0.0, 0.0, 0.0
    n_buckets = BUCKETS_PER_RELEVANT * n_mine
    spread = mine[n_mine - 1] - mine[0]
    scale = n_buckets / spread if spread > 0 else 0.0
    scale = scale if scale < np.inf else 0.0  # a spread of a few subnormals: one bucket
    last_bucket = n_buckets - 1.0
    first[: n_buckets + 1] = 0
    for index in range(n_mine):
        first[_bucket(mine[index], mine[0], scale, last_bucket) + 1] += 1
    for bucket in range(n_buckets):
        first[bucket + 1] += first[bucket]
    return mine[0], scale, last_bucket


@numba.njit(cache=True)
def _bucket(score, lowest, scale, last_bucket):
    """The bucket of a finite score: it never decreases as the score grows, whatever the
    rounding (an overflow to +-inf clamps; 0 x inf, NaN, goes to bucket 0 as with scale 0)."""
    position = (score - lowest) * scale
    return int(min(position if position > 0.0 else 0.0, last_bucket))


def pairs_below(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """For each relevant candidate of one row (in item order): the non-relevant candidates
    scored below it, ties counting one half."""
    others = np.sort(scores[~relevant & np.isfinite(scores)])
    mine = scores[relevant]
    below, not_above = np.searchsorted(others, mine, "left"), np.searchsorted(others, mine, "right")
    return (below + not_above) / 2.0


def metric_columns(per_user: pd.DataFrame) -> list[str]:
    return [c for c in per_user.columns if is_metric_column(c)]


def aggregate(per_user: pd.DataFrame) -> pd.Series:
    """Means over users (ranking metrics skip users without relevant items); RMSE and MAE
    over all evaluation ratings."""
    result = {}
    for name in metric_columns(per_user):
        if name == "rmse":
            weights = per_user["n_rated"]
            result[name] = float(np.sqrt(np.nansum(per_user[name] ** 2 * weights) / weights.sum()))
        elif name == "mae":
            weights = per_user["n_rated"]
            result[name] = float(np.nansum(per_user[name] * weights) / weights.sum())
        else:
            result[name] = float(np.nanmean(per_user[name])) if per_user[name].notna().any() else np.nan
    return pd.Series(result)
