"""Racing: exact deletion with more seeds only where the k least / most are in doubt."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recinfluence.errors import InputError
from recinfluence.estimators import build_estimator
from recinfluence.estimators.base import TIMING_COLUMNS, Partial
from recinfluence.estimators.exact import ExactDeletion
from recinfluence.estimators.racing import Racing, doubtful
from recinfluence.models import model_factory
from recinfluence.retrain import Experiment, Retrainer
from recinfluence.settings import Settings

from .test_influence import SMALL_SVD


def _rows(means: dict[int, list[float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(e, s, "map@10", v) for e, values in means.items() for s, v in enumerate(values)],
        columns=["entity", "seed", "metric", "influence"],
    )


def test_an_entity_is_in_doubt_while_its_interval_holds_a_boundary():
    # means 0..9, tight intervals: k = 2 puts the boundaries at 1.5 and 7.5; nobody in doubt
    tight = {e: [e - 0.01, e + 0.01, e] for e in range(10)}
    assert len(doubtful(_rows(tight), 2)) == 0
    # entity 3 spreads over the lower boundary, entity 7 over the upper one, entity 5 over none
    wide = {**tight, 3: [0.0, 6.0, 3.0], 7: [9.0, 5.0, 7.0], 5: [4.0, 6.0, 5.0]}
    assert set(doubtful(_rows(wide), 2)) == {3, 7}
    # one seed: no interval, always in doubt; k >= entities: both sets hold everyone, nothing to race
    assert set(doubtful(_rows({e: [float(e)] for e in range(5)}), 2)) == set(range(5))
    assert len(doubtful(_rows(tight), 10)) == 0


class Synthetic(Racing):
    """A race over made-up deletions: entity e's influence at seed s is ``truth[e]`` plus noise
    of sd ``spread[e]`` keyed by (e, s); the retrains asked for are recorded."""

    truth = np.linspace(-1.0, 1.0, 20)
    spread = np.where(np.abs(np.abs(np.linspace(-1.0, 1.0, 20)) - 0.75) < 0.2, 0.1, 0.01)  # noisy near the boundaries

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.asked = []

    def run_seed(self, retrainer, kind, unit, seed, comparison="exclude"):
        self.asked += [(int(e), seed) for e in unit]
        values = [self.truth[e] + self.spread[e] * np.random.default_rng([int(e), seed]).normal() for e in unit]
        rows = pd.DataFrame(
            {
                "kind": kind,
                "entity": unit,
                "n_train_rows": 1,
                "seed": seed,
                "metric": "map@10",
                "baseline": 0.0,
                "without": 0.0,
                "influence": values,
            }
        )
        return Partial(
            rows,
            pd.DataFrame({"entity": unit, "user": 0, "map@10": values}),
            pd.DataFrame({"kind": kind, "entity": unit, "seconds": 1.0})[TIMING_COLUMNS],
        )


class Stub:
    class experiment:
        k = 10


def test_the_race_spends_seeds_where_the_sets_are_in_doubt_and_finds_the_true_sets():
    race = Synthetic(seed=100, k=3, start_seeds=2, max_seeds=30)
    partial = race.run(Stub, "user", np.arange(20), log=None)
    seeds = partial.rows.groupby("entity")["seed"].apply(sorted)
    assert all(
        list(got) == list(range(100, 100 + len(got))) for got in seeds
    )  # seed, seed + 1, ...: exact deletion's seeds
    counts = seeds.apply(len)
    quiet = Synthetic.spread < 0.1
    assert (counts[quiet] <= 3).all() and counts[~quiet].mean() > 3 * counts[quiet].mean()
    assert race.report["separated"] and race.report["retrains"] == len(race.asked) == counts.sum()
    assert race.report["uniform_retrains"] == counts.max() * 20 > race.report["retrains"]
    means = partial.rows.groupby("entity")["influence"].mean().sort_values()
    assert set(means.index[:3]) == {0, 1, 2} and set(means.index[-3:]) == {17, 18, 19}


def test_the_race_stops_within_its_budget_and_says_it_did_not_separate():
    race = Synthetic(seed=0, k=3, start_seeds=2, max_seeds=30, budget=50)
    race.run(Stub, "user", np.arange(20), log=None)
    assert race.report["retrains"] == len(race.asked) <= 50 and not race.report["separated"]


def test_racing_numbers_are_exact_deletions_numbers(movielens, movielens_split):
    experiment = Experiment.build(movielens, movielens_split, k=10)
    make = model_factory("svd", SMALL_SVD)
    entities = np.arange(12)
    raced = Racing(seed=0, k=2, start_seeds=2, max_seeds=4).estimate(
        Retrainer(make, experiment, log=None), "user", entities, log=None
    )
    exact = ExactDeletion(seed=0, seeds=4).estimate(Retrainer(make, experiment, log=None), "user", entities, log=None)
    joined = raced.by_seed.merge(
        exact.by_seed, on=["kind", "entity", "seed", "metric"], suffixes=("_raced", "_exact"), validate="1:1"
    )
    assert len(joined) == len(raced.by_seed) and (joined["influence_raced"] == joined["influence_exact"]).all()
    samples = raced.influence.groupby("entity")["samples"].first()
    assert samples.between(2, 4).all()


def test_racing_is_configured_like_any_estimator():
    estimator = build_estimator(
        "racing", {"k": 5, "metric": "auc", "start_seeds": 3, "max_seeds": 8, "budget": None}, seed=2
    )
    assert (
        isinstance(estimator, Racing) and estimator.training_seeds() == list(range(2, 10)) and estimator.metric == "auc"
    )
    config = {
        "datasets": {"a": {"loader": "movielens_100k", "path": "x"}},
        "models": {"svd": {"class": "svd"}},
        "estimators": {"racing": {"start_seeds": 1}},
    }
    with pytest.raises(InputError, match="estimators.racing.start_seeds: 1 is less than the minimum of 2"):
        Settings.from_config(config)
