"""Evaluation on a stratified sample of users (``evaluation.users``): the sample, its standard
error, the interval that adds it to the seed error, and a seeded simulation on MovieLens 100K
that the interval covers the all-users influence at the stated rate."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from recinfluence.errors import InputError
from recinfluence.estimators.base import INFLUENCE_COLUMNS, SAMPLING_COLUMNS, Partial, blocks
from recinfluence.estimators.exact import ExactDeletion
from recinfluence.estimators.random_rows import RandomRows
from recinfluence.metrics import metric_columns
from recinfluence.models import model_factory
from recinfluence.retrain import Experiment, Retrainer, rows_per_entity
from recinfluence.settings import Evaluation, Settings
from recinfluence.split import split_interactions
from recinfluence.stats import (
    ACTIVITY_STRATA,
    UserSample,
    mean_confidence_interval,
    mean_p_value,
    sample_users,
    sampled_mean_interval,
)

EASE = model_factory("ease", {"l2": 500})


def population(n: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Users with gaps in their ids and a skewed number of training rows each."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(3 * n, n, replace=False)), rng.geometric(0.02, n)


def test_the_sample_is_seeded_deterministic_and_of_the_size_asked():
    users, activity = population()
    sample = sample_users(users, activity, 100, seed=3)
    again = sample_users(users, activity, 100, seed=3)
    other = sample_users(users, activity, 100, seed=4)
    assert np.array_equal(sample.users, again.users) and np.array_equal(sample.strata, again.strata)
    assert not np.array_equal(sample.users, other.users)
    assert len(sample.users) == 100 and np.all(np.diff(sample.users) > 0) and np.isin(sample.users, users).all()
    assert len(sample_users(users, activity, 0.25, seed=0).users) == 250  # a share of the users
    assert sample_users(users, activity, None, seed=0) is None  # every user: no sample
    assert sample_users(users, activity, len(users), seed=0) is None


def test_the_sample_is_stratified_by_activity_with_proportional_allocation():
    users, activity = population()
    for size in (100, 37, 7):
        sample = sample_users(users, activity, size, seed=1)
        n_strata = min(ACTIVITY_STRATA, size // 3)
        assert len(sample.population) == n_strata and sample.population.sum() == len(users)
        assert sample.population.max() - sample.population.min() <= 1  # quantile strata: equal sizes
        taken = np.bincount(sample.strata, minlength=n_strata)
        assert np.all(np.abs(taken - size * sample.population / len(users)) < 1)  # each stratum's share, rounded
        assert taken.sum() == size and taken.min() >= 3
        sampled_activity = activity[np.searchsorted(users, sample.users)]
        for low, high in zip(range(n_strata - 1), range(1, n_strata)):  # strata in order of activity
            assert sampled_activity[sample.strata == low].max() <= sampled_activity[sample.strata == high].min()


def test_the_sample_mean_of_activity_is_unbiased_over_seeds():
    users, activity = population()
    means = [activity[np.searchsorted(users, sample_users(users, activity, 50, s).users)].mean() for s in range(400)]
    assert abs(np.mean(means) - activity.mean()) < 4 * np.std(means) / np.sqrt(len(means))


def test_the_standard_error_is_the_stratified_one_with_finite_population_correction():
    users, activity = population()
    rng = np.random.default_rng(5)
    sample = sample_users(users, activity, 120, seed=2)
    values = rng.normal(size=len(sample.users)) + sample.strata
    se, df = sample.standard_error(sample.users, values)
    weight, n = sample.population / len(users), np.bincount(sample.strata)
    s2 = np.array([values[sample.strata == h].var(ddof=1) for h in range(len(n))])
    terms = weight**2 * (1 - n / sample.population) * s2 / n
    np.testing.assert_allclose(se, np.sqrt(terms.sum()), rtol=1e-12)
    np.testing.assert_allclose(df, terms.sum() ** 2 / (terms**2 / (n - 1)).sum(), rtol=1e-12)
    # one stratum: sd / sqrt(n) x sqrt(1 - n / N), n - 1 degrees of freedom
    single = UserSample(sample.users, np.zeros(len(sample.users), dtype=np.int64), np.array([len(users)]))
    se, df = single.standard_error(single.users, values)
    expected = values.std(ddof=1) / np.sqrt(120) * np.sqrt(1 - 120 / len(users))
    assert se[0] == pytest.approx(expected, rel=1e-12) and df[0] == pytest.approx(119)
    # a metric undefined for some users: the mean over the others, whose n_D count (to first order)
    defined = rng.random(len(values)) < 0.7
    se, _ = single.standard_error(single.users, np.where(defined, values, np.nan))
    domain = values[defined]
    assert se[0] == pytest.approx(domain.std(ddof=1) / np.sqrt(len(domain)) * np.sqrt(1 - 120 / len(users)), rel=0.02)


def test_the_interval_adds_the_seed_and_the_sampling_error():
    mean, sd, seeds = np.array([0.3, -0.1, 0.0]), np.array([0.2, 0.1, 0.0]), np.array([4, 3, 2])
    low, high, p = sampled_mean_interval(mean, sd, seeds, np.zeros(3), np.full(3, np.nan))
    np.testing.assert_allclose(np.c_[low, high], np.c_[mean_confidence_interval(mean, sd, seeds)], rtol=1e-12)
    np.testing.assert_allclose(p, mean_p_value(mean, sd, seeds), rtol=1e-12)
    low, high, p = sampled_mean_interval(mean, np.zeros(3), seeds, np.full(3, 0.05), np.full(3, 40.0))
    np.testing.assert_allclose(high - mean, stats.t.ppf(0.975, 40) * 0.05, rtol=1e-12)
    np.testing.assert_allclose(p, 2 * stats.t.sf(np.abs(mean) / 0.05, 40), rtol=1e-12)
    # both: variances add, Welch-Satterthwaite degrees of freedom
    low, high, _ = sampled_mean_interval(0.0, 0.2, 4, 0.1, 30.0)
    a, b = 0.2**2 / 4, 0.1**2
    assert high == pytest.approx(stats.t.ppf(0.975, (a + b) ** 2 / (a**2 / 3 + b**2 / 30)) * np.sqrt(a + b))
    assert np.isnan(sampled_mean_interval(0.1, np.nan, 1, 0.05, 40.0)).all()  # one seed: the seed error is unknown
    low, high, _ = sampled_mean_interval(0.1, 0.0, 1, 0.05, 40.0)  # unless known to be 0 (a deterministic model)
    assert high - 0.1 == pytest.approx(stats.t.ppf(0.975, 40) * 0.05) and low < 0.1
    assert np.isnan(sampled_mean_interval(0.1, 0.1, 3, np.nan, np.nan)).all()  # RMSE and MAE: not estimated
    assert sampled_mean_interval(0.0, 0.0, 2, 0.0, np.nan) == (0.0, 0.0, 1.0)


def test_the_setting_is_read_with_the_studys_seed_and_checked():
    config = {"datasets": {"d": {"loader": "movielens_100k"}}, "models": {"m": {"class": "ease"}}, "seed": 7}
    settings = Settings.from_config({**config, "evaluation": {"users": 0.3}})
    assert (settings.evaluation.users, settings.evaluation.seed) == (0.3, 7)
    assert Evaluation.from_params(settings.evaluation.to_params()) == settings.evaluation
    assert Settings.from_config(dict(config)).evaluation.users is None  # default: every user
    for value, problem in ((1.5, "1.5 is not of type 'integer'"), (0, "0 is less than or equal to the minimum of 0")):
        with pytest.raises(InputError, match="evaluation.users: " + problem):
            Settings.from_config({**config, "evaluation": {"users": value}})


def test_every_part_and_seed_shares_the_sample(movielens):
    heldout = split_interactions(len(movielens.frame), 0.25, seed=0, protocol="heldout")
    validation, test = (
        Experiment.build(movielens, heldout, part, users=200, seed=1) for part in ("evaluation", "test")
    )
    assert np.array_equal(validation.evalset.users, validation.sample.users) and len(validation.sample.users) == 200
    common = np.intersect1d(validation.sample.users, test.sample.users)
    # permanent random numbers: most of the users sampled in one part are sampled in the other,
    # where two independent samples would share about 200 / 943 of them
    assert len(common) > 0.6 * 200
    paper = split_interactions(len(movielens.frame), 0.25, seed=0, protocol="paper")
    evaluation, test = (Experiment.build(movielens, paper, part, users=200, seed=1) for part in ("evaluation", "test"))
    assert np.array_equal(evaluation.sample.users, test.sample.users)


@pytest.fixture(scope="module")
def full(movielens, movielens_split):
    """Exact deletion of the 4 most active users and the 4 most popular items on every
    evaluation user (EASE: deterministic, so the all-users value is exact)."""
    experiment = Experiment.build(movielens, movielens_split, k=10)
    retrainer = Retrainer(EASE, experiment, log=None)
    results = {}
    for kind in ("user", "item"):
        entities = np.sort(np.argsort(-rows_per_entity(experiment.train, kind), kind="stable")[:4])
        results[kind] = ExactDeletion(seeds=1).estimate(retrainer, kind, entities, log=None)
    return experiment, results


class Replay(ExactDeletion):
    """Exact deletion on a sample of users, replayed from every user's changes on the full
    evaluation set (a user's metrics do not depend on who else is evaluated: checked against a
    real sampled run below), through exact deletion's own sampling errors and reduction."""

    value_columns = ()

    def __init__(self, result, seeds: int = 2):
        super().__init__(seeds=seeds)
        self.result = result

    def work_units(self, retrainer, entities):
        return [np.asarray(entities)]

    def run(self, retrainer, kind, unit, comparison="exclude"):
        per_user = self.result.per_user
        per_user = per_user[per_user["entity"].isin(unit) & per_user["user"].isin(retrainer.experiment.sample.users)]
        influence = per_user.groupby("entity", sort=False)[metric_columns(per_user)].mean()  # the mean over users
        rows = influence.reset_index().melt(id_vars="entity", var_name="metric", value_name="influence")
        rows_of = self.result.influence.drop_duplicates("entity").set_index("entity")["n_train_rows"]
        rows = rows.assign(kind=kind, n_train_rows=rows["entity"].map(rows_of))
        rows = pd.concat([rows.assign(seed=seed) for seed in self.seeds], ignore_index=True)
        return Partial(rows, per_user, pd.DataFrame({"kind": kind, "entity": unit, "seconds": 0.0}))


def replayed(result, kind, sample) -> pd.DataFrame:
    retrainer = SimpleNamespace(experiment=SimpleNamespace(sample=sample), deterministic=False)
    return Replay(result).estimate(retrainer, kind, result.influence["entity"].unique(), log=None).influence


def test_a_sampled_run_averages_every_users_change_over_the_sample(movielens, movielens_split, full):
    experiment, results = full
    sampled = Experiment.build(movielens, movielens_split, k=10, users=150, seed=1)
    activity = rows_per_entity(experiment.train, "user")[experiment.evalset.users]
    assert np.array_equal(sampled.sample.users, sample_users(experiment.evalset.users, activity, 150, 1).users)
    retrainer = Retrainer(EASE, sampled, log=None)
    for kind, result in results.items():
        entities = result.influence["entity"].unique()
        if kind == "user":  # one deleted user in the sample: left out of his own comparison
            entities = np.union1d(entities, sampled.sample.users[:1])
            result = ExactDeletion(seeds=1).estimate(Retrainer(EASE, experiment, log=None), kind, entities, log=None)
        run = ExactDeletion(seeds=2).estimate(retrainer, kind, entities, log=None)
        assert list(run.influence.columns) == [*INFLUENCE_COLUMNS, *ExactDeletion.value_columns, *SAMPLING_COLUMNS]
        assert set(run.per_user["user"]) <= set(sampled.sample.users)
        if kind == "user":
            own = run.per_user[run.per_user["entity"] == sampled.sample.users[0]]
            assert len(own) == 149 and sampled.sample.users[0] not in set(own["user"])
        keys = ["entity", "metric"]
        expected = replayed(result, kind, sampled.sample).set_index(keys).sort_index()
        got = run.influence.set_index(keys).sort_index()
        columns = ["influence", "ci_low", "ci_high", "p_value", *SAMPLING_COLUMNS]
        pd.testing.assert_frame_equal(got[columns], expected[columns], rtol=1e-9, atol=1e-12)
        assert got["sampling_se"].notna().all() and (got["ci_low"] <= got["influence"]).all()


def test_a_deterministic_models_one_seed_interval_is_its_sampling_error(movielens, movielens_split, full):
    """EASE has no seed noise: with one seed on a sample of users its interval is the sampling
    error's alone; the random-rows control, whose seed draws the rows, still needs two seeds."""
    experiment, results = full
    sampled = Retrainer(EASE, Experiment.build(movielens, movielens_split, k=10, users=150, seed=1), log=None)
    entities = results["item"].influence["entity"].unique()
    run = ExactDeletion(seeds=1).estimate(sampled, "item", entities, log=None).influence
    ranked = run[run["metric"] == "auc"]
    assert (ranked["influence_sd"] == 0).all() and ranked["sampling_se"].gt(0).all()
    half = stats.t.ppf(0.975, ranked["sampling_df"]) * ranked["sampling_se"]
    np.testing.assert_allclose(ranked["ci_high"] - ranked["influence"], half, rtol=1e-12)
    np.testing.assert_allclose(ranked["influence"] - ranked["ci_low"], half, rtol=1e-12)
    control = RandomRows(seeds=1).estimate(sampled, "item", entities[:1], log=None).influence
    assert control["ci_low"].isna().all() and control["influence_sd"].isna().all()


def test_without_sampling_the_tables_are_those_of_every_user(movielens, movielens_split, full):
    experiment, results = full
    everyone = Experiment.build(movielens, movielens_split, k=10, users=len(experiment.evalset.users), seed=1)
    assert everyone.sample is None and experiment.sample is None
    entities = blocks(results["item"].influence["entity"].unique(), 2)[0]
    again = ExactDeletion(seeds=1).estimate(Retrainer(EASE, everyone, log=None), "item", entities, log=None)
    before = results["item"].influence[results["item"].influence["entity"].isin(entities)].reset_index(drop=True)
    pd.testing.assert_frame_equal(again.influence, before)
    assert list(again.influence.columns) == [*INFLUENCE_COLUMNS, *ExactDeletion.value_columns]


def test_the_interval_covers_the_all_users_influence_at_the_stated_rate(full):
    """The seeded simulation: for 200 sample seeds, a sample of 40% of the 943 evaluation users,
    each of 8 deletions' influence on 4 metrics with its 95% interval (2 seeds of deterministic
    EASE: the seed error is 0, the interval is the sampling error's), against the value on every
    user. The intervals of one seed share its sample; seeds are independent."""
    experiment, results = full
    users = experiment.evalset.users
    activity = rows_per_entity(experiment.train, "user")[users]
    truth = pd.concat([result.influence for result in results.values()]).set_index(["kind", "entity", "metric"])
    runs = []
    for seed in range(200):
        sample = sample_users(users, activity, 0.4, seed)
        runs += [replayed(result, kind, sample) for kind, result in results.items()]
    runs = pd.concat(runs).join(truth["influence"].rename("truth"), on=["kind", "entity", "metric"])
    runs = runs[runs["metric"].isin(["map@10", "ndcg@10", "recall@10", "auc"])]
    runs["covered"] = (runs["ci_low"] <= runs["truth"]) & (runs["truth"] <= runs["ci_high"])
    series = runs.groupby(["kind", "entity", "metric"]).agg(
        mean=("influence", "mean"), sd=("influence", "std"), se=("sampling_se", "mean"), truth=("truth", "first")
    )
    series["bias"] = (series["mean"] - series["truth"]) / series["sd"]
    coverage = runs["covered"].mean()
    ratio = series["se"] / series["sd"]
    worst_bias = series["bias"].abs().max()
    print(f"coverage {coverage:.4f}, se / sd {ratio.min():.2f} to {ratio.max():.2f}, |bias| / sd <= {worst_bias:.3f}")
    # the reported standard error is the spread of the estimate over samples (the latter known to ~5%)
    assert ratio.between(0.8, 1.25).all(), series
    # unbiased: the mean over 200 independent samples is the all-users value, within its own error
    assert (series["bias"].abs() < 4 / np.sqrt(200)).all(), series
    # near 95%: a t interval of a mean of heavy-tailed per-user changes (a deletion moves a few
    # users' top 10) undercovers a little; without the finite population correction (x1.29 here)
    # the coverage is 98%
    assert abs(coverage - 0.95) < 0.025, coverage


def test_the_summary_says_the_evaluation_was_sampled():
    from recinfluence.summary import _sampled_text

    assert _sampled_text(None) == ""
    assert "a sample of 1,000 of the evaluation users" in _sampled_text(1000)
    assert "a sample of 40% of the evaluation users" in _sampled_text(0.4)
