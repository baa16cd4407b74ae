"""The whole Snakemake DAG on the small test config over the real MovieLens 100K copy."""

from __future__ import annotations

import copy
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from recinfluence.analysis import versus_control
from recinfluence.compose import memory_request_mb

from .studies import run_snakemake as snakemake
from .studies import write_config

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def small_study(tmp_path_factory, movielens_dir):
    """The small config with its richer protocol alone (validation and test parts): the paper
    protocol doubles every job of the DAG (CI time) and runs through it in the Slurm, resume and
    paper noise-floor tests; the summary's protocols side by side are tested in test_analysis."""
    workdir = tmp_path_factory.mktemp("study")
    config = write_config(workdir, movielens_dir, protocols=["heldout"])
    snakemake(workdir, "--cores", "2")
    return workdir, config


def test_every_table_and_figure_is_produced(small_study):
    workdir, config = small_study
    assert config["protocols"] == ["heldout"]
    for protocol in config["protocols"]:
        run = workdir / "results" / "ml-100k" / protocol
        for model in config["models"]:
            for name in ("baseline.csv", "noise_seeds.csv", "noise_pairs.csv", "noise_floor.csv", "noise_floor.md"):
                assert (run / model / name).stat().st_size > 0, name
            for estimator, kind in ((e, k) for e in config["estimators"] for k in ("user", "item")):
                pruned = estimator in config["prune"]["estimators"]
                for name in (
                    "influence.parquet",
                    "influence_by_seed.parquet",
                    "per_user.parquet",
                    "timing.csv",
                    "top_bottom.csv",
                    "top_bottom.md",
                    "significance.csv",
                    "significance.md",
                    "moved_users.csv",
                    "moved_users.md",
                    "metric_agreement.csv",
                    "metric_agreement.md",
                    "reproducibility.csv",
                    *(["pruning_summary.md"] if pruned else []),
                ):
                    assert (run / model / estimator / kind / name).stat().st_size > 0, name
                assert (run / model / estimator / kind / "pruning_summary.md").exists() == pruned
                for stem in (
                    "distribution",
                    "top_bottom",
                    "moved_users",
                    "metric_agreement",
                    *(["pruning"] if pruned else []),
                ):
                    assert (run / model / estimator / kind / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
                    assert (run / model / estimator / kind / f"{stem}.pdf").read_bytes()[:4] == b"%PDF"
        for model, kind in ((m, k) for m in config["models"] for k in ("user", "item")):
            assert (run / model / f"reliability_{kind}.png").read_bytes()[:4] == b"\x89PNG"
        for estimator, kind in ((e, k) for e in config["estimators"] for k in ("user", "item")):
            assert (run / "agreement" / f"{estimator}_{kind}.png").read_bytes()[:4] == b"\x89PNG"
            assert (run / "agreement" / f"{estimator}_{kind}.md").stat().st_size > 0
    assert (workdir / "results" / "summary.md").stat().st_size > 0


def test_every_table_holds_every_entity_and_metric_with_numbers_where_numbers_are_due(small_study):
    workdir, config = small_study
    limit, seeds = config["influence"]["limit"], config["estimators"]["exact"]["seeds"]
    for protocol in config["protocols"]:
        for model in config["models"]:
            folder = workdir / "results" / "ml-100k" / protocol / model
            metrics = {"map@10", "ndcg@10", "precision@10", "recall@10", "hit_rate@10", "auc"} | (
                {"rmse", "mae"} if model == "svd" else set()
            )
            baseline = pd.read_csv(folder / "baseline.csv")
            assert set(baseline["metric"]) == metrics and baseline["value"].notna().all()
            for estimator in config["estimators"]:
                for kind in ("user", "item"):
                    here = folder / estimator / kind
                    influence = pd.read_parquet(here / "influence.parquet")
                    assert len(influence) == limit[kind] * len(metrics), (model, estimator, kind)
                    assert set(influence["entity"]) == set(range(limit[kind])) and set(influence["metric"]) == metrics
                    assert influence["influence"].notna().all() and influence["p_value"].between(0, 1).all()
                    assert (influence["samples"] == config["estimators"][estimator].get("seeds", seeds)).all()
                    assert (influence["ci_low"] <= influence["influence"]).all() and (
                        influence["influence"] <= influence["ci_high"]
                    ).all()
                    by_seed = pd.read_parquet(here / "influence_by_seed.parquet")
                    assert (
                        len(by_seed) == len(influence) * influence["samples"].iloc[0]
                        and by_seed["influence"].notna().all()
                    )
                    significance = pd.read_csv(here / "significance.csv").set_index("metric")
                    assert set(significance.index) == metrics and (significance["entities"] == limit[kind]).all()
                    assert (significance["detectable"] <= significance["entities"]).all() and (
                        significance["above_noise"] <= significance["entities"]
                    ).all()
                    reproducibility = pd.read_csv(here / "reproducibility.csv")
                    assert set(reproducibility["metric"]) == metrics and reproducibility["spearman_mean"].notna().any()
                    ranked = pd.read_csv(here / "top_bottom.csv")
                    assert set(ranked["group"]) == {"most", "least"} and ranked["influence"].notna().all()
                    if estimator in config["prune"]["estimators"]:
                        pruning = pd.read_csv(here / "pruning_summary.csv")
                        assert set(pruning["selection"]) == {"least influential", "most influential", "random"}
                        assert set(pruning["metric"]) == metrics and pruning["mean"].notna().all()


def test_influence_tables_cover_the_configured_entities(small_study):
    workdir, config = small_study
    run = workdir / "results" / "ml-100k" / "heldout"
    svd = pd.read_parquet(run / "svd" / "exact" / "user" / "influence.parquet")
    ncf = pd.read_parquet(run / "ncf" / "exact" / "item" / "influence.parquet")
    assert sorted(svd["entity"].unique()) == list(range(config["influence"]["limit"]["user"]))
    assert sorted(ncf["entity"].unique()) == list(range(config["influence"]["limit"]["item"]))
    # SVD predicts ratings (RMSE/MAE reported); NCF is implicit (ranking metrics only)
    assert {"rmse", "mae", "map@10"} <= set(svd["metric"])
    assert "rmse" not in set(ncf["metric"]) and "map@10" in set(ncf["metric"])
    assert svd["influence"].abs().max() > 0
    per_user = pd.read_parquet(run / "svd" / "exact" / "user" / "per_user.parquet")
    # exclude protocol: a deleted user is not among the users it is evaluated on
    assert not (per_user["entity"] == per_user["user"]).any()


def test_tables_name_entities_and_report_the_baseline(small_study):
    workdir, _ = small_study
    run = workdir / "results" / "ml-100k" / "heldout"
    items = (run / "ncf" / "exact" / "item" / "top_bottom.md").read_text()
    assert "Toy Story (1995)" in items
    baseline = pd.read_csv(run / "svd" / "baseline.csv")
    map_at_10 = baseline.query("part == 'test' and metric == 'map@10'")["value"].item()
    assert 0 < map_at_10 < 1
    pruning = pd.read_csv(run / "svd" / "exact" / "user" / "pruning_summary.csv")
    assert set(pruning["selection"]) == {"least influential", "most influential", "random"}
    agreement = pd.read_csv(run / "agreement" / "exact_user.csv")
    assert set(agreement["metric"]) >= {"map@10", "ndcg@10"}


def test_noise_floor_is_the_seed_to_seed_difference_of_the_baseline(small_study):
    workdir, config = small_study
    seeds = list(range(config["seed"], config["seed"] + config["noise"]["seeds"]))
    for protocol in config["protocols"]:
        folder = workdir / "results" / "ml-100k" / protocol / "svd"
        values = pd.read_csv(folder / "noise_seeds.csv")
        assert sorted(values["seed"].unique()) == seeds
        # baseline.csv is the first seed's row of the seed table
        baseline = pd.read_csv(folder / "baseline.csv").set_index(["part", "metric"])["value"]
        first = values[values["seed"] == config["seed"]].set_index(["part", "metric"])["value"]
        pd.testing.assert_series_equal(baseline.sort_index(), first.sort_index())
        by_seed = values.pivot_table(index=["part", "metric"], columns="seed", values="value")
        assert (by_seed[seeds[0]] != by_seed[seeds[1]]).any()  # the seed matters
        floor = pd.read_csv(folder / "noise_floor.csv").set_index(["part", "metric"])
        # two seeds give one pair: the noise floor is their absolute difference
        assert (floor["pairs"] == 1).all()
        np.testing.assert_allclose(
            floor["noise_floor"], (by_seed[seeds[0]] - by_seed[seeds[1]]).abs().reindex(floor.index)
        )
        np.testing.assert_allclose(floor["mean"], by_seed.mean(axis=1).reindex(floor.index))
        split_differs = not np.allclose(floor.xs("evaluation")["mean"], floor.xs("test")["mean"])
        assert split_differs == (protocol == "heldout")  # heldout: influence on validation, pruning on test


def test_the_paper_protocol_measures_influence_and_pruning_on_the_same_test_part(tmp_path, movielens_dir):
    write_config(tmp_path, movielens_dir, protocols=["paper"])
    snakemake(tmp_path, "--cores", "2", "results/ml-100k/paper/svd/noise_floor.csv")
    floor = pd.read_csv(tmp_path / "results" / "ml-100k" / "paper" / "svd" / "noise_floor.csv")
    by_part = floor.set_index(["part", "metric"])
    assert set(floor["part"]) == {"evaluation", "test"}
    pd.testing.assert_frame_equal(by_part.xs("evaluation"), by_part.xs("test"))


def test_significance_follows_the_noise_floor_rule(small_study):
    workdir, config = small_study
    for protocol in config["protocols"]:
        for model in config["models"]:
            folder = workdir / "results" / "ml-100k" / protocol / model
            floor = (
                pd.read_csv(folder / "noise_floor.csv").query("part == 'evaluation'").set_index("metric")["noise_floor"]
            )
            for kind in ("user", "item"):
                influence = pd.read_parquet(folder / "exact" / kind / "influence.parquet")
                above = influence["influence"].abs() > influence["metric"].map(floor)
                significance = pd.read_csv(folder / "exact" / kind / "significance.csv").set_index("metric")
                expected = above.groupby(influence["metric"]).sum()
                pd.testing.assert_series_equal(
                    significance["above_noise"].sort_index(), expected.sort_index(), check_names=False
                )
                ranked = pd.read_csv(folder / "exact" / kind / "top_bottom.csv")
                primary = influence[influence["metric"] == "map@10"].set_index("entity")["influence"]
                assert (ranked["above_noise"] == (primary[ranked["entity"]].abs() > floor["map@10"]).to_numpy()).all()
                # detectable: Benjamini-Hochberg over the p-values of the paired differences across the two seeds
                assert significance["detectable"].sum() <= (influence["p_value"] <= 0.05).sum()


def test_influence_averages_the_seeds_per_deletion_with_a_confidence_interval(small_study):
    workdir, config = small_study
    folder = workdir / "results" / "ml-100k" / "heldout" / "ncf" / "exact" / "user"
    influence = pd.read_parquet(folder / "influence.parquet")
    by_seed = pd.read_parquet(folder / "influence_by_seed.parquet")
    assert sorted(by_seed["seed"].unique()) == [0, 1] and (influence["samples"] == 2).all()
    mean = by_seed.groupby(["entity", "metric"])["influence"].mean()
    np.testing.assert_allclose(
        influence.set_index(["entity", "metric"])["influence"],
        mean.reindex(influence.set_index(["entity", "metric"]).index),
    )
    assert (influence["ci_low"] <= influence["influence"]).all() and (
        influence["influence"] <= influence["ci_high"]
    ).all()
    reproducibility = pd.read_csv(folder / "reproducibility.csv")
    assert (reproducibility["seeds"] == 2).all() and reproducibility["spearman_mean"].notna().any()
    # two seeds split in halves of one: the reliability is the Spearman-Brown of their correlation
    r = reproducibility["split_half"].clip(lower=0)  # halves that disagree: reliability 0
    np.testing.assert_allclose(reproducibility["reliability"], 2 * r / (1 + r))


def test_pruning_retrains_with_every_noise_seed_against_a_random_control(small_study):
    workdir, config = small_study
    draws = config["prune"]["random_draws"]
    for protocol in config["protocols"]:
        for kind in ("user", "item"):
            folder = workdir / "results" / "ml-100k" / protocol / "svd" / "exact" / kind
            table = pd.read_csv(folder / "pruning.csv")
            assert sorted(table["seed"].unique()) == [0, 1]
            summary = pd.read_csv(folder / "pruning_summary.csv").query("metric == 'map@10'").set_index("selection")
            assert summary.loc["least influential", "runs"] == 2 and summary.loc["random", "runs"] == 2 * draws
            assert (summary["ci_low"] <= summary["mean"]).all() and (summary["mean"] <= summary["ci_high"]).all()
            # the selection seed (0, 1: estimators.exact.seeds = 2) covers every pruning seed: nothing fresh
            assert summary["fresh_seed_mean"].isna().all()


def test_exact_deletion_is_tested_against_the_size_matched_random_rows_control(small_study):
    workdir, config = small_study
    fdr = 0.05
    for model, kind in (("svd", "user"), ("ncf", "item")):
        folder = workdir / "results" / "ml-100k" / "heldout" / model
        control = pd.read_parquet(folder / "random_rows" / kind / "influence_by_seed.parquet")
        exact = pd.read_parquet(folder / "exact" / kind / "influence_by_seed.parquet")
        assert sorted(control["seed"].unique()) == sorted(exact["seed"].unique()) == [0, 1]
        expected = versus_control(exact, control, fdr).groupby("metric")["differs"].sum()
        significance = pd.read_csv(folder / "exact" / kind / "significance.csv").set_index("metric")
        assert (significance["differs_from_random_rows"] == expected.reindex(significance.index)).all()
        ranked = pd.read_csv(folder / "exact" / kind / "top_bottom.csv")
        assert {"random_rows_influence", "differs_from_random_rows"} <= set(ranked.columns)
        # the estimators that are not paired deletions have nothing to compare
        assert pd.read_csv(folder / "random" / kind / "significance.csv")["differs_from_random_rows"].isna().all()
        assert pd.read_csv(folder / "random_rows" / kind / "significance.csv")["differs_from_random_rows"].isna().all()
    assert "differ from random rows" in (workdir / "results" / "summary.md").read_text()


def test_moved_users_are_read_from_the_per_user_influence(small_study):
    workdir, config = small_study
    folder = workdir / "results" / "ml-100k" / "heldout" / "svd" / "exact" / "user"
    moved = pd.read_csv(folder / "moved_users.csv")
    per_user = pd.read_parquet(folder / "per_user.parquet").set_index(["entity", "user"])["map@10"]
    ranked = pd.read_csv(folder / "top_bottom.csv")
    assert len(moved) and set(moved["entity"]) <= set(ranked["entity"])
    np.testing.assert_allclose(moved["change"], per_user.loc[list(zip(moved["entity"], moved["user"]))].to_numpy())
    assert (moved.groupby("entity")["user_rank"].max() <= config["report"]["moved_users"]).all()
    assert not (moved["entity"] == moved["user"]).any()  # exclude protocol: a deleted user is not evaluated


def test_summary_sets_every_model_and_pruned_estimator_side_by_side(small_study):
    workdir, config = small_study
    summary = (workdir / "results" / "summary.md").read_text()
    assert (
        "**above the noise** when its absolute value exceeds the noise floor" in summary and "**detectable**" in summary
    )
    claims = [line for line in summary.splitlines() if line.startswith("| (no published number) removing the 2 least")]
    assert {
        tuple(cell.strip() for cell in cells[3:6]) for cells in (line.strip("|").split("|") for line in claims)
    } == {
        (model, protocol, estimator)
        for model in ("svd", "ncf")
        for protocol in config["protocols"]
        for estimator in ("exact", "random")
    }
    pruning = pd.read_csv(
        workdir / "results" / "ml-100k" / "heldout" / "svd" / "exact" / "user" / "pruning_summary.csv"
    )
    least = pruning.query("metric == 'map@10' and selection == 'least influential'").iloc[0]
    row = next(line for line in claims if "| svd " in line and "| heldout " in line and "| exact " in line)
    assert f"{least['mean']:+.2f}% [{least['ci_low']:+.2f}, {least['ci_high']:+.2f}] (n=2)" in row


def test_report_is_self_contained(small_study):
    workdir, _ = small_study
    snakemake(workdir, "--report", "report.html")
    html = (workdir / "report.html").read_text(errors="replace")
    assert "summary.md" in html and "noise_floor.md" in html and "moved_users.png" in html


def test_sharding_changes_no_number(small_study, tmp_path, movielens_dir):
    workdir, _ = small_study
    write_config(tmp_path, movielens_dir, protocols=["heldout"], influence__shards=3)
    targets = [
        f"results/ml-100k/heldout/{model}/{estimator}/{kind}/influence.parquet"
        for model, estimator, kind in (("svd", "exact", "user"), ("ncf", "exact", "item"), ("svd", "random", "item"))
    ]
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


def planned_jobs(output: str) -> set[tuple[str, frozenset]]:
    """(rule, wildcards) of every job a dry run plans."""
    jobs = set()
    for block in re.split(r"^\[[^\]\n]+\]$", output, flags=re.M):
        rule = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        if rule:
            wildcards = re.search(r"^\s+wildcards: (.*)$", block, re.M)
            pairs = (
                frozenset(tuple(pair.split("=", 1)) for pair in wildcards.group(1).split(", "))
                if wildcards
                else frozenset()
            )
            jobs.add((rule.group(1), pairs))
    return jobs


EVERY_RULE = {
    "prepare_dataset",
    "split",
    "check_memory",
    "baseline",
    "influence_shard",
    "merge_influence",
    "prune",
    "analyse_influence",
    "agreement",
    "plot_influence",
    "plot_pruning",
    "plot_agreement",
    "plot_reliability",
    "summary",
    "all",
}
# Each edit of the finished small study, and the rules whose jobs it must (and alone may) rerun:
# those that read the key, and those downstream of them.
EDITS = {
    "report.top_n": (
        lambda c: c["report"].update(top_n=4),
        {"analyse_influence", "agreement", "plot_influence", "plot_agreement", "plot_reliability", "summary", "all"},
    ),
    "prune.sizes": (lambda c: c["prune"].update(sizes=[2, 3]), {"prune", "plot_pruning", "summary", "all"}),
    "noise.seeds": (
        lambda c: c["noise"].update(seeds=3),
        {
            "baseline",
            "prune",
            "analyse_influence",
            "plot_influence",
            "plot_pruning",
            "plot_reliability",
            "summary",
            "all",
        },
    ),
    "models.svd.params": (
        lambda c: c["models"]["svd"]["params"].update(n_epochs=11),
        EVERY_RULE - {"prepare_dataset", "split"},
    ),
    "k": (lambda c: c.update(k=5), EVERY_RULE - {"prepare_dataset", "check_memory"}),  # split checks k against items
    "estimators.random.scale": (
        lambda c: c["estimators"]["random"].update(scale=0.002),
        EVERY_RULE - {"prepare_dataset", "split", "check_memory", "baseline"},
    ),
}


def test_training_jobs_ask_for_their_models_estimated_memory(small_study):
    """Every baseline, shard and pruning job's mem_mb (what Slurm's --mem and --resources mem_mb
    count) comes from its model's memory check on the dataset."""
    workdir, config = small_study
    text = "".join(log.read_text() for log in (workdir / ".snakemake" / "log").glob("*.snakemake.log"))
    asked = {}
    for rule, body in re.findall(r"rule (baseline|influence_shard|prune):\n((?:    .*\n)+)", text):
        model = re.search(r"model=([^,\n]+)", body).group(1)
        asked.setdefault((rule, model), set()).add(int(re.search(r"mem_mb=(\d+)", body).group(1)))
    assert {rule for rule, _ in asked} == {"baseline", "influence_shard", "prune"}
    assert {model for _, model in asked} == set(config["models"])
    for (rule, model), values in asked.items():
        needed_mb = pd.read_csv(workdir / "results" / "ml-100k" / "memory" / f"{model}.csv")["needed_mb"].item()
        assert values == {memory_request_mb(needed_mb)}, (rule, model)


def test_a_finished_study_plans_nothing(small_study):
    assert planned_jobs(snakemake(small_study[0], "-n").stdout) == set()


def reversed_keys(value, keep_order_of=(), keep=False):
    """``value`` with every dict's keys in reverse order, but the dicts named in ``keep_order_of``."""
    if isinstance(value, dict):
        keys = list(value) if keep else list(value)[::-1]
        return {key: reversed_keys(value[key], keep_order_of, key in keep_order_of) for key in keys}
    return [reversed_keys(item, keep_order_of) for item in value] if isinstance(value, list) else value


def test_a_config_with_its_keys_reordered_plans_nothing(small_study, tmp_path):
    """A rule's params are compared by their repr: reordered keys (a model's params written in
    another order) must not rerun a finished study. The order of the models, datasets and
    estimators is the order of the report, so it stays."""
    workdir, _ = small_study
    study = tmp_path / "study"
    shutil.copytree(workdir, study, ignore=shutil.ignore_patterns("report.html"))
    written = yaml.safe_load((study / "config.yaml").read_text())  # as the study ran (sorted keys)
    reordered = reversed_keys(written, keep_order_of=("models", "datasets", "estimators"))
    assert list(reordered["models"]["ncf"]["params"]) == list(reversed(list(written["models"]["ncf"]["params"])))
    (study / "config.yaml").write_text(yaml.safe_dump(reordered, sort_keys=False))
    assert planned_jobs(snakemake(study, "-n").stdout) == set()


@pytest.mark.parametrize("key", list(EDITS))
def test_a_config_edit_reruns_only_the_rules_that_read_it(small_study, tmp_path, key):
    workdir, config = small_study
    study = tmp_path / "study"
    shutil.copytree(
        workdir, study, ignore=shutil.ignore_patterns("report.html")
    )  # results with their mtimes, and .snakemake
    edit, rules = EDITS[key]
    edited = copy.deepcopy(config)
    edit(edited)
    (study / "config.yaml").write_text(yaml.safe_dump(edited))
    jobs = planned_jobs(snakemake(study, "-n").stdout)
    assert {rule for rule, _ in jobs} == rules
    wildcards = [dict(pairs) for _, pairs in jobs]
    if key == "models.svd.params":  # the other model's jobs stay, but for those that compare models
        assert {w.get("model") for w in wildcards} <= {"svd", None}
    if key == "estimators.random.scale":
        assert {w.get("estimator") for w in wildcards} <= {"random", None}


def test_the_negative_control_runs_through_the_dag(small_study):
    workdir, config = small_study
    folder = workdir / "results" / "ml-100k" / "heldout" / "svd"
    exact = pd.read_parquet(folder / "exact" / "user" / "influence.parquet")
    control = pd.read_parquet(folder / "random" / "user" / "influence.parquet")
    assert list(control.columns) == [c for c in exact.columns if c not in ("baseline", "without")]  # the shared schema
    assert set(control["entity"]) == set(exact["entity"]) and (control["samples"] == 2).all()
    assert set(pd.read_parquet(folder / "random" / "user" / "influence_by_seed.parquet")["seed"]) == {0, 1}
    pruning = pd.read_csv(folder / "random" / "user" / "pruning_summary.csv")
    assert pruning["same_seed_mean"].isna().all()  # the control trained no model: every pruning seed is fresh
    summary = (workdir / "results" / "summary.md").read_text()
    assert "**negative control**" in summary
    reproducibility = summary[summary.index("## 6.") :]
    assert "| random " in reproducibility and "| exact " in reproducibility


def test_a_config_of_datasets_and_models_alone_plans_the_whole_study(tmp_path, movielens_dir):
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "datasets": {"ml-100k": {"loader": "movielens_100k", "path": str(movielens_dir)}},
                "models": {"svd": {"class": "svd"}},
            }
        )
    )
    jobs = planned_jobs(snakemake(tmp_path, "-n").stdout)
    counts = pd.Series([rule for rule, _ in jobs]).value_counts()
    # the defaults: both protocols, users and items, 40 shards, the exact estimator, pruning of both kinds
    assert counts["influence_shard"] == 2 * 2 * 40 and counts["prune"] == 2 * 2 and counts["baseline"] == 2
    assert set(counts.index) == EVERY_RULE - {"agreement", "plot_agreement"}  # one model: nothing to agree on
