"""The whole Snakemake DAG on the small test config over the real MovieLens 100K copy."""

from __future__ import annotations

import pandas as pd
import pytest

from .studies import run_snakemake as snakemake
from .studies import write_config

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def small_study(tmp_path_factory, movielens_dir):
    workdir = tmp_path_factory.mktemp("study")
    config = write_config(workdir, movielens_dir)
    snakemake(workdir, "--cores", "2")
    return workdir, config


def test_every_table_and_figure_is_produced(small_study):
    workdir, config = small_study
    run = workdir / "results" / "ml-100k" / "paper"
    for model in config["models"]:
        assert (run / model / "baseline.csv").stat().st_size > 0
        for kind in ("user", "item"):
            for name in ("influence.parquet", "per_user.parquet", "timing.csv", "top_bottom.csv", "top_bottom.md"):
                assert (run / model / kind / name).stat().st_size > 0, name
            for stem in ("distribution", "top_bottom"):
                assert (run / model / kind / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
                assert (run / model / kind / f"{stem}.pdf").read_bytes()[:4] == b"%PDF"
        assert (run / model / "user" / "pruning.png").read_bytes()[:4] == b"\x89PNG"
    for kind in ("user", "item"):
        assert (run / f"agreement_{kind}.png").read_bytes()[:4] == b"\x89PNG"


def test_influence_tables_cover_the_configured_entities(small_study):
    workdir, config = small_study
    run = workdir / "results" / "ml-100k" / "paper"
    svd = pd.read_parquet(run / "svd" / "user" / "influence.parquet")
    ncf = pd.read_parquet(run / "ncf" / "item" / "influence.parquet")
    assert sorted(svd["entity"].unique()) == list(range(config["influence"]["limit"]["user"]))
    assert sorted(ncf["entity"].unique()) == list(range(config["influence"]["limit"]["item"]))
    # SVD predicts ratings (RMSE/MAE reported); NCF is implicit (ranking metrics only)
    assert {"rmse", "mae", "map@10"} <= set(svd["metric"])
    assert "rmse" not in set(ncf["metric"]) and "map@10" in set(ncf["metric"])
    assert svd["influence"].abs().max() > 0
    per_user = pd.read_parquet(run / "svd" / "user" / "per_user.parquet")
    # exclude protocol: a deleted user is not among the users it is evaluated on
    assert not (per_user["entity"] == per_user["user"]).any()


def test_tables_name_entities_and_report_the_baseline(small_study):
    workdir, _ = small_study
    run = workdir / "results" / "ml-100k" / "paper"
    items = (run / "ncf" / "item" / "top_bottom.md").read_text()
    assert "Toy Story (1995)" in items
    baseline = pd.read_csv(run / "svd" / "baseline.csv")
    map_at_10 = baseline.query("part == 'test' and metric == 'map@10'")["value"].item()
    assert 0 < map_at_10 < 1
    pruning = pd.read_csv(run / "svd" / "user" / "pruning_summary.csv")
    assert set(pruning["selection"]) == {"least influential", "most influential", "random"}
    agreement = pd.read_csv(run / "agreement_user.csv")
    assert set(agreement["metric"]) >= {"map@10", "ndcg@10"}


def test_sharding_changes_no_number(small_study, tmp_path, movielens_dir):
    workdir, _ = small_study
    write_config(tmp_path, movielens_dir, influence__shards=3)
    targets = [f"results/ml-100k/paper/{model}/{kind}/influence.parquet" for model, kind in (("svd", "user"), ("ncf", "item"))]
    snakemake(tmp_path, "--cores", "2", *targets)
    for target in targets:
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / target), pd.read_parquet(workdir / target))


def test_lint_has_no_findings(small_study):
    workdir, _ = small_study
    result = snakemake(workdir, "--lint")
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


def test_bad_config_value_stops_before_any_job(tmp_path, movielens_dir):
    write_config(tmp_path, movielens_dir, k=0)
    result = snakemake(tmp_path, "--cores", "1", check=False)
    assert result.returncode != 0
    assert "0 is less than the minimum of 1" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()
