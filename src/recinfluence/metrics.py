"""Top-K ranking metrics and rating errors, per user, from one vectorised pass.

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

Aggregates are means over users; RMSE and MAE aggregate over ratings (weighted by ``n_rated``).

Every metric is per user, so users can be evaluated a block at a time: an :class:`EvalSet` is one
dense block (users x items), a :class:`SparseEvalSet` holds a whole split sparse and serves it as
blocks of at most ``block_rows`` users, sized from a memory budget, so that neither the split
nor the scores of all users over the whole catalog are ever held at once. The scores then come
from the model a block of users at a time (``evaluate(model.score, ...)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numba
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .registry import is_metric_column

# Bytes one (user, item) cell of a block costs while it is evaluated: its score, the masked copy,
# the seen / relevant flags and the rating, with room for a model's own scoring temporaries.
BYTES_PER_CELL = 32
DEFAULT_MEMORY_MB = 512


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


@dataclass(frozen=True)
class SparseEvalSet:
    """One evaluation split stored sparse, evaluated a block of users at a time: ``users`` (those
    with at least one evaluation interaction), ``seen`` (users x items, CSR: the items each user
    interacted with outside this split, not candidates), and every evaluation rating as a pair
    (``pair_rows`` into ``users``, ``pair_items``, ``pair_ratings``, sorted by row then item).
    :meth:`block` is the dense :class:`EvalSet` of a range of users; a block holds at most
    ``block_rows`` users."""

    users: np.ndarray
    n_items: int
    seen: sp.csr_matrix
    pair_rows: np.ndarray
    pair_items: np.ndarray
    pair_ratings: np.ndarray
    relevance_threshold: float
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
        block_rows = max(1, int(memory_mb * 2**20 // (BYTES_PER_CELL * max(n_items, 1))))
        return cls(
            users,
            n_items,
            seen,
            pair_rows[order],
            pair_items[order],
            evaluation["rating"].to_numpy(dtype=float)[order],
            relevance_threshold,
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
        first, last = self._pair_bounds[start], self._pair_bounds[stop]
        rating = np.full((stop - start, self.n_items), np.nan)
        rating[self.pair_rows[first:last] - start, self.pair_items[first:last]] = self.pair_ratings[first:last]
        seen = self.seen[start:stop].toarray()
        return EvalSet(
            users=self.users[start:stop], seen=seen, rating=rating, relevant=rating >= self.relevance_threshold
        )

    def dense(self) -> "EvalSet":
        """Every user in one dense block (users x items: only for what needs the whole split at
        once, at the scale that allows it)."""
        return self.block(0, len(self))


def evaluate(
    scores: np.ndarray | Callable,
    evalset: "EvalSet | SparseEvalSet",
    k: int = 10,
    rating_scale=None,
    excluded_items=(),
) -> pd.DataFrame:
    """Per-user metrics of a score matrix (rows aligned with ``evalset.users``), or of a scoring
    function (``model.score``: user ids -> their scores over every item), called a block of users
    at a time for a :class:`SparseEvalSet`. The table is the same whatever the blocks.

    ``excluded_items`` are taken out of the catalog: out of every candidate list, relevant set
    and rating error (the item-deletion protocol)."""
    if isinstance(evalset, EvalSet):
        return _evaluate_block(
            scores(evalset.users) if callable(scores) else scores, evalset, k, rating_scale, excluded_items
        )
    tables = []
    for start, stop in evalset.blocks():
        block = evalset.block(start, stop)
        block_scores = scores(block.users) if callable(scores) else scores[start:stop]
        tables.append(_evaluate_block(block_scores, block, k, rating_scale, excluded_items))
    return tables[0] if len(tables) == 1 else pd.concat(tables, ignore_index=True)


def _evaluate_block(
    scores: np.ndarray,
    evalset: EvalSet,
    k: int = 10,
    rating_scale=None,
    excluded_items=(),
) -> pd.DataFrame:
    """:func:`evaluate` of one dense block."""
    relevant = evalset.relevant
    excluded_items = np.asarray(excluded_items, dtype=np.int64)
    masked = np.where(evalset.seen, -np.inf, scores)
    if excluded_items.size:
        relevant = relevant.copy()
        relevant[:, excluded_items] = False
        masked[:, excluded_items] = -np.inf
    import torch  # here, not at the top: analysis code imports this module without torch

    k_eff = min(k, masked.shape[1])
    top_scores, top = (t.numpy() for t in torch.topk(torch.from_numpy(masked), k_eff, dim=1, sorted=True))
    rows = np.arange(len(top))[:, None]
    hits = (relevant[rows, top] & np.isfinite(top_scores)).astype(float)
    n_relevant = relevant.sum(axis=1)
    has_relevant = n_relevant > 0
    ranks = np.arange(1, k_eff + 1)
    n_hits = hits.sum(axis=1)
    ideal = np.minimum(n_relevant, k)
    discounts = 1.0 / np.log2(ranks + 1)
    ideal_dcg = np.concatenate([[0.0], np.cumsum(discounts)])[np.minimum(ideal, k_eff)]
    with np.errstate(invalid="ignore", divide="ignore"):
        metrics = {
            f"map@{k}": ((np.cumsum(hits, axis=1) / ranks) * hits).sum(axis=1) / ideal,
            f"ndcg@{k}": (hits * discounts).sum(axis=1) / ideal_dcg,
            f"precision@{k}": n_hits / k,
            f"recall@{k}": n_hits / n_relevant,
            f"hit_rate@{k}": (n_hits > 0).astype(float),
            "auc": auc(masked, relevant),
        }
    table = pd.DataFrame({name: np.where(has_relevant, values, np.nan) for name, values in metrics.items()})
    table.insert(0, "user", evalset.users)
    table["n_relevant"] = n_relevant
    if rating_scale is not None:
        pair_rows, pair_items, ratings = evalset.rated_pairs
        if excluded_items.size:
            keep = ~np.isin(pair_items, excluded_items)
            pair_rows, pair_items, ratings = pair_rows[keep], pair_items[keep], ratings[keep]
        errors = np.clip(scores[pair_rows, pair_items], *rating_scale) - ratings
        n_users = len(evalset.users)
        n_rated = np.bincount(pair_rows, minlength=n_users)
        with np.errstate(invalid="ignore", divide="ignore"):
            table["rmse"] = np.sqrt(np.bincount(pair_rows, errors**2, minlength=n_users) / n_rated)
            table["mae"] = np.bincount(pair_rows, np.abs(errors), minlength=n_users) / n_rated
        table["n_rated"] = n_rated
    return table


def auc(masked: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """Per row: the AUC of the relevant candidates against the non-relevant ones (candidates:
    finite ``masked`` scores); NaN without a relevant or a non-relevant candidate."""
    return _auc_rows(np.ascontiguousarray(masked, dtype=np.float64), np.ascontiguousarray(relevant, dtype=np.bool_))


@numba.njit(cache=True)
def _auc_rows(masked, relevant):
    # Compiled, and without a sort: a user has few relevant items, so comparing each candidate
    # with each of them is cheaper (a Python loop over users made AUC most of an evaluation,
    # and an item deletion evaluates twice). Pair counts are integers: the result is exact.
    n_rows, n_items = masked.shape
    values = np.full(n_rows, np.nan)
    mine = np.empty(n_items)
    for row in range(n_rows):
        n_relevant = 0
        for item in range(n_items):
            if relevant[row, item] and np.isfinite(masked[row, item]):
                mine[n_relevant] = masked[row, item]
                n_relevant += 1
        below, ties, n_other = 0, 0, 0
        for item in range(n_items):
            score = masked[row, item]
            if relevant[row, item] or not np.isfinite(score):
                continue
            n_other += 1
            for index in range(n_relevant):
                below += mine[index] > score
                ties += mine[index] == score
        if n_relevant > 0 and n_other > 0:
            values[row] = (below + ties / 2.0) / (n_relevant * n_other)
    return values


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
