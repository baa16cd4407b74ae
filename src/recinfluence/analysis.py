"""What the influence tables say: rankings, prune-and-retrain with a random control, and
agreement between models."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .influence import Experiment, compare


def wide(influence: pd.DataFrame) -> pd.DataFrame:
    """One row per entity, one influence column per metric."""
    return influence.pivot(index="entity", columns="metric", values="influence")


def rank_entities(influence: pd.DataFrame, names: pd.DataFrame, metric: str, n: int = 10) -> pd.DataFrame:
    """The ``n`` most and ``n`` least influential entities by ``metric``, with their raw ids
    (and titles where known) and number of training rows."""
    table = influence.loc[influence["metric"] == metric, ["entity", "n_train_rows", "influence"]]
    table = table.sort_values(["influence", "entity"], ascending=[False, True], ignore_index=True)
    parts = []
    for label, rows in (("most", table.head(n)), ("least", table.tail(n).iloc[::-1])):
        rows = rows.assign(group=label, rank=np.arange(1, len(rows) + 1))
        parts.append(rows)
    ranked = pd.concat(parts, ignore_index=True)
    ranked = ranked.join(names, on="entity")
    ranked.insert(0, "metric", metric)
    return ranked[["metric", "group", "rank", "entity", *names.columns, "n_train_rows", "influence"]]


def pruning_sets(influence: pd.DataFrame, metric: str, ks, random_draws: int, seed: int):
    """Yield (k, selection, draw, entity ids): the k least and the k most influential entities
    by ``metric`` and ``random_draws`` random sets of k, seeded by (seed, k, draw)."""
    table = influence.loc[influence["metric"] == metric].sort_values(["influence", "entity"], ignore_index=True)
    entities = table["entity"].to_numpy(dtype=np.int64)
    for k in ks:
        if k > len(entities):
            continue
        yield k, "least influential", 0, entities[:k]
        yield k, "most influential", 0, entities[::-1][:k]
        for draw in range(random_draws):
            yield k, "random", draw, np.random.default_rng([seed, k, draw]).choice(entities, size=k, replace=False)


def prune_and_retrain(make_model, experiment: Experiment, influence: pd.DataFrame, kind: str, metric: str, ks, random_draws: int, seed: int) -> pd.DataFrame:
    """Remove each pruning set from the training data, retrain with ``seed`` and compare every
    metric with the baseline on the same users and catalog (removed users, or removed items,
    are left out of both). Relative change in percent: 100 * (pruned - baseline) / baseline."""
    baseline_model, baseline_scores = experiment.fit_and_score(make_model, experiment.train, seed)
    rating_scale = getattr(baseline_model, "rating_scale", None)
    baseline_full = experiment.evaluate(baseline_scores, rating_scale)
    rows = []
    for k, selection, draw, removed in pruning_sets(influence, metric, ks, random_draws, seed):
        _, scores = experiment.fit_and_score(make_model, experiment.train.without(kind, removed), seed)
        excluded_items = removed if kind == "item" else []
        baseline = experiment.evaluate(baseline_scores, rating_scale, excluded_items) if kind == "item" else baseline_full
        pruned = experiment.evaluate(scores, rating_scale, excluded_items)
        base_mean, pruned_mean, _ = compare(baseline, pruned, removed if kind == "user" else [])
        for name in base_mean.index:
            rows.append((kind, k, selection, draw, name, base_mean[name], pruned_mean[name]))
    table = pd.DataFrame(rows, columns=["kind", "k", "selection", "draw", "metric", "baseline", "pruned"])
    table["relative_change_pct"] = 100.0 * (table["pruned"] - table["baseline"]) / table["baseline"]
    return table


def summarise_pruning(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation and count of the relative change per (k, selection, metric)."""
    grouped = table.groupby(["kind", "k", "selection", "metric"], sort=True)["relative_change_pct"]
    return grouped.agg(mean="mean", sd="std", draws="count").reset_index()


def model_agreement(influences: dict[str, pd.DataFrame], metric: str) -> pd.DataFrame:
    """Spearman and Kendall correlation of the entities' influence between every pair of models
    (on the entities both measured)."""
    names = sorted(influences)
    rows = []
    for a_index, a in enumerate(names):
        for b in names[a_index + 1 :]:
            joined = pd.concat(
                [wide(influences[a])[metric].rename(a), wide(influences[b])[metric].rename(b)], axis=1, join="inner"
            ).dropna()
            spearman = stats.spearmanr(joined[a], joined[b]).statistic if len(joined) > 2 else np.nan
            kendall = stats.kendalltau(joined[a], joined[b]).statistic if len(joined) > 2 else np.nan
            rows.append((metric, a, b, len(joined), spearman, kendall))
    return pd.DataFrame(rows, columns=["metric", "model_a", "model_b", "entities", "spearman", "kendall"])


def seed_reproducibility(influences: dict[int, pd.DataFrame], metric: str) -> tuple[pd.Series, pd.DataFrame]:
    """How much of a single-seed influence ranking survives a change of seed.

    ``influences`` maps seed -> influence table (same entities). Returns a summary (mean
    magnitude of influence, mean per-entity standard deviation across seeds, and the mean,
    min and max seed-to-seed Spearman correlation) and the table of seed pairs."""
    by_seed = pd.concat({seed: wide(table)[metric] for seed, table in influences.items()}, axis=1).dropna()
    seeds = list(by_seed.columns)
    pairs = pd.DataFrame(
        [(a, b, stats.spearmanr(by_seed[a], by_seed[b]).statistic) for i, a in enumerate(seeds) for b in seeds[i + 1 :]],
        columns=["seed_a", "seed_b", "spearman"],
    )
    summary = pd.Series(
        {
            "metric": metric,
            "entities": len(by_seed),
            "seeds": len(seeds),
            "mean_abs_influence": float(by_seed.abs().to_numpy().mean()),
            "per_entity_sd_across_seeds": float(by_seed.std(axis=1, ddof=1).mean()),
            "spearman_mean": float(pairs["spearman"].mean()),
            "spearman_min": float(pairs["spearman"].min()),
            "spearman_max": float(pairs["spearman"].max()),
        }
    )
    return summary, pairs
