"""Prune and retrain: remove the least (and, as a check, the most) influential entities, or as
many random ones as a control, retrain with several seeds and measure the test metrics.
:func:`recinfluence.analysis.summarise_pruning` turns the result into means and intervals.

Where the data has planted entities (``recinfluence.data.inject``), removing exactly them is the
oracle: the best a pruning of that size could do; and for a target-item push,
:func:`attack_impact` measures what the attack gave the target and what removing the flagged
users takes back."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .retrain import Retrainer

ORACLE = "planted (oracle)"


def pruning_sets(influence: pd.DataFrame, metric: str, sizes, random_draws: int, seed: int, planted=()):
    """Yield (size, selection, draw, entity ids): the ``size`` least and most influential
    entities by ``metric`` and ``random_draws`` random sets of that size, seeded by
    (seed, size, draw). With ``planted`` ids, their count joins the sizes and the planted
    entities themselves are one more set (:data:`ORACLE`)."""
    table = influence.loc[influence["metric"] == metric].sort_values(["influence", "entity"], ignore_index=True)
    entities = table["entity"].to_numpy(dtype=np.int64)
    planted = np.asarray(planted, dtype=np.int64)
    if len(planted):
        sizes = sorted({*sizes, len(planted)})
    for size in sizes:
        if size > len(entities):
            continue
        if size == len(planted):
            yield size, ORACLE, 0, planted
        yield size, "least influential", 0, entities[:size]
        yield size, "most influential", 0, entities[::-1][:size]
        for draw in range(random_draws):
            yield (
                size,
                "random",
                draw,
                np.random.default_rng([seed, size, draw]).choice(entities, size=size, replace=False),
            )


def prune_and_retrain(
    retrainer: Retrainer, influence: pd.DataFrame, kind: str, metric: str, sizes, random_draws: int, seeds, planted=()
) -> pd.DataFrame:
    """Remove each pruning set (:func:`pruning_sets`, random draws seeded by the first seed)
    from the training data, retrain with every one of ``seeds`` and compare every metric with
    the baseline of the same seed, on the same users and catalog (removed users, or removed
    items, are left out of both). Relative change in percent:
    100 * (pruned - baseline) / baseline, one row per (size, selection, draw, seed, metric).
    A deterministic model's retrains are done once and their numbers reported for every seed
    (another seed would repeat them)."""
    seeds = [int(seed) for seed in np.atleast_1d(seeds)]
    sets = list(pruning_sets(influence, metric, sizes, random_draws, seeds[0], planted))
    rows, results = [], None
    for seed in seeds:
        if results is None or not retrainer.deterministic:
            results = retrainer.deletions(kind, [removed for *_, removed in sets], seed, "exclude")
            if retrainer.deterministic:  # kept for the other seeds; otherwise consumed one at a time
                results = list(results)
        for (size, selection, draw, _), (base_mean, pruned_mean, _, _) in zip(sets, results):
            for name in base_mean.index:
                rows.append((kind, size, selection, draw, seed, name, base_mean[name], pruned_mean[name]))
    table = pd.DataFrame(rows, columns=["kind", "size", "selection", "draw", "seed", "metric", "baseline", "pruned"])
    table["relative_change_pct"] = 100.0 * (table["pruned"] - table["baseline"]) / table["baseline"]
    return table


def attack_impact(retrainer: Retrainer, targets, removals: dict, seeds, real_users) -> pd.DataFrame:
    """How a target-item push fares: for each removal (name -> user ids deleted from training,
    an empty array for the attacked data as it is) and seed, the targets' hit rate at K and mean
    rank among the real evaluation users who have not rated them (rank 1 = recommended first;
    planted users are never judged). One row per (removal, seed, target); a deterministic
    model is fitted once per removal, its ranks reported for every seed."""
    evalset, k = retrainer.experiment.evalset, retrainer.experiment.k
    targets = np.asarray(targets, dtype=np.int64)
    rows, ranked = [], {}
    for seed in np.atleast_1d(seeds):
        for name, removed in removals.items():
            removed = np.asarray(removed, dtype=np.int64)
            if name not in ranked or not retrainer.deterministic:
                model = retrainer.fit(int(seed), retrainer.train.without("user", removed) if len(removed) else None)
                ranks = [_target_ranks(model, evalset.block(*block), targets, real_users) for block in evalset.blocks()]
                ranked[name] = np.concatenate(ranks)  # (judged users, targets), NaN where a user rated the target
            ranks = ranked[name]
            for column, target in enumerate(targets):
                judged = ranks[~np.isnan(ranks[:, column]), column]
                rows.append(
                    (
                        name,
                        int(seed),
                        int(target),
                        len(removed),
                        len(judged),
                        float(np.mean(judged <= k)),
                        float(judged.mean()),
                    )
                )
    return pd.DataFrame(rows, columns=impact_columns(k))


def impact_columns(k: int) -> list[str]:
    """The columns of :func:`attack_impact`'s table."""
    return ["removal", "seed", "target", "removed", "users", f"hit_rate@{k}", "mean_rank"]


def _target_ranks(model, block, targets: np.ndarray, real_users) -> np.ndarray:
    """Rank of each target among each real user's candidates (NaN where the user has seen it)."""
    keep = np.isin(block.users, real_users)
    scores = np.where(block.seen, -np.inf, model.score(block.users))[keep]
    seen = block.seen[keep][:, targets]
    mine = scores[:, targets]
    ranks = 1.0 + (scores[:, None, :] > mine[:, :, None]).sum(axis=2)
    return np.where(seen, np.nan, ranks)
