"""Per-user ranking metrics and rating errors (recinfluence.metrics), cross-checked against ranx
and against plain-Python implementations of the protocol (docs/method.md, "The protocol")."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from recinfluence.metrics import BYTES_PER_CELL, EvalSet, SparseEvalSet, aggregate, evaluate
from recinfluence.models import model_factory
from recinfluence.registry import CUTOFF_METRICS, SCORE_METRICS, metric_column

# ---------------------------------------------------------------------------------------------
# A hand-computed case


def ranking_metric_names(k: int) -> list[str]:
    """Every ranking metric's column: the top-``k`` ones, then AUC (no cut-off)."""
    return [metric_column(name, k) for name in (*CUTOFF_METRICS, *SCORE_METRICS)]


@pytest.fixture
def tiny():
    """Users 0, 1, 2 evaluated on 8 items; user 3 has training rows only."""
    train = [(0, 0, 3.0), (1, 1, 4.0), (2, 0, 5.0), (3, 5, 4.0)]
    evaluation = [(0, 2, 5.0), (0, 5, 4.0), (0, 7, 4.0), (0, 3, 2.0), (1, 4, 5.0), (2, 2, 3.0)]
    frame = pd.DataFrame(train + evaluation, columns=["user", "item", "rating"])
    evalset = EvalSet.build(frame, np.arange(4), np.arange(4, 10), n_items=8, relevance_threshold=4.0)
    scores = np.array(
        [
            # item: 0 (seen, best score), 2, 3, 5, 1, 4, 6, 7 in that order
            [1.0, 0.6, 0.9, 0.8, 0.5, 0.7, 0.4, 0.3],
            # item 6 first, then the relevant item 4; item 1 (seen) would be best
            [0.1, 0.99, 0.2, 0.3, 0.8, 0.4, 0.9, 0.5],
            [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
        ]
    )
    return evalset, scores


def test_evalset_build(tiny):
    evalset, _ = tiny
    np.testing.assert_array_equal(evalset.users, [0, 1, 2])  # user 3 has no evaluation rows
    assert evalset.seen.shape == (3, 8)
    assert np.argwhere(evalset.seen).tolist() == [[0, 0], [1, 1], [2, 0]]
    assert np.argwhere(evalset.relevant).tolist() == [[0, 2], [0, 5], [0, 7], [1, 4]]
    assert evalset.rating[0, 3] == 2.0 and not evalset.relevant[0, 3]  # rated, below threshold
    assert evalset.rating[2, 2] == 3.0
    assert np.isnan(evalset.rating[0, 0])  # training ratings are not evaluation ratings


def test_hand_computed_metrics(tiny):
    evalset, scores = tiny
    table = evaluate(scores, evalset, k=3).set_index("user")
    # user 0: top 3 candidates are 2 (hit), 3, 5 (hit); R = 3
    assert table.loc[0, "map@3"] == pytest.approx((1 / 1 + 2 / 3) / 3)
    assert table.loc[0, "ndcg@3"] == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3) + 1 / math.log2(4)))
    assert table.loc[0, "precision@3"] == pytest.approx(2 / 3)
    assert table.loc[0, "recall@3"] == pytest.approx(2 / 3)
    assert table.loc[0, "hit_rate@3"] == 1.0
    assert table.loc[0, "n_relevant"] == 3
    # user 1: top 3 are 6, 4 (hit), 7; R = 1, so AP is normalised by min(3, 1) = 1
    assert table.loc[1, "map@3"] == pytest.approx(1 / 2)
    assert table.loc[1, "ndcg@3"] == pytest.approx(1 / math.log2(3))
    assert table.loc[1, "precision@3"] == pytest.approx(1 / 3)
    assert table.loc[1, "recall@3"] == 1.0
    # user 2: rated only below the threshold: no relevant items, every ranking metric NaN
    assert table.loc[2, "n_relevant"] == 0
    assert table.loc[2, ranking_metric_names(3)].isna().all()
    means = aggregate(table.reset_index())
    assert means["map@3"] == pytest.approx(((5 / 9) + 0.5) / 2)
    assert means["precision@3"] == pytest.approx(0.5)
    assert means["recall@3"] == pytest.approx((2 / 3 + 1) / 2)
    assert means["hit_rate@3"] == 1.0


def test_seen_items_are_never_recommended():
    # items 0..4 are training items with the highest scores; items 5..7 are relevant
    n_items, k = 20, 3
    seen = np.zeros((1, n_items), dtype=bool)
    seen[0, :5] = True
    rating = np.full((1, n_items), np.nan)
    rating[0, 5:8] = 5.0
    evalset = EvalSet(users=np.array([0]), seen=seen, rating=rating, relevant=rating >= 4)
    scores = np.zeros((1, n_items))
    scores[0, :5] = 100.0 - np.arange(5)
    scores[0, 5:8] = [50.0, 49.0, 48.0]
    row = evaluate(scores, evalset, k=k).iloc[0]
    assert row["precision@3"] == 1.0
    assert row["map@3"] == 1.0
    assert row["ndcg@3"] == pytest.approx(1.0)
    # control: the same scores with nothing seen put the training items on top and find nothing
    control = EvalSet(users=np.array([0]), seen=np.zeros_like(seen), rating=rating, relevant=rating >= 4)
    assert evaluate(scores, control, k=k).iloc[0]["precision@3"] == 0.0


def test_catalog_smaller_than_k():
    # 6 items, 2 seen: only 4 candidates for K = 10; precision still divides by K
    seen = np.array([[True, True, False, False, False, False]])
    rating = np.array([[np.nan, np.nan, 5.0, np.nan, 4.0, np.nan]])
    evalset = EvalSet(users=np.array([0]), seen=seen, rating=rating, relevant=rating >= 4)
    scores = np.array([[9.0, 8.0, 1.0, 4.0, 3.0, 2.0]])  # candidate order: 3, 4 (hit), 5, 2 (hit)
    row = evaluate(scores, evalset, k=10).iloc[0]
    assert row["precision@10"] == pytest.approx(2 / 10)
    assert row["recall@10"] == 1.0
    assert row["map@10"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert row["ndcg@10"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3)))


# ---------------------------------------------------------------------------------------------
# Random cross-checks


def _random_case(seed: int, k: int, n_users: int = 80, n_items: int = 60):
    rng = np.random.default_rng(seed)
    seen = rng.random((n_users, n_items)) < 0.2
    rating = np.full((n_users, n_items), np.nan)
    for u in range(n_users):
        unseen = np.flatnonzero(~seen[u])
        # R ranges from 0 (no relevant item) through fewer than K to more than K
        n_relevant = [0, 0, 0, 1, 2][u] if u < 5 else int(rng.integers(0, 2 * k + 5))
        n_other = int(rng.integers(0 if u else 1, 6))  # user 0 rates, but nothing relevant
        chosen = rng.choice(unseen, size=n_relevant + n_other, replace=False)
        rating[u, chosen[:n_relevant]] = rng.choice([4.0, 5.0], size=n_relevant)
        rating[u, chosen[n_relevant:]] = rng.choice([1.0, 2.0, 3.0], size=n_other)
    keep = ~np.isnan(rating).all(axis=1)  # evaluation users have at least one evaluation rating
    evalset = EvalSet(users=np.flatnonzero(keep), seen=seen[keep], rating=rating[keep], relevant=rating[keep] >= 4)
    scores = rng.normal(3.0, 2.0, size=(keep.sum(), n_items))  # continuous: no ties
    return evalset, scores


def _reference_ranking(scores, evalset, u, k):
    candidates = [i for i in range(scores.shape[1]) if not evalset.seen[u, i]]
    ranked = sorted(candidates, key=lambda i: -scores[u, i])[:k]
    return [bool(evalset.relevant[u, i]) for i in ranked]


def _reference_ap(hits: list[bool], n_relevant: int, k: int) -> float:
    """AP@K as the protocol (docs/method.md) defines it: (1 / min(K, R)) * sum_k precision@k * rel_k."""
    total, found = 0.0, 0
    for rank, hit in enumerate(hits, start=1):
        if hit:
            found += 1
            total += found / rank
    return total / min(k, n_relevant)


# ranx's metrics are numba functions; compiling them takes 30-110 s on a fresh machine (CI),
# while the same functions run by the interpreter take 0.1 s on these cases. So ranx runs in a
# subprocess with numba's JIT off there (in this process it would turn off our own kernels too).
RANX_SCRIPT = """
import json, sys, warnings
from ranx import Qrels, Run, evaluate
qrels, run, names = json.load(sys.stdin)
run = Run(run)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # numba type-safety warnings inside ranx
    evaluate(Qrels(qrels), run, names, return_mean=False)
json.dump({name: run.scores[name] for name in names}, sys.stdout)
"""


def _ranx_per_user(evalset, scores, k):
    qrels, run = {}, {}
    for u in range(len(evalset.users)):
        relevant = np.flatnonzero(evalset.relevant[u])
        if len(relevant) == 0:
            continue
        qrels[f"q{u}"] = {f"d{i}": 1 for i in relevant}
        run[f"q{u}"] = {f"d{i}": float(scores[u, i]) for i in np.flatnonzero(~evalset.seen[u])}
    names = [f"map@{k}", f"ndcg@{k}", f"precision@{k}", f"recall@{k}", f"hit_rate@{k}"]
    result = subprocess.run(
        [sys.executable, "-c", RANX_SCRIPT],
        input=json.dumps([qrels, run, names]),
        capture_output=True,
        text=True,
        env=dict(os.environ, NUMBA_DISABLE_JIT="1"),
    )
    if result.returncode != 0:
        pytest.fail(f"ranx failed:\n{result.stderr[-3000:]}")
    scores_by_name = json.loads(result.stdout)
    return {name: {int(q[1:]): value for q, value in scores_by_name[name].items()} for name in names}


@pytest.mark.parametrize("seed, k", [(0, 10), (1, 5), (2, 3)])
def test_metrics_match_ranx_and_reference(seed, k):
    evalset, scores = _random_case(seed, k)
    table = evaluate(scores, evalset, k=k)
    n_relevant = evalset.relevant.sum(axis=1)
    np.testing.assert_array_equal(table["user"], evalset.users)
    np.testing.assert_array_equal(table["n_relevant"], n_relevant)
    # the case covers users without relevant items, with fewer than K and with more than K
    assert (n_relevant == 0).any() and ((n_relevant > 0) & (n_relevant < k)).any() and (n_relevant > k).any()

    names = ranking_metric_names(k)
    none = n_relevant == 0
    assert table.loc[none, names].isna().all().all()
    assert table.loc[~none, names].notna().all().all()

    reference = _ranx_per_user(evalset, scores, k)
    assert set(reference[f"ndcg@{k}"]) == set(np.flatnonzero(~none))
    for u in np.flatnonzero(~none):
        row = table.iloc[u]
        R = int(n_relevant[u])
        for name in (f"ndcg@{k}", f"precision@{k}", f"recall@{k}", f"hit_rate@{k}"):
            assert row[name] == pytest.approx(reference[name][u], abs=1e-12), (name, u)
        # ranx normalises AP by R, our protocol by min(K, R): rescale ranx to compare ...
        assert row[f"map@{k}"] == pytest.approx(reference[f"map@{k}"][u] * R / min(k, R), abs=1e-12), u
        # ... and check against a plain loop of the design's definition
        hits = _reference_ranking(scores, evalset, u, k)
        assert row[f"map@{k}"] == pytest.approx(_reference_ap(hits, R, k), abs=1e-12), u
        assert row[f"precision@{k}"] == pytest.approx(sum(hits) / k)

    # aggregates are means over the users that have relevant items
    means = aggregate(table)
    users = np.flatnonzero(~none)
    for name in (f"ndcg@{k}", f"precision@{k}", f"recall@{k}", f"hit_rate@{k}"):
        assert means[name] == pytest.approx(np.mean([reference[name][u] for u in users]))
    ranx_map = np.mean([reference[f"map@{k}"][u] * n_relevant[u] / min(k, n_relevant[u]) for u in users])
    assert means[f"map@{k}"] == pytest.approx(ranx_map)


@pytest.mark.parametrize("seed", [0, 3])
def test_auc_matches_the_mann_whitney_statistic(seed):
    """AUC per user against scipy's Mann-Whitney U (relevant vs non-relevant candidates), on
    continuous scores and on scores rounded to force ties, with an excluded item."""
    evalset, scores = _random_case(seed, 10)
    for case in (scores, np.round(scores)):
        excluded = [7]
        table = evaluate(case, evalset, k=10, excluded_items=excluded)
        checked = 0
        for u in range(len(evalset.users)):
            candidate = ~evalset.seen[u]
            candidate[excluded] = False
            relevant = evalset.relevant[u] & candidate
            others = candidate & ~relevant
            if not relevant.any() or not others.any():
                assert np.isnan(table["auc"].iloc[u])
                continue
            u_statistic = stats.mannwhitneyu(case[u, relevant], case[u, others]).statistic
            assert table["auc"].iloc[u] == pytest.approx(u_statistic / (relevant.sum() * others.sum()), abs=1e-12)
            checked += 1
        assert checked > 50


def test_ranx_map_convention_differs_from_design():
    """Documents why map is rescaled above: ranx divides AP by R, not min(K, R)."""
    seen = np.zeros((1, 10), dtype=bool)
    rating = np.full((1, 10), np.nan)
    rating[0, :6] = 5.0  # R = 6 > K = 2
    evalset = EvalSet(users=np.array([0]), seen=seen, rating=rating, relevant=rating >= 4)
    scores = -np.arange(10, dtype=float)[None, :]  # items 0, 1 on top: both hits
    ours = evaluate(scores, evalset, k=2).iloc[0]["map@2"]
    assert ours == 1.0
    assert _ranx_per_user(evalset, scores, 2)["map@2"][0] == pytest.approx(2 / 6)


def test_rating_errors_match_a_direct_computation():
    evalset, scores = _random_case(4, 10)
    table = evaluate(scores, evalset, k=10, rating_scale=(1.0, 5.0))
    clipped = np.clip(scores, 1.0, 5.0)
    assert (scores > 5).any() and (scores < 1).any()  # clipping matters in this case
    all_errors = []
    for u in range(len(evalset.users)):
        rated = np.flatnonzero(~np.isnan(evalset.rating[u]))
        errors = clipped[u, rated] - evalset.rating[u, rated]
        all_errors.extend(errors)
        assert table.iloc[u]["n_rated"] == len(rated)
        assert table.iloc[u]["rmse"] == pytest.approx(math.sqrt(np.mean(errors**2)))
        assert table.iloc[u]["mae"] == pytest.approx(np.mean(np.abs(errors)))
    all_errors = np.asarray(all_errors)
    means = aggregate(table)
    # aggregates are over all rated pairs, not a mean of per-user values
    assert means["rmse"] == pytest.approx(math.sqrt(np.mean(all_errors**2)))
    assert means["mae"] == pytest.approx(np.mean(np.abs(all_errors)))
    assert means["rmse"] != pytest.approx(table["rmse"].mean())


def test_no_rating_errors_without_a_rating_scale():
    evalset, scores = _random_case(4, 10)
    table = evaluate(scores, evalset, k=10)
    assert "rmse" not in table and "mae" not in table
    assert set(aggregate(table).index) == set(ranking_metric_names(10))


def test_excluded_items_leave_the_catalog():
    evalset, scores = _random_case(5, 5)
    scores = scores.copy()
    # item 7: ranked first for every user and relevant to several of them
    item = 7
    scores[:, item] = 100.0
    relevant_to = evalset.relevant[:, item] & ~evalset.seen[:, item]
    assert relevant_to.sum() >= 2
    excluded = evaluate(scores, evalset, k=5, rating_scale=(1.0, 5.0), excluded_items=[item])
    full = evaluate(scores, evalset, k=5, rating_scale=(1.0, 5.0))
    assert not excluded["map@5"].equals(full["map@5"])

    # the same catalog built by hand: item 7 neither a candidate, nor relevant, nor rated
    seen, rating = evalset.seen.copy(), evalset.rating.copy()
    seen[:, item] = True
    rating[:, item] = np.nan
    by_hand = EvalSet(users=evalset.users, seen=seen, rating=rating, relevant=rating >= 4)
    expected = evaluate(scores, by_hand, k=5, rating_scale=(1.0, 5.0))
    pd.testing.assert_frame_equal(excluded, expected)
    np.testing.assert_array_equal(excluded["n_relevant"], full["n_relevant"] - relevant_to)
    # the input evaluation set is not modified
    assert evalset.relevant[:, item].sum() >= 2


def test_excluding_the_only_relevant_item_makes_the_user_nan():
    seen = np.zeros((2, 6), dtype=bool)
    rating = np.full((2, 6), np.nan)
    rating[0, 3] = 5.0
    rating[1, [3, 4]] = 5.0
    evalset = EvalSet(users=np.array([0, 1]), seen=seen, rating=rating, relevant=rating >= 4)
    scores = np.tile(np.arange(6, 0, -1, dtype=float), (2, 1))
    table = evaluate(scores, evalset, k=2, excluded_items=[3])
    assert table.loc[0, ranking_metric_names(2)].isna().all()
    assert table.loc[1, "recall@2"] == 0.0 and table.loc[1, "n_relevant"] == 1
    assert aggregate(table)["recall@2"] == 0.0  # user 0 left out of the mean


# ---------------------------------------------------------------------------------------------
# Ties, non-finite scores, and the compiled pass against a plain one


def test_equal_scores_rank_the_lower_item_id_first():
    rating = np.full((2, 6), np.nan)
    rating[0, 1] = rating[1, 4] = 5.0
    evalset = EvalSet(users=np.array([0, 1]), seen=np.zeros((2, 6), dtype=bool), rating=rating, relevant=rating >= 4)
    table = evaluate(np.ones((2, 6)), evalset, k=2)
    assert table["precision@2"].tolist() == [0.5, 0.0]  # item 1 is second, item 4 fifth
    assert table["map@2"].tolist() == [0.5, 0.0]
    assert table["auc"].tolist() == [0.5, 0.5]  # every pair tied


def test_nan_and_inf_scores_take_places_but_never_hit():
    rating = np.full((1, 6), np.nan)
    rating[0, [0, 1, 2]] = 5.0
    evalset = EvalSet(users=np.array([0]), seen=np.zeros((1, 6), dtype=bool), rating=rating, relevant=rating >= 4)
    # items 0 (relevant, NaN) and 3 (+inf) rank first, item 4 (-inf) last; items 1, 2 are relevant
    scores = np.array([[np.nan, 1.0, 0.5, np.inf, -np.inf, 0.7]])
    row = evaluate(scores, evalset, k=4, rating_scale=(1.0, 5.0)).iloc[0]
    assert row["precision@4"] == 0.25  # the list: 0, 3, 1 (hit), 5
    assert row["map@4"] == pytest.approx((1 / 3) / 3)
    assert row["auc"] == 0.5  # finite scores only: 1 > 0.7 > 0.5
    assert np.isnan(row["rmse"])  # a NaN prediction has no error


def _plain_evaluation(scores, evalset, k, rating_scale, excluded) -> pd.DataFrame:
    """The protocol (module docstring of recinfluence.metrics) user by user in plain Python."""
    rows = []
    for u in range(len(evalset.users)):
        in_catalog = [i for i in range(scores.shape[1]) if i not in excluded]
        relevant = {i for i in in_catalog if evalset.relevant[u, i]}
        candidates = [i for i in in_catalog if not evalset.seen[u, i] and scores[u, i] != -np.inf]
        # NaN first, then by score, of equal scores the lower item id first
        ranked = sorted(candidates, key=lambda i: (not np.isnan(scores[u, i]), -np.nan_to_num(scores[u, i]), i))[:k]
        hits = [i in relevant and np.isfinite(scores[u, i]) for i in ranked]
        R = len(relevant)
        row = {"user": evalset.users[u]}
        finite = [i for i in candidates if np.isfinite(scores[u, i])]
        mine = [scores[u, i] for i in finite if i in relevant]
        others = [scores[u, i] for i in finite if i not in relevant]
        pairs = sum((a > b) + (a == b) / 2 for a in mine for b in others)
        if R:
            ideal = sum(1 / math.log2(rank + 1) for rank in range(1, min(R, k, scores.shape[1]) + 1))
            row[f"map@{k}"] = _reference_ap(hits, R, k)
            row[f"ndcg@{k}"] = sum(1 / math.log2(rank + 2) for rank, hit in enumerate(hits) if hit) / ideal
            row[f"precision@{k}"], row[f"recall@{k}"] = sum(hits) / k, sum(hits) / R
            row[f"hit_rate@{k}"] = float(any(hits))
            row["auc"] = pairs / (len(mine) * len(others)) if mine and others else np.nan
        row["n_relevant"] = R
        if rating_scale is not None:
            rated = [i for i in in_catalog if not np.isnan(evalset.rating[u, i])]
            errors = [min(max(scores[u, i], rating_scale[0]), rating_scale[1]) - evalset.rating[u, i] for i in rated]
            row["rmse"] = math.sqrt(np.mean(np.square(errors))) if rated else np.nan
            row["mae"] = np.mean(np.abs(errors)) if rated else np.nan
            row["n_rated"] = len(rated)
        rows.append(row)
    errors = ["rmse", "mae", "n_rated"] if rating_scale is not None else []
    return pd.DataFrame(rows, columns=["user", *ranking_metric_names(k), "n_relevant", *errors])


@pytest.mark.parametrize("seed, k", [(0, 1), (1, 3), (2, 10), (3, 40)])
def test_the_compiled_pass_equals_a_plain_one(seed, k):
    """Scores from a few values (many ties, across the K-th place too) with NaN, +inf and -inf;
    seen items; relevant items that are seen or unrated (as Data Banzhaf's virtual catalogs
    have); excluded items; a catalog shorter than K; whatever the blocks."""
    rng = np.random.default_rng(seed)
    n_users, n_items = 50, 30
    scores = rng.choice([0.0, 1.0, 2.0, 2.5, 3.0], size=(n_users, n_items))
    special = rng.random((n_users, n_items))
    scores[special < 0.03] = np.nan
    scores[(special >= 0.03) & (special < 0.06)] = np.inf
    scores[(special >= 0.06) & (special < 0.09)] = -np.inf
    seen = rng.random((n_users, n_items)) < 0.2
    rating = np.where(
        rng.random((n_users, n_items)) < 0.3, rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], (n_users, n_items)), np.nan
    )
    rating[seen & (rng.random((n_users, n_items)) < 0.7)] = np.nan
    relevant = (rating >= 4) | (rng.random((n_users, n_items)) < 0.03)
    evalset = EvalSet(np.arange(n_users) * 2, seen, rating, relevant)
    excluded = [int(i) for i in rng.choice(n_items, 3, replace=False)]
    assert (relevant & seen).any() and (relevant & np.isnan(rating)).any()
    for rating_scale in (None, (1.0, 5.0)):
        expected = _plain_evaluation(scores, evalset, k, rating_scale, excluded)
        for target in (evalset, replace(evalset.sparse(), block_rows=7)):
            table = evaluate(scores, target, k, rating_scale, excluded)
            pd.testing.assert_frame_equal(table, expected, check_exact=False, rtol=0, atol=1e-12)
            # AUC is a ratio of integer pair counts: the same to the bit
            np.testing.assert_array_equal(table["auc"], expected["auc"])


# ---------------------------------------------------------------------------------------------
# Evaluation in blocks of users (a SparseEvalSet) equals the dense evaluation


def test_a_sparse_split_holds_what_the_dense_one_holds(movielens, movielens_split):
    frame, train, test = movielens.frame, movielens_split.train, movielens_split.test
    sparse = SparseEvalSet.build(frame, train, test, movielens.n_items, 4.0, memory_mb=1)
    assert sparse.block_rows == 2**20 // (BYTES_PER_CELL * movielens.n_items) and len(sparse.blocks()) > 30
    whole, parts = sparse.dense(), [sparse.block(start, stop) for start, stop in sparse.blocks()]
    for name in ("users", "seen", "rating", "relevant"):
        np.testing.assert_array_equal(np.concatenate([getattr(part, name) for part in parts]), getattr(whole, name))
    # the dense split built straight from the frame, as before blocks existed
    position = np.full(movielens.n_users, -1)
    position[whole.users] = np.arange(len(whole.users))
    held = frame.iloc[test]
    assert whole.seen.sum() == np.isin(frame.iloc[train]["user"], whole.users).sum()  # (user, item) pairs are unique
    np.testing.assert_array_equal(whole.rating[position[held["user"]], held["item"]], held["rating"])
    assert np.isnan(whole.rating).sum() == whole.rating.size - len(held)


@pytest.mark.parametrize("name, params", [("svd", {"n_factors": 10, "n_epochs": 5}), ("item_knn", {}), ("ease", {})])
def test_blocks_of_users_give_the_dense_evaluation_value_for_value(
    movielens, movielens_split, movielens_train, name, params
):
    """Every metric of every user, with and without an excluded item, whether the scores come as
    one array or from the model a block at a time: item-kNN's scores tie, which the top-K must
    break the same way in a block as in the whole."""
    frame, train, test = movielens.frame, movielens_split.train, movielens_split.test
    model = model_factory(name, params)().fit(movielens_train, seed=0)
    dense = EvalSet.build(frame, train, test, movielens.n_items)
    # 24 users a block: a multiple of the 4 rows OpenBLAS's matrix product takes together, so that SVD
    # scores a block to the bit as it scores the whole (blocks of 19 or 25 users move a few scores by
    # one ulp, which can move an error or, at a tie, a ranking metric)
    blocked = replace(SparseEvalSet.build(frame, train, test, movielens.n_items), block_rows=24)
    scores, scale = model.score(dense.users), getattr(model, "rating_scale", None)
    popular = int(np.argmax(dense.relevant.sum(axis=0)))
    for excluded in ([], [popular]):
        expected = evaluate(scores, dense, 10, scale, excluded)
        pd.testing.assert_frame_equal(evaluate(scores, blocked, 10, scale, excluded), expected, check_exact=True)
        pd.testing.assert_frame_equal(evaluate(model.score, blocked, 10, scale, excluded), expected, check_exact=True)
        for block_rows in (1, 100, len(blocked)):  # one user a block, a few blocks, one block
            resized = replace(blocked, block_rows=block_rows)
            pd.testing.assert_frame_equal(evaluate(scores, resized, 10, scale, excluded), expected, check_exact=True)
