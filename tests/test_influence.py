"""The deletion protocol and the influence engine on real MovieLens data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recinfluence.influence import Experiment, deletion_influence, shard_entities
from recinfluence.metrics import EvalSet, evaluate
from recinfluence.models import model_factory
from recinfluence.split import split_interactions

SMALL_SVD = {"n_factors": 10, "n_epochs": 5}
SMALL_NCF = {"factors": 4, "layers": (8, 4), "epochs": 1, "batch_size": 4096, "n_negatives": 1}


@pytest.fixture(scope="module")
def experiment(movielens, movielens_split):
    return Experiment.build(movielens, movielens_split, k=10)


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
    deletion_influence(Spy, experiment, "user", [5], seed=0, log=None)
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
    deletion_influence(Spy, experiment, "item", [49], seed=0, log=None)
    baseline, variant = Spy.seen
    assert 49 in baseline.items and 49 not in variant.items
    np.testing.assert_array_equal(variant.rows, baseline.rows[baseline.items != 49])


def test_item_exclusion_equals_evaluating_without_that_catalog_column(experiment):
    """Excluding item i must give the same metrics as a catalog that never had column i."""
    rng = np.random.default_rng(3)
    evalset = experiment.evalset
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
    excluded = deletion_influence(make, experiment, "user", [0], seed=0, protocol="exclude", log=None)
    naive = deletion_influence(make, experiment, "user", [0], seed=0, protocol="naive", log=None)
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
    result = deletion_influence(model_factory(name, params), experiment, "item", [absent], seed=0, protocol="naive", log=None)
    assert result.influence["n_train_rows"].eq(0).all()
    assert result.influence["influence"].eq(0.0).all(), result.influence
    assert np.nanmax(np.abs(result.per_user.drop(columns=["entity", "user"]).to_numpy())) == 0.0


def test_influence_sign_and_values(experiment):
    result = deletion_influence(model_factory("svd", SMALL_SVD), experiment, "user", [1, 2], seed=0, log=None)
    table = result.influence
    lower = table["metric"].isin(["rmse", "mae"])
    np.testing.assert_allclose(table.loc[~lower, "influence"], table.loc[~lower, "baseline"] - table.loc[~lower, "without"])
    np.testing.assert_allclose(table.loc[lower, "influence"], table.loc[lower, "without"] - table.loc[lower, "baseline"])
    assert set(table["metric"]) == {"map@10", "ndcg@10", "precision@10", "recall@10", "hit_rate@10", "rmse", "mae"}
    assert (table.loc[table["metric"] == "map@10", "influence"] != 0).all()


def test_sharding_changes_no_number(experiment):
    make = model_factory("svd", SMALL_SVD)
    entities = np.arange(7)
    whole = deletion_influence(make, experiment, "user", entities, seed=0, log=None)
    for n_shards in (2, 3, 9):
        parts = [deletion_influence(make, experiment, "user", shard_entities(entities, n_shards, s), seed=0, log=None) for s in range(n_shards)]
        influence = pd.concat([p.influence for p in parts if len(p.influence)], ignore_index=True)
        per_user = pd.concat([p.per_user for p in parts if len(p.per_user)], ignore_index=True)
        pd.testing.assert_frame_equal(influence, whole.influence)
        pd.testing.assert_frame_equal(per_user, whole.per_user)


def test_seed_is_used(experiment):
    make = model_factory("svd", SMALL_SVD)
    first = deletion_influence(make, experiment, "user", [3], seed=0, log=None).influence
    again = deletion_influence(make, experiment, "user", [3], seed=0, log=None).influence
    other = deletion_influence(make, experiment, "user", [3], seed=1, log=None).influence
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["baseline"], other["baseline"])


def test_more_shards_than_entities_gives_empty_shards():
    chunks = [shard_entities(np.arange(3), 5, s) for s in range(5)]
    assert [len(c) for c in chunks] == [1, 1, 1, 0, 0]
    assert np.concatenate(chunks).tolist() == [0, 1, 2]


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
            np.testing.assert_allclose(in_batch.params[name].numpy(), value.numpy(), atol=1e-5, err_msg=name)
        got = evaluate(in_batch.score(experiment.evalset.users), experiment.evalset, 10)
        want = evaluate(alone.score(experiment.evalset.users), experiment.evalset, 10)
        np.testing.assert_allclose(got["map@10"].mean(), want["map@10"].mean(), rtol=1e-3)
    # a deleted user's embedding keeps its initial value in its variant; the baseline trains it
    untrained = model_factory("ncf", {**SMALL_NCF, "epochs": 0})().fit(train, seed=0)
    np.testing.assert_array_equal(batched[1].params["gmf_user"][0, 4].numpy(), untrained.params["gmf_user"][0, 4].numpy())
    assert not np.array_equal(batched[0].params["gmf_user"][0, 4].numpy(), untrained.params["gmf_user"][0, 4].numpy())


def test_batched_influence_does_not_depend_on_shards(experiment):
    make = model_factory("ncf", SMALL_NCF)
    entities = np.arange(6)
    whole = deletion_influence(make, experiment, "item", entities, seed=0, variants_per_batch=2, log=None)
    parts = [
        deletion_influence(make, experiment, "item", shard_entities(entities, 3, s, block=2), seed=0, variants_per_batch=2, log=None)
        for s in range(3)
    ]
    pd.testing.assert_frame_equal(pd.concat([p.influence for p in parts], ignore_index=True), whole.influence)
