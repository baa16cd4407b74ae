"""Seeded train / validation / test split (recinfluence.split)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recinfluence.errors import InputError
from recinfluence.split import Split, check_evaluable, coverage, split_interactions


def _check_partition(split: Split, n_rows: int) -> None:
    parts = np.concatenate([split.train, split.valid, split.test])
    assert len(parts) == n_rows  # no row twice ...
    np.testing.assert_array_equal(np.sort(parts), np.arange(n_rows))  # ... and every row once
    for rows in (split.train, split.valid, split.test):
        assert np.all(np.diff(rows) > 0)  # sorted, unique


@pytest.mark.parametrize("test_fraction", [0.25, 0.1, 0.5])
def test_paper_protocol_fractions_and_partition(movielens, test_fraction):
    n = len(movielens.frame)
    split = split_interactions(n, test_fraction=test_fraction, seed=3, protocol="paper")
    assert len(split.test) == round(test_fraction * n)
    assert len(split.valid) == 0
    assert len(split.train) == n - len(split.test)
    _check_partition(split, n)
    np.testing.assert_array_equal(split.evaluation, split.test)


def test_heldout_protocol_has_a_validation_part(movielens):
    n = len(movielens.frame)
    split = split_interactions(n, test_fraction=0.2, seed=0, protocol="heldout", valid_fraction=0.1)
    assert len(split.test) == 20_000
    assert len(split.valid) == round(0.1 * (n - 20_000)) == 8_000
    assert len(split.train) == n - 28_000
    _check_partition(split, n)
    np.testing.assert_array_equal(split.evaluation, split.valid)


def test_same_seed_same_split_different_seed_different_split():
    a = split_interactions(1000, seed=11, protocol="heldout")
    b = split_interactions(1000, seed=11, protocol="heldout")
    c = split_interactions(1000, seed=12, protocol="heldout")
    for part in ("train", "valid", "test"):
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part))
    assert not np.array_equal(a.test, c.test)
    assert not np.array_equal(a.valid, c.valid)


def test_split_is_random_not_a_prefix():
    split = split_interactions(1000, test_fraction=0.25, seed=0)
    # a shuffled split draws test rows from the whole range
    assert split.test.min() < 100 and split.test.max() > 900
    assert not np.array_equal(split.test, np.arange(750, 1000))


@pytest.mark.parametrize("protocol", ["paper", "heldout"])
def test_frame_round_trip(protocol):
    split = split_interactions(200, seed=5, protocol=protocol)
    frame = split.to_frame()
    assert frame["row"].tolist() == list(range(200))
    assert set(frame["part"]) <= {"train", "valid", "test"}
    back = Split.from_frame(frame, protocol)
    for part in ("train", "valid", "test"):
        np.testing.assert_array_equal(getattr(back, part), getattr(split, part))
    assert back.protocol == protocol


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"test_fraction": 0.0}, "split.test_fraction"),
        ({"test_fraction": 1.0}, "split.test_fraction"),
        ({"test_fraction": -0.2}, "split.test_fraction"),
        ({"test_fraction": 1.5}, "split.test_fraction"),
        ({"valid_fraction": 0.0, "protocol": "heldout"}, "split.valid_fraction"),
        ({"valid_fraction": 1.0, "protocol": "heldout"}, "split.valid_fraction"),
        ({"protocol": "kfold"}, "split.protocol"),
    ],
)
def test_bad_split_settings_name_the_key(kwargs, key):
    with pytest.raises(InputError, match=key.replace(".", r"\.")):
        split_interactions(100, **kwargs)


def test_too_few_rows():
    with pytest.raises(InputError, match="too few"):
        split_interactions(1, test_fraction=0.25)


def test_coverage_reports_entities_without_training_rows():
    # user 2 and item 3 appear only in rows 4 and 5; rows 4 and 5 are forced into test
    frame = pd.DataFrame(
        {
            "user": [0, 0, 1, 1, 2, 2],
            "item": [0, 1, 0, 1, 0, 3],
            "rating": [5.0, 4.0, 3.0, 2.0, 1.0, 5.0],
        }
    )
    split = Split(train=np.array([0, 1, 2, 3]), valid=np.array([], dtype=int), test=np.array([4, 5]), protocol="paper")
    report = coverage(frame, split)
    assert report["users_without_training"] == [2]
    assert report["items_without_training"] == [3]
    assert (report["train_rows"], report["valid_rows"], report["test_rows"]) == (4, 0, 2)
    # move row 5 (user 2, item 3) to training: both are covered again
    split = Split(train=np.array([0, 1, 2, 3, 5]), valid=np.array([], dtype=int), test=np.array([4]), protocol="paper")
    report = coverage(frame, split)
    assert report["users_without_training"] == []
    assert report["items_without_training"] == []


def test_coverage_on_movielens(movielens, movielens_split):
    report = coverage(movielens.frame, movielens_split)
    train = movielens.frame.iloc[movielens_split.train]
    expected_items = sorted(set(range(movielens.n_items)) - set(train["item"]))
    assert report["items_without_training"] == expected_items
    assert report["users_without_training"] == []  # every MovieLens user has 20+ ratings
    assert report["train_rows"] + report["test_rows"] == 100_000


def test_heldout_needs_a_non_empty_validation_part():
    with pytest.raises(InputError, match="validation fraction"):
        split_interactions(10, test_fraction=0.2, protocol="heldout", valid_fraction=0.01)
    # the paper protocol has no validation part, so the same numbers are fine there
    assert len(split_interactions(10, test_fraction=0.2, protocol="paper", valid_fraction=0.01).valid) == 0


def test_data_too_small_for_the_study_is_refused_with_the_reason(movielens):
    frame = movielens.frame
    split = split_interactions(len(frame), protocol="heldout")
    check_evaluable(frame, split, 10, 4)  # the real data passes
    one_user = frame[frame["user"] == 0].reset_index(drop=True)
    with pytest.raises(
        InputError, match="1 user\\(s\\) and .* item\\(s\\): deletion diagnostics need at least two of each"
    ):
        check_evaluable(one_user, split_interactions(len(one_user)), 10, 4)
    few_items = frame[frame["item"] < 8].reset_index(drop=True)
    with pytest.raises(InputError, match="k: 10 is more than the 8 items of the dataset"):
        check_evaluable(few_items, split_interactions(len(few_items)), 10, 4)
    low = frame.assign(rating=np.minimum(frame["rating"], 3.0))
    with pytest.raises(InputError, match="the validation split has no rating >= relevance_threshold 4 "):
        check_evaluable(low, split, 10, 4)
