"""The detection report (recinfluence.detection, issue 24 part 2): ROC-AUC against a direct
pairwise count and scipy's Mann-Whitney U, precision@n, the seeded bootstrap interval, RDMA and
DegSim by hand and against a plain loop, a sanity check on MovieLens 100K with planted
average-attack-like profiles, the "beats the baselines" rule and the figure."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from recinfluence.detection import (
    beats_baselines,
    bootstrap_roc_auc,
    detection_table,
    precision_at_n,
    roc_auc,
    suspicion_baselines,
)
from recinfluence.plots import plot_detection


def pairwise_auc(scores, positive) -> float:
    """ROC-AUC by counting every (planted, other) pair: 1 when the planted scores higher, 1/2 on a tie."""
    pos, neg = scores[positive], scores[~positive]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def influence_table(influence: dict[str, np.ndarray], entities) -> pd.DataFrame:
    """A minimal influence table (kind user) with one row per entity and metric."""
    return pd.concat(
        [
            pd.DataFrame({"kind": "user", "entity": entities, "metric": metric, "influence": values})
            for metric, values in influence.items()
        ],
        ignore_index=True,
    )


def planted_table(entities) -> pd.DataFrame:
    return pd.DataFrame({"kind": "user", "entity": entities, "planted": "average", "target": -1, "rows": 80})


@pytest.mark.parametrize("seed", range(5))
def test_roc_auc_is_the_pairwise_count_and_mann_whitney_u(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, size=60).astype(float)  # few values: many ties
    positive = rng.random(60) < 0.3
    auc = roc_auc(scores, positive)
    assert auc == pytest.approx(pairwise_auc(scores, positive), abs=1e-12)
    assert roc_auc(-scores, positive) == pytest.approx(1 - auc, abs=1e-12)
    u = stats.mannwhitneyu(scores[positive], scores[~positive]).statistic
    assert auc == pytest.approx(u / (positive.sum() * (~positive).sum()), abs=1e-12)


def test_a_perfect_separator_scores_one_and_undefined_cases_are_nan():
    scores = np.arange(10.0)
    positive = scores >= 7
    assert roc_auc(scores, positive) == 1.0
    assert roc_auc(-scores, positive) == 0.0
    assert precision_at_n(np.arange(10), scores, positive) == 1.0
    assert roc_auc(scores, np.zeros(10, bool)) != roc_auc(scores, np.zeros(10, bool))  # NaN
    assert np.isnan(precision_at_n(np.arange(10), scores, np.zeros(10, bool)))


def test_precision_at_n_breaks_ties_by_entity_id():
    entities = np.array([5, 3, 9, 1])
    scores = np.array([1.0, 1.0, 1.0, 0.0])  # three tied at the top: ids 3, 5, 9 in that order
    assert precision_at_n(entities, scores, np.array([True, False, False, False])) == 0.0  # n = 1: id 3, not 5
    assert precision_at_n(entities, scores, np.array([False, True, True, False])) == 0.5  # ids 3, 5: one planted
    assert precision_at_n(entities[::-1], scores[::-1], np.array([False, True, True, False])[::-1]) == 0.5


def test_the_bootstrap_interval_holds_the_estimate_and_is_seeded():
    rng = np.random.default_rng(1)
    scores = np.concatenate([rng.normal(1, 1, 30), rng.normal(0, 1, 300)])
    positive = np.arange(330) < 30
    auc = roc_auc(scores, positive)
    low, high = bootstrap_roc_auc(scores, positive, n_boot=1000, seed=7)
    assert low < auc < high
    assert 0.05 < high - low < 0.4
    assert bootstrap_roc_auc(scores, positive, n_boot=1000, seed=7) == (low, high)
    assert bootstrap_roc_auc(scores, positive, n_boot=1000, seed=8) != (low, high)
    assert bootstrap_roc_auc(scores, positive, n_boot=0) == pytest.approx((np.nan, np.nan), nan_ok=True)


def test_each_bootstrap_resample_is_an_exact_roc_auc():
    """The resampled ROC-AUC read from cumulative counts equals the ROC-AUC of the resample itself:
    with one resample, repeat the draw by hand (ties included)."""
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 4, size=40).astype(float)
    positive = rng.random(40) < 0.4
    low, high = bootstrap_roc_auc(scores, positive, n_boot=1, seed=11)
    draw = np.random.default_rng(11)
    pos, neg = np.sort(scores[positive]), np.sort(scores[~positive])
    pos_counts = draw.multinomial(len(pos), np.full(len(pos), 1 / len(pos)))
    neg_counts = draw.multinomial(len(neg), np.full(len(neg), 1 / len(neg)))
    resample = np.concatenate([np.repeat(pos, pos_counts), np.repeat(neg, neg_counts)])
    labels = np.arange(len(resample)) < len(pos)
    assert low == high == pytest.approx(pairwise_auc(resample, labels), abs=1e-12)


# A small table by hand: 4 users with rows, user 4 without; 3 items.
#   user 0: item 0 = 5, item 1 = 3, item 2 = 1
#   user 1: item 0 = 4, item 1 = 2, item 2 = 2
#   user 2: item 0 = 1, item 1 = 5
#   user 3: item 2 = 3
SMALL = pd.DataFrame(
    [(0, 0, 5), (0, 1, 3), (0, 2, 1), (1, 0, 4), (1, 1, 2), (1, 2, 2), (2, 0, 1), (2, 1, 5), (3, 2, 3)],
    columns=["user", "item", "rating"],
).astype({"rating": float})


def test_rdma_and_profile_size_by_hand():
    table = suspicion_baselines(SMALL, n_users=5, neighbours=2)
    assert table["entity"].tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(table["profile_size"], [3, 3, 2, 1, np.nan])
    # Item means 10/3, 10/3, 2, each item rated 3 times.
    expected = [
        (abs(5 - 10 / 3) / 3 + abs(3 - 10 / 3) / 3 + abs(1 - 2) / 3) / 3,  # 1/3
        (abs(4 - 10 / 3) / 3 + abs(2 - 10 / 3) / 3 + abs(2 - 2) / 3) / 3,  # 2/9
        (abs(1 - 10 / 3) / 3 + abs(5 - 10 / 3) / 3) / 2,  # 2/3
        abs(3 - 2) / 3,  # 1/3
        np.nan,
    ]
    np.testing.assert_allclose(table["rdma"], expected)
    np.testing.assert_allclose(table["rdma"][:4], [1 / 3, 2 / 9, 2 / 3, 1 / 3])


def test_degsim_by_hand():
    # Pearson over co-rated items: users 0 and 1 on (5, 3, 1) and (4, 2, 2): cov 4, variances 8
    # and 8/3, so sqrt(3)/2. Users 0 and 2, 1 and 2 on two items that move in opposite ways: -1.
    # User 3 shares one item with users 0 and 1 and none with 2: 0.
    w01 = np.sqrt(3) / 2
    two = suspicion_baselines(SMALL, n_users=5, neighbours=2)["degsim"]
    np.testing.assert_allclose(two, [(w01 + 0) / 2, (w01 + 0) / 2, (0 - 1) / 2, 0, np.nan])
    one = suspicion_baselines(SMALL, n_users=5, neighbours=1)["degsim"]
    np.testing.assert_allclose(one, [w01, w01, 0, 0, np.nan])
    # More neighbours than other users: all three others.
    many = suspicion_baselines(SMALL, n_users=5, neighbours=25)["degsim"]
    np.testing.assert_allclose(many, [(w01 - 1) / 3, (w01 - 1) / 3, -2 / 3, 0, np.nan])
    # At least three co-rated items: only users 0 and 1 still count (-1 came from two items).
    strict = suspicion_baselines(SMALL, n_users=5, neighbours=2, min_overlap=3)["degsim"]
    np.testing.assert_allclose(strict, [w01 / 2, w01 / 2, 0, 0, np.nan])


def test_a_constant_profile_has_similarity_zero_and_repeated_rows_are_averaged():
    frame = pd.DataFrame(
        [(0, 0, 1), (0, 1, 2), (0, 2, 3), (1, 0, 4), (1, 1, 4), (1, 2, 4), (2, 0, 2), (2, 0, 0), (2, 1, 2), (2, 2, 6)],
        columns=["user", "item", "rating"],
    )
    table = suspicion_baselines(frame, n_users=3, neighbours=1)
    # User 1 never varies: 0 with everyone. User 2 rated item 0 twice (mean 1): (1, 2, 6) against
    # user 0's (1, 2, 3) correlates at corrcoef.
    w02 = np.corrcoef([1, 2, 3], [1, 2, 6])[0, 1]
    np.testing.assert_allclose(table["degsim"], [w02, 0, w02])
    assert table["profile_size"].tolist() == [3, 3, 4]


def reference_degsim(frame: pd.DataFrame, n_users: int, neighbours: int, min_overlap: int = 2) -> np.ndarray:
    """DegSim by a plain loop over pairs of users, with numpy's Pearson correlation."""
    profiles = {user: rows.groupby("item")["rating"].mean() for user, rows in frame.groupby("user")}
    similarity = {u: {} for u in profiles}
    for u, v in itertools.combinations(profiles, 2):
        common = profiles[u].index.intersection(profiles[v].index)
        x, y = profiles[u][common].to_numpy(), profiles[v][common].to_numpy()
        w = np.corrcoef(x, y)[0, 1] if len(common) >= min_overlap and x.std() > 0 and y.std() > 0 else 0.0
        similarity[u][v] = similarity[v][u] = w
    out = np.full(n_users, np.nan)
    for u, row in similarity.items():
        out[u] = np.mean(sorted(row.values(), reverse=True)[:neighbours])
    return out


@pytest.mark.parametrize("seed", range(3))
def test_degsim_matches_a_plain_loop(seed):
    rng = np.random.default_rng(seed)
    cells = [(u, i) for u in range(30) for i in range(12) if rng.random() < 0.35]
    frame = pd.DataFrame(cells, columns=["user", "item"]).assign(rating=rng.integers(1, 6, len(cells)).astype(float))
    frame = frame[frame["user"] != 7]  # one user without rows
    for min_overlap in (2, 3):
        table = suspicion_baselines(frame, n_users=31, neighbours=5, min_overlap=min_overlap)
        np.testing.assert_allclose(table["degsim"], reference_degsim(frame, 31, 5, min_overlap), atol=1e-10)


def plant_average_attack(train: pd.DataFrame, n_users: int, filler: str, n_fake: int = 10, profile: int = 80):
    """``n_fake`` new users after the real ones (ids ``n_users ..``), each rating ``profile`` random
    rated items and pushing one target item (the lowest-rated) at 5. The filler ratings of an
    average attack (Lam & Riedl 2004): drawn around the item's mean with its spread, rounded and
    clipped to 1..5 (``filler="sampled"``), or exactly the item's rounded mean (``"mean"``)."""
    rng = np.random.default_rng(0)
    by_item = train.groupby("item")["rating"]
    means, spreads = by_item.mean(), by_item.std().fillna(1.0)
    target = int(means.index[np.argmin(means.to_numpy())])
    candidates = np.setdiff1d(means.index.to_numpy(), [target])
    rows = []
    for fake in range(n_users, n_users + n_fake):
        items = rng.choice(candidates, size=profile, replace=False)
        centre = means[items].to_numpy()
        ratings = rng.normal(centre, spreads[items].to_numpy()) if filler == "sampled" else centre
        rows.append(pd.DataFrame({"user": fake, "item": items, "rating": np.clip(np.round(ratings), 1, 5)}))
        rows.append(pd.DataFrame({"user": [fake], "item": [target], "rating": [5.0]}))
    attacked = pd.concat([train[["user", "item", "rating"]], *rows], ignore_index=True)
    return attacked, np.arange(n_users, n_users + n_fake)


def test_rdma_finds_planted_average_attack_profiles_on_movielens(movielens, movielens_split):
    train = movielens.frame.iloc[movielens_split.train]
    attacked, fake = plant_average_attack(train, movielens.n_users, filler="sampled")
    n_users = movielens.n_users + len(fake)
    baselines = suspicion_baselines(attacked, n_users)
    assert len(baselines) == n_users and baselines.notna().all().all()
    # An uninformative influence table over every user: chance.
    influence = influence_table({"map@10": np.random.default_rng(0).normal(size=n_users)}, np.arange(n_users))
    table = detection_table(influence, planted_table(fake), baselines, n_boot=500, seed=0).set_index("method")
    assert table.loc["rdma", "roc_auc"] > 0.8, table
    assert table.loc["rdma", "roc_auc_low"] > 0.5, table
    assert 0.2 < table.loc["influence (map@10)", "roc_auc"] < 0.8, table
    assert (table["n_planted"] == len(fake)).all() and (table["n_entities"] == n_users).all()
    # Filler at exactly the item's rounded mean deviates less from the mean agreement: RDMA,
    # built to catch deviation, finds these fakes less well (the average attack's purpose).
    hidden, _ = plant_average_attack(train, movielens.n_users, filler="mean")
    positive = np.arange(n_users) >= movielens.n_users
    assert roc_auc(suspicion_baselines(hidden, n_users)["rdma"], positive) < table.loc["rdma", "roc_auc"]


def test_detection_table_judges_the_evaluated_entities_and_drops_nan_scores():
    entities = np.arange(20)
    influence = influence_table(
        {
            "map@10": -np.arange(20.0),  # least influential = highest id: the planted 16..19 first
            "auc": np.where(entities % 2 == 0, np.nan, np.arange(20.0)),  # planted last; evens unscored
        },
        entities,
    )
    planted = pd.concat(
        [planted_table([16, 17, 18, 19, 40]), pd.DataFrame({"kind": ["item"], "entity": [3]})], ignore_index=True
    )  # user 40 was not evaluated; item 3 is another kind
    baselines = pd.DataFrame({"entity": np.arange(41), "profile_size": np.arange(41.0)})
    baselines.loc[0, "profile_size"] = np.nan
    table = detection_table(influence, planted, baselines, n_boot=200, seed=1).set_index("method")
    assert list(table.index) == ["influence (map@10)", "influence (auc)", "profile_size"]
    assert table["metric"].tolist() == ["map@10", "auc", ""]
    assert table.loc["influence (map@10)", ["roc_auc", "precision_at_n"]].tolist() == [1.0, 1.0]
    assert table.loc["influence (map@10)", ["n_planted", "n_entities"]].tolist() == [4, 20]
    assert table.loc["influence (auc)", ["roc_auc", "precision_at_n"]].tolist() == [0.0, 0.0]
    assert table.loc["influence (auc)", ["n_planted", "n_entities"]].tolist() == [2, 10]
    assert table.loc["profile_size", ["roc_auc", "n_planted", "n_entities"]].tolist() == [1.0, 4, 19]
    only = detection_table(influence, planted, None, metrics=["auc"], n_boot=10)
    assert only["method"].tolist() == ["influence (auc)"]
    with pytest.raises(ValueError, match="not in the influence table"):
        detection_table(influence, planted, None, metrics=["rmse"])
    # Seeded: the same table twice.
    pd.testing.assert_frame_equal(
        detection_table(influence, planted, baselines, n_boot=200, seed=1).set_index("method"), table
    )


def test_beats_baselines_asks_the_whole_interval_to_lie_above_every_baseline():
    table = pd.DataFrame(
        {
            "method": ["influence (map@10)", "influence (auc)", "profile_size", "rdma", "degsim"],
            "metric": ["map@10", "auc", "", "", ""],
            "roc_auc": [0.95, 0.9, 0.4, 0.85, np.nan],
            "roc_auc_low": [0.9, 0.8, 0.3, 0.8, np.nan],
            "roc_auc_high": [0.99, 0.97, 0.5, 0.9, np.nan],
        }
    )
    verdict = beats_baselines(table).set_index("method")
    assert verdict["beats_baselines"].tolist() == [True, False]  # 0.8 is not above rdma's 0.85
    assert (verdict["best_baseline"] == "rdma").all() and (verdict["best_baseline_roc_auc"] == 0.85).all()
    none = beats_baselines(table[table["metric"] != ""])
    assert not none["beats_baselines"].any() and (none["best_baseline"] == "").all()


def test_plot_detection_writes_png_and_pdf(tmp_path):
    entities = np.arange(50)
    rng = np.random.default_rng(0)
    influence = influence_table({"map@10": rng.normal(size=50), "auc": -entities / 50.0}, entities)
    baselines = pd.DataFrame({"entity": entities, "profile_size": rng.random(50), "rdma": np.full(50, np.nan)})
    table = detection_table(influence, planted_table(np.arange(45, 50)), baselines, n_boot=100)
    plot_detection(table, tmp_path / "figures" / "detection", "Finding 5 planted users: test")
    for suffix in (".png", ".pdf"):
        path = tmp_path / "figures" / f"detection{suffix}"
        assert path.is_file() and path.stat().st_size > 1000
