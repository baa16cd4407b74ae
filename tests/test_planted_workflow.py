"""The whole DAG of a study with planted users, small: the first 150 users of MovieLens 100K as a
table, 10% fake users of the average attack, EASE (deterministic, derived deletions)."""

from __future__ import annotations

import pandas as pd
import pytest

from recinfluence.pruning import ORACLE

from .studies import run_snakemake, write_config

pytestmark = pytest.mark.workflow


def test_a_study_with_planted_users_reports_detection_pruning_oracle_and_attack_impact(tmp_path, movielens):
    frame = movielens.frame[movielens.frame["user"] < 150]
    frame.to_csv(tmp_path / "ratings.csv", index=False)
    columns = {"user": "user", "item": "item", "rating": "rating", "timestamp": "timestamp"}
    datasets = {
        "small": {
            "loader": "table",
            "path": str(tmp_path / "ratings.csv"),
            "columns": columns,
            "rating_scale": [1, 5],
            "inject": {"attack": {"type": "average", "share": 0.1}},
        }
    }
    write_config(
        tmp_path,
        tmp_path,
        datasets=datasets,
        models={"ease": {"class": "ease"}},
        protocols=["heldout"],
        influence={"kinds": ["user"], "shards": 1, "threads": 1},
        estimators={"exact": {"seeds": 1}},
        prune={"kinds": ["user"], "sizes": [5], "random_draws": 1},
    )
    run_snakemake(tmp_path, "--cores", "2")
    folder = tmp_path / "results" / "small" / "heldout" / "ease" / "exact" / "user"
    detection = pd.read_csv(folder / "detection.csv")
    planted = pd.read_parquet(tmp_path / "results" / "small" / "data" / "planted.parquet")
    assert len(planted) == 15 and (detection["n_planted"] == 15).all()
    assert {"profile_size", "rdma", "degsim"} <= set(detection["method"])
    assert detection["roc_auc"].between(0, 1).all() and (detection["roc_auc_low"] <= detection["roc_auc"]).all()
    assert (folder / "detection.png").read_bytes()[:4] == b"\x89PNG"
    pruning = pd.read_csv(folder / "pruning_summary.csv")
    assert set(pruning.loc[pruning["selection"] == ORACLE, "size"]) == {15}
    impact = pd.read_csv(folder / "attack_impact.csv")
    assert set(impact["removal"]) == {"attacked data", "without the 15 least influential", ORACLE}
    assert impact["mean_rank"].notna().all()
    summary = (tmp_path / "results" / "summary.md").read_text()
    assert "## 7. Planted data: does influence find it?" in summary and "small / heldout / ease / exact" in summary
