"""The analyses behind the summary (recinfluence.analysis, recinfluence.summary) on purposely
built data with known answers: noise floor and significance, repeated-seed influence and its
confidence interval, pruning over seeds with controls, metric and model agreement, whose
metrics moved, and the summary's claims table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from recinfluence.analysis import (
    flag_significance,
    metric_agreement,
    model_agreement,
    moved_users,
    noise_floor,
    ranking_agreement,
    significance_summary,
    spearman_rows,
    split_half_reliability,
    summarise_pruning,
)
from recinfluence.estimators.exact import ExactDeletion
from recinfluence.metrics import EvalSet, aggregate
from recinfluence.models import TrainSet
from recinfluence.pruning import ORACLE, attack_impact, prune_and_retrain
from recinfluence.retrain import Experiment, Retrainer, seed_baselines
from recinfluence.settings import Settings
from recinfluence.stats import (
    benjamini_hochberg,
    mean_confidence_interval,
    mean_p_value,
    samples_for_reliability,
    spearman_brown,
)
from recinfluence.summary import study_summary

from .studies import SMALL_CONFIG

# ---------------------------------------------------------------------------------------------
# A small synthetic study: 12 users, 15 items, every user rates 8 items; 3 of them are held out.


@pytest.fixture(scope="module")
def experiment() -> Experiment:
    rng = np.random.default_rng(7)
    rows = [(u, i, float(rng.integers(1, 6))) for u in range(12) for i in rng.choice(15, size=8, replace=False)]
    frame = pd.DataFrame(rows, columns=["user", "item", "rating"])
    held_out = np.zeros(len(frame), dtype=bool)
    held_out[np.arange(len(frame)).reshape(12, 8)[:, :3].ravel()] = True
    train_rows, eval_rows = np.flatnonzero(~held_out), np.flatnonzero(held_out)
    train = TrainSet.from_frame(frame.iloc[train_rows], 12, 15)
    return Experiment(train=train, evalset=EvalSet.build(frame, train_rows, eval_rows, 15, 4.0), k=3)


class SeededPopularity:
    """Scores every item by its number of training rows plus a per-item jitter keyed by
    (seed, item id): common random numbers, and a seed that matters. Records every fit."""

    fits: list = []
    rating_scale = None

    def fit(self, train, seed):
        SeededPopularity.fits.append((seed, train))
        jitter = np.random.default_rng(seed).normal(scale=0.7, size=train.n_items)
        self.scores = np.bincount(train.items, minlength=train.n_items) + jitter
        return self

    def score(self, users):
        return np.tile(self.scores, (len(users), 1))


# ---------------------------------------------------------------------------------------------
# Noise floor and significance


def seed_values(values, metric="map@10", part="evaluation"):
    return pd.DataFrame({"part": part, "seed": range(len(values)), "metric": metric, "value": values})


def test_noise_floor_with_few_pairs_is_the_largest_seed_difference():
    summary, pairs = noise_floor(seed_values([1.0, 1.1, 1.3, 1.6, 2.0]), quantile=0.95)
    row = summary.iloc[0]
    assert (row["seeds"], row["pairs"]) == (5, 10)
    assert row["mean"] == pytest.approx(1.4)
    assert row["sd"] == pytest.approx(np.sqrt(0.66 / 4))
    assert row["noise_floor"] == pytest.approx(1.0) and row["max_difference"] == pytest.approx(1.0)
    assert len(pairs) == 10 and pairs["difference"].min() == pytest.approx(0.1)
    assert set(zip(pairs["seed_a"], pairs["seed_b"])) == {(a, b) for a in range(5) for b in range(a + 1, 5)}


def test_noise_floor_is_the_upper_quantile_of_seed_pair_differences():
    # seeds 0..6 with values 0..6: 21 pairs, differences 1 (x6), 2 (x5), 3 (x4), 4 (x3), 5 (x2), 6 (x1).
    # The 95% quantile (position 0.95 * 20 = 19 of the sorted differences) is 5, below the largest.
    summary, _ = noise_floor(seed_values([0.0, 1, 2, 3, 4, 5, 6]), quantile=0.95)
    assert summary["pairs"].item() == 21
    assert summary["noise_floor"].item() == 5.0
    assert summary["max_difference"].item() == 6.0
    # a lower quantile gives a lower floor: position 0.5 * 20 = 10 is a difference of 2
    assert noise_floor(seed_values([0.0, 1, 2, 3, 4, 5, 6]), quantile=0.5)[0]["noise_floor"].item() == 2.0


def test_noise_floor_is_per_part_and_metric():
    values = pd.concat(
        [
            seed_values([0.10, 0.12, 0.11], "map@10", "evaluation"),
            seed_values([0.20, 0.26, 0.21], "map@10", "test"),
            seed_values([0.90, 0.90, 0.94], "rmse", "evaluation"),
        ]
    )
    floors = noise_floor(values)[0].set_index(["part", "metric"])["noise_floor"]
    assert floors[("evaluation", "map@10")] == pytest.approx(0.02)
    assert floors[("test", "map@10")] == pytest.approx(0.06)
    assert floors[("evaluation", "rmse")] == pytest.approx(0.04)


def influence_table(values: dict[str, list[float]], p_values=None) -> pd.DataFrame:
    """A tidy influence table: entity e has influence values[metric][e] (and p-value p_values[metric][e])."""
    p_values = p_values or {m: [np.nan] * len(vs) for m, vs in values.items()}
    return pd.DataFrame(
        [("user", e, 10, m, 0.0, 0.0, v, p_values[m][e]) for m, vs in values.items() for e, v in enumerate(vs)],
        columns=["kind", "entity", "n_train_rows", "metric", "baseline", "without", "influence", "p_value"],
    )


def test_above_the_noise_means_above_the_noise_floor_of_the_evaluation_split():
    influence = influence_table({"map@10": [0.5, -2.0, 1.0, -1.5, 0.0], "rmse": [0.01, 0.03, -0.05, 0.0, 0.02]})
    floor = pd.DataFrame(
        {
            "part": ["evaluation", "evaluation", "test"],
            "metric": ["map@10", "rmse", "map@10"],
            "noise_floor": [1.0, 0.02, 100.0],
        }
    )
    flagged = flag_significance(influence, floor)
    by_metric = {m: group.set_index("entity")["above_noise"].tolist() for m, group in flagged.groupby("metric")}
    assert by_metric["map@10"] == [False, True, False, True, False]  # |1.0| is not above a floor of 1.0
    assert by_metric["rmse"] == [False, True, True, False, False]
    assert not flagged["detectable"].any()  # one sample: no p-value, nothing detectable
    summary = significance_summary(flagged).set_index("metric")
    assert summary.loc["map@10", "above_noise"] == 2 and summary.loc["map@10", "share_above_noise"] == pytest.approx(
        0.4
    )
    assert summary.loc["map@10", "mean_abs_influence"] == pytest.approx(1.0)
    assert summary.loc["rmse", "noise_floor"] == 0.02
    assert summary["ci_excludes_zero"].isna().all()  # one seed: no interval
    with_ci = flagged.assign(ci_low=flagged["influence"] - 0.6, ci_high=flagged["influence"] + 0.6)
    assert significance_summary(with_ci).set_index("metric").loc["map@10", "ci_excludes_zero"] == 3  # -2.0, 1.0, -1.5


def test_detectable_controls_the_false_discovery_rate_per_metric():
    p = {"map@10": [0.001, 0.04, 0.03, 0.2, 0.5], "rmse": [0.01, 0.011, 0.012, 0.9, np.nan]}
    influence = influence_table({m: [0.1] * 5 for m in p}, p)
    floor = pd.DataFrame({"part": "evaluation", "metric": ["map@10", "rmse"], "noise_floor": [1.0, 1.0]})
    flagged = flag_significance(influence, floor, fdr=0.05)
    detectable = {m: group["detectable"].tolist() for m, group in flagged.groupby("metric")}
    # map@10: sorted 0.001 <= 0.01, 0.03 > 0.02, 0.04 > 0.03: only the first (0.03 alone would pass unadjusted)
    assert detectable["map@10"] == [True, False, False, False, False]
    # rmse, 4 tests (NaN is none): 0.012 <= 0.0375: the three smallest
    assert detectable["rmse"] == [True, True, True, False, False]
    summary = significance_summary(flagged).set_index("metric")
    assert summary.loc["rmse", "detectable"] == 3 and summary.loc["rmse", "share_detectable"] == pytest.approx(0.6)


def test_benjamini_hochberg_matches_scipy():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(size=80), rng.uniform(0, 0.002, size=20)])
    adjusted = stats.false_discovery_control(p, method="bh")
    np.testing.assert_array_equal(benjamini_hochberg(p, 0.05), adjusted <= 0.05)


def test_p_value_is_the_one_sample_t_test():
    values = np.array([0.3, -0.1, 0.4, 0.2])
    expected = stats.ttest_1samp(values, 0.0).pvalue
    assert mean_p_value(values.mean(), values.std(ddof=1), 4) == pytest.approx(expected)
    assert np.isnan(mean_p_value(0.3, np.nan, 1))
    assert mean_p_value(0.0, 0.0, 3) == 1.0 and mean_p_value(0.2, 0.0, 3) == 0.0


def test_split_half_reliability_recovers_a_known_reliability():
    """Entities with true values of sd 1 and replicates with noise of sd 2: one replicate has
    reliability 1 / (1 + 4) = 0.2; 16 replicates 16 * 0.2 / (1 + 15 * 0.2) = 0.8."""
    rng = np.random.default_rng(3)
    truth = rng.normal(size=2000)
    replicates = truth[:, None] + rng.normal(scale=2.0, size=(2000, 16))
    by_seed = pd.DataFrame(
        [(e, s, "map@10", replicates[e, s]) for e in range(2000) for s in range(16)],
        columns=["entity", "seed", "metric", "influence"],
    )
    result = split_half_reliability(by_seed, "map@10", samples=16, bootstrap=200)
    assert result["replicates"] == 16
    assert result["reliability"] == pytest.approx(0.8, abs=0.04)  # Spearman on normal data: close to Pearson
    assert result["reliability_low"] < result["reliability"] < result["reliability_high"]
    assert result["samples_to_target"] == pytest.approx(16, rel=0.3)
    assert spearman_brown(0.1, 16) == pytest.approx(0.64, abs=0.01) and spearman_brown(0.1, 36) == pytest.approx(0.8)
    assert samples_for_reliability(0.1) == pytest.approx(36) and samples_for_reliability(-0.2) == np.inf
    disagreeing = by_seed.assign(influence=np.where(by_seed["seed"] < 8, 1, -1) * by_seed["influence"])
    worst = split_half_reliability(disagreeing, "map@10", samples=16, bootstrap=50)
    assert worst["split_half"] < -0.5 and worst["reliability"] == 0.0 and worst["samples_to_target"] == np.inf


def test_spearman_rows_is_scipys_spearman_row_by_row():
    from scipy import stats

    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, size=(30, 12)).astype(float)  # many ties
    b = a + rng.normal(size=a.shape)
    a[0], b[1] = 2.0, 7.0  # constant rows: no correlation
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = [stats.spearmanr(x, y).statistic for x, y in zip(a, b)]
    np.testing.assert_allclose(spearman_rows(a, b), expected, rtol=0, atol=1e-12)
    assert np.isnan(spearman_rows(a, b)[:2]).all()


# ---------------------------------------------------------------------------------------------
# Repeated seeds per deletion


def test_confidence_interval_matches_scipy():
    values = np.array([0.3, -0.1, 0.4, 0.2])
    low, high = mean_confidence_interval(values.mean(), values.std(ddof=1), len(values))
    expected = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    assert (low, high) == pytest.approx(expected)
    assert np.isnan(mean_confidence_interval(0.3, np.nan, 1)).all()


def exact(experiment, entities, seed=0, seeds=1):
    retrainer = Retrainer(SeededPopularity, experiment, log=None)
    return ExactDeletion(seed=seed, seeds=seeds).estimate(retrainer, "user", entities, log=None)


def test_one_seed_is_that_seeds_paired_difference(experiment):
    single = exact(experiment, [0, 3, 5], seed=4)
    table = single.influence
    np.testing.assert_array_equal(table["influence"], table["baseline"] - table["without"] + 0.0)
    assert (table["samples"] == 1).all() and table["ci_low"].isna().all() and table["influence_sd"].isna().all()
    pd.testing.assert_frame_equal(
        single.by_seed[["entity", "metric", "influence"]], table[["entity", "metric", "influence"]]
    )
    assert (single.by_seed["seed"] == 4).all()


def test_repeated_seeds_average_paired_differences(experiment):
    seeds = [0, 1, 2]
    runs = [exact(experiment, [1, 2, 6], seed=seed).influence for seed in seeds]
    result = exact(experiment, [1, 2, 6], seed=0, seeds=3)
    per_seed = np.stack([run["influence"].to_numpy() for run in runs])
    assert not np.allclose(per_seed[0], per_seed[1])  # the seed matters for this model
    np.testing.assert_allclose(result.influence["influence"], per_seed.mean(axis=0))
    np.testing.assert_allclose(result.influence["baseline"], np.mean([run["baseline"] for run in runs], axis=0))
    sd = per_seed.std(axis=0, ddof=1)
    half = stats.t.ppf(0.975, 2) * sd / np.sqrt(3)
    np.testing.assert_allclose(result.influence["ci_low"], per_seed.mean(axis=0) - half)
    np.testing.assert_allclose(result.influence["ci_high"], per_seed.mean(axis=0) + half)
    by_seed = result.by_seed.pivot_table(index=["entity", "metric"], columns="seed", values="influence")
    assert list(by_seed.columns) == seeds and len(by_seed) == len(runs[0])


# ---------------------------------------------------------------------------------------------
# Pruning over seeds, with controls


def test_pruning_removes_the_right_sets_and_retrains_each_with_every_seed(experiment):
    influence = influence_table({"map@3": [0.3, -0.2, 0.1, 0.5, -0.4, 0.0, 0.2, -0.1]})
    SeededPopularity.fits.clear()
    table = prune_and_retrain(
        Retrainer(SeededPopularity, experiment, log=None), influence, "user", "map@3", [2, 3], 2, seeds=[5, 6]
    )
    # per seed: one baseline, then (least, most, 2 random) x 2 sizes
    assert [seed for seed, _ in SeededPopularity.fits] == [5] * 9 + [6] * 9
    removed = [sorted(set(experiment.train.users) - set(train.users)) for _, train in SeededPopularity.fits]
    assert removed[0] == [] and removed[9] == []
    assert removed[1] == [1, 4] and removed[2] == [0, 3]  # size 2: least (-0.4, -0.2) and most (0.5, 0.3) influential
    assert removed[5] == [1, 4, 7] and removed[6] == [0, 3, 6]  # size 3
    assert removed[1:9] == removed[10:18]  # the same sets, random draws included, for every seed
    assert removed[3] != removed[4]  # two different random draws
    assert set(table["seed"]) == {5, 6}
    assert len(table) == 2 * 8 * table["metric"].nunique()
    np.testing.assert_allclose(
        table["relative_change_pct"], 100 * (table["pruned"] - table["baseline"]) / table["baseline"]
    )
    # a removed user is left out of both sides: the baseline differs between pruning sets
    least = table[(table["selection"] == "least influential") & (table["metric"] == "map@3")]
    most = table[(table["selection"] == "most influential") & (table["metric"] == "map@3")]
    assert not np.allclose(least["baseline"].to_numpy(), most["baseline"].to_numpy())


class Popularity(SeededPopularity):
    """SeededPopularity with the seed ignored: a deterministic model."""

    deterministic = True

    def fit(self, train, seed):
        return super().fit(train, 0)


def test_pruning_retrains_a_deterministic_model_once_for_every_seed(experiment):
    influence = influence_table({"map@3": [0.3, -0.2, 0.1, 0.5, -0.4, 0.0, 0.2, -0.1]})
    SeededPopularity.fits.clear()
    table = prune_and_retrain(
        Retrainer(Popularity, experiment, log=None), influence, "user", "map@3", [2], 2, [5, 6, 7]
    )
    assert len(SeededPopularity.fits) == 1 + 4  # one baseline and least, most, 2 random: not per seed
    by_seed = [part.drop(columns="seed").reset_index(drop=True) for _, part in table.groupby("seed")]
    assert len(by_seed) == 3 and all(part.equals(by_seed[0]) for part in by_seed)
    SeededPopularity.fits.clear()
    # what the first seed alone gives (the random draws are seeded by the first seed)
    one_seed = prune_and_retrain(Retrainer(Popularity, experiment, log=None), influence, "user", "map@3", [2], 2, [5])
    pd.testing.assert_frame_equal(one_seed.drop(columns="seed"), by_seed[0])
    # and the attack's impact: one fit per removal
    SeededPopularity.fits.clear()
    removals = {"as is": [], "without two": [0, 1]}
    impact = attack_impact(Retrainer(Popularity, experiment, log=None), [0, 1], removals, [5, 6], np.arange(12))
    assert len(SeededPopularity.fits) == 2
    by_seed = [part.drop(columns="seed").reset_index(drop=True) for _, part in impact.groupby("seed")]
    assert len(by_seed) == 2 and by_seed[0].equals(by_seed[1])


def test_pruning_items_leaves_them_out_of_the_catalog(experiment):
    influence = influence_table({"map@3": list(np.linspace(-1, 1, 15))}).assign(kind="item")
    SeededPopularity.fits.clear()
    table = prune_and_retrain(
        Retrainer(SeededPopularity, experiment, log=None), influence, "item", "map@3", [2], 1, seeds=[0]
    )
    _, least_train = SeededPopularity.fits[1]
    assert set(experiment.train.items) - set(least_train.items) == {0, 1}
    assert not least_train.item_catalog[[0, 1]].any()
    assert set(table["selection"]) == {"least influential", "most influential", "random"}


def test_the_planted_users_are_the_oracle_row_at_their_own_count(experiment):
    influence = influence_table({"map@3": [0.3, -0.2, 0.1, 0.5, -0.4, 0.0, 0.2, -0.1]})
    SeededPopularity.fits.clear()
    table = prune_and_retrain(
        Retrainer(SeededPopularity, experiment, log=None),
        influence,
        "user",
        "map@3",
        [2],
        1,
        seeds=[0],
        planted=[5, 6, 7],
    )
    removed = [sorted(set(experiment.train.users) - set(train.users)) for _, train in SeededPopularity.fits]
    # the baseline; size 2: least, most, random; size 3 (the planted count): oracle, least, most, random
    assert removed[4] == [5, 6, 7] and removed[5] == [1, 4, 7]
    oracle = table[table["selection"] == ORACLE]
    assert set(oracle["size"]) == {3} and set(table["size"]) == {2, 3}
    without = prune_and_retrain(
        Retrainer(SeededPopularity, experiment, log=None), influence, "user", "map@3", [2], 1, seeds=[0]
    )
    assert ORACLE not in set(without["selection"])


def test_attack_impact_ranks_the_target_among_real_users_candidates(experiment):
    """SeededPopularity recommends the most rated items first: removing the users who rated the
    target lowers it in everyone else's ranking, and the ranks match a direct count."""
    target = int(np.bincount(experiment.train.items, minlength=15).argmax())
    raters = np.unique(experiment.train.users[experiment.train.items == target])
    real = np.arange(12)[~np.isin(np.arange(12), [11])]  # user 11 stands for a planted user: never judged
    retrainer = Retrainer(SeededPopularity, experiment, log=None)
    impact = attack_impact(retrainer, [target], {"as is": [], "without its raters": raters}, [0], real).set_index(
        "removal"
    )
    assert impact.loc["without its raters", "mean_rank"] > impact.loc["as is", "mean_rank"]
    model = retrainer.fit(0)
    dense = experiment.evalset.dense()
    scores = np.where(dense.seen, -np.inf, model.score(dense.users))
    judged = np.isin(dense.users, real) & ~dense.seen[:, target]
    ranks = 1 + (scores[judged] > scores[judged, target][:, None]).sum(axis=1)
    assert impact.loc["as is", "users"] == judged.sum()
    assert impact.loc["as is", "mean_rank"] == pytest.approx(ranks.mean())
    assert impact.loc["as is", "hit_rate@3"] == pytest.approx(np.mean(ranks <= 3))


def test_pruning_summary_has_a_confidence_interval_and_separates_the_selection_seed():
    rows = [
        ("user", 10, "least influential", 0, seed, "map@10", 1.0, 1.0 + value / 100)
        for seed, value in enumerate([1.0, 2.0, 3.0])
    ]
    rows += [("user", 10, "random", draw, seed, "map@10", 1.0, 1.0) for draw in range(2) for seed in range(3)]
    table = pd.DataFrame(rows, columns=["kind", "size", "selection", "draw", "seed", "metric", "baseline", "pruned"])
    table["relative_change_pct"] = 100 * (table["pruned"] - table["baseline"]) / table["baseline"]
    summary = summarise_pruning(table, selection_seeds=[0]).set_index("selection")
    least = summary.loc["least influential"]
    assert least["mean"] == pytest.approx(2.0) and least["sd"] == pytest.approx(1.0) and least["runs"] == 3
    half = stats.t.ppf(0.975, 2) / np.sqrt(3)
    assert (least["ci_low"], least["ci_high"]) == pytest.approx((2.0 - half, 2.0 + half))
    assert least["same_seed_mean"] == pytest.approx(1.0) and least["fresh_seed_mean"] == pytest.approx(2.5)
    random = summary.loc["random"]
    assert random["runs"] == 6 and random["mean"] == 0 and random["ci_low"] == 0 and random["ci_high"] == 0


# ---------------------------------------------------------------------------------------------
# Metric and model agreement


def test_ranking_agreement_known_answers():
    a = pd.Series(np.arange(10.0))
    same_order = a * 3 + 1
    reverse = -a
    swapped = a.copy()
    swapped[[9, 7]] = swapped[[7, 9]].to_numpy()  # top-2 of a is {9, 8}; of swapped, {7, 8}
    table = ranking_agreement({"a": a, "same": same_order, "reverse": reverse, "swapped": swapped}, n=2).set_index(
        ["a", "b"]
    )
    assert table.loc[("a", "same"), ["spearman", "kendall", "top_overlap", "bottom_overlap"]].tolist() == pytest.approx(
        [1.0, 1.0, 1.0, 1.0]
    )
    assert table.loc[
        ("a", "reverse"), ["spearman", "kendall", "top_overlap", "bottom_overlap"]
    ].tolist() == pytest.approx([-1.0, -1.0, 0.0, 0.0])
    assert table.loc[("a", "swapped"), "top_overlap"] == 0.5 and table.loc[("a", "swapped"), "bottom_overlap"] == 1.0
    assert table.loc[("a", "swapped"), "spearman"] == pytest.approx(stats.spearmanr(a, swapped).statistic)
    assert (table["chance_overlap"] == 0.2).all() and (table["entities"] == 10).all()


def test_ranking_agreement_uses_the_entities_both_rankings_hold():
    table = ranking_agreement(
        {"a": pd.Series([1.0, 2, 3, 4], index=[0, 1, 2, 3]), "b": pd.Series([1.0, 2, 3], index=[1, 2, 3])}, n=5
    )
    assert table["entities"].item() == 3 and table["n"].item() == 1  # top and bottom sets of 1 of 3 entities
    assert table["spearman"].item() == pytest.approx(1.0)


def test_metric_agreement_compares_the_rankings_of_one_model_under_each_metric():
    values = np.array([0.3, -0.2, 0.1, 0.5, -0.4, 0.0])
    influence = influence_table({"map@10": values, "ndcg@10": 2 * values, "rmse": -values})
    table = metric_agreement(influence, n=2).set_index(["metric_a", "metric_b"])
    assert table.loc[("map@10", "ndcg@10"), "spearman"] == pytest.approx(1.0)
    assert table.loc[("map@10", "rmse"), "kendall"] == pytest.approx(-1.0)
    assert table.loc[("map@10", "rmse"), "top_overlap"] == 0.0


def test_model_agreement_names_the_models_and_reports_overlaps():
    values = np.array([0.3, -0.2, 0.1, 0.5, -0.4, 0.0])
    influences = {"svd": influence_table({"map@10": values}), "ncf": influence_table({"map@10": values[::-1]})}
    table = model_agreement(influences, "map@10", n=1)
    assert table[["metric", "model_a", "model_b"]].iloc[0].tolist() == ["map@10", "ncf", "svd"]
    expected = stats.spearmanr(values[::-1], values).statistic
    assert table["spearman"].item() == pytest.approx(expected)
    assert table["top_overlap"].item() == 0.0  # svd's most influential is entity 3, ncf's is entity 2


# ---------------------------------------------------------------------------------------------
# Seed baselines and whose metrics moved


def test_seed_baselines_fit_once_per_seed_and_evaluate_every_split(experiment):
    other = Experiment(train=experiment.train, evalset=experiment.evalset, k=5)  # a second "split": other K
    SeededPopularity.fits.clear()
    values, per_user = seed_baselines(SeededPopularity, {"evaluation": experiment, "test": other}, [3, 4])
    assert [seed for seed, _ in SeededPopularity.fits] == [3, 4]
    model = SeededPopularity().fit(experiment.train, 4)
    expected = aggregate(experiment.evaluate(model))
    got = values[(values["part"] == "evaluation") & (values["seed"] == 4)].set_index("metric")["value"]
    pd.testing.assert_series_equal(got, expected, check_names=False)
    assert set(values.loc[values["part"] == "test", "metric"]) >= {"map@5", "ndcg@5"}
    assert set(per_user[["part", "seed"]].itertuples(index=False, name=None)) == {
        ("evaluation", 3),
        ("evaluation", 4),
        ("test", 3),
        ("test", 4),
    }


def test_moved_users_lists_the_users_whose_metric_changed_most():
    per_user = pd.DataFrame(
        {
            "entity": [7, 7, 7, 7, 9, 9],
            "user": [1, 2, 3, 4, 1, 2],
            "map@10": [0.5, -0.2, 0.0, np.nan, 0.0, 0.0],
        }
    )
    ranked = pd.DataFrame({"group": ["most", "least"], "rank": [1, 1], "entity": [7, 9], "influence": [0.1, -0.05]})
    names = pd.DataFrame({"raw_id": ["u1", "u2", "u3", "u4"]}, index=pd.Index([1, 2, 3, 4], name="id"))
    table = moved_users(per_user, ranked, "map@10", 2, names)
    assert table["user"].tolist() == [1, 2]  # entity 9 moved nobody
    assert table["change"].tolist() == [0.5, -0.2]
    assert table["user_raw_id"].tolist() == ["u1", "u2"]
    assert (table["users_moved"] == 2).all() and (table["top_share"] == 1.0).all()
    one = moved_users(per_user, ranked, "map@10", 1, names)
    assert one["user"].tolist() == [1] and one["top_share"].item() == pytest.approx(0.5 / 0.7)


# ---------------------------------------------------------------------------------------------
# Config defaults and the summary


def test_optional_keys_get_the_schema_defaults():
    config = yaml.safe_load(SMALL_CONFIG.read_text())
    del config["noise"], config["estimators"], config["report"]["moved_users"]
    settings = Settings.from_config(config)
    assert (settings.noise.seeds, settings.noise.quantile) == (5, 0.95)
    assert list(settings.estimators) == ["exact"] and settings.estimators["exact"].params == {"seeds": 1}
    assert settings.report.moved_users == 10 and settings.report.top_n == 3
    assert config["estimators"] == {"exact": {"seeds": 1}}  # the defaults are filled in, as Snakemake's validate does
    kept = Settings.from_config(yaml.safe_load(SMALL_CONFIG.read_text()))
    assert kept.noise.seeds == yaml.safe_load(SMALL_CONFIG.read_text())["noise"]["seeds"]


def _summary_tables(protocol: str = "heldout") -> dict:
    """One model's pruning, noise floor and significance tables, as the summary reads them."""
    pruning = pd.DataFrame(
        [
            ("user", 10, "least influential", "map@10", 4.0, 1.0, 5, 3.0, 7.0, 5.5, 3.8),
            ("user", 10, "most influential", "map@10", -9.0, 1.0, 5, -10.0, -8.0, -9.0, -9.0),
            ("user", 10, "random", "map@10", 0.1, 1.0, 25, -0.5, 0.7, 0.2, 0.1),
        ],
        columns=[
            "kind",
            "size",
            "selection",
            "metric",
            "mean",
            "sd",
            "runs",
            "ci_low",
            "ci_high",
            "same_seed_mean",
            "fresh_seed_mean",
        ],
    )
    pruning = pruning.assign(dataset="ml-100k", protocol=protocol, model="ncf", estimator="exact")
    floor = pd.DataFrame(
        {
            "part": ["evaluation", "test"],
            "metric": "map@10",
            "seeds": 5,
            "mean": [0.04, 0.05],
            "sd": 0.002,
            "pairs": 10,
            "max_difference": 0.006,
            "noise_floor": [0.004, 0.005],
        }
    ).assign(dataset="ml-100k", protocol=protocol, model="ncf")
    significance = pd.DataFrame(
        {"metric": ["map@10"], "entities": [40], "noise_floor": [0.004], "above_noise": [3], "detectable": [1]}
    )
    significance = significance.assign(
        dataset="ml-100k", protocol=protocol, model="ncf", estimator="exact", kind="user"
    )
    return {"pruning": pruning, "noise_floor": floor, "significance": significance}


def test_summary_sets_the_paper_claim_beside_ours_with_noise_and_random_control():
    config = yaml.safe_load(SMALL_CONFIG.read_text())
    config["prune"]["sizes"] = [5, 10]
    settings = Settings.from_config(config)
    tables = _summary_tables()
    pruning, floor, significance = tables["pruning"], tables["noise_floor"], tables["significance"]
    text = study_summary(settings, {"pruning": pruning, "noise_floor": floor, "significance": significance})
    claim = next(line for line in text.splitlines() if "18.49%" in line and "| ncf" in line)
    cells = [cell.strip() for cell in claim.strip("|").split("|")]
    assert cells[1:6] == ["+18.49%", "ml-100k", "ncf", "heldout", "exact"]
    assert cells[6] == "+4.00% [+3.00, +7.00] (n=5)" and cells[7] == "+5.50%"
    assert cells[8] == "+0.10% [-0.50, +0.70] (n=25)" and cells[9].startswith("-9.00%")
    assert cells[10] == "+/-10.00%"  # test noise floor 0.005 of a test mean of 0.05
    assert cells[11] == "above random"
    assert "3 of 40 (8%)" in text and "1 of 40 (2%)" in text
    assert "**above the noise** when its absolute value exceeds the noise floor" in text and "**detectable**" in text
    assert "negative control" in text  # the small config has the random estimator
    assert "Not measured for" not in text  # and two seeds for each estimator
    assert (
        "beats removing 10 random users (disjoint 95% intervals) for: ncf / exact (heldout); for the other 0 of 1"
        in text
    )
    assert "differ from random rows" not in text  # no random-rows control in these tables
    # the least influential inside the random control's interval: said plainly; the random-rows count shown
    overlapping = pruning.assign(ci_low=pruning["ci_low"].where(pruning["selection"] != "least influential", 0.5))
    counted = significance.assign(differs_from_random_rows=[2])
    text = study_summary(settings, {"pruning": overlapping, "noise_floor": floor, "significance": counted})
    assert (
        "**For no model, protocol and estimator does removing the 10 least influential users beat removing 10 random "
        "users**" in text
    )
    assert "2 of 40 (5%)" in text and "users differ from random rows" in text


def test_summary_says_which_ids_were_deleted():
    config = yaml.safe_load(SMALL_CONFIG.read_text())
    config["influence"]["limit"] = {"user": 6, "item": None}
    config["models"]["svd"]["limit"] = {"user": 3}
    first = study_summary(Settings.from_config(config), _summary_tables())
    assert "influence of users: the first 6 ids, items: all;" in first and "users: the first 3 ids)" in first
    config["influence"]["sample"] = "random"
    drawn = study_summary(Settings.from_config(config), _summary_tables())
    assert "influence of users: 6 ids at random, items: all;" in drawn and "users: 3 ids at random)" in drawn


def test_summary_sets_the_protocols_side_by_side():
    config = yaml.safe_load(SMALL_CONFIG.read_text())
    config["prune"]["sizes"] = [5, 10]
    settings = Settings.from_config(config)
    both = [_summary_tables(protocol) for protocol in ("paper", "heldout")]
    text = study_summary(settings, {name: pd.concat([tables[name] for tables in both]) for name in both[0]})
    claims = [line for line in text.splitlines() if "18.49%" in line and "| ncf" in line]
    assert sorted(line.strip("|").split("|")[4].strip() for line in claims) == ["heldout", "paper"]
    assert (
        "for: ncf / exact (paper), ncf / exact (heldout)" in text
        or "ncf / exact (heldout), ncf / exact (paper)" in text
    )


def test_the_summary_tables_show_the_studys_own_influence_metric():
    """A study ranked by AUC (not one of the paper's metrics) sees AUC in its reliability table."""
    config = yaml.safe_load(SMALL_CONFIG.read_text())
    reproducibility = pd.DataFrame(
        {
            "metric": ["auc", "map@10", "hit_rate@10"],
            "entities": 16,
            "samples": 4,
            "mean_abs_influence": 1e-5,
            "per_entity_sd_across_seeds": 1e-5,
            "spearman_mean": [0.19, 0.13, 0.05],
            "reliability": [0.51, 0.44, 0.20],
            "reliability_low": 0.0,
            "reliability_high": 0.9,
            "samples_to_target": 15.0,
        }
    ).assign(dataset="ml-100k", protocol="heldout", model="svd", estimator="exact", kind="user")
    for primary, shown in (("auc", True), ("map", False)):
        settings = Settings.from_config({**config, "primary_metric": primary})
        text = study_summary(settings, {"reproducibility": reproducibility})
        reliability = text[text.index("## 6.") :]
        assert ("| auc " in reliability) == shown and "| map@10 " in reliability, primary
        assert "| hit_rate@10 " not in reliability
        assert ("show map, ndcg, precision, recall, rmse, auc (" in text) == shown


def test_summary_says_whether_influence_finds_the_planted_users():
    settings = Settings.from_config(yaml.safe_load(SMALL_CONFIG.read_text()))
    key = dict(dataset="average", protocol="heldout", model="svd", estimator="exact")
    detection = pd.DataFrame(
        {
            "method": ["influence (auc)", "influence (map@10)", "rdma", "degsim", "profile_size"],
            "metric": ["auc", "map@10", np.nan, np.nan, np.nan],  # the baselines' is empty (NaN once read back)
            "roc_auc": [0.95, 0.55, 0.80, 0.70, 0.50],
            "roc_auc_low": [0.91, 0.45, 0.72, 0.60, 0.40],
            "roc_auc_high": [0.98, 0.65, 0.88, 0.80, 0.60],
            "precision_at_n": [0.7, 0.1, 0.4, 0.3, 0.0],
            "n_planted": 28,
            "n_entities": 971,
        }
    ).assign(**key)
    text = study_summary(settings, {"detection": detection})
    assert "## 7. Planted data: does influence find it?" in text
    assert (
        "- average / heldout / svd / exact: best influence ranking influence (auc), ROC-AUC 0.950 [0.910, 0.980]; "
        "best baseline 0.800: **beats every baseline**." in text
    )
    weaker = detection.assign(roc_auc_low=detection["roc_auc_low"].where(detection["metric"] != "auc", 0.75))
    assert "does not beat the best baseline." in study_summary(settings, {"detection": weaker})
    assert "## 7." not in study_summary(settings, {})


def test_the_reliability_figure_says_when_there_is_nothing_to_measure(tmp_path):
    from recinfluence import plots

    rows = pd.DataFrame(
        {
            "estimator": ["exact", "random"],
            "cpu_seconds": [500.0, 0.0],
            "samples": [1, 4],
            "reliability": [np.nan, 0.1],
            "reliability_low": [np.nan, -0.2],
            "reliability_high": [np.nan, 0.4],
        }
    )
    for chosen in (rows, rows.iloc[:1]):  # one estimator measured, and none
        plots.reliability(chosen, "map@10", "title", [tmp_path / "figure.png"])
        assert (tmp_path / "figure.png").read_bytes()[:4] == b"\x89PNG"
