"""The size-matched random-rows control of exact deletion, and the paired test against it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from recinfluence.analysis import versus_control
from recinfluence.estimators import ESTIMATORS, build_estimator
from recinfluence.estimators.exact import ExactDeletion
from recinfluence.estimators.random_rows import RandomRows
from recinfluence.models import model_factory
from recinfluence.retrain import Experiment, Retrainer

from .test_influence import SMALL_NCF, SMALL_SVD, Spy


@pytest.fixture(scope="module")
def experiment(movielens, movielens_split):
    return Experiment.build(movielens, movielens_split, k=10)


@pytest.mark.parametrize("kind", ["user", "item"])
def test_each_variant_deletes_as_many_random_rows_of_other_entities_keyed_by_seed_and_entity(experiment, kind):
    train = experiment.train
    column = train.users if kind == "user" else train.items
    Spy.seen.clear()
    RandomRows(seed=3).estimate(Retrainer(Spy, experiment), kind, [7, 2, 40], log=None)
    baseline, *variants = Spy.seen
    assert len(baseline) == len(train)
    for entity, variant in zip([7, 2, 40], variants):
        removed = np.setdiff1d(train.rows, variant.rows)
        assert len(removed) == (column == entity).sum() > 0
        assert not np.isin(removed, np.flatnonzero(column == entity)).any()  # the entity keeps its rows
        assert np.array_equal(variant.item_catalog, train.item_catalog)  # no item leaves the catalog
        # the same rows whatever the unit or the other entities asked for; another seed, others
        assert np.array_equal(removed, RandomRows.rows(train, kind, entity, 3))
        assert not np.array_equal(removed, RandomRows.rows(train, kind, entity, 4))
    assert len({tuple(RandomRows.rows(train, kind, entity, 3)[:5]) for entity in (7, 2, 40)}) == 3


def test_it_is_compared_on_what_deleting_the_entity_leaves(experiment):
    result = RandomRows(seed=0).estimate(
        Retrainer(model_factory("svd", SMALL_SVD), experiment, log=None), "user", [0, 1], log=None
    )
    assert set(result.per_user.loc[result.per_user["entity"] == 0, "user"]) == set(experiment.evalset.users) - {0}
    exact = ExactDeletion(seed=0).estimate(
        Retrainer(model_factory("svd", SMALL_SVD), experiment, log=None), "user", [0, 1], log=None
    )
    joined = result.influence.merge(exact.influence, on=["entity", "metric"], suffixes=("_rows", "_exact"))
    assert (joined["baseline_rows"] == joined["baseline_exact"]).all()  # the same baseline, the same users
    assert (joined["influence_rows"] != joined["influence_exact"]).any()


@pytest.mark.parametrize("name,params", [("svd", SMALL_SVD), ("ncf", SMALL_NCF)])
def test_an_entity_without_training_rows_deletes_nothing(movielens, movielens_split, name, params):
    experiment = Experiment.build(movielens, movielens_split, k=10)
    absent = int(np.flatnonzero(np.bincount(experiment.train.items, minlength=movielens.n_items) == 0)[0])
    result = RandomRows(seed=0).estimate(
        Retrainer(model_factory(name, params), experiment, 4, log=None), "item", [1, absent, 2], "naive", log=None
    )
    mine = result.influence[result.influence["entity"] == absent]
    assert mine["n_train_rows"].eq(0).all() and mine["influence"].eq(0.0).all()
    assert (result.influence.loc[result.influence["entity"] != absent, "influence"] != 0).any()


def test_batched_numbers_do_not_depend_on_the_batch(experiment):
    make = model_factory("ncf", SMALL_NCF)
    together = (
        RandomRows(seed=0).estimate(Retrainer(make, experiment, 4, log=None), "user", [3, 5, 8], log=None).influence
    )
    alone = RandomRows(seed=0).estimate(Retrainer(make, experiment, 1, log=None), "user", [5], log=None).influence
    pd.testing.assert_frame_equal(together[together["entity"] == 5].reset_index(drop=True), alone, check_exact=True)


def test_it_is_an_estimator_of_the_workflow():
    assert ESTIMATORS["random_rows"].path == "recinfluence.estimators.random_rows:RandomRows"
    estimator = build_estimator("random_rows", {"seeds": 3}, seed=5)
    assert isinstance(estimator, RandomRows) and estimator.training_seeds() == [5, 6, 7]


def _by_seed(values: dict[int, list[float]], metric="map@10") -> pd.DataFrame:
    return pd.DataFrame(
        [(entity, seed, metric, value) for entity, series in values.items() for seed, value in enumerate(series)],
        columns=["entity", "seed", "metric", "influence"],
    )


def test_versus_control_pairs_seed_by_seed_and_controls_the_false_discovery_rate():
    rng = np.random.default_rng(0)
    control = {entity: list(rng.normal(0, 1, 8)) for entity in range(40)}
    entity = {e: [c + (5.0 if e < 3 else 0.0) + rng.normal(0, 0.5) for c in series] for e, series in control.items()}
    table = versus_control(_by_seed(entity), _by_seed(control), fdr=0.05).set_index("entity")
    assert table["seeds"].eq(8).all()
    for e in (0, 10, 25):
        expected = stats.ttest_rel(entity[e], control[e])
        assert table.loc[e, "p_value"] == pytest.approx(expected.pvalue, rel=1e-9)
        assert table.loc[e, "difference"] == pytest.approx(np.mean(np.subtract(entity[e], control[e])))
        assert table.loc[e, "ci_low"] < table.loc[e, "difference"] < table.loc[e, "ci_high"]
    assert set(table.index[table["differs"]]) == {0, 1, 2}  # the three real effects, and no false discovery here


def test_versus_control_uses_only_the_seeds_both_have_and_never_flags_a_single_seed():
    table = versus_control(
        _by_seed({0: [1.0, 2.0, 3.0], 1: [0.5, 0.5, 0.5]}), _by_seed({0: [0.0], 1: [0.0]})
    ).set_index("entity")
    assert table["seeds"].eq(1).all() and table["p_value"].isna().all() and not table["differs"].any()
