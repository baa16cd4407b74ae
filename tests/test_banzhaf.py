"""Data Banzhaf with maximum sample reuse (recinfluence.estimators.banzhaf): exact against
Banzhaf values enumerated over every coalition of a small game, unbiased with random subsets,
independent of sharding, membership keyed by id, the item-exclusion shortcut against direct
evaluation on MovieLens, and the influence schema.

pyDVL is not compared against: no release installs beside this project's pins. pyDVL 0.10.0 (the
newest) requires numpy<2 (``pip install --dry-run pydvl`` would downgrade numpy 2.4 to 1.26 and
pandas 3.1 to 3.0, against ``numpy>=2.0``; torch would stay 2.13.0), and pyDVL 0.9.2, which pip
picks when numpy is held at 2.x, fails on import (``np.float_`` was removed in NumPy 2.0). The
enumeration test below checks against the definition itself instead.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import yaml

from recinfluence.errors import InputError
from recinfluence.estimators import ESTIMATORS, build_estimator
from recinfluence.estimators.banzhaf import BLOCK, DataBanzhaf, subset_utilities
from recinfluence.estimators.base import (
    BY_SEED_COLUMNS,
    INFLUENCE_COLUMNS,
    Partial,
    shard_units,
)
from recinfluence.metrics import EvalSet, aggregate
from recinfluence.models import TrainSet, model_factory
from recinfluence.registry import lower_is_better
from recinfluence.retrain import Experiment, Retrainer
from recinfluence.settings import SCHEMA, Settings

SMALL_SVD = {"n_factors": 10, "n_epochs": 5}
N_USERS, N_ITEMS = 8, 8  # small enough to enumerate every coalition (2^8 each)


@pytest.fixture(scope="module")
def game() -> Experiment:
    """8 users, 8 items; every user rates 6 items, 2 of them held out for evaluation."""
    rng = np.random.default_rng(11)
    rows = [
        (u, int(i), float(rng.integers(1, 6)))
        for u in range(N_USERS)
        for i in rng.choice(N_ITEMS, size=6, replace=False)
    ]
    frame = pd.DataFrame(rows, columns=["user", "item", "rating"])
    held_out = np.zeros(len(frame), dtype=bool)
    held_out[np.arange(len(frame)).reshape(N_USERS, 6)[:, :2].ravel()] = True
    train_rows, eval_rows = np.flatnonzero(~held_out), np.flatnonzero(held_out)
    train = TrainSet.from_frame(frame.iloc[train_rows], N_USERS, N_ITEMS)
    return Experiment(train=train, evalset=EvalSet.build(frame, train_rows, eval_rows, N_ITEMS, 4.0), k=3)


class MeanRating:
    """Deterministic rating predictor: each item's mean training rating shrunk towards the global
    mean (weight 2, so an item's rows move every item's score: under the item rule a player
    matters through the other items), plus a fixed per-item jitter that breaks ties; ranks by
    it. Records the seeds it gets."""

    rating_scale = (1.0, 5.0)
    seeds: ClassVar[list] = []
    JITTER = np.random.default_rng(5).uniform(0, 0.01, size=64)

    def fit(self, train, seed):
        MeanRating.seeds.append(seed)
        counts = np.bincount(train.items, minlength=train.n_items)
        sums = np.bincount(train.items, train.ratings, minlength=train.n_items)
        prior = train.ratings.mean() if len(train) else 3.0
        self.means = (sums + prior * 2) / (counts + 2) + self.JITTER[: train.n_items]
        return self

    def score(self, users):
        return np.tile(self.means, (len(users), 1))


class Recorder(MeanRating):
    """Also records the training sets it is given."""

    trains: ClassVar[list] = []

    def fit(self, train, seed):
        Recorder.trains.append((seed, train))
        return super().fit(train, seed)


class Enumerated(DataBanzhaf):
    """Subset m is the coalition whose members are the set bits of m: with 2^n subsets, every
    coalition exactly once."""

    def members(self, kind, m, n):
        return (int(m) >> np.arange(n)) & 1 == 1


_EXACT: dict = {}


def exact_banzhaf(experiment: Experiment, kind: str, comparison: str = "exclude") -> pd.DataFrame:
    """The Banzhaf value of every player by its definition, from every coalition: mean over the
    coalitions S without e of U_e(S + e) - U_e(S), with U_e computed directly (evaluation users
    except e; the catalog without item e; naive: everything), signed as positive = helped."""
    key = (id(experiment), kind, comparison)
    if key not in _EXACT:
        _EXACT[key] = _enumerate(experiment, kind, comparison)
    return _EXACT[key].copy()


def _enumerate(experiment: Experiment, kind: str, comparison: str) -> pd.DataFrame:
    train = experiment.train
    n = train.n_users if kind == "user" else train.n_items
    column = train.users if kind == "user" else train.items
    utility = {}
    for bits in range(2**n):
        inside = (bits >> np.arange(n)) & 1 == 1
        model = MeanRating().fit(
            train.keep(inside[column], deleted_items=np.flatnonzero(~inside) if kind == "item" else ()), 0
        )
        scores = experiment.score(model)
        full = experiment.evaluate(model, scores)
        for e in range(n):
            if comparison == "naive":
                table = full
            elif kind == "user":
                table = full[full["user"] != e]
            else:
                table = experiment.evaluate(model, scores, excluded_items=[e])
            values = aggregate(table)
            utility[bits, e] = values * np.array([-1.0 if lower_is_better(m) else 1.0 for m in values.index])
    rows = []
    for e in range(n):
        marginal = [utility[bits | (1 << e), e] - utility[bits, e] for bits in range(2**n) if not bits >> e & 1]
        for metric, value in pd.concat(marginal, axis=1).mean(axis=1).items():
            rows.append((e, metric, value))
    return pd.DataFrame(rows, columns=["entity", "metric", "exact"])


@pytest.mark.parametrize("kind,comparison", [("user", "exclude"), ("item", "exclude"), ("user", "naive")])
def test_with_every_coalition_once_the_estimate_is_the_exact_banzhaf_value(game, kind, comparison):
    n = N_USERS if kind == "user" else N_ITEMS
    estimator = Enumerated(seed=0, subsets=2**n)
    result = estimator.estimate(Retrainer(MeanRating, game, log=None), kind, np.arange(n), comparison, log=None)
    joined = result.influence.merge(exact_banzhaf(game, kind, comparison), on=["entity", "metric"], validate="1:1")
    assert len(joined) == n * 8 and joined["samples"].eq(2**n).all()
    assert joined["subsets_in"].eq(2 ** (n - 1)).all() and joined["subsets_out"].eq(2 ** (n - 1)).all()
    np.testing.assert_allclose(joined["influence"], joined["exact"], rtol=0, atol=1e-12)
    assert (joined["exact"].abs() > 1e-3).sum() > n  # a game where players matter, under several metrics
    if comparison == "exclude":  # e's own evaluation is left out: not the naive game's values
        naive = exact_banzhaf(game, kind, "naive") if kind == "item" else None
        if naive is not None:
            assert not np.allclose(
                joined.sort_values(["entity", "metric"])["exact"], naive.sort_values(["entity", "metric"])["exact"]
            )


def test_random_subsets_estimate_the_exact_value_within_their_own_interval(game):
    """M = 2048 random halves. The tolerance is the estimator's own standard error (Welch, from
    the spread of the utilities): a correct, unbiased estimator lies outside 5 standard errors
    with probability below 1e-6 per value, and its 95% intervals cover the exact value in about
    95% of cases. The subsets are seeded, so the test is deterministic."""
    exact = exact_banzhaf(game, "user")
    estimator = DataBanzhaf(seed=3, subsets=2048)
    result = estimator.estimate(Retrainer(MeanRating, game, log=None), "user", np.arange(N_USERS), log=None)
    joined = result.influence.merge(exact, on=["entity", "metric"], validate="1:1")
    se = joined["influence_sd"] / np.sqrt(joined["samples"])
    assert (se > 0).all() and (se < 0.02).all()
    error = (joined["influence"] - joined["exact"]).abs()
    assert (error <= 5 * se).all(), joined.assign(z=error / se).sort_values("z").tail()
    covered = (joined["ci_low"] <= joined["exact"]) & (joined["exact"] <= joined["ci_high"])
    assert covered.mean() >= 0.8
    assert joined["samples"].eq(2048).all() and (joined["subsets_in"] + joined["subsets_out"]).eq(2048).all()
    assert joined["subsets_in"].between(1024 - 120, 1024 + 120).all()  # each player in about half the subsets
    # both halves of the subsets estimate the same value (split-half replicates in by_seed)
    halves = result.by_seed.pivot_table(index=["entity", "metric"], columns="seed", values="influence")
    assert list(halves.columns) == [0, 1]
    merged = halves.join(joined.set_index(["entity", "metric"])[["exact", "influence"]])
    assert (
        merged[[0, 1]].sub(merged["exact"], axis=0).abs().to_numpy() <= (5 * np.sqrt(2) * se.to_numpy())[:, None]
    ).all()


def sharded(estimator, make, experiment, kind, entities, n_shards):
    """Each shard in a fresh retrainer and estimator (as in its own job), then one reduce."""
    units = estimator.work_units(Retrainer(make, experiment, log=None), entities)
    partials = []
    for shard in range(n_shards):
        worker = DataBanzhaf(seed=estimator.seed, subsets=estimator.subsets)
        worker.work_units(None, entities)
        partials.append(
            worker.run_units(Retrainer(make, experiment, log=None), kind, shard_units(units, n_shards, shard), log=None)
        )
    return estimator.reduce(kind, partials)


@pytest.mark.parametrize("kind", ["user", "item"])
def test_shards_change_no_number(game, kind):
    entities = np.arange(N_USERS if kind == "user" else N_ITEMS)
    estimator = DataBanzhaf(seed=1, subsets=5 * BLOCK - 3)  # a short last block
    whole = estimator.estimate(Retrainer(MeanRating, game, log=None), kind, entities, log=None)
    for n_shards in (1, 2, 3, 7):
        parts = sharded(estimator, MeanRating, game, kind, entities, n_shards)
        pd.testing.assert_frame_equal(parts.influence, whole.influence, check_exact=True)
        pd.testing.assert_frame_equal(parts.by_seed, whole.by_seed, check_exact=True)
    assert whole.influence["samples"].eq(5 * BLOCK - 3).all()


def test_shards_and_partial_order_change_no_number_on_movielens(movielens, movielens_split):
    """Real utilities (SVD on MovieLens users): the same numbers whatever the grouping and the
    order of the partials, bit for bit."""
    experiment = Experiment.build(movielens, movielens_split, k=10)
    retrainer = Retrainer(model_factory("svd", SMALL_SVD), experiment, log=None)
    estimator = DataBanzhaf(seed=0, subsets=3 * BLOCK)
    entities = np.arange(60)
    units = estimator.work_units(retrainer, entities)
    per_unit = [estimator.run(retrainer, "user", unit) for unit in units]
    whole = estimator.reduce("user", per_unit)
    for grouping in (
        [per_unit[::-1]],
        [[per_unit[2]], [per_unit[0], per_unit[1]]],
        [[per_unit[1]], [per_unit[2], per_unit[0]]],
    ):
        again = estimator.reduce("user", [Partial.concat(group) for group in grouping])
        pd.testing.assert_frame_equal(again.influence, whole.influence, check_exact=True)
        pd.testing.assert_frame_equal(again.by_seed, whole.by_seed, check_exact=True)
    assert whole.influence["influence"].abs().gt(0).any()


def test_membership_is_keyed_by_id_and_a_subset_deletes_exactly_the_rows_of_its_non_members(game):
    estimator = DataBanzhaf(seed=4, subsets=16)
    # keyed by (seed, subset, kind, id): the same whatever the id space's size and the order of calls
    big = estimator.members("user", 7, 5000)
    np.testing.assert_array_equal(estimator.members("user", 7, 100), big[:100])
    assert 0.45 < big.mean() < 0.55
    assert not np.array_equal(estimator.members("item", 7, 5000), big)
    assert not np.array_equal(estimator.members("user", 8, 5000), big)
    assert not np.array_equal(DataBanzhaf(seed=5).members("user", 7, 5000), big)
    train = game.train
    for kind in ("user", "item"):
        column = train.users if kind == "user" else train.items
        for m in range(6):
            inside = estimator.members(kind, m, N_USERS if kind == "user" else N_ITEMS)
            subset = estimator.subset_train(train, kind, m)
            kept = inside[column]
            # exactly the rows of the members, in the same relative order, ids and id space unchanged
            np.testing.assert_array_equal(subset.rows, train.rows[kept])
            np.testing.assert_array_equal(subset.users, train.users[kept])
            np.testing.assert_array_equal(subset.items, train.items[kept])
            np.testing.assert_array_equal(subset.ratings, train.ratings[kept])
            assert (subset.n_users, subset.n_items, subset.n_full_rows) == (
                train.n_users,
                train.n_items,
                train.n_full_rows,
            )
            catalog = train.item_catalog & (inside if kind == "item" else True)
            np.testing.assert_array_equal(subset.item_catalog, catalog)


def test_runs_are_deterministic_use_seed_plus_m_and_do_not_depend_on_the_reported_entities(game):
    Recorder.trains.clear()
    estimator = DataBanzhaf(seed=10, subsets=2 * BLOCK)
    first = estimator.estimate(Retrainer(Recorder, game, log=None), "user", np.arange(N_USERS), log=None)
    assert [seed for seed, _ in Recorder.trains] == list(range(10, 10 + 2 * BLOCK)) == estimator.training_seeds()
    for (seed, train), again in zip(
        Recorder.trains, [estimator.subset_train(game.train, "user", m) for m in range(2 * BLOCK)]
    ):
        np.testing.assert_array_equal(train.rows, again.rows)
    second = DataBanzhaf(seed=10, subsets=2 * BLOCK).estimate(
        Retrainer(MeanRating, game, log=None), "user", np.arange(N_USERS), log=None
    )
    pd.testing.assert_frame_equal(first.influence, second.influence, check_exact=True)
    # reporting fewer entities changes no subset and no value: the game is over every id
    fewer = DataBanzhaf(seed=10, subsets=2 * BLOCK).estimate(
        Retrainer(MeanRating, game, log=None), "user", np.array([2, 5]), log=None
    )
    pd.testing.assert_frame_equal(
        fewer.influence,
        first.influence[first.influence["entity"].isin([2, 5])].reset_index(drop=True),
        check_exact=True,
    )
    other = DataBanzhaf(seed=11, subsets=2 * BLOCK).estimate(
        Retrainer(MeanRating, game, log=None), "user", np.arange(N_USERS), log=None
    )
    assert not np.allclose(other.influence["influence"], first.influence["influence"])


def test_item_exclusion_shortcut_equals_direct_evaluation_on_movielens(movielens, movielens_split):
    """The item rule's per-item utilities (catalog without the item) against evaluating the
    subset's model once per item with excluded_items=[item]: the items recommended most, the
    items relevant to most users, and random ones."""
    experiment = Experiment.build(movielens, movielens_split, k=10)
    estimator = DataBanzhaf(seed=0, subsets=1)
    model = Retrainer(model_factory("svd", SMALL_SVD), experiment, log=None).fit(
        0, estimator.subset_train(experiment.train, "item", 0)
    )
    scores = experiment.score(model)
    evalset = experiment.evalset.dense()
    masked = np.where(evalset.seen, -np.inf, scores)
    top = np.argsort(-masked, axis=1)[:, :10]
    recommended = np.argsort(-np.bincount(top.ravel(), minlength=movielens.n_items))[:30]
    relevant = np.argsort(-evalset.relevant.sum(axis=0))[:30]
    items = np.unique(
        np.concatenate([recommended, relevant, np.random.default_rng(0).choice(movielens.n_items, 30, replace=False)])
    )
    names, utility = subset_utilities(experiment, model, "item", items)
    sign = np.array([-1.0 if lower_is_better(name) else 1.0 for name in names])
    direct = np.array(
        [
            aggregate(experiment.evaluate(model, scores, excluded_items=[item]))[names].to_numpy() * sign
            for item in items
        ]
    )
    np.testing.assert_allclose(utility, direct, rtol=0, atol=1e-12)
    full = aggregate(experiment.evaluate(model, scores))[names].to_numpy() * sign
    assert (np.abs(direct - full) > 0).any(axis=1).sum() > 30  # the exclusion changes the utilities
    # users: every evaluation user except the one valued
    names, utility = subset_utilities(experiment, model, "user", np.arange(5))
    table = experiment.evaluate(model, scores)
    direct = np.array([aggregate(table[table["user"] != user])[names].to_numpy() * sign for user in range(5)])
    np.testing.assert_allclose(utility, direct, rtol=0, atol=1e-12)


def test_the_influence_table_has_the_influence_schema_and_the_estimator_is_configured(game):
    assert ESTIMATORS["banzhaf"].path == "recinfluence.estimators.banzhaf:DataBanzhaf"
    estimator = build_estimator("banzhaf", {"subsets": 12}, seed=2)
    assert isinstance(estimator, DataBanzhaf) and estimator.training_seeds() == list(range(2, 14))
    result = estimator.estimate(Retrainer(MeanRating, game, log=None), "item", np.arange(N_ITEMS), log=None)
    assert list(result.influence.columns) == [*INFLUENCE_COLUMNS, *DataBanzhaf.value_columns]
    assert list(result.by_seed.columns) == BY_SEED_COLUMNS and set(result.by_seed["seed"]) == {0, 1}
    assert list(result.per_user.columns) == ["entity", "user"] and result.per_user.empty
    assert result.timing["entity"].tolist() == list(range(N_ITEMS)) and (result.timing["seconds"] > 0).all()
    table = result.influence
    assert len(table) == N_ITEMS * 8 and table["samples"].eq(12).all()
    np.testing.assert_array_equal(table["n_train_rows"], np.repeat(np.bincount(game.train.items, minlength=N_ITEMS), 8))
    np.testing.assert_allclose(table["influence"], table["utility_in"] - table["utility_out"], atol=1e-15)
    ok = table["ci_low"].notna()
    assert (
        (table.loc[ok, "ci_low"] <= table.loc[ok, "influence"])
        & (table.loc[ok, "influence"] <= table.loc[ok, "ci_high"])
    ).all()
    assert table.loc[ok, "p_value"].between(0, 1).all()
    # rmse and mae: signed so that positive = helped (the utilities are negated errors)
    assert (table.loc[table["metric"].isin(["rmse", "mae"]), ["utility_in", "utility_out"]] < 0).all().all()
    # settings: the schema names it, its default and its bounds
    schema = yaml.safe_load(SCHEMA.read_text())
    assert "banzhaf" in schema["properties"]["estimators"]["properties"]
    assert "banzhaf" in schema["properties"]["prune"]["properties"]["estimators"]["items"]["enum"]
    config = {
        "datasets": {"d": {"loader": "movielens_100k"}},
        "models": {"m": {"class": "svd"}},
        "estimators": {"banzhaf": {}},
    }
    assert Settings.from_config(config).estimators["banzhaf"].params == {"subsets": 500}
    with pytest.raises(InputError, match="estimators.banzhaf.subsets: 0 is less than the minimum of 1"):
        Settings.from_config({**config, "estimators": {"banzhaf": {"subsets": 0}}})
    with pytest.raises(InputError, match="estimators.banzhaf: Additional properties are not allowed"):
        Settings.from_config({**config, "estimators": {"banzhaf": {"seeds": 3}}})
