"""Prune and retrain: remove the least (and, as a check, the most) influential entities, or as
many random ones as a control, retrain with several seeds and measure the test metrics.
:func:`recinfluence.analysis.summarise_pruning` turns the result into means and intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .retrain import Retrainer


def pruning_sets(influence: pd.DataFrame, metric: str, sizes, random_draws: int, seed: int):
    """Yield (size, selection, draw, entity ids): the ``size`` least and most influential
    entities by ``metric`` and ``random_draws`` random sets of that size, seeded by
    (seed, size, draw)."""
    table = influence.loc[influence["metric"] == metric].sort_values(["influence", "entity"], ignore_index=True)
    entities = table["entity"].to_numpy(dtype=np.int64)
    for size in sizes:
        if size > len(entities):
            continue
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
    retrainer: Retrainer, influence: pd.DataFrame, kind: str, metric: str, sizes, random_draws: int, seeds
) -> pd.DataFrame:
    """Remove each pruning set (:func:`pruning_sets`, random draws seeded by the first seed)
    from the training data, retrain with every one of ``seeds`` and compare every metric with
    the baseline of the same seed, on the same users and catalog (removed users, or removed
    items, are left out of both). Relative change in percent:
    100 * (pruned - baseline) / baseline, one row per (size, selection, draw, seed, metric)."""
    seeds = [int(seed) for seed in np.atleast_1d(seeds)]
    sets = list(pruning_sets(influence, metric, sizes, random_draws, seeds[0]))
    rows = []
    for seed in seeds:
        results = retrainer.deletions(kind, [removed for *_, removed in sets], seed, "exclude")
        for (size, selection, draw, _), (base_mean, pruned_mean, _, _) in zip(sets, results):
            for name in base_mean.index:
                rows.append((kind, size, selection, draw, seed, name, base_mean[name], pruned_mean[name]))
    table = pd.DataFrame(rows, columns=["kind", "size", "selection", "draw", "seed", "metric", "baseline", "pruned"])
    table["relative_change_pct"] = 100.0 * (table["pruned"] - table["baseline"]) / table["baseline"]
    return table
