"""Approximate deletion (warm start, influence function): what each computes, on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from recinfluence.errors import InputError
from recinfluence.settings import BUILTIN_MODELS, ESTIMATOR_HOOKS, Settings, import_object
from recinfluence.estimators import build_estimator
from recinfluence.estimators.approximate import InfluenceFunction, WarmStart
from recinfluence.models import model_factory
from recinfluence.models.ncf import initial_parameters
from recinfluence.models.svd import SVD
from recinfluence.retrain import Experiment, Retrainer

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
    for item in items:  # put every item at its optimum given the users, where the influence function is exact to first order
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
    assert np.array_equal(variant.qi[untouched], model.qi[untouched]) and np.array_equal(variant.bi[untouched], model.bi[untouched])


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
    residual = train.ratings[row] - model.global_mean - model.bu[user] - model.bi[item] - model.pu[user] @ model.qi[item]
    gradient = residual * np.r_[model.pu[user], 1.0] - np.diag(lam) @ theta
    np.testing.assert_allclose(np.r_[variant.qi[item], variant.bi[item]], theta - total @ gradient, rtol=1e-10, atol=1e-12)


MEDIUM_SVD = {"n_factors": 20, "n_epochs": 20}


@pytest.fixture(scope="module")
def exact_users(experiment):
    """Exact deletion of the first 40 users (one seed), the reference of the approximations."""
    retrainer = Retrainer(model_factory("svd", MEDIUM_SVD), experiment, log=None)
    return build_estimator("exact", {"seeds": 1}, 0).estimate(retrainer, "user", np.arange(40), log=None).influence


@pytest.mark.parametrize("estimator", [WarmStart(seed=0, epochs=2), InfluenceFunction(seed=0)])
def test_an_approximation_follows_exact_deletion_and_a_row_less_item_gives_exactly_zero(experiment, exact_users, estimator):
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


def test_the_table_of_hooks_is_true_to_the_built_in_models():
    for name, (hook, classes) in ESTIMATOR_HOOKS.items():
        having = {model for model, path in BUILTIN_MODELS.items() if callable(getattr(import_object(path, model, "model class"), hook, None))}
        assert having == set(classes), name


def test_a_config_pairing_an_approximation_with_a_model_without_its_hook_is_refused(tmp_path):
    config = {
        "datasets": {"ml": {"loader": "movielens_100k"}},
        "models": {"svd": {"class": "svd"}, "ease": {"class": "ease"}, "mine": {"class": "tests.test_influence:Spy"}},
        "estimators": {"exact": {}, "warm_start": {}, "influence_function": {}},
    }
    with pytest.raises(InputError) as error:
        Settings.from_config(config, "study.yaml")
    message = str(error.value)
    assert "estimators.warm_start: model ease (class ease) has no warm_start(); the built-in models with it: ncf, svd" in message
    assert "estimators.influence_function: model ease (class ease) has no influence_variants(); the built-in models with it: svd" in message
    assert "model svd" not in message and "model mine" not in message  # plugins are imported once the rest is right
    del config["models"]["ease"]
    with pytest.raises(InputError, match=r"estimators.warm_start: model mine \(tests.test_influence:Spy\) has no warm_start\(\)"):
        Settings.from_config(config, "study.yaml")


def test_an_ncf_warm_start_in_batches_equals_one_at_a_time(experiment):
    make = model_factory("ncf", SMALL_NCF)
    together = WarmStart(seed=0, epochs=1).estimate(Retrainer(make, experiment, 3, log=None), "user", [3, 5, 8], log=None).influence
    alone = WarmStart(seed=0, epochs=1).estimate(Retrainer(make, experiment, 1, log=None), "user", [5], log=None).influence
    pd.testing.assert_frame_equal(together[together["entity"] == 5].reset_index(drop=True), alone, check_exact=True)
