"""Approximate deletion (warm start, influence function): what each computes, on real data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from recinfluence.compose import load_settings
from recinfluence.errors import InputError
from recinfluence.estimators import build_estimator
from recinfluence.estimators.approximate import InfluenceFunction, WarmStart
from recinfluence.estimators.exact import ExactDeletion
from recinfluence.models import model_factory
from recinfluence.models.ncf import (
    NCF,
    distinct_catalogs,
    forward,
    initial_parameters,
    negative_candidates,
    pick_negatives,
)
from recinfluence.models.svd import SVD
from recinfluence.retrain import Experiment, Retrainer
from recinfluence.split import split_interactions

from .test_influence import SMALL_NCF, SMALL_SVD


@pytest.fixture(scope="module")
def experiment(movielens, movielens_split):
    return Experiment.build(movielens, movielens_split, k=10)


def test_a_warm_start_continues_training_where_the_fit_stopped(movielens_train):
    continued = SVD(n_factors=10, n_epochs=5).fit(movielens_train, 3).warm_start(movielens_train, 4)
    straight = SVD(n_factors=10, n_epochs=9).fit(movielens_train, 3)
    for name in ("bu", "bi", "pu", "qi"):
        assert np.array_equal(getattr(continued, name), getattr(straight, name)), name


def test_a_warm_start_without_a_user_leaves_the_others_where_a_refit_would_start(movielens_train):
    model = SVD(n_factors=10, n_epochs=5).fit(movielens_train, 3)
    user = int(movielens_train.users[0])
    variant = model.warm_start(movielens_train.without("user", [user]), 2)
    fresh = SVD(n_factors=10, n_epochs=0).fit(movielens_train, 3)
    assert np.array_equal(variant.pu[user], fresh.pu[user]) and variant.bu[user] == 0.0  # back at its start
    assert not np.array_equal(variant.qi, model.qi)  # everything else trained on
    assert np.array_equal(model.pu, SVD(n_factors=10, n_epochs=5).fit(movielens_train, 3).pu)  # baseline untouched


def _ridge_optimum(model: SVD, train, item: int, rows=None) -> np.ndarray:
    """(q_j, b_j) minimising item j's squared errors with the users held fixed, each row
    regularised as SGD regularises it (reference for the influence function)."""
    rows = np.flatnonzero(train.items == item) if rows is None else rows
    x = np.hstack([model.pu[train.users[rows]], np.ones((len(rows), 1))])
    target = train.ratings[rows] - model.global_mean - model.bu[train.users[rows]]
    lam = np.r_[np.full(model.pu.shape[1], model.reg[3]), model.reg[1]]
    return np.linalg.solve(x.T @ x + len(rows) * np.diag(lam), x.T @ target)


def test_the_influence_function_over_many_epochs_is_the_leave_rows_out_of_the_ridge_optimum(movielens_train):
    train = movielens_train
    model = SVD(n_factors=10, n_epochs=20).fit(train, 0)
    items = np.unique(train.items)
    for (
        item
    ) in items:  # put every item at its optimum given the users, where the influence function is exact to first order
        optimum = _ridge_optimum(model, train, item)
        model.qi[item], model.bi[item] = optimum[:10], optimum[10]
    user = 13
    (variant,) = model.influence_variants(train, [train.without("user", [user])], epochs=10**7)
    rated = train.items[train.users == user]
    errors, raters = [], []
    for item in rated:
        rows = np.flatnonzero((train.items == item) & (train.users != user))
        moved = np.r_[variant.qi[item], variant.bi[item]] - np.r_[model.qi[item], model.bi[item]]
        exact = _ridge_optimum(model, train, item, rows) - np.r_[model.qi[item], model.bi[item]]
        errors.append(np.linalg.norm(moved - exact) / np.linalg.norm(exact))
        raters.append(len(rows))
    # first order in the removed row's leverage: the error shrinks as the item's raters grow
    errors, raters = np.array(errors), np.array(raters)
    assert np.median(errors) < 0.05 and errors[raters >= 50].max() < 0.1 and (raters >= 50).sum() >= 10
    untouched = np.setdiff1d(items, rated)
    assert np.array_equal(variant.qi[untouched], model.qi[untouched]) and np.array_equal(
        variant.bi[untouched], model.bi[untouched]
    )


def test_the_filter_is_gradient_descent_summed_epoch_by_epoch(movielens_train):
    train = movielens_train
    model = SVD(n_factors=6, n_epochs=7, lr_bi=0.01).fit(train, 0)
    user, item = 21, int(train.items[train.users == 21][0])
    (variant,) = model.influence_variants(train, [train.keep(~((train.users == user) & (train.items == item)))])
    rows = np.flatnonzero(train.items == item)
    x = np.hstack([model.pu[train.users[rows]], np.ones((len(rows), 1))])
    lam = np.r_[np.full(6, model.reg[3]), model.reg[1]]
    hessian, rates = x.T @ x + len(rows) * np.diag(lam), np.r_[np.full(6, model.lr[3]), model.lr[1]]
    step, total = np.eye(7), np.zeros((7, 7))
    for _ in range(7):  # sum_{t < T} (I - L H)^t L
        total += step @ np.diag(rates)
        step = step @ (np.eye(7) - np.diag(rates) @ hessian)
    row = rows[train.users[rows] == user]
    theta = np.r_[model.qi[item], model.bi[item]]
    residual = (
        train.ratings[row] - model.global_mean - model.bu[user] - model.bi[item] - model.pu[user] @ model.qi[item]
    )
    gradient = residual * np.r_[model.pu[user], 1.0] - np.diag(lam) @ theta
    np.testing.assert_allclose(
        np.r_[variant.qi[item], variant.bi[item]], theta - total @ gradient, rtol=1e-10, atol=1e-12
    )


MEDIUM_SVD = {"n_factors": 20, "n_epochs": 20}


@pytest.fixture(scope="module")
def exact_users(experiment):
    """Exact deletion of the first 40 users (one seed), the reference of the approximations."""
    retrainer = Retrainer(model_factory("svd", MEDIUM_SVD), experiment, log=None)
    return build_estimator("exact", {"seeds": 1}, 0).estimate(retrainer, "user", np.arange(40), log=None).influence


@pytest.mark.parametrize("estimator", [WarmStart(seed=0, epochs=2), InfluenceFunction(seed=0)])
def test_an_approximation_follows_exact_deletion_and_a_row_less_item_gives_exactly_zero(
    experiment, exact_users, estimator
):
    make = model_factory("svd", MEDIUM_SVD)
    approximate = estimator.estimate(Retrainer(make, experiment, log=None), "user", np.arange(40), log=None).influence
    exact = exact_users
    a, b = (table.query("metric == 'auc'").set_index("entity")["influence"] for table in (approximate, exact))
    assert stats.spearmanr(a, b.loc[a.index])[0] > 0.3
    assert approximate["influence"].abs().median() < 10 * exact["influence"].abs().median()  # the same scale
    absent = int(np.flatnonzero(np.bincount(experiment.train.items, minlength=experiment.train.n_items) == 0)[0])
    items = estimator.estimate(Retrainer(make, experiment, log=None), "item", [absent, 1], log=None).influence
    assert items.query("entity == @absent")["influence"].eq(0.0).all()
    assert items.query("entity == 1")["influence"].ne(0.0).any()


def test_a_model_without_the_hook_is_refused_by_name(experiment):
    retrainer = Retrainer(model_factory("ease", {}), experiment, log=None)
    with pytest.raises(InputError, match=r"estimator influence_function: model EASE has no influence_variants\(\)"):
        InfluenceFunction(seed=0).estimate(retrainer, "user", [1], log=None)


def test_an_option_of_another_models_influence_function_is_refused(experiment, tmp_path):
    retrainer = Retrainer(model_factory("svd", SMALL_SVD), experiment, log=None)
    with pytest.raises(InputError, match=r"estimator influence_function: option damping does not apply to model SVD"):
        InfluenceFunction(seed=0, damping=0.5).estimate(retrainer, "user", [1], log=None)
    config = {
        "datasets": {"ml": {"loader": "movielens_100k"}},
        "models": {"svd": {"class": "svd"}, "ncf": {"class": "ncf"}},
        "estimators": {"influence_function": {"damping": 0.5, "epochs": 3}},
    }
    with pytest.raises(InputError) as error:
        load_settings(config, "study.yaml")
    assert "estimators.influence_function.damping: model svd (class svd) takes no damping; it applies to: ncf" in str(
        error.value
    )
    assert "estimators.influence_function.epochs: model ncf (class ncf) takes no epochs; it applies to: svd" in str(
        error.value
    )


def test_the_warm_start_compares_with_the_baseline_trained_as_long(experiment):
    retrainer = Retrainer(model_factory("svd", SMALL_SVD), experiment, log=None)
    estimator = WarmStart(seed=0, epochs=3)
    estimator.estimate(retrainer, "user", [1, 2], log=None)
    reference = retrainer._references[(0, "warm_start:3")].model
    expected = SVD(**SMALL_SVD).fit(experiment.train, 0).warm_start(experiment.train, 3)
    assert np.array_equal(reference.qi, expected.qi)


def test_an_ncf_warm_start_keeps_common_random_numbers(experiment):
    make = model_factory("ncf", SMALL_NCF)
    retrainer = Retrainer(make, experiment, log=None)
    train = experiment.train
    absent = int(np.flatnonzero(np.bincount(train.items, minlength=train.n_items) == 0)[0])
    result = WarmStart(seed=0, epochs=1).estimate(retrainer, "item", [absent, 1], log=None).influence
    assert result.query("entity == @absent")["influence"].eq(0.0).all()  # the same floats as the reference
    assert result.query("entity == 1")["influence"].ne(0.0).any()
    baseline = retrainer.baseline(0).model
    variant = baseline.warm_start(train.without("user", [5]), 1)
    initial = initial_parameters(train.n_users, train.n_items, SMALL_NCF["factors"], SMALL_NCF["layers"], 0)
    assert torch.equal(variant.params["gmf_user"][0, 5], initial["gmf_user"][5])  # the deleted user back at its start
    assert not torch.equal(variant.params["gmf_item"], baseline.params["gmf_item"])  # the rest trained on


def test_the_ncf_influence_function_is_the_damped_newton_step_of_the_samples_lost(movielens_train):
    """Checked against autograd's Hessian of one item's last-epoch loss, computed apart."""
    train, damping = movielens_train, 0.1
    model = NCF(**{**SMALL_NCF, "epochs": 2}).fit(train, 0)
    user = int(train.users[0])
    reduced = train.without("user", [user])
    variant = next(model.influence_variants(train, [reduced], damping=damping))
    # the last epoch's samples: each row with the negatives epoch 1 drew for it
    candidates = negative_candidates(0, 1, train.n_full_rows, train.n_items, 1)[train.rows]
    rated = np.zeros((train.n_users, train.n_items), dtype=bool)
    rated[train.users, train.items] = True
    negatives = pick_negatives(candidates, train.users, rated, distinct_catalogs(train.item_catalog[None]), 1)[0, :, 0]
    users, items = np.r_[train.users, train.users], np.r_[train.items, negatives]
    labels = torch.as_tensor(np.r_[np.ones(len(train)), np.zeros(len(train))])
    lost = np.r_[train.users == user, train.users == user]
    item = int(train.items[train.users == user][0])
    p = {name: value[0].double() for name, value in model.params.items()}
    mine = items == item

    def loss(theta, samples):  # the item's samples' binary cross-entropy, everything but theta fixed
        u = torch.as_tensor(users[samples])
        q = theta.expand(len(u), -1)
        logits = forward(p, p["gmf_user"][u] * q[:, :4], torch.cat([p["mlp_user"][u], q[:, 4:]], dim=1))
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, labels[samples], reduction="sum")

    theta = torch.cat([p["gmf_item"][item], p["mlp_item"][item]])
    hessian = torch.autograd.functional.hessian(lambda t: loss(t, mine), theta)
    step = theta.clone().requires_grad_()
    (gradient,) = torch.autograd.grad(loss(step, mine & lost), step)
    expected = torch.linalg.solve(
        hessian + damping * hessian.trace() / len(theta) * torch.eye(len(theta), dtype=torch.float64), gradient
    )
    moved = torch.cat([variant.params["gmf_item"][0, item], variant.params["mlp_item"][0, item]]).double() - theta
    assert torch.allclose(moved, expected, rtol=1e-4, atol=1e-7) and expected.abs().max() > 1e-4
    untouched = np.setdiff1d(np.arange(train.n_items), items[lost])
    assert torch.equal(
        variant.params["gmf_item"][0, untouched], model.params["gmf_item"][0, untouched]
    )  # in no lost sample
    initial = initial_parameters(train.n_users, train.n_items, 4, (8, 4), 0)
    assert torch.equal(variant.params["gmf_user"][0, user], initial["gmf_user"][user])  # row-less: back at its start


def test_an_ncf_influence_function_gives_exactly_zero_for_a_row_less_item(experiment):
    make = model_factory("ncf", SMALL_NCF)
    absent = int(np.flatnonzero(np.bincount(experiment.train.items, minlength=experiment.train.n_items) == 0)[0])
    result = (
        InfluenceFunction(seed=0)
        .estimate(Retrainer(make, experiment, log=None), "item", [absent, 1], log=None)
        .influence
    )
    assert result.query("entity == @absent")["influence"].eq(0.0).all()
    assert result.query("entity == 1")["influence"].ne(0.0).any()


def test_a_config_pairing_an_approximation_with_a_model_without_its_hook_is_refused(tmp_path):
    config = {
        "datasets": {"ml": {"loader": "movielens_100k"}},
        "models": {"svd": {"class": "svd"}, "ease": {"class": "ease"}, "mine": {"class": "tests.test_influence:Spy"}},
        "estimators": {"exact": {}, "warm_start": {}, "influence_function": {}},
    }
    with pytest.raises(InputError) as error:
        load_settings(config, "study.yaml")
    message = str(error.value)
    assert (
        "estimators.warm_start: model ease (class ease) has no warm_start(); the built-in models with it: ncf, svd"
        in message
    )
    assert (
        "estimators.influence_function: model ease (class ease) has no influence_variants(); the built-in models with "
        "it: ncf, svd" in message
    )
    assert "model svd" not in message and "model mine" not in message  # plugins are imported once the rest is right
    del config["models"]["ease"]
    with pytest.raises(
        InputError, match=r"estimators.warm_start: model mine \(tests.test_influence:Spy\) has no warm_start\(\)"
    ):
        load_settings(config, "study.yaml")


def test_an_ncf_warm_start_in_batches_equals_one_at_a_time(experiment):
    make = model_factory("ncf", SMALL_NCF)
    together = (
        WarmStart(seed=0, epochs=1)
        .estimate(Retrainer(make, experiment, 3, log=None), "user", [3, 5, 8], log=None)
        .influence
    )
    alone = (
        WarmStart(seed=0, epochs=1).estimate(Retrainer(make, experiment, 1, log=None), "user", [5], log=None).influence
    )
    pd.testing.assert_frame_equal(together[together["entity"] == 5].reset_index(drop=True), alone, check_exact=True)


@pytest.fixture(scope="module")
def few_users(movielens):
    """The experiment of MovieLens 100K's first 150 users (11,212 training rows: fast passes)."""
    frame = movielens.frame[movielens.frame["user"] < 150].reset_index(drop=True)
    data = dataclasses.replace(movielens, frame=frame, users=movielens.users.iloc[:150])
    return Experiment.build(data, split_interactions(len(frame), test_fraction=0.25, seed=0), k=10)


@pytest.mark.parametrize("kind, entities", [("user", [3, 5, 8, 13]), ("item", [1, 7, 49, 50])])
@pytest.mark.parametrize(
    "estimator", [WarmStart(seed=0, epochs=1), ExactDeletion(seed=0), InfluenceFunction(seed=0)], ids=lambda e: e.name
)
def test_ncf_influence_does_not_depend_on_variants_per_batch(few_users, estimator, kind, entities):
    """One deletion per pass, or three in a pass (then one): the same tables, bit for bit. A warm
    start has no baseline in its pass, so only a pass of fixed shape keeps its floats apart from
    the other deletions'; exact deletion always trains the full baseline beside them."""
    make = model_factory("ncf", SMALL_NCF)
    one, three = (
        estimator.estimate(Retrainer(make, few_users, variants_per_batch=v, log=None), kind, entities, log=None)
        for v in (1, 3)
    )
    pd.testing.assert_frame_equal(three.influence, one.influence, check_exact=True)
    pd.testing.assert_frame_equal(three.per_user, one.per_user, check_exact=True)
    assert one.influence["influence"].ne(0.0).any()


def test_an_ncf_influence_variant_does_not_depend_on_the_training_sets_passed_with_it(movielens_train):
    """Each training set's variant is computed on its own: alone (from a fresh model and its own
    cached Hessians) or among others, in either order (from the cache of the call before)."""
    train = movielens_train
    model = NCF(**SMALL_NCF).fit(train, 0)
    trains = [train.without("user", [3]), train.without("item", [int(train.items[0])]), train.without("user", [5, 8])]
    together = list(model.influence_variants(train, trains))
    backwards = list(model.influence_variants(train, trains[::-1]))[::-1]
    for index, reduced in enumerate(trains):
        (alone,) = NCF(**SMALL_NCF).fit(train, 0).influence_variants(train, [reduced])  # its own cache
        for name, value in alone.params.items():
            assert torch.equal(together[index].params[name], value), (index, name)
            assert torch.equal(backwards[index].params[name], value), (index, name)
    assert not torch.equal(together[0].params["gmf_item"], together[2].params["gmf_item"])  # the variants do differ
