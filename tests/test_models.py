"""Recommenders (recinfluence.models): SVD backends agree, randomness is keyed by id so that a
deletion changes nothing but the deleted rows, NCF's epoch order and negatives, model_factory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from recinfluence.errors import InputError
from recinfluence.metrics import EvalSet, aggregate, evaluate
from recinfluence.models import NCF, SVD, TrainSet, model_factory
from recinfluence.models import ncf as ncf_module
from recinfluence.models.ncf import distinct_catalogs, epoch_batches, negative_candidates, pick_negatives
from recinfluence.retrain import Experiment, Retrainer
from recinfluence.split import coverage

REPO_ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("compiled", "fast", "surprise")
SMALL_NCF = dict(factors=4, layers=(16, 8), batch_size=2048, n_negatives=4)


def _busy_user(train: TrainSet) -> int:
    """A user with many training rows, not the first nor the last id."""
    counts = np.bincount(train.users, minlength=train.n_users)
    return int(np.argmax(counts[1:-1]) + 1)


def _busy_item(train: TrainSet) -> int:
    counts = np.bincount(train.items, minlength=train.n_items)
    return int(np.argmax(counts[1:-1]) + 1)


# ---------------------------------------------------------------------------------------------
# TrainSet


def test_trainset_without_user_and_item(movielens_train):
    train = movielens_train
    assert len(train) == 75_000 and train.n_full_rows == 75_000
    np.testing.assert_array_equal(train.rows, np.arange(75_000))
    user, item = _busy_user(train), _busy_item(train)

    without_user = train.without("user", user)
    keep = train.users != user
    assert len(without_user) == keep.sum() < len(train)
    np.testing.assert_array_equal(without_user.rows, np.flatnonzero(keep))
    np.testing.assert_array_equal(without_user.users, train.users[keep])
    np.testing.assert_array_equal(without_user.items, train.items[keep])
    np.testing.assert_array_equal(without_user.ratings, train.ratings[keep])
    assert (without_user.n_users, without_user.n_items, without_user.n_full_rows) == (943, 1682, 75_000)
    # the catalog is the full training set's items: deleting a user, even the only one who
    # rated some item, leaves it as it was
    catalog = np.bincount(train.items, minlength=1682) > 0
    np.testing.assert_array_equal(train.item_catalog, catalog)
    only_theirs = np.flatnonzero(catalog & (np.bincount(without_user.items, minlength=1682) == 0))
    assert len(only_theirs) > 0  # this user is the only one to have rated some items
    np.testing.assert_array_equal(without_user.item_catalog, catalog)

    # deletions compose, and row positions still refer to the full training set
    both = without_user.without("item", item)
    keep &= train.items != item
    np.testing.assert_array_equal(both.rows, np.flatnonzero(keep))
    np.testing.assert_array_equal(both.items, train.items[keep])
    assert catalog[item] and not both.item_catalog[item]
    np.testing.assert_array_equal(np.flatnonzero(catalog != both.item_catalog), [item])


# ---------------------------------------------------------------------------------------------
# SVD


@pytest.mark.parametrize("biased", [True, False])
def test_compiled_svd_reproduces_surprise(movielens_train, biased):
    fitted = {b: SVD(n_epochs=3, biased=biased, backend=b).fit(movielens_train, seed=0) for b in BACKENDS}
    compiled, surprise = fitted["compiled"], fitted["surprise"]
    for name in ("bu", "bi", "pu", "qi"):
        np.testing.assert_allclose(getattr(compiled, name), getattr(surprise, name), rtol=0, atol=1e-12, err_msg=name)
    users = np.arange(0, 943, 7)
    np.testing.assert_allclose(compiled.score(users), surprise.score(users), rtol=0, atol=1e-10)
    # the comparison is not vacuous: training moved the factors away from their initial values
    initial = SVD(n_epochs=0, biased=biased).fit(movielens_train, seed=0)
    assert np.abs(compiled.pu - initial.pu).max() > 1e-3
    if biased:
        assert np.abs(compiled.bi).max() > 1e-3
    else:
        assert not compiled.bu.any() and not compiled.bi.any()


@pytest.mark.parametrize("biased", [True, False])
def test_fast_svd_equals_surprise_within_its_tolerance_on_every_score(movielens_train, biased):
    """fastmath may reorder the dot products: the default 20 epochs stay within 1e-9 of
    scikit-surprise on every score, relative to the largest score."""
    fast = SVD(biased=biased, backend="fast").fit(movielens_train, seed=0)
    surprise = SVD(biased=biased, backend="surprise").fit(movielens_train, seed=0)
    users = np.arange(943)
    assert np.abs(fast.score(users) - surprise.score(users)).max() <= 1e-9 * np.abs(surprise.score(users)).max()


def test_compiled_svd_reproduces_surprise_with_a_deleted_user(movielens_train):
    """A deleted user keeps its slot with no ratings in both engines."""
    train = movielens_train.without("user", _busy_user(movielens_train))
    compiled = SVD(n_factors=20, n_epochs=2, backend="compiled").fit(train, seed=3)
    surprise = SVD(n_factors=20, n_epochs=2, backend="surprise").fit(train, seed=3)
    for name in ("bu", "bi", "pu", "qi"):
        np.testing.assert_allclose(getattr(compiled, name), getattr(surprise, name), rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["user", "item"])
def test_svd_initial_factors_are_keyed_by_id(movielens_train, backend, kind):
    train = movielens_train
    entity = _busy_user(train) if kind == "user" else _busy_item(train)
    baseline = SVD(n_epochs=0, backend=backend).fit(train, seed=5)
    deleted = SVD(n_epochs=0, backend=backend).fit(train.without(kind, entity), seed=5)
    assert baseline.pu.shape == (943, 100) and baseline.qi.shape == (1682, 100)
    # every row, the deleted entity's included: a deletion removes data, never ids
    np.testing.assert_array_equal(deleted.pu, baseline.pu)
    np.testing.assert_array_equal(deleted.qi, baseline.qi)
    # and the seed matters
    other = SVD(n_epochs=0, backend=backend).fit(train, seed=6)
    assert not np.array_equal(other.pu, baseline.pu)


def test_svd_initialisation_does_not_depend_on_row_order(movielens_train):
    """Initial factors are drawn over the id space, not by first appearance in the data."""
    train = movielens_train
    reversed_train = TrainSet(
        users=train.users[::-1].copy(),
        items=train.items[::-1].copy(),
        ratings=train.ratings[::-1].copy(),
        rows=train.rows,
        n_users=train.n_users,
        n_items=train.n_items,
        n_full_rows=train.n_full_rows,
    )
    for backend in BACKENDS:
        a = SVD(n_epochs=0, backend=backend).fit(train, seed=1)
        b = SVD(n_epochs=0, backend=backend).fit(reversed_train, seed=1)
        np.testing.assert_array_equal(a.pu, b.pu)
        np.testing.assert_array_equal(a.qi, b.qi)


@pytest.mark.parametrize("backend", BACKENDS)
def test_svd_deleting_an_item_without_training_rows_changes_nothing(
    movielens, movielens_split, movielens_train, backend
):
    untrained = coverage(movielens.frame, movielens_split)["items_without_training"]
    assert untrained  # the real split leaves some rarely rated items out of training
    item = untrained[0]
    variant = movielens_train.without("item", item)
    assert len(variant) == len(movielens_train)
    users = np.arange(943)
    baseline = SVD(n_factors=20, n_epochs=3, backend=backend).fit(movielens_train, seed=2).score(users)
    deleted = SVD(n_factors=20, n_epochs=3, backend=backend).fit(variant, seed=2).score(users)
    np.testing.assert_array_equal(deleted, baseline)


@pytest.mark.parametrize("backend", BACKENDS)
def test_svd_deleting_a_user_without_training_rows_changes_nothing(movielens_train, backend):
    user = _busy_user(movielens_train)
    # a training set in which the user has an id but no rows (all its ratings held out)
    train = movielens_train.without("user", user)
    users = np.arange(943)
    baseline = SVD(n_factors=20, n_epochs=3, backend=backend).fit(train, seed=2).score(users)
    deleted = SVD(n_factors=20, n_epochs=3, backend=backend).fit(train.without("user", user), seed=2).score(users)
    np.testing.assert_array_equal(deleted, baseline)
    # control: deleting a user that has rows does change the scores
    other = SVD(n_factors=20, n_epochs=3, backend=backend).fit(train.without("user", 0), seed=2).score(users)
    assert not np.array_equal(other, baseline)


def test_svd_scores_are_rating_predictions(movielens_train):
    model = SVD(n_factors=10, n_epochs=5).fit(movielens_train, seed=0)
    assert model.rating_scale == (1.0, 5.0)
    scores = model.score(np.array([0, 1, 2]))
    assert scores.shape == (3, 1682)
    # a score is the global mean plus both biases plus the dot product of the factors
    u, i = int(movielens_train.users[0]), int(movielens_train.items[0])
    expected = model.global_mean + model.bu[u] + model.bi[i] + model.pu[u] @ model.qi[i]
    assert model.score(np.array([u]))[0, i] == pytest.approx(expected)
    assert 1.0 < float(np.median(scores)) < 5.0


# ---------------------------------------------------------------------------------------------
# NCF


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny NeuMF batches run much faster on one thread than on two contended ones."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _ncf(epochs: int) -> NCF:
    return NCF(epochs=epochs, **SMALL_NCF)


def _params(model: NCF) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in model.params.items()}


@pytest.mark.parametrize("kind", ["user", "item"])
def test_ncf_initial_parameters_are_keyed_by_id(movielens_train, kind):
    train = movielens_train
    entity = _busy_user(train) if kind == "user" else _busy_item(train)
    baseline = _params(_ncf(0).fit(train, seed=4))
    deleted = _params(_ncf(0).fit(train.without(kind, entity), seed=4))
    assert baseline["gmf_user"].shape[-2:] == (943, 4)
    assert baseline["gmf_item"].shape[-2:] == (1682, 4)
    assert baseline.keys() == deleted.keys()
    for name in baseline:
        assert torch.equal(baseline[name], deleted[name]), name
    other = _params(_ncf(0).fit(train, seed=5))
    assert not torch.equal(other["gmf_user"], baseline["gmf_user"])


def test_ncf_epoch_batches_are_a_seeded_permutation_of_full_rows():
    batches = epoch_batches(7, 0, 1000, 64)
    assert [len(b) for b in batches] == [64] * 15 + [40]
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(1000))
    again = np.concatenate(epoch_batches(7, 0, 1000, 64))
    np.testing.assert_array_equal(np.concatenate(batches), again)
    assert not np.array_equal(np.concatenate(epoch_batches(7, 1, 1000, 64)), again)  # per epoch
    assert not np.array_equal(np.concatenate(epoch_batches(8, 0, 1000, 64)), again)  # per seed


class _Spy:
    """Records what ``pick_negatives`` is given and returns during a fit: the users of each
    mini-batch (in training order), the negatives drawn for them, the catalog used, the rated
    matrix (the same object every call, kept once) and the rows' candidate draws."""

    def __init__(self, monkeypatch):
        self.calls, self._source = [], None
        original = ncf_module.pick_negatives

        def spy(candidates, users, rated, catalogs, n_negatives):
            picked = original(candidates, users, rated, catalogs, n_negatives)
            if self._source is not rated:
                self._source, self._rated = rated, rated.copy()
            distinct, catalog_of = catalogs
            first_catalog = distinct[catalog_of[0]].copy()
            self.calls.append((users.copy(), picked[0].copy(), first_catalog, self._rated, candidates.copy()))
            return picked

        monkeypatch.setattr(ncf_module, "pick_negatives", spy)

    def fit(self, train: TrainSet, seed: int, epochs: int):
        self.calls, self._source = [], None
        _ncf(epochs).fit(train, seed=seed)
        return self.calls


def _sole_rater(train: TrainSet) -> int:
    """The user who is the only one to have rated the most items in training."""
    counts = np.bincount(train.items, minlength=train.n_items)
    sole = np.bincount(train.users[counts[train.items] == 1], minlength=train.n_users)
    assert sole.max() >= 5
    return int(np.argmax(sole))


@pytest.mark.parametrize("pick", ["busy", "sole rater"])
def test_ncf_deleting_a_user_changes_only_its_rows(movielens_train, monkeypatch, pick):
    """What the trainer sees without user u is what it sees with u, less u's rows: the same
    mini-batches in the same order (u's rows masked out) and the same negatives for every
    other row, even for a user who is the only one to have rated some items."""
    train = movielens_train
    user = _busy_user(train) if pick == "busy" else _sole_rater(train)
    spy = _Spy(monkeypatch)
    baseline = spy.fit(train, seed=1, epochs=1)
    deleted = iter(spy.fit(train.without("user", user), seed=1, epochs=1))
    n_batches = 0
    for users, negatives, catalog, rated, candidates in baseline:
        keep = users != user
        if not keep.any():
            continue
        users_v, negatives_v, catalog_v, rated_v, candidates_v = next(deleted)
        np.testing.assert_array_equal(users_v, users[keep])
        np.testing.assert_array_equal(candidates_v, candidates[keep])
        np.testing.assert_array_equal(negatives_v, negatives[keep])
        np.testing.assert_array_equal(catalog_v, catalog)
        n_batches += 1
    assert next(deleted, None) is None  # no extra batches
    assert n_batches > 10
    assert not rated_v[user].any() and rated[user].any()


def test_ncf_deleting_an_item_keeps_it_out_of_the_negatives(movielens_train, monkeypatch):
    train = movielens_train
    item = _busy_item(train)
    spy = _Spy(monkeypatch)
    baseline = spy.fit(train, seed=1, epochs=1)
    deleted = spy.fit(train.without("item", item), seed=1, epochs=1)
    assert len(deleted) == len(baseline)  # a popular item has no batch to itself
    n_changed = 0
    for (users, negatives, _, _, candidates), (users_v, negatives_v, catalog_v, _, candidates_v) in zip(
        baseline, deleted
    ):
        assert not catalog_v[item]
        assert not (negatives_v == item).any()
        # the item's own rows leave the batch; the other rows stay, in the same order ...
        kept = _retained(candidates, candidates_v)
        np.testing.assert_array_equal(users_v, users[kept])
        # ... and rows that did not draw the item as a negative keep their negatives
        base = negatives[kept]
        had_item = (base == item).any(axis=1)
        np.testing.assert_array_equal(negatives_v[~had_item], base[~had_item])
        n_changed += had_item.sum()
    assert n_changed > 10


def _retained(candidates: np.ndarray, candidates_v: np.ndarray) -> np.ndarray:
    """Positions of a batch's rows that the variant's batch kept, told apart by each row's
    own candidate draws (20 random items: unique per row in practice)."""
    positions, j = [], 0
    for position, row in enumerate(candidates):
        if j < len(candidates_v) and np.array_equal(candidates_v[j], row):
            positions.append(position)
            j += 1
    assert j == len(candidates_v)
    return np.asarray(positions, dtype=np.int64)


def test_ncf_negatives_are_never_rated_items(movielens_train, monkeypatch):
    spy = _Spy(monkeypatch)
    for users, negatives, catalog, rated, _ in spy.fit(movielens_train, seed=0, epochs=1):
        assert negatives.shape == (len(users), 4)
        assert not rated[users[:, None], negatives].any()
        assert catalog[negatives].all()


def test_ncf_negatives_for_users_who_rated_most_of_the_catalog():
    """Built so that many rows see fewer than n_negatives valid items among their draws."""
    rng = np.random.default_rng(0)
    n_users, n_items, n_negatives = 6, 12, 4
    rated = np.zeros((n_users, n_items), dtype=bool)
    for u in range(n_users):
        rated[u, rng.choice(n_items, size=9, replace=False)] = True  # 3 unrated items per user
    users = np.repeat(np.arange(n_users), 9)
    catalog = np.ones((1, n_items), dtype=bool)
    for epoch in range(3):
        candidates = negative_candidates(0, epoch, len(users), n_items, n_negatives)
        drawn = pick_negatives(candidates, users, rated, distinct_catalogs(catalog), n_negatives)[0]
        assert drawn.shape == (len(users), n_negatives)
        assert not rated[users[:, None], drawn].any(), epoch
        # a deleted item is never a negative either, even when few items remain
        item = int(np.flatnonzero(~rated[0])[0])
        without = catalog.copy()
        without[0, item] = False
        drawn = pick_negatives(candidates, users, rated, distinct_catalogs(without), n_negatives)[0]
        assert not (drawn == item).any(), epoch
        assert not rated[users[:, None], drawn].any(), epoch


def test_ncf_entities_a_variant_never_sees_keep_their_initial_vectors(movielens_train):
    train = movielens_train
    user, item = _busy_user(train), _busy_item(train)
    initial = _params(_ncf(0).fit(train, seed=2))
    trained = _params(_ncf(1).fit(train.without("user", user).without("item", item), seed=2))
    for table, entity in (("gmf_user", user), ("mlp_user", user), ("gmf_item", item), ("mlp_item", item)):
        assert torch.equal(trained[table][..., entity, :], initial[table][..., entity, :]), table
    # control: a user and an item that were trained on did move
    assert not torch.equal(trained["gmf_user"][..., user + 1, :], initial["gmf_user"][..., user + 1, :])
    assert not torch.equal(trained["gmf_item"][..., item + 1, :], initial["gmf_item"][..., item + 1, :])


@pytest.fixture(scope="module")
def ncf_scores(movielens_train):
    users = np.arange(0, 943, 5)

    def fit(seed):
        return _ncf(1).fit(movielens_train, seed=seed).score(users)

    return fit(0), fit(0), fit(1)


def test_ncf_fit_is_deterministic_for_a_seed(ncf_scores):
    first, again, other = ncf_scores
    assert first.shape == (189, 1682)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_ncf_learns_something(movielens, movielens_split, ncf_scores):
    """One epoch of NCF ranks held-out items above chance (a sanity check of training)."""
    users = np.arange(0, 943, 5)
    evalset = EvalSet.build(movielens.frame, movielens_split.train, movielens_split.test, movielens.n_items)
    keep = np.isin(evalset.users, users)
    sub = EvalSet(
        users=evalset.users[keep], seen=evalset.seen[keep], rating=evalset.rating[keep], relevant=evalset.relevant[keep]
    )
    scores = ncf_scores[0][np.searchsorted(users, sub.users)]
    trained = aggregate(evaluate(scores, sub, k=10))["precision@10"]
    chance = aggregate(evaluate(np.random.default_rng(0).random(scores.shape), sub, k=10))["precision@10"]
    assert trained > 3 * chance


def test_ncf_deleting_a_user_without_training_rows_changes_nothing(movielens_train):
    user = _busy_user(movielens_train)
    train = movielens_train.without("user", user)
    users = np.arange(0, 943, 9)
    baseline = _ncf(1).fit(train, seed=3).score(users)
    deleted = _ncf(1).fit(train.without("user", user), seed=3).score(users)
    np.testing.assert_array_equal(deleted, baseline)


def test_ncf_deleting_an_item_without_training_rows_changes_nothing(movielens, movielens_split, movielens_train):
    item = coverage(movielens.frame, movielens_split)["items_without_training"][0]
    users = np.arange(0, 943, 9)
    baseline = _ncf(1).fit(movielens_train, seed=3).score(users)
    deleted = _ncf(1).fit(movielens_train.without("item", item), seed=3).score(users)
    np.testing.assert_array_equal(deleted, baseline)


# 3000 samples a step, not a multiple of the SIMD width: a variant's position in a stack would
# show in its floats if it mattered.
POSITION_NCF = {"factors": 4, "layers": (8, 4), "epochs": 1, "batch_size": 3000, "n_negatives": 1}


def _assert_same_parameters(got: NCF, want: NCF, where: str):
    assert got.params.keys() == want.params.keys()
    for name, value in want.params.items():
        assert torch.equal(got.params[name], value), f"{where}: {name}"


def test_ncf_variant_floats_do_not_depend_on_position_or_batch_size(movielens_train):
    """The same data at every position of batches of several sizes train bit for bit the model
    trained alone."""
    alone = NCF(**POSITION_NCF).fit(movielens_train, seed=0)
    for n_variants in (1, 2, 5, 17):
        for position, model in enumerate(NCF(**POSITION_NCF).fit_many([movielens_train] * n_variants, seed=0)):
            _assert_same_parameters(model, alone, f"position {position} of {n_variants}")


def test_ncf_variants_beyond_device_memory_train_in_several_passes_to_the_same_floats(movielens_train, monkeypatch):
    """On CUDA a work unit larger than free memory allows is cut into passes; the CPU stands in
    for the device here (the cut is what is tested; the floats are position-independent)."""
    train = movielens_train
    variants = [
        train,
        train.without("user", _busy_user(train)),
        train.without("item", _busy_item(train)),
        train.without("item", 7),
        train,
    ]
    whole = NCF(**POSITION_NCF).fit_many(variants, seed=0)
    assert NCF(**POSITION_NCF).variants_per_pass(train.n_users, train.n_items) is None  # the CPU: one pass
    passes = []
    monkeypatch.setattr(NCF, "variants_per_pass", lambda self, n_users, n_items: 2)
    original = NCF.fit_many
    monkeypatch.setattr(
        NCF,
        "fit_many",
        lambda self, trains, *args, **kwargs: passes.append(len(trains)) or original(self, trains, *args, **kwargs),
    )
    cut = NCF(**POSITION_NCF).fit_many(variants, seed=0)
    assert passes == [5, 2, 2, 1]
    for index, (got, want) in enumerate(zip(cut, whole, strict=True)):
        _assert_same_parameters(got, want, f"variant {index}")
    model = NCF()  # 40 floats per embedding row: a variant holds its tables and both Adam moments
    assert model.bytes_per_variant(943, 1682) > 3 * (943 + 1682) * 40 * 4
    assert model.bytes_per_variant(9430, 16820) - model.bytes_per_variant(943, 1682) == 3 * 9 * (943 + 1682) * 40 * 4


def test_ncf_deletion_floats_do_not_depend_on_the_other_variants_of_its_batch(movielens_train):
    """A deletion trained beside the baseline alone, or among other deletions at another
    position, is the same model bit for bit."""
    train = movielens_train
    deletion = train.without("item", _busy_item(train))
    others = [train.without("user", _busy_user(train)), train.without("item", 7)]
    pair = NCF(**POSITION_NCF).fit_many([train, deletion], seed=0)
    crowd = NCF(**POSITION_NCF).fit_many([train, *others, deletion], seed=0)
    _assert_same_parameters(crowd[0], pair[0], "baseline")
    _assert_same_parameters(crowd[3], pair[1], "deletion")
    assert not torch.equal(pair[1].params["w0"], pair[0].params["w0"])  # the deletion did change the model


def test_ncf_deletion_floats_do_not_depend_on_the_rows_its_batch_mates_keep(movielens_train):
    """Without the full training set in the pass (a warm start's pass has none), a deletion
    alone, where no variant has its rows, or beside variants that have them, is the same model
    bit for bit: every row of each mini-batch runs, a row a variant lacks with weight 0."""
    train = movielens_train
    user, item = _busy_user(train), _busy_item(train)
    deletion = train.without("user", user)
    mates = [train.without("item", item), train.without("user", [3, 8])]  # they have the user's rows
    alone = NCF(**POSITION_NCF).fit_many([deletion], seed=0)[0]
    _assert_same_parameters(NCF(**POSITION_NCF).fit_many([*mates, deletion], seed=0)[2], alone, "fit")
    model = NCF(**POSITION_NCF).fit(train, seed=0)
    warm = model.warm_start_many([deletion], 1)[0]
    _assert_same_parameters(model.warm_start_many([deletion, *mates], 1)[0], warm, "warm start")


def test_ncf_deleting_items_without_training_rows_gives_exactly_zero_at_every_batch_position(
    movielens, movielens_split, monkeypatch
):
    """Through the retrain utility: each batch is [baseline, deletion 1, ...]; deleting an item
    with no training row trains the baseline again, whatever its position."""
    experiment = Experiment.build(movielens, movielens_split, k=10)
    rowless = coverage(movielens.frame, movielens_split)["items_without_training"][:6]
    assert len(rowless) == 6
    assert not np.isin(rowless, experiment.train.items).any()
    batches, fit_many = [], NCF.fit_many

    def recording_fit_many(self, variants, seed):
        batches.append(fit_many(self, variants, seed))
        return batches[-1]

    monkeypatch.setattr(NCF, "fit_many", recording_fit_many)
    retrainer = Retrainer(model_factory("ncf", POSITION_NCF), experiment, variants_per_batch=4, log=None)
    comparisons = retrainer.deletions("item", [[item] for item in rowless], seed=0, comparison="naive")
    # the metrics alone could hide float differences that move no top-10 list
    assert [len(batch) for batch in batches] == [5, 3]
    for batch in batches:
        for position, model in enumerate(batch):
            _assert_same_parameters(model, batch[0], f"position {position} of {len(batch)}")
    assert len(comparisons) == 6
    for item, comparison in zip(rowless, comparisons):
        pd.testing.assert_series_equal(comparison.without, comparison.baseline, check_exact=True, obj=f"item {item}")
        influence = comparison.per_user.drop(columns="user").to_numpy()
        assert (influence[~np.isnan(influence)] == 0.0).all(), item  # NaN: a metric undefined for a user


# ---------------------------------------------------------------------------------------------
# model_factory


def test_model_factory_builtins():
    make_svd = model_factory("svd", {"n_factors": 7, "n_epochs": 1})
    first, second = make_svd(), make_svd()
    assert isinstance(first, SVD) and first is not second  # a fresh model per call
    assert (first.n_factors, first.n_epochs) == (7, 1)
    make_ncf = model_factory("ncf", {"epochs": 0, "factors": 3})
    assert isinstance(make_ncf(), NCF) and make_ncf().factors == 3


@pytest.fixture
def plugin_path(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO_ROOT))


def test_model_factory_plugin(plugin_path, movielens, movielens_split, movielens_train):
    model = model_factory("tests.plugins:Popularity", {"smoothing": 1.0})().fit(movielens_train, seed=0)
    assert type(model).__name__ == "Popularity"
    evalset = EvalSet.build(movielens.frame, movielens_split.train, movielens_split.test, movielens.n_items)
    scores = model.score(evalset.users)
    assert scores.shape == (len(evalset.users), 1682)
    counts = np.bincount(movielens_train.items, minlength=1682)
    assert np.argmax(scores[0]) == np.argmax(counts)
    popular = aggregate(evaluate(scores, evalset, k=10))["precision@10"]
    chance = aggregate(evaluate(np.random.default_rng(0).random(scores.shape), evalset, k=10))["precision@10"]
    assert popular > 3 * chance


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("knn", None, "unknown model 'knn'"),
        ("SVD", None, "unknown model 'SVD'"),
        ("no_such_package_xyz.models:Thing", None, "cannot load model class"),
        ("tests.plugins:Missing", None, "cannot load model class"),
        ("tests.plugins:NoScore", None, r"has no score\(\)"),
        ("svd", {"n_factorz": 3}, "bad parameters"),
        ("tests.plugins:Popularity", {"alpha": 1}, "bad parameters"),
    ],
)
def test_model_factory_errors_name_the_key(plugin_path, name, params, message):
    with pytest.raises(InputError, match=message) as error:
        model_factory(name, params, key="models.mine")
    assert str(error.value).startswith("models.mine:")
