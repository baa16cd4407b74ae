"""Large catalogs: a model whose estimated memory is over the limit is refused before any training
job, and an item deletion whose variant knows which users it changes is evaluated on those alone,
to the same numbers as over every user."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recinfluence.compose import check_memory, load_settings, memory_request_mb
from recinfluence.errors import InputError
from recinfluence.estimators import build_estimator
from recinfluence.models import ItemKNN
from recinfluence.models.base import DataSize
from recinfluence.retrain import Experiment, Retrainer, select_users

from .studies import run_snakemake, write_config

ML_25M = DataSize(users=162_541, items=59_047, ratings=25_000_095, busiest_user=32_202)


def _models(**models) -> list:
    config = {"datasets": {"d": {"loader": "movielens_100k"}}, "models": models}
    return list(load_settings(config).models.values())


def test_the_memory_guard_names_the_model_the_dataset_and_both_sizes(movielens):
    models = _models(
        ease={"class": "ease"},
        knn={"class": "item_knn", "params": {"save_nbrs": 50}},
        svd={"class": "svd"},
        low_rank={"class": "ease_lowrank"},
    )
    with pytest.raises(InputError) as error:
        check_memory(models, "ml-25m", ML_25M, memory_mb=16384, evaluation_mb=512)
    assert str(error.value) == (
        "resources.memory_mb: models.ease on dataset ml-25m needs about 154.8 GB (59,047 items: 3 dense item x "
        "item matrices and X P at once), over the limit of 16.0 GB; use ease_lowrank, or item_knn with save_nbrs, "
        "or raise the limit"
    )
    # item-kNN with saved neighbours and low-rank EASE fit; SVD declares no estimate: the data's alone
    needs = check_memory(models, "ml-25m", ML_25M, memory_mb=200_000, evaluation_mb=512)
    assert max(needs["knn"], needs["low_rank"]) < 8 * 2**30 < needs["ease"]
    assert needs["svd"] == 2**29 + 150 * ML_25M.ratings + 512 * 2**20 < min(needs["knn"], needs["low_rank"])
    with pytest.raises(InputError) as error:
        check_memory(_models(svd={"class": "svd"}), "ml-25m", ML_25M, memory_mb=4000)
    assert str(error.value) == (
        "resources.memory_mb: models.svd on dataset ml-25m needs about 4.0 GB (25,000,095 ratings; the model "
        "declares no estimate of its own), over the limit of 3.9 GB; raise the limit"
    )
    dense_knn = _models(knn={"class": "item_knn"})
    with pytest.raises(InputError, match=r"models.knn on dataset ml-25m .*; set its save_nbrs, or raise the limit$"):
        check_memory(dense_knn, "ml-25m", ML_25M, memory_mb=16384)
    ml_100k = DataSize.of(movielens.frame["user"].to_numpy(), movielens.n_users, movielens.n_items)
    assert ml_100k == DataSize(943, 1682, 100_000, 737)
    needs = check_memory(models, "ml-100k", ml_100k, memory_mb=16384, evaluation_mb=512)
    assert needs["ease"] < 2**31 and needs["knn"] < 2**31


def test_a_training_job_asks_for_its_estimate_and_a_quarter_more_at_least_1_gb_times_the_attempt():
    assert memory_request_mb(13_244.7) == 16_556 and memory_request_mb(13_244.7, attempt=2) == 2 * 16_556
    assert memory_request_mb(400.0) == 1024 and memory_request_mb(0.0, attempt=3) == 3 * 1024


def test_a_model_over_the_memory_limit_stops_the_study_before_any_training_job(tmp_path, movielens_dir):
    write_config(
        tmp_path,
        movielens_dir,
        models={"ease": {"class": "ease"}},
        resources={"memory_mb": 1000},  # EASE on MovieLens 100K: about 1.1 GB with the default evaluation blocks
        protocols=["paper"],
    )
    result = run_snakemake(tmp_path, "--cores", "2", check=False)
    assert result.returncode != 0
    log = (tmp_path / "logs" / "ml-100k" / "memory" / "ease.log").read_text().splitlines()
    assert log[-1].startswith("error: resources.memory_mb: models.ease on dataset ml-100k needs about 1.1 GB (1,682 ")
    assert not (tmp_path / "results" / "ml-100k" / "memory" / "ease.csv").exists()
    assert not list((tmp_path / "results").rglob("baseline.csv")) and not list((tmp_path / "results").rglob("shards"))


class _Opaque:
    """A deletion variant seen through its scores alone: evaluated over every user."""

    def __init__(self, variant):
        self.score = variant.score


class _EveryUser(ItemKNN):
    def deletion_variants(self, train, kind, deletions):
        yield from map(_Opaque, super().deletion_variants(train, kind, deletions))


@pytest.mark.parametrize("save_nbrs", [None, 50])
def test_an_item_deletion_evaluated_on_the_users_it_changes_gives_every_number_of_a_full_evaluation(
    movielens, movielens_split, save_nbrs
):
    experiment = Experiment.build(movielens, movielens_split, part="evaluation")
    counts = np.bincount(experiment.train.items, minlength=experiment.train.n_items)
    ranked = np.argsort(-counts, kind="stable")
    items = [*ranked[[0, 300, 1000] if save_nbrs is None else [300, 1000]], np.flatnonzero(counts == 0)[0]]
    exact = build_estimator("exact", {"seeds": 1})
    results = [
        exact.estimate(Retrainer(lambda: model(save_nbrs=save_nbrs), experiment, log=None), "item", items, log=None)
        for model in (ItemKNN, _EveryUser)
    ]
    incremental, full = results
    pd.testing.assert_frame_equal(incremental.influence, full.influence)
    pd.testing.assert_frame_equal(incremental.by_seed, full.by_seed)
    pd.testing.assert_frame_equal(incremental.per_user, full.per_user)
    assert (incremental.influence["influence"] != 0).any()


def test_selected_users_of_a_sparse_split_are_those_of_its_dense_form(movielens, movielens_split):
    evalset = Experiment.build(movielens, movielens_split, part="evaluation").evalset
    rows = np.arange(3, len(evalset), 7)
    sparse, dense = select_users(evalset, rows).dense(), select_users(evalset.dense(), rows)
    for name in ("users", "seen", "rating", "relevant"):
        np.testing.assert_array_equal(getattr(sparse, name), getattr(dense, name))
