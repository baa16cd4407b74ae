"""What the influence tables say: the noise floor of the baseline across seeds and which
entities stand above it, rankings, the summary of prune-and-retrain against a random control,
agreement between metrics and between models, and whose metrics moved when an entity was removed.
Pure table work on what the estimators and retrains wrote (no torch, no numba).

Two rules say which entities matter (docs/method.md "Trustworthy influence"), named apart because they
answer different questions:

- **detectable**: the estimator's p-value of "the influence is 0" (with common random numbers a
  paired difference across seeds) survives Benjamini-Hochberg control of the false discovery
  rate across the entities of one table: the effect of the deletion is real;
- **above the noise**: |influence| exceeds the noise floor, the ``quantile`` (0.95) of
  |metric(seed a) - metric(seed b)| over the S(S-1)/2 pairs of baseline seeds (numpy's
  ``higher`` method: with fewer than 21 pairs, the largest): the effect is larger than what a
  change of seed does to the deployed model.

A third, when the study runs the size-matched random-rows control (:func:`versus_control`):

- **differs from random rows**: the paired difference, seed by seed, between deleting the entity
  and deleting as many random training rows survives Benjamini-Hochberg: the entity matters as
  that entity, not merely as so many rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .stats import benjamini_hochberg, mean_confidence_interval, mean_p_value, samples_for_reliability, spearman_brown


def wide(influence: pd.DataFrame) -> pd.DataFrame:
    """One row per entity, one influence column per metric."""
    return influence.pivot(index="entity", columns="metric", values="influence")


def rank_entities(influence: pd.DataFrame, names: pd.DataFrame, metric: str, n: int = 10) -> pd.DataFrame:
    """The ``n`` most and ``n`` least influential entities by ``metric``, with their raw ids
    (and titles where known) and number of training rows; with the confidence interval and the
    ``detectable``, ``above_noise`` and ``differs_from_random_rows`` flags (:func:`flag_significance`,
    :func:`flag_versus_control`) where the table has them."""
    flags = ("ci_low", "ci_high", "detectable", "above_noise", "random_rows_influence", "differs_from_random_rows")
    extra = [c for c in flags if c in influence.columns and influence[c].notna().any()]
    table = influence.loc[influence["metric"] == metric, ["entity", "n_train_rows", "influence", *extra]]
    table = table.sort_values(["influence", "entity"], ascending=[False, True], ignore_index=True)
    parts = []
    for label, rows in (("most", table.head(n)), ("least", table.tail(n).iloc[::-1])):
        rows = rows.assign(group=label, rank=np.arange(1, len(rows) + 1))
        parts.append(rows)
    ranked = pd.concat(parts, ignore_index=True)
    ranked = ranked.join(names, on="entity")
    ranked.insert(0, "metric", metric)
    return ranked[["metric", "group", "rank", "entity", *names.columns, "n_train_rows", "influence", *extra]]


def summarise_pruning(table: pd.DataFrame, selection_seeds=()) -> pd.DataFrame:
    """Per (size, selection, metric): mean, standard deviation, number of runs (draws x seeds) and
    95% t confidence interval of the relative change; ``same_seed_mean`` over the runs whose
    seed is one of ``selection_seeds`` (those the influence was measured with) and
    ``fresh_seed_mean`` over the others (NaN where there are none)."""
    keys = ["kind", "size", "selection", "metric"]
    same = table["seed"].isin(np.atleast_1d(selection_seeds))
    summary = table.groupby(keys, sort=True)["relative_change_pct"].agg(mean="mean", sd="std", runs="count")
    summary["ci_low"], summary["ci_high"] = mean_confidence_interval(summary["mean"], summary["sd"], summary["runs"])
    summary["same_seed_mean"] = table[same].groupby(keys)["relative_change_pct"].mean()
    summary["fresh_seed_mean"] = table[~same].groupby(keys)["relative_change_pct"].mean()
    return summary.reset_index()


def extremes(values: pd.Series, n: int) -> tuple[set, set]:
    """The ``n`` largest and the ``n`` smallest values' index labels (ties broken by label, as
    in :func:`rank_entities`)."""
    ordered = pd.DataFrame({"value": values.to_numpy(), "label": values.index}).sort_values(
        ["value", "label"], ascending=[False, True]
    )
    return set(ordered["label"].head(n)), set(ordered["label"].tail(n))


def ranking_agreement(rankings: dict[str, pd.Series], n: int) -> pd.DataFrame:
    """For every pair of rankings (one value per entity each): Spearman and Kendall correlation
    on the entities both hold, and the overlap of their ``n`` largest (``top_overlap``) and
    ``n`` smallest (``bottom_overlap``) sets as a share of ``n``; ``chance_overlap`` is the
    share expected of two random sets (n / entities)."""
    names = list(rankings)
    rows = []
    for a_index, a in enumerate(names):
        for b in names[a_index + 1 :]:
            joined = pd.concat([rankings[a].rename("a"), rankings[b].rename("b")], axis=1, join="inner").dropna()
            enough = len(joined) > 2
            spearman = stats.spearmanr(joined["a"], joined["b"]).statistic if enough else np.nan
            kendall = stats.kendalltau(joined["a"], joined["b"]).statistic if enough else np.nan
            size = min(n, len(joined) // 2)  # the top and bottom sets never share an entity
            top_a, bottom_a = extremes(joined["a"], size)
            top_b, bottom_b = extremes(joined["b"], size)
            with np.errstate(invalid="ignore", divide="ignore"):
                overlaps = (
                    np.array([len(top_a & top_b), len(bottom_a & bottom_b), size * size / max(len(joined), 1)]) / size
                )
            rows.append((a, b, len(joined), spearman, kendall, size, *overlaps))
    return pd.DataFrame(
        rows,
        columns=["a", "b", "entities", "spearman", "kendall", "n", "top_overlap", "bottom_overlap", "chance_overlap"],
    )


def metric_agreement(influence: pd.DataFrame, n: int = 10, metrics=None) -> pd.DataFrame:
    """How much the choice of metric changes who counts as influential: :func:`ranking_agreement`
    between the influence rankings of one model under every pair of ``metrics`` (default: every
    metric in the table)."""
    table = wide(influence)
    metrics = [m for m in (metrics or influence["metric"].unique()) if m in table.columns]
    agreement = ranking_agreement({m: table[m] for m in metrics}, n)
    return agreement.rename(columns={"a": "metric_a", "b": "metric_b"})


def model_agreement(influences: dict[str, pd.DataFrame], metric: str, n: int = 10) -> pd.DataFrame:
    """Spearman and Kendall correlation of the entities' influence between every pair of models
    (on the entities both measured), and the overlap of their top-``n`` and bottom-``n`` sets
    (:func:`ranking_agreement`)."""
    names = sorted(influences)
    agreement = ranking_agreement({name: wide(influences[name])[metric] for name in names}, n)
    agreement.insert(0, "metric", metric)
    return agreement.rename(columns={"a": "model_a", "b": "model_b"})


def noise_floor(values: pd.DataFrame, quantile: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The seed-to-seed noise of every metric, from :func:`seed_baselines` values.

    Returns a summary per (part, metric): ``seeds``, ``mean`` and ``sd`` (ddof 1) across seeds,
    ``pairs``, ``max_difference`` and ``noise_floor`` (the ``quantile`` of the absolute
    pairwise differences, numpy ``higher`` method: with fewer than 1 / (1 - quantile) + 1 pairs,
    the largest); and the table of seed pairs (part, metric, seed_a, seed_b, difference)."""
    pairs, rows = [], []
    for (part, metric), group in values.groupby(["part", "metric"], sort=False):
        by_seed = group.set_index("seed")["value"]
        seeds = list(by_seed.index)
        differences = [
            (part, metric, a, b, abs(by_seed[a] - by_seed[b])) for i, a in enumerate(seeds) for b in seeds[i + 1 :]
        ]
        pairs += differences
        gaps = np.array([d[-1] for d in differences])
        floor = float(np.quantile(gaps, quantile, method="higher")) if len(gaps) else np.nan
        rows.append(
            (
                part,
                metric,
                len(seeds),
                by_seed.mean(),
                by_seed.std(ddof=1),
                len(gaps),
                gaps.max() if len(gaps) else np.nan,
                floor,
            )
        )
    summary = pd.DataFrame(
        rows, columns=["part", "metric", "seeds", "mean", "sd", "pairs", "max_difference", "noise_floor"]
    )
    return summary, pd.DataFrame(pairs, columns=["part", "metric", "seed_a", "seed_b", "difference"])


def flag_significance(
    influence: pd.DataFrame, floor: pd.DataFrame, part: str = "evaluation", fdr: float = 0.05
) -> pd.DataFrame:
    """The influence table with ``detectable`` (its ``p_value`` rejected by Benjamini-Hochberg at
    false discovery rate ``fdr`` among the entities of each metric), the ``noise_floor`` of each
    metric on ``part`` (a :func:`noise_floor` summary) and ``above_noise``: |influence| > it."""
    floors = floor.loc[floor["part"] == part].set_index("metric")["noise_floor"]
    flagged = influence.assign(noise_floor=influence["metric"].map(floors))
    flagged["above_noise"] = flagged["influence"].abs() > flagged["noise_floor"]
    flagged["detectable"] = False
    for _, rows in flagged.groupby("metric", sort=False):
        flagged.loc[rows.index, "detectable"] = benjamini_hochberg(rows["p_value"].to_numpy(), fdr)
    return flagged


def versus_control(by_seed: pd.DataFrame, control_by_seed: pd.DataFrame, fdr: float = 0.05) -> pd.DataFrame:
    """Entity deletion against the size-matched random-rows control, paired seed by seed on the
    seeds both have (``by_seed`` tables: entity, seed, metric, influence). Per (entity, metric):
    the mean of the control, the mean paired difference (entity minus control) with its 95%
    interval and p-value over ``seeds``, and ``differs``: Benjamini-Hochberg at ``fdr`` across the
    entities of each metric (never with fewer than 2 seeds)."""
    keys = ["entity", "seed", "metric"]
    paired = by_seed[[*keys, "influence"]].merge(
        control_by_seed[[*keys, "influence"]].rename(columns={"influence": "control"}), on=keys, validate="1:1"
    )
    paired["difference"] = paired["influence"] - paired["control"]
    grouped = paired.groupby(["entity", "metric"], sort=False)
    table = grouped.agg(
        seeds=("seed", "size"),
        influence=("influence", "mean"),
        control=("control", "mean"),
        difference=("difference", "mean"),
        sd=("difference", "std"),
    ).reset_index()
    table["ci_low"], table["ci_high"] = mean_confidence_interval(table["difference"], table["sd"], table["seeds"])
    table["p_value"] = mean_p_value(table["difference"], table["sd"], table["seeds"])
    table["differs"] = False
    for _, rows in table.groupby("metric", sort=False):
        table.loc[rows.index, "differs"] = benjamini_hochberg(rows["p_value"].to_numpy(), fdr)
    return table.drop(columns="sd")


def flag_versus_control(
    flagged: pd.DataFrame, by_seed: pd.DataFrame, control_by_seed: pd.DataFrame, fdr: float = 0.05
) -> pd.DataFrame:
    """``flagged`` (:func:`flag_significance`) with ``random_rows_influence`` (the control's mean)
    and ``differs_from_random_rows`` (:func:`versus_control`) per entity and metric."""
    versus = versus_control(by_seed, control_by_seed, fdr)[["entity", "metric", "control", "differs"]]
    versus = versus.rename(columns={"control": "random_rows_influence", "differs": "differs_from_random_rows"})
    joined = flagged.merge(versus, on=["entity", "metric"], how="left", validate="1:1")
    joined["differs_from_random_rows"] = joined["differs_from_random_rows"].fillna(False).astype(bool)
    return joined


def significance_summary(flagged: pd.DataFrame) -> pd.DataFrame:
    """Per metric: entities, how many are detectable (FDR-controlled) and their share, the noise
    floor and how many are above it and their share, the mean |influence|, how many have a
    95% confidence interval that excludes zero before any correction (NaN with one sample), and
    how many differ from the random-rows control (NaN where it was not run)."""
    grouped = flagged.groupby("metric", sort=False)
    summary = grouped.agg(
        entities=("entity", "nunique"),
        detectable=("detectable", "sum"),
        noise_floor=("noise_floor", "first"),
        above_noise=("above_noise", "sum"),
        mean_abs_influence=("influence", lambda values: values.abs().mean()),
    )
    summary.insert(2, "share_detectable", summary["detectable"] / summary["entities"])
    summary["share_above_noise"] = summary["above_noise"] / summary["entities"]
    if "ci_low" in flagged.columns and flagged["ci_low"].notna().any():
        excludes = (flagged["ci_low"] > 0) | (flagged["ci_high"] < 0)
        summary["ci_excludes_zero"] = excludes.groupby(flagged["metric"], sort=False).sum()
    else:
        summary["ci_excludes_zero"] = np.nan
    if "differs_from_random_rows" in flagged.columns:
        summary["differs_from_random_rows"] = grouped["differs_from_random_rows"].sum()
        summary["share_differs_from_random_rows"] = summary["differs_from_random_rows"] / summary["entities"]
    else:
        summary["differs_from_random_rows"] = summary["share_differs_from_random_rows"] = np.nan
    return summary.reset_index()


def moved_users(
    per_user: pd.DataFrame, ranked: pd.DataFrame, metric: str, n_users: int, user_names: pd.DataFrame
) -> pd.DataFrame:
    """Whose recommendations moved: for each entity of ``ranked`` (:func:`rank_entities`), the
    ``n_users`` evaluation users whose ``metric`` changed most when it was removed (largest
    |per-user influence|; positive: that user's metric was higher with the entity), with how
    many users changed at all and the share of the total absolute change the listed users carry."""
    if metric not in per_user.columns:  # an estimator that retrains nothing (the random control)
        per_user = per_user.assign(**{metric: np.nan})
    changes = per_user.loc[per_user["entity"].isin(ranked["entity"]), ["entity", "user", metric]].dropna()
    changes = changes.assign(magnitude=changes[metric].abs()).rename(columns={metric: "change"})
    rows = []
    for entity_row in ranked.itertuples():
        mine = changes[changes["entity"] == entity_row.entity].sort_values(
            ["magnitude", "user"], ascending=[False, True]
        )
        total = mine["magnitude"].sum()
        top = mine.head(n_users)
        top = top[top["magnitude"] > 0]
        for position, user in enumerate(top.itertuples(), start=1):
            rows.append(
                (
                    entity_row.group,
                    entity_row.rank,
                    entity_row.entity,
                    entity_row.influence,
                    int((mine["magnitude"] > 0).sum()),
                    top["magnitude"].sum() / total if total else np.nan,
                    position,
                    user.user,
                    user.change,
                )
            )
    table = pd.DataFrame(
        rows,
        columns=["group", "rank", "entity", "influence", "users_moved", "top_share", "user_rank", "user", "change"],
    )
    table = table.join(user_names.add_prefix("user_"), on="user")
    table.insert(0, "metric", metric)
    return table


def seed_reproducibility(influences: dict[int, pd.DataFrame], metric: str) -> tuple[pd.Series, pd.DataFrame]:
    """How much of a single-seed influence ranking survives a change of seed.

    ``influences`` maps seed -> influence table (same entities). Returns a summary (mean
    magnitude of influence, mean per-entity standard deviation across seeds, and the mean,
    min and max seed-to-seed Spearman correlation) and the table of seed pairs."""
    by_seed = pd.concat({seed: wide(table)[metric] for seed, table in influences.items()}, axis=1).dropna()
    seeds = list(by_seed.columns)
    pairs = pd.DataFrame(
        [
            (a, b, stats.spearmanr(by_seed[a], by_seed[b]).statistic)
            for i, a in enumerate(seeds)
            for b in seeds[i + 1 :]
        ],
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


def spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The Spearman correlation of each row of ``a`` with the same row of ``b`` (average ranks
    for ties, NaN where a row is constant): scipy's ``spearmanr`` row by row, in one pass."""
    ranks = [stats.rankdata(values, axis=1) for values in (a, b)]
    ra, rb = (r - r.mean(axis=1, keepdims=True) for r in ranks)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ra * rb).sum(axis=1) / np.sqrt((ra * ra).sum(axis=1) * (rb * rb).sum(axis=1))


def split_half_reliability(
    by_seed: pd.DataFrame, metric: str, samples: int, target: float = 0.8, bootstrap: int = 500, seed: int = 0
) -> pd.Series:
    """How reliable the ranking by ``metric`` is, from the replicates of ``by_seed`` (entity,
    seed, metric, influence; ``samples`` underlying samples in all, e.g. seeds, or subsets split
    into replicates): the replicates are split into a first and a second half (the middle one
    left out when their count is odd), ``split_half`` is the Spearman correlation of the two
    halves' mean influence over the entities, ``reliability`` its Spearman-Brown correction to
    the full count (0 when the halves disagree: Spearman-Brown means nothing for a negative
    correlation), with a 95% percentile interval from ``bootstrap`` resamples of the entities,
    and ``samples_to_target`` the samples an average needs to reach ``target`` (inf when the
    halves do not agree at all)."""
    table = (
        by_seed[by_seed["metric"] == metric].pivot_table(index="entity", columns="seed", values="influence").dropna()
    )
    replicates = list(table.columns)
    half = len(replicates) // 2
    result = {"metric": metric, "replicates": len(replicates), "samples": samples}
    if half == 0 or len(table) < 3:
        return pd.Series(
            {
                **result,
                "split_half": np.nan,
                "reliability": np.nan,
                "reliability_low": np.nan,
                "reliability_high": np.nan,
                "samples_to_target": np.nan,
            }
        )
    first = table[replicates[:half]].mean(axis=1).to_numpy()
    second = table[replicates[-half:]].mean(axis=1).to_numpy()
    r_half = stats.spearmanr(first, second).statistic
    rng = np.random.default_rng(seed)
    resampled = rng.integers(0, len(table), size=(bootstrap, len(table)))
    per_block = max(1, 2**22 // len(table))  # resamples ranked at once: about 32 MB a ranked array
    boot = np.concatenate(
        [
            spearman_rows(first[rows], second[rows])
            for rows in np.split(resampled, range(per_block, bootstrap, per_block))
        ]
    )
    low, high = (
        np.nanquantile(spearman_brown(np.clip(boot, 0, None), 2), [0.025, 0.975])
        if np.isfinite(boot).any()
        else (np.nan, np.nan)
    )
    r_one = r_half / (half - (half - 1) * r_half)  # Spearman-Brown back to one replicate
    per_replicate = samples / len(replicates)
    return pd.Series(
        {
            **result,
            "split_half": r_half,
            "reliability": float(spearman_brown(max(r_half, 0.0), 2)),
            "reliability_low": low,
            "reliability_high": high,
            "samples_to_target": float(samples_for_reliability(r_one, target)) * per_replicate,
        }
    )
