"""Exact deletion influence: retrain without each entity and measure how every metric moves.

    influence(e) = metric(model trained on all of train) - metric(model trained without e)

positive meaning that e helped. For error metrics (RMSE, MAE), where lower is better, the sign
is flipped so that positive still means helped.

Protocol ``exclude`` (the default, DESIGN.md section 5): deleting user u compares both models
on every evaluation user except u; deleting item i compares both on the catalog without i.
Protocol ``naive`` compares both on the full evaluation set. The baseline and every deletion
retrain use the same seed, so a delta measures the deletion, not a new initialisation.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from scipy import stats

from .data import Interactions
from .metrics import EvalSet, aggregate, evaluate, lower_is_better, metric_columns
from .models.base import ENTITY_KINDS, TrainSet
from .split import Split

DELETION_PROTOCOLS = ("exclude", "naive")


@dataclass(frozen=True)
class Experiment:
    """What every fit and evaluation of one study shares: the training rows and the
    evaluation split (the one influence is measured on, or the test split for pruning)."""

    train: TrainSet
    evalset: EvalSet
    k: int = 10

    @classmethod
    def build(cls, data: Interactions, split: Split, part: str = "evaluation", k: int = 10, relevance_threshold: float = 4.0):
        """``part`` is ``evaluation`` (where influence is measured) or ``test``. Rating
        predictions are clipped to the dataset's observed rating range."""
        eval_rows = split.evaluation if part == "evaluation" else getattr(split, part)
        rating_scale = (float(data.frame["rating"].min()), float(data.frame["rating"].max()))
        train = TrainSet.from_frame(data.frame.iloc[split.train], data.n_users, data.n_items, rating_scale)
        evalset = EvalSet.build(data.frame, split.train, eval_rows, data.n_items, relevance_threshold)
        return cls(train=train, evalset=evalset, k=k)

    def fit_and_score(self, make_model: Callable, train: TrainSet, seed: int):
        model = make_model().fit(train, seed)
        return model, model.score(self.evalset.users)

    def evaluate(self, scores, rating_scale, excluded_items=()) -> pd.DataFrame:
        return evaluate(scores, self.evalset, self.k, rating_scale, excluded_items)


INFLUENCE_COLUMNS = ["kind", "entity", "n_train_rows", "metric", "baseline", "without", "influence"]


@dataclass(frozen=True)
class DeletionResult:
    influence: pd.DataFrame
    per_user: pd.DataFrame
    timing: pd.DataFrame
    by_seed: pd.DataFrame | None = None  # influence per (seed, entity, metric), from repeated_deletion_influence


def compare(baseline: pd.DataFrame, variant: pd.DataFrame, excluded_users=()) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
    """Aggregate both per-user tables over the same users; return (baseline aggregate,
    variant aggregate, per-user influence). Influence is signed so that positive = helped."""
    keep = ~baseline["user"].isin(np.atleast_1d(excluded_users)).to_numpy()
    baseline, variant = baseline.loc[keep], variant.loc[keep]
    metrics = metric_columns(baseline)
    sign = np.array([-1.0 if lower_is_better(m) else 1.0 for m in metrics])
    per_user = (baseline[metrics].to_numpy() - variant[metrics].to_numpy()) * sign + 0.0
    per_user = pd.DataFrame(per_user, columns=metrics)
    per_user.insert(0, "user", baseline["user"].to_numpy())
    return aggregate(baseline), aggregate(variant), per_user


def retrain_without(
    make_model: Callable,
    experiment: Experiment,
    kind: str,
    deletions,
    seed: int,
    protocol: str = "exclude",
    variants_per_batch: int = 16,
    log=sys.stderr,
) -> list[tuple[pd.Series, pd.Series, pd.DataFrame, float]]:
    """Retrain without each deletion (one id, or an array of ids, of ``kind``) and compare with
    the baseline trained with the same ``seed``. Returns, per deletion, (baseline aggregate,
    aggregate without it, per-user influence, seconds of its retrain plus evaluation).

    A model with ``fit_many`` trains ``variants_per_batch`` deletions at once, together with the
    baseline as the first variant of every batch, so that the baseline shares every
    floating-point operation with the variants it is compared with. Batches are consecutive
    blocks of ``deletions``."""
    if kind not in ENTITY_KINDS:
        raise ValueError(f"entity kind must be one of {ENTITY_KINDS}, not {kind!r}")
    if protocol not in DELETION_PROTOCOLS:
        raise ValueError(f"deletion protocol must be one of {DELETION_PROTOCOLS}, not {protocol!r}")
    deletions = [np.atleast_1d(np.asarray(ids, dtype=np.int64)) for ids in deletions]
    if not deletions:
        return []
    train = experiment.train
    block = variant_block(make_model, variants_per_batch)
    batched = block > 1
    block = block if batched else len(deletions)
    if not batched:
        baseline_model = make_model().fit(train, seed)

    results = []
    started = time.perf_counter()
    for first in range(0, len(deletions), block):
        chunk = deletions[first : first + block]
        chunk_started = time.perf_counter()
        if batched:
            baseline_model, *variant_models = make_model().fit_many([train] + [train.without(kind, ids) for ids in chunk], seed)
        rating_scale = getattr(baseline_model, "rating_scale", None)
        baseline_scores = baseline_model.score(experiment.evalset.users)
        baseline_full = experiment.evaluate(baseline_scores, rating_scale)
        chunk_results = []
        for index, ids in enumerate(chunk):
            retrain_started = time.perf_counter()
            model = variant_models[index] if batched else make_model().fit(train.without(kind, ids), seed)
            scores = model.score(experiment.evalset.users)
            excluded_items = ids if kind == "item" and protocol == "exclude" else []
            excluded_users = ids if kind == "user" and protocol == "exclude" else []
            baseline = experiment.evaluate(baseline_scores, rating_scale, excluded_items) if len(excluded_items) else baseline_full
            variant = experiment.evaluate(scores, rating_scale, excluded_items)
            chunk_results.append([*compare(baseline, variant, excluded_users), time.perf_counter() - retrain_started])
        if batched:  # a batch's training time is shared by its variants
            shared = (time.perf_counter() - chunk_started - sum(r[-1] for r in chunk_results)) / len(chunk)
            for result in chunk_results:
                result[-1] += shared
        results += [tuple(result) for result in chunk_results]
        if log is not None:
            done = first + len(chunk)
            elapsed = time.perf_counter() - started
            print(f"{done}/{len(deletions)} {kind} deletions retrained (seed {seed}), {elapsed / done:.2f} s each", file=log, flush=True)
    return results


def deletion_influence(
    make_model: Callable,
    experiment: Experiment,
    kind: str,
    entities,
    seed: int,
    protocol: str = "exclude",
    variants_per_batch: int = 16,
    log=sys.stderr,
) -> DeletionResult:
    """Retrain without each entity of ``kind`` in ``entities``.

    ``influence`` is tidy: one row per (entity, metric) with the baseline value, the value
    without the entity and the influence. ``per_user`` has one row per (entity, evaluation user)
    and one influence column per metric: whose metrics moved when the entity was removed.
    ``timing`` holds the wall time of each retrain plus its evaluation.

    A model with ``fit_many`` trains the deletions in batches (see :func:`retrain_without`):
    pass shards cut by :func:`shard_entities` with the same block size so that batch
    composition, and hence every number, does not depend on the shard count."""
    entities = np.asarray(entities, dtype=np.int64)
    results = retrain_without(make_model, experiment, kind, entities, seed, protocol, variants_per_batch, log)
    if not results:  # a shard beyond the entity count: nothing to fit
        empty = pd.DataFrame(columns=["kind", "entity", "seconds"])
        return DeletionResult(pd.DataFrame(columns=INFLUENCE_COLUMNS), pd.DataFrame(columns=["entity", "user"]), empty)
    train = experiment.train
    rows_per_entity = np.bincount(train.users if kind == "user" else train.items, minlength=train.n_users if kind == "user" else train.n_items)
    influence_rows, per_user_tables = [], []
    for entity, (base_mean, variant_mean, per_user, _) in zip(entities, results):
        for metric in base_mean.index:
            sign = -1.0 if lower_is_better(metric) else 1.0
            influence = sign * (base_mean[metric] - variant_mean[metric]) + 0.0  # + 0.0: no -0.0
            influence_rows.append((kind, int(entity), int(rows_per_entity[entity]), metric, base_mean[metric], variant_mean[metric], influence))
        per_user.insert(0, "entity", int(entity))
        per_user_tables.append(per_user)
    influence = pd.DataFrame(influence_rows, columns=INFLUENCE_COLUMNS)
    per_user = pd.concat(per_user_tables, ignore_index=True)
    timing = pd.DataFrame({"kind": kind, "entity": entities, "seconds": [result[-1] for result in results]})
    return DeletionResult(influence, per_user, timing)


def repeated_deletion_influence(
    make_model: Callable,
    experiment: Experiment,
    kind: str,
    entities,
    seeds,
    protocol: str = "exclude",
    variants_per_batch: int = 16,
    log=sys.stderr,
) -> DeletionResult:
    """:func:`deletion_influence` once per seed (each a paired baseline/deletion comparison with
    common random numbers), averaged over the seeds.

    ``influence`` holds the mean of ``baseline``, ``without`` and ``influence`` over the seeds,
    plus ``seeds``, ``influence_sd`` and the 95% t confidence interval ``ci_low``, ``ci_high``
    of the mean influence (NaN with one seed, whose numbers are those of
    :func:`deletion_influence`). ``per_user`` is the mean per-user influence, ``timing`` the
    seconds summed over seeds and ``by_seed`` the influence of each (seed, entity, metric)."""
    seeds = [int(seed) for seed in np.atleast_1d(seeds)]
    runs = [deletion_influence(make_model, experiment, kind, entities, seed, protocol, variants_per_batch, log) for seed in seeds]
    by_seed = pd.concat([run.influence.assign(seed=seed) for seed, run in zip(seeds, runs)], ignore_index=True)
    keys = ["kind", "entity", "n_train_rows", "metric"]
    grouped = by_seed.groupby(keys, sort=False)
    influence = grouped[["baseline", "without", "influence"]].mean().reset_index()
    influence["seeds"] = len(seeds)
    influence["influence_sd"] = grouped["influence"].std(ddof=1).to_numpy() if len(seeds) > 1 else np.nan
    low, high = mean_confidence_interval(influence["influence"], influence["influence_sd"], len(seeds))
    influence["ci_low"], influence["ci_high"] = low, high
    per_user = pd.concat([run.per_user for run in runs]).groupby(["entity", "user"], sort=False).mean().reset_index()
    timing = pd.concat([run.timing for run in runs]).groupby(["kind", "entity"], sort=False)["seconds"].sum().reset_index()
    return DeletionResult(influence, per_user, timing, by_seed[["kind", "entity", "seed", "metric", "influence"]])


def mean_confidence_interval(mean, sd, n, level: float = 0.95):
    """Two-sided t confidence interval of a mean of ``n`` values with standard deviation ``sd``
    (elementwise; NaN where ``n`` < 2)."""
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + level / 2, n - 1) * np.asarray(sd, dtype=float) / np.sqrt(n)
    return np.asarray(mean, dtype=float) - half, np.asarray(mean, dtype=float) + half


def variant_block(make_model: Callable, variants_per_batch: int) -> int:
    """How many deletions one training pass covers: ``variants_per_batch`` for a model with
    ``fit_many`` (the batched path), 1 for any other (a loop of ``fit``)."""
    return variants_per_batch if callable(getattr(make_model(), "fit_many", None)) else 1


def shard_entities(entities, n_shards: int, shard: int, block: int = 1) -> np.ndarray:
    """Static contiguous chunk ``shard`` of ``n_shards`` (possibly empty when there are more
    shards than entities). Shards are cut between whole blocks of ``block`` entities (the
    batch size of a batched model), so that batches do not depend on the shard count."""
    entities = np.asarray(entities, dtype=np.int64)
    blocks = np.array_split(np.arange(-(-len(entities) // block)), n_shards)[shard]
    if len(blocks) == 0:
        return entities[:0]
    return entities[blocks[0] * block : (blocks[-1] + 1) * block]


def entity_list(data: Interactions, kind: str, limit: int | None = None) -> np.ndarray:
    """Entities of ``kind`` to delete: all ids, or the first ``limit`` of them."""
    n = data.n_users if kind == "user" else data.n_items
    return np.arange(n if limit is None else min(limit, n), dtype=np.int64)
