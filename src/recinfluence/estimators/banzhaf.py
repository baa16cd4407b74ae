"""Data Banzhaf with maximum sample reuse (Wang & Jia, "Data Banzhaf: A Robust Data Valuation
Framework for Machine Learning", AISTATS 2023), for users and for items.

The game. The players are every id of one kind (users, or items) of the global id space; a
coalition S keeps the training rows of its members and every other row (for users: the rows of
the users in S; for items: the rows of the items in S; the rows of players outside S are deleted,
with ids unchanged, :meth:`TrainSet.keep`). The Banzhaf value of player e is the mean, over all
coalitions S without e, of U_e(S + e) - U_e(S).

The estimator (maximum sample reuse). M subsets S_1..S_M, each player in with probability 1/2
independently; one retrain and one evaluation per subset; for every player e

    value(e) = mean of U_e(S_m) over the subsets holding e - mean over the subsets without e,

an unbiased estimate of the Banzhaf value: every subset serves every player at once. Its
standard error is the two-sample (Welch) one, giving ``influence_sd`` (the standard error times
sqrt(samples), so that the usual sd / sqrt(samples) is the standard error), a 95% Welch t interval
and the Welch p-value of "the value is 0". ``samples`` is M (the subsets with a finite utility).

Subset membership is keyed by (study seed, subset index, kind, entity id): subset m draws one
uniform number per id of the global id space from ``default_rng([seed, m, kind index])`` and holds
the ids whose number is below 1/2, so any shard rebuilds any subset without the others, and an
entity's membership does not depend on which entities are reported (``influence.limit``: the
game is always over every id of the kind; the limit only chooses whose values are reported).
Ids without training rows are null players: their estimate is sampling noise around 0 (its
interval says so).

Seeds. Subset m is trained with seed ``seed + m`` (:meth:`training_seeds` lists them): fresh
training noise for every subset, so the value averages over the seed as well as over the
coalitions (with one seed for all, the seed's own noise would be part of every coalition's
utility and of the value). The model's batched (``fit_many``) and derived (``deletion_variants``)
paths are not used: every subset is a plain ``fit``.

Utility (signed so that positive = helped: RMSE and MAE enter negated, as in
:func:`recinfluence.retrain.compare`). U is the aggregate metric of the subset's model, as
:func:`recinfluence.metrics.aggregate` computes it (ranking metrics: mean over users with a
relevant item; RMSE/MAE: over ratings). As in the exclude protocol of exact deletion, e's value
does not count e's own evaluation:

- users: U_e(S) is the aggregate over every evaluation user except e. It is cheap from the
  per-user table: the sums over all users less user e's own term (numerator and count).
- items: U_e(S) is the aggregate over the catalog without item e (what exact deletion's exclude
  protocol compares on, ``excluded_items=[e]``), for both the subsets with and without e, on the
  same users. Evaluating the subset's model once per item would cost one evaluation per item per
  subset; instead the change is computed per item from the users it touches: leaving item e out
  of user u's catalog changes u's metrics only if e is among u's top K recommendations (the
  (K+1)-th then moves up) or relevant to u (one relevant item less). Those (user, item) pairs are
  re-evaluated with :func:`recinfluence.metrics.evaluate` itself on a small virtual catalog (u's
  top K+1 items with e taken out, plus u's other relevant items as non-candidates), so the metric
  definitions stay those of ``metrics.py``; every other user keeps its metric. RMSE/MAE drop
  e's rated pairs. Why not the full catalog for every item: then an item relevant to many users
  is valued for being recommended to them, not for what its training rows teach the model (the
  bias the exclude protocol removes from exact deletion), and the values would not be comparable
  with exact deletion's. With comparison ``naive`` every player's utility is the full aggregate.

Work units are blocks of :data:`BLOCK` consecutive subset indices (fixed, independent of the
shard count). ``run`` writes sufficient statistics per (entity, metric, half, block): count, sum
and sum of squares of the utilities with e in and with e out; ``reduce`` sorts them by block and
sums them in that fixed order, so any sharding gives identical numbers. ``half`` is the parity of
the subset index: ``by_seed`` holds the value estimated from the even subsets (seed column 0) and
from the odd ones (1), for split-half reliability downstream. ``per_user`` is empty (no single
deletion to attribute user-level changes to); ``timing`` shares each unit's wall time equally
among the reported entities (its sum is the compute spent).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy.special import stdtr, stdtrit

from ..metrics import EvalSet, evaluate, metric_columns, pairs_below
from ..models.base import ENTITY_KINDS, TrainSet, rating_scale
from ..registry import RATING_METRICS, SCORE_METRICS, lower_is_better
from ..retrain import COMPARISONS, entity_list, rows_per_entity
from .base import (
    BY_SEED_COLUMNS,
    INFLUENCE_COLUMNS,
    TIMING_COLUMNS,
    Estimator,
    InfluenceResult,
    Partial,
    blocks,
)

BLOCK = 8  # subsets per work unit (fixed: shards are cut between whole units)
STATS = ["n_in", "sum_in", "sumsq_in", "n_out", "sum_out", "sumsq_out"]
ROW_COLUMNS = ["kind", "entity", "n_train_rows", "metric", "half", "block", *STATS]


class DataBanzhaf(Estimator):
    name = "banzhaf"
    # signed mean utility of the subsets with and without the entity, and how many there were
    value_columns = ("utility_in", "utility_out", "subsets_in", "subsets_out")

    def __init__(self, seed: int = 0, subsets: int = 500):
        super().__init__(seed, 1)
        if subsets < 1:
            raise ValueError(f"subsets must be at least 1, not {subsets}")
        self.seed, self.subsets = seed, subsets
        self._entities: np.ndarray | None = None

    def training_seeds(self) -> list[int]:
        return [self.subset_seed(m) for m in range(self.subsets)]

    def subset_seed(self, m: int) -> int:
        return self.seed + int(m)

    def members(self, kind: str, m: int, n: int) -> np.ndarray:
        """Boolean mask over the ``n`` ids of ``kind``: who is in subset ``m`` (keyed by seed,
        subset, kind and id: the first ``n`` draws of one stream)."""
        return np.random.default_rng([self.seed, int(m), ENTITY_KINDS.index(kind)]).random(n) < 0.5

    def subset_train(self, train: TrainSet, kind: str, m: int) -> TrainSet:
        """The training rows of subset ``m``: those of its members and every row of the other kind
        they hold; deleted items leave the catalog, as in exact deletion."""
        inside = self.members(kind, m, train.n_users if kind == "user" else train.n_items)
        column = train.users if kind == "user" else train.items
        return train.keep(inside[column], deleted_items=np.flatnonzero(~inside) if kind == "item" else ())

    def work_units(self, retrainer, entities) -> list[np.ndarray]:
        """Blocks of subset indices. ``entities`` are the ids whose values are reported (kept for
        :meth:`run`; without it, every id of the kind)."""
        self._entities = np.asarray(entities, dtype=np.int64)
        return blocks(np.arange(self.subsets), BLOCK)

    def unit_items(self, kind: str) -> str:
        return f"{kind} subsets"

    def run(self, retrainer, kind: str, unit: np.ndarray, comparison: str = "exclude") -> Partial:
        if kind not in ENTITY_KINDS:
            raise ValueError(f"entity kind must be one of {ENTITY_KINDS}, not {kind!r}")
        if comparison not in COMPARISONS:
            raise ValueError(f"comparison must be one of {COMPARISONS}, not {comparison!r}")
        train, experiment = retrainer.train, retrainer.experiment
        n = train.n_users if kind == "user" else train.n_items
        entities = entity_list(train, kind) if self._entities is None else self._entities
        if len(entities) and (entities.min() < 0 or entities.max() >= n):
            raise ValueError(f"entity ids out of range for {kind}s (0..{n - 1})")
        started = time.perf_counter()
        metrics, totals = None, None
        for m in np.asarray(unit, dtype=np.int64):
            model = retrainer.fit(self.subset_seed(m), self.subset_train(train, kind, m))
            names, utility = subset_utilities(experiment, model, kind, entities, comparison)
            if metrics is None:
                metrics, totals = names, np.zeros((2, len(STATS), len(entities), len(names)))
            elif names != metrics:
                raise ValueError(f"subset {m} gave metrics {names}, the others {metrics}")
            held = self.members(kind, m, n)[entities][:, None]
            finite = np.isfinite(utility)
            value = np.where(finite, utility, 0.0)
            half = totals[m % 2]
            for offset, side in ((0, held & finite), (3, ~held & finite)):
                half[offset] += side
                half[offset + 1] += np.where(side, value, 0.0)
                half[offset + 2] += np.where(side, value * value, 0.0)
        seconds = time.perf_counter() - started
        rows_of = rows_per_entity(train, kind)
        E, K = totals.shape[2], totals.shape[3]
        frames = []
        for h in (0, 1):
            frame = pd.DataFrame(
                {
                    "kind": kind,
                    "entity": np.repeat(entities, K),
                    "n_train_rows": np.repeat(rows_of[entities], K).astype(np.int64),
                    "metric": np.tile(np.asarray(metrics, dtype=object), E),
                    "half": h,
                    "block": int(unit[0]),
                }
            )
            for index, name in enumerate(STATS):
                frame[name] = totals[h, index].reshape(-1)
            frames.append(frame)
        rows = pd.concat(frames, ignore_index=True)[ROW_COLUMNS]
        timing = pd.DataFrame({"kind": kind, "entity": entities, "seconds": seconds / max(len(entities), 1)})
        return Partial(rows, pd.DataFrame(columns=["entity", "user"]), timing)

    def reduce(self, kind: str, partials: list[Partial]) -> InfluenceResult:
        whole = Partial.concat(partials)
        rows, per_user = whole.rows, pd.DataFrame(columns=["entity", "user"])
        columns = [*INFLUENCE_COLUMNS, *self.value_columns]
        if rows.empty:
            return InfluenceResult(
                pd.DataFrame(columns=columns),
                pd.DataFrame(columns=BY_SEED_COLUMNS),
                per_user,
                pd.DataFrame(columns=TIMING_COLUMNS),
            )
        order = {metric: position for position, metric in enumerate(pd.unique(rows["metric"]))}
        # one fixed summation order (entity, metric, half, then block) whatever the shards
        rows = rows.assign(_metric=rows["metric"].map(order)).sort_values(
            ["entity", "_metric", "half", "block"], kind="mergesort"
        )
        keys = ["kind", "entity", "n_train_rows", "metric"]
        halves = rows.groupby([*keys, "half"], sort=False)[STATS].sum()
        totals = halves.groupby(level=keys, sort=False).sum()
        influence = _welch(totals).reset_index()
        influence = influence.rename(
            columns={"mean_in": "utility_in", "mean_out": "utility_out", "n_in": "subsets_in", "n_out": "subsets_out"}
        )
        for name in ("subsets_in", "subsets_out", "samples"):
            influence[name] = influence[name].astype(np.int64)
        by_seed = _welch(halves)[["influence"]].reset_index().rename(columns={"half": "seed"})
        timing = whole.timing.groupby(["kind", "entity"], sort=True)["seconds"].sum().reset_index()
        return InfluenceResult(
            influence[columns], by_seed[BY_SEED_COLUMNS].reset_index(drop=True), per_user, timing[TIMING_COLUMNS]
        )


def _welch(table: pd.DataFrame) -> pd.DataFrame:
    """Difference of means (in - out) of the summed statistics, with its Welch standard error,
    95% interval and p-value."""
    n_in, n_out = table["n_in"].to_numpy(float), table["n_out"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_in, mean_out = table["sum_in"].to_numpy() / n_in, table["sum_out"].to_numpy() / n_out
        var_in = np.maximum(table["sumsq_in"].to_numpy() - table["sum_in"].to_numpy() * mean_in, 0.0) / (n_in - 1)
        var_out = np.maximum(table["sumsq_out"].to_numpy() - table["sum_out"].to_numpy() * mean_out, 0.0) / (n_out - 1)
        a, b = var_in / n_in, var_out / n_out
        se = np.sqrt(a + b)
        df = (a + b) ** 2 / (a**2 / (n_in - 1) + b**2 / (n_out - 1))
        difference = mean_in - mean_out + 0.0  # + 0.0: no -0.0
        half = stdtrit(df, 0.975) * se
        p = 2 * stdtr(df, -np.abs(difference) / se)
    exact = se == 0  # no spread: the interval is the point, p is 1 for 0 and 0 otherwise
    half = np.where(exact, 0.0, half)
    p = np.where(exact, np.where(difference == 0, 1.0, 0.0), p)
    enough = (n_in >= 2) & (n_out >= 2)
    samples = n_in + n_out
    return pd.DataFrame(
        {
            "influence": difference,
            "samples": samples,
            "influence_sd": np.where(enough, se * np.sqrt(samples), np.nan),
            "ci_low": np.where(enough, difference - half, np.nan),
            "ci_high": np.where(enough, difference + half, np.nan),
            "p_value": np.where(enough, p, np.nan),
            "mean_in": mean_in,
            "mean_out": mean_out,
            "n_in": n_in,
            "n_out": n_out,
        },
        index=table.index,
    )


# ---------------------------------------------------------------------------------------------
# Utilities of one subset's model


def subset_utilities(
    experiment, model, kind: str, entities: np.ndarray, comparison: str = "exclude"
) -> tuple[list[str], np.ndarray]:
    """(metrics, utilities): for every entity of ``entities``, the signed utility (positive =
    better) of the fitted ``model`` under each metric, its own evaluation left out as the module
    docstring says (``naive``: the full aggregate for everyone). Item utilities need every user's
    scores at once (users x items)."""
    scores = experiment.score(model) if kind == "item" and comparison != "naive" else None
    table = experiment.evaluate(model, scores)
    metrics = metric_columns(table)
    numerator, denominator = _contributions(table, metrics)
    total_numerator, total_denominator = numerator.sum(axis=0), denominator.sum(axis=0)
    entities = np.asarray(entities, dtype=np.int64)
    if comparison == "naive":
        own_numerator = own_denominator = np.zeros((len(entities), len(metrics)))
    elif kind == "user":
        users = table["user"].to_numpy()
        position = np.full(max(int(users.max(initial=-1)), int(entities.max(initial=-1))) + 1, -1)
        position[users] = np.arange(len(users))
        row = position[entities]
        present = (row >= 0)[:, None]
        own_numerator = np.where(present, numerator[np.maximum(row, 0)], 0.0)
        own_denominator = np.where(present, denominator[np.maximum(row, 0)], 0.0)
    else:
        delta_numerator, delta_denominator = _item_exclusion(
            experiment, model, scores, table, metrics, numerator, denominator
        )
        own_numerator, own_denominator = -delta_numerator[entities], -delta_denominator[entities]
    with np.errstate(invalid="ignore", divide="ignore"):
        utility = (total_numerator - own_numerator) / (total_denominator - own_denominator)
    utility = np.where(np.asarray(metrics) == "rmse", np.sqrt(utility), utility)
    sign = np.array([-1.0 if lower_is_better(metric) else 1.0 for metric in metrics])
    return metrics, utility * sign + 0.0


def _contributions(table: pd.DataFrame, metrics: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per user and metric, the terms whose sums give :func:`recinfluence.metrics.aggregate`
    (numerator / denominator; RMSE then takes the square root): a ranking metric and 1 for
    users with one (NaN: 0 and 0); squared error sum or absolute error sum and ``n_rated``."""
    numerator, denominator = np.zeros((len(table), len(metrics))), np.zeros((len(table), len(metrics)))
    for column, metric in enumerate(metrics):
        values = table[metric].to_numpy(dtype=float)
        if metric in RATING_METRICS:
            weights = table["n_rated"].to_numpy(dtype=float)
            terms = values**2 * weights if metric == "rmse" else values * weights
            numerator[:, column], denominator[:, column] = np.nan_to_num(terms), weights
        else:
            finite = np.isfinite(values)
            numerator[:, column], denominator[:, column] = np.where(finite, values, 0.0), finite
    return numerator, denominator


def _item_exclusion(experiment, model, scores, table, metrics, numerator, denominator) -> tuple[np.ndarray, np.ndarray]:
    """(n_items, metrics) changes of the aggregate's numerator and denominator when each item
    leaves the catalog (evaluate(..., excluded_items=[item]) for every item at once)."""
    evalset, k = experiment.evalset.dense(), experiment.k
    n_items = evalset.seen.shape[1]
    delta_numerator, delta_denominator = np.zeros((n_items, len(metrics))), np.zeros((n_items, len(metrics)))
    ranking = [
        column for column, metric in enumerate(metrics) if metric not in RATING_METRICS and metric not in SCORE_METRICS
    ]
    if "auc" in metrics and n_items > k:
        column = metrics.index("auc")
        delta_numerator[:, column], delta_denominator[:, column] = _auc_exclusion(
            evalset, scores, table["auc"].to_numpy(dtype=float)
        )
    else:  # a catalog no longer than the list: every metric is evaluated item by item below
        ranking = [column for column, metric in enumerate(metrics) if metric not in RATING_METRICS]
    if ranking and n_items <= k:  # a catalog no longer than the list: evaluate item by item
        names = [metrics[column] for column in ranking]
        for item in range(n_items):
            changed = _contributions(evaluate(scores, evalset, k, excluded_items=[item]), names)
            delta_numerator[item, ranking] = (changed[0] - numerator[:, ranking]).sum(axis=0)
            delta_denominator[item, ranking] = (changed[1] - denominator[:, ranking]).sum(axis=0)
    elif ranking:
        pair_user, pair_item, virtual_scores, virtual_evalset = _virtual_catalogs(evalset, scores, k)
        changed = evaluate(virtual_scores, virtual_evalset, k)
        names = [metrics[column] for column in ranking]
        new_numerator, new_denominator = _contributions(changed, names)
        for index, column in enumerate(ranking):
            delta_numerator[:, column] = np.bincount(
                pair_item, new_numerator[:, index] - numerator[pair_user, column], minlength=n_items
            )
            delta_denominator[:, column] = np.bincount(
                pair_item, new_denominator[:, index] - denominator[pair_user, column], minlength=n_items
            )
    scale = rating_scale(model)
    if scale is not None and any(metric in RATING_METRICS for metric in metrics):
        rows, items, ratings = evalset.rated_pairs
        errors = np.clip(scores[rows, items], *scale) - ratings
        for column, metric in enumerate(metrics):
            if metric in RATING_METRICS:
                terms = errors**2 if metric == "rmse" else np.abs(errors)
                delta_numerator[:, column] = -np.bincount(items, terms, minlength=n_items)
                delta_denominator[:, column] = -np.bincount(items, minlength=n_items)
    return delta_numerator, delta_denominator


def _auc_exclusion(evalset: EvalSet, scores: np.ndarray, auc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n_items,) changes of the AUC aggregate's numerator and denominator when each item leaves
    the catalog. For a user with R relevant and N other candidates, U = AUC * R * N correctly
    ordered pairs: a non-relevant candidate j takes away the relevant items above it (U - above(j),
    N - 1), a relevant one the candidates below it (U - below(r), R - 1); a user left without
    either drops out of the mean (numerator - AUC, denominator - 1); other items change nothing."""
    masked = np.where(evalset.seen, -np.inf, scores)
    candidate = np.isfinite(masked)
    relevant = evalset.relevant & candidate
    n_items = masked.shape[1]
    delta_numerator, delta_denominator = np.zeros(n_items), np.zeros(n_items)
    for row in np.flatnonzero(np.isfinite(auc)):
        mine, others = relevant[row], candidate[row] & ~relevant[row]
        n_relevant, n_other = int(mine.sum()), int(others.sum())
        pairs = auc[row] * n_relevant * n_other
        own = np.sort(masked[row, mine])
        other_scores = masked[row, others]
        above = (
            n_relevant
            - (np.searchsorted(own, other_scores, "left") + np.searchsorted(own, other_scores, "right")) / 2.0
        )
        below = pairs_below(masked[row], mine)
        for items, remaining, shrunk in (
            (np.flatnonzero(others), pairs - above, (n_relevant, n_other - 1)),
            (np.flatnonzero(mine), pairs - below, (n_relevant - 1, n_other)),
        ):
            if shrunk[0] * shrunk[1] == 0:
                delta_numerator[items] -= auc[row]
                delta_denominator[items] -= 1.0
            else:
                delta_numerator[items] += remaining / (shrunk[0] * shrunk[1]) - auc[row]
    return delta_numerator, delta_denominator


def _virtual_catalogs(
    evalset: EvalSet, scores: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, EvalSet]:
    """(pair users, pair items, scores, evalset): every (user, item) pair whose user's metrics
    change when the item leaves the catalog (the item is among the user's top K or relevant to
    the user), each as one virtual user (one row of ``scores`` and ``evalset``) whose
    catalog is the user's top K+1 list with the item taken out (scores K+1, K, ... in list order;
    non-candidates stay non-candidates) followed by the user's other relevant items as
    non-candidates (they count towards the number relevant, never as hits)."""
    masked = np.where(evalset.seen, -np.inf, scores)
    depth = k + 1
    # of equal scores the lower item id first, as metrics.evaluate ranks them
    top = np.argsort(-masked, axis=1, kind="stable")[:, :depth]
    top_scores = np.take_along_axis(masked, top, axis=1)
    rows = np.arange(len(top))[:, None]
    affected = evalset.relevant.copy()
    affected[rows, top[:, :k]] = True
    pair_user, pair_item = np.nonzero(affected)
    listed = top[pair_user]  # (pairs, depth)
    excluded = listed == pair_item[:, None]
    list_relevant = evalset.relevant[pair_user[:, None], listed] & ~excluded
    non_candidate = ~np.isfinite(top_scores[pair_user]) | excluded
    n_relevant = evalset.relevant.sum(axis=1)
    listed_relevant_user = evalset.relevant[rows, top].sum(axis=1)  # relevant items in each user's list
    own_in_list = excluded.any(axis=1)
    own_relevant = evalset.relevant[pair_user, pair_item]
    # relevant items of the user outside the list, less the excluded item when it is one of them
    extra = n_relevant[pair_user] - listed_relevant_user[pair_user] - (own_relevant & ~own_in_list)
    width = depth + int(extra.max(initial=0))
    n_pairs = len(pair_user)
    virtual_scores = np.zeros((n_pairs, width))
    virtual_scores[:, :depth] = np.arange(depth, 0, -1)
    seen = np.ones((n_pairs, width), dtype=bool)
    seen[:, :depth] = non_candidate
    relevant = np.zeros((n_pairs, width), dtype=bool)
    relevant[:, :depth] = list_relevant
    relevant[:, depth:] = np.arange(width - depth)[None, :] < extra[:, None]
    virtual = EvalSet(users=np.arange(n_pairs), seen=seen, rating=np.full((n_pairs, width), np.nan), relevant=relevant)
    return pair_user, pair_item, virtual_scores, virtual
