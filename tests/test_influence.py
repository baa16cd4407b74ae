"""The deletion protocol, the retrain utility and the exact-deletion estimator on real MovieLens data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recinfluence.estimators.base import shard_units
from recinfluence.estimators.exact import ExactDeletion
from recinfluence.metrics import EvalSet, evaluate
from recinfluence.models import model_factory
from recinfluence.retrain import Experiment, Retrainer, entity_list
from recinfluence.split import split_interactions

SMALL_SVD = {"n_factors": 10, "n_epochs": 5}
SMALL_NCF = {"factors": 4, "layers": (8, 4), "epochs": 1, "batch_size": 4096, "n_negatives": 1}


@pytest.fixture(scope="module")
def experiment(movielens, movielens_split):
    return Experiment.build(movielens, movielens_split, k=10)


def exact(make, experiment, kind, entities, seed=0, comparison="exclude", variants_per_batch=16, seeds=1):
    """Exact deletion of ``entities`` in one process, as the workflow's shards do together."""
    retrainer = Retrainer(make, experiment, variants_per_batch)
    return ExactDeletion(seed=seed, seeds=seeds).estimate(retrainer, kind, entities, comparison, log=None)


def sharded(make, experiment, kind, entities, n_shards, variants_per_batch=16):
    """The same, cut into ``n_shards`` shards, each in a fresh retrainer (as in its own job)."""
    estimator = ExactDeletion()
    units = estimator.work_units(Retrainer(make, experiment, variants_per_batch), entities)
    partials = []
    for shard in range(n_shards):
        retrainer = Retrainer(make, experiment, variants_per_batch)
        partials.append(estimator.run_units(retrainer, kind, shard_units(units, n_shards, shard), log=None))
    return estimator.reduce(kind, partials)


class Spy:
    """Records the training rows it is given; scores by item popularity."""

    seen = []
    rating_scale = None

    def fit(self, train, seed):
        Spy.seen.append(train)
        self.counts = np.bincount(train.items, minlength=train.n_items).astype(float)
        return self

    def score(self, users):
        return np.tile(self.counts, (len(users), 1))


def test_deleted_user_has_no_training_row_and_nothing_else_changes(experiment):
    Spy.seen.clear()
    exact(Spy, experiment, "user", [5], seed=0)
    baseline, variant = Spy.seen
    assert 5 in baseline.users and 5 not in variant.users
    kept = baseline.users != 5
    # exactly the baseline's rows minus the deleted ones, in the same relative order
    np.testing.assert_array_equal(variant.rows, baseline.rows[kept])
    np.testing.assert_array_equal(variant.items, baseline.items[kept])
    np.testing.assert_array_equal(variant.ratings, baseline.ratings[kept])
    assert (variant.n_users, variant.n_items) == (baseline.n_users, baseline.n_items)


def test_deleted_item_has_no_training_row(experiment):
    Spy.seen.clear()
    exact(Spy, experiment, "item", [49], seed=0)
    baseline, variant = Spy.seen
    assert 49 in baseline.items and 49 not in variant.items
    np.testing.assert_array_equal(variant.rows, baseline.rows[baseline.items != 49])


def test_item_exclusion_equals_evaluating_without_that_catalog_column(experiment):
    """Excluding item i must give the same metrics as a catalog that never had column i."""
    rng = np.random.default_rng(3)
    evalset = experiment.evalset.dense()
    scores = rng.normal(size=evalset.seen.shape)
    item = int(np.argmax(evalset.relevant.sum(axis=0)))  # the item relevant to most users
    scores[:, item] = 100.0  # and recommended first to everyone
    excluded = evaluate(scores, evalset, 10, (1, 5), excluded_items=[item])
    keep = np.arange(scores.shape[1]) != item
    reduced = EvalSet(evalset.users, evalset.seen[:, keep], evalset.rating[:, keep], evalset.relevant[:, keep])
    expected = evaluate(scores[:, keep], reduced, 10, (1, 5))
    pd.testing.assert_frame_equal(excluded, expected)
    assert not excluded.equals(evaluate(scores, evalset, 10, (1, 5)))


def test_user_protocols(experiment):
    make = model_factory("svd", SMALL_SVD)
    excluded = exact(make, experiment, "user", [0], seed=0, comparison="exclude")
    naive = exact(make, experiment, "user", [0], seed=0, comparison="naive")
    assert 0 not in set(excluded.per_user["user"])
    assert 0 in set(naive.per_user["user"])
    assert len(naive.per_user) == len(excluded.per_user) + 1


@pytest.mark.parametrize("name,params", [("svd", SMALL_SVD), ("ncf", SMALL_NCF)])
def test_entity_without_training_rows_has_zero_influence(movielens, name, params):
    # An item that only appears in the test part: deleting it deletes nothing.
    split = split_interactions(len(movielens.frame), 0.25, seed=0)
    experiment = Experiment.build(movielens, split, k=10)
    counts = np.bincount(experiment.train.items, minlength=movielens.n_items)
    absent = int(np.flatnonzero(counts == 0)[0])
    result = exact(model_factory(name, params), experiment, "item", [absent], seed=0, comparison="naive")
    assert result.influence["n_train_rows"].eq(0).all()
    assert result.influence["influence"].eq(0.0).all(), result.influence
    assert np.nanmax(np.abs(result.per_user.drop(columns=["entity", "user"]).to_numpy())) == 0.0


def test_influence_sign_and_values(experiment):
    result = exact(model_factory("svd", SMALL_SVD), experiment, "user", [1, 2], seed=0)
    table = result.influence
    lower = table["metric"].isin(["rmse", "mae"])
    np.testing.assert_allclose(
        table.loc[~lower, "influence"], table.loc[~lower, "baseline"] - table.loc[~lower, "without"]
    )
    np.testing.assert_allclose(
        table.loc[lower, "influence"], table.loc[lower, "without"] - table.loc[lower, "baseline"]
    )
    assert set(table["metric"]) == {
        "map@10",
        "ndcg@10",
        "precision@10",
        "recall@10",
        "hit_rate@10",
        "auc",
        "rmse",
        "mae",
    }
    assert (table.loc[table["metric"] == "map@10", "influence"] != 0).all()


def test_sharding_changes_no_number(experiment):
    make = model_factory("svd", SMALL_SVD)
    entities = np.arange(7)
    whole = exact(make, experiment, "user", entities, seed=0)
    for n_shards in (2, 3, 9):
        parts = sharded(make, experiment, "user", entities, n_shards)
        for table in ("influence", "by_seed", "per_user", "timing"):
            if table != "timing":
                pd.testing.assert_frame_equal(getattr(parts, table), getattr(whole, table))
        assert parts.timing["entity"].tolist() == list(entities)


def test_seed_is_used(experiment):
    make = model_factory("svd", SMALL_SVD)
    first = exact(make, experiment, "user", [3], seed=0).influence
    again = exact(make, experiment, "user", [3], seed=0).influence
    other = exact(make, experiment, "user", [3], seed=1).influence
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["baseline"], other["baseline"])


def test_more_shards_than_units_gives_empty_shards():
    units = [np.array([0, 1]), np.array([2, 3]), np.array([4])]
    chunks = [shard_units(units, 5, s) for s in range(5)]
    assert [len(c) for c in chunks] == [1, 1, 1, 0, 0]
    assert np.concatenate([unit for chunk in chunks for unit in chunk]).tolist() == [0, 1, 2, 3, 4]


def test_batched_variant_equals_the_same_variant_trained_alone(experiment):
    """The batched NCF path is the solo algorithm with stacked parameters: a variant trained
    among others matches itself trained alone (float tolerance), down to the metrics."""
    make = model_factory("ncf", SMALL_NCF)
    train = experiment.train
    variants = [train, train.without("user", 4), train.without("item", 49), train.without("user", [7, 8])]
    batched = make().fit_many(variants, seed=0)
    for variant, in_batch in zip(variants[1:], batched[1:]):
        alone = make().fit(variant, seed=0)
        for name, value in alone.params.items():
            # not bitwise: alone, the deleted rows leave their mini-batches; in a batch they are masked
            np.testing.assert_allclose(in_batch.params[name].numpy(), value.numpy(), atol=1e-6, err_msg=name)
        got = evaluate(in_batch.score(experiment.evalset.users), experiment.evalset, 10)
        want = evaluate(alone.score(experiment.evalset.users), experiment.evalset, 10)
        np.testing.assert_allclose(got["map@10"].mean(), want["map@10"].mean(), rtol=1e-3)
    # a deleted user's embedding keeps its initial value in its variant; the baseline trains it
    untrained = model_factory("ncf", {**SMALL_NCF, "epochs": 0})().fit(train, seed=0)
    np.testing.assert_array_equal(
        batched[1].params["gmf_user"][0, 4].numpy(), untrained.params["gmf_user"][0, 4].numpy()
    )
    assert not np.array_equal(batched[0].params["gmf_user"][0, 4].numpy(), untrained.params["gmf_user"][0, 4].numpy())


def test_batched_influence_does_not_depend_on_shards(experiment):
    make = model_factory("ncf", SMALL_NCF)
    entities = np.arange(6)
    whole = exact(make, experiment, "item", entities, seed=0, variants_per_batch=2)
    for n_shards in (2, 3):
        parts = sharded(make, experiment, "item", entities, n_shards, variants_per_batch=2)
        pd.testing.assert_frame_equal(parts.influence, whole.influence)
        pd.testing.assert_frame_equal(parts.per_user, whole.per_user)


def test_the_baseline_of_an_unbatched_model_is_fitted_once_per_seed_and_is_the_seed_baseline(experiment):
    """Every deletion of a shard is compared with one baseline per seed, and it is the same fit
    as the baseline rule's (``seed_baselines``): bit for bit."""
    from recinfluence.retrain import seed_baselines

    Spy.seen.clear()
    retrainer = Retrainer(Spy, experiment, log=None)
    for seed in (0, 0, 1):
        retrainer.deletions("user", [[1], [2]], seed)
    full = [train for train in Spy.seen if len(train) == len(experiment.train)]
    assert len(full) == 2  # seeds 0 and 1, not once per call
    values, per_user = seed_baselines(model_factory("svd", SMALL_SVD), {"evaluation": experiment}, [0])
    compared = exact(model_factory("svd", SMALL_SVD), experiment, "user", [3], comparison="naive").influence
    for row in compared.itertuples():
        assert row.baseline == values.set_index("metric").loc[row.metric, "value"], row.metric


class CountsWithShortcut(Spy):
    """Popularity with an exact deletion shortcut: a variant's counts are the baseline's less
    the deleted rows, derived without refitting."""

    fits = 0

    def fit(self, train, seed):
        type(self).fits += 1
        return super().fit(train, seed)

    def deletion_variants(self, train, kind, deletions):
        column = train.users if kind == "user" else train.items
        for ids in deletions:
            variant = CountsWithShortcut.__new__(CountsWithShortcut)
            variant.counts = self.counts - np.bincount(train.items[np.isin(column, ids)], minlength=train.n_items)
            yield variant


def test_exact_deletion_uses_a_models_deletion_variants_and_they_equal_refits(experiment):
    CountsWithShortcut.fits = 0
    shortcut = exact(CountsWithShortcut, experiment, "user", np.arange(5))
    assert CountsWithShortcut.fits == 1  # the baseline only: every variant was derived
    refitted = exact(Spy, experiment, "user", np.arange(5))
    pd.testing.assert_frame_equal(shortcut.influence, refitted.influence)
    pd.testing.assert_frame_equal(shortcut.per_user, refitted.per_user)
    # deletions large enough to move the popularity ranking, of users and of items
    for kind, deletions in (("user", [np.arange(400), np.arange(400, 800)]), ("item", [np.arange(50), [49, 99, 120]])):
        derived = Retrainer(CountsWithShortcut, experiment, log=None).deletions(kind, deletions, 0, comparison="naive")
        fitted = Retrainer(Spy, experiment, log=None).deletions(kind, deletions, 0, comparison="naive")
        for a, b in zip(derived, fitted):
            pd.testing.assert_series_equal(a.without, b.without)
            pd.testing.assert_frame_equal(a.per_user, b.per_user)
            assert (a.baseline != a.without).any(), kind


class DeterministicCounts(CountsWithShortcut):
    deterministic = True


def test_a_deterministic_model_is_fitted_once_for_every_seed(experiment):
    """Its noise-floor baselines and its exact deletions of several seeds share one fit, and give
    what a fit per seed gives: the same numbers, a zero seed-to-seed spread."""
    from recinfluence.retrain import seed_baselines

    results = {}
    for model in (CountsWithShortcut, DeterministicCounts):
        model.fits = 0
        values, _ = seed_baselines(model, {"evaluation": experiment}, [0, 1, 2])
        baselines, model.fits = model.fits, 0
        influence = exact(model, experiment, "user", np.arange(4), seeds=3).influence
        results[model] = values, influence, baselines, model.fits
    (values, influence, baselines, fits), (once_values, once_influence, once_baselines, once_fits) = results.values()
    assert (baselines, fits) == (3, 3) and (once_baselines, once_fits) == (1, 1)
    pd.testing.assert_frame_equal(values, once_values)
    pd.testing.assert_frame_equal(influence, once_influence)
    assert (once_values.groupby("metric")["value"].nunique() == 1).all()


def test_random_control_has_the_influence_schema_and_no_information(experiment):
    from recinfluence.estimators import build_estimator
    from recinfluence.estimators.base import INFLUENCE_COLUMNS

    retrainer = Retrainer(Spy, experiment, log=None)
    estimator = build_estimator("random", {"seeds": 3, "scale": 0.01}, seed=5)
    assert estimator.training_seeds() == []
    result = estimator.estimate(retrainer, "user", np.arange(300), log=None)
    assert list(result.influence.columns) == INFLUENCE_COLUMNS
    assert set(result.by_seed["seed"]) == {5, 6, 7}
    map10 = result.influence[result.influence["metric"] == "map@10"]
    assert len(map10) == 300 and map10["samples"].eq(3).all()
    assert set(result.influence["metric"]) == {
        "map@10",
        "ndcg@10",
        "precision@10",
        "recall@10",
        "hit_rate@10",
        "auc",
    }  # Spy rates nothing
    assert abs(map10["influence"].mean()) < 0.01 * 3 / np.sqrt(300 * 3)  # centred on 0
    assert 0.8 < map10["influence_sd"].mean() / 0.01 < 1.2
    # the draws do not depend on how the entities are cut into units and shards
    again = estimator.reduce(
        "user", [estimator.run(retrainer, "user", np.arange(7)), estimator.run(retrainer, "user", np.arange(7, 300))]
    )
    pd.testing.assert_frame_equal(again.influence, result.influence)


def test_the_heldout_test_ranking_masks_every_interaction_outside_the_test_split(movielens):
    split = split_interactions(len(movielens.frame), 0.25, seed=0, protocol="heldout", valid_fraction=0.1)
    frame = movielens.frame
    for part, evaluated, other in (("test", split.test, split.valid), ("evaluation", split.valid, split.test)):
        evalset = Experiment.build(movielens, split, part=part).evalset.dense()
        position = {user: row for row, user in enumerate(evalset.users)}
        outside = frame.iloc[np.concatenate([split.train, other])]
        outside = outside[outside["user"].isin(position)]
        assert evalset.seen[outside["user"].map(position).to_numpy(), outside["item"].to_numpy()].all()
        held = frame.iloc[evaluated]
        assert not evalset.seen[
            held["user"].map(position).to_numpy(), held["item"].to_numpy()
        ].any()  # still candidates


def test_influence_is_the_same_when_evaluation_runs_in_blocks_of_users(movielens, movielens_split, experiment):
    """With 1 MB per evaluation the baseline's scores are not kept and every evaluation scores
    19 users at a time: user and item deletions give the same table, value for value."""
    blocked = Experiment.build(movielens, movielens_split, k=10, memory_mb=1)
    assert not blocked.keeps_scores() and experiment.keeps_scores()
    for kind in ("user", "item"):
        tables = [
            ExactDeletion(seed=0)
            .estimate(Retrainer(model_factory("svd", SMALL_SVD), chosen, log=None), kind, [0, 5], log=None)
            .influence
            for chosen in (experiment, blocked)
        ]
        pd.testing.assert_frame_equal(tables[1], tables[0], check_exact=True)


def test_a_limit_keeps_the_first_ids_or_a_seeded_uniform_sample():
    train = type("Ids", (), {"n_users": 10, "n_items": 4})()
    assert list(entity_list(train, "user", 3)) == [0, 1, 2]
    assert list(entity_list(train, "item", 9, "random", seed=5)) == [0, 1, 2, 3]  # a limit past the ids: all
    drawn = entity_list(train, "user", 3, "random", seed=7)
    assert len(set(drawn)) == 3 and list(drawn) == sorted(drawn) and 0 <= drawn.min() and drawn.max() < 10
    assert list(drawn) == list(entity_list(train, "user", 3, "random", seed=7))  # every shard job draws the same
    # Uniform: over 2,000 seeds every id is drawn 600 times in expectation (sd 20.5)
    counts = np.bincount(np.concatenate([entity_list(train, "user", 3, "random", seed) for seed in range(2000)]))
    assert np.abs(counts - 600).max() < 5 * 20.5, counts
    with pytest.raises(ValueError, match="sample must be one of first, random, not 'last'"):
        entity_list(train, "user", 3, "last")
