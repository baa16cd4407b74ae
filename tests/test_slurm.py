"""profiles/slurm end to end on a one-node Slurm cluster that the tests start (root only).

The small study runs twice on the same config: through Slurm with `--profile profiles/slurm`
(plus the few settings this test cluster needs, TEST_CLUSTER below) and locally, side by side.
The shard jobs must have run as Slurm jobs, the local rules must not have, and the merged
influence tables must be equal value for value.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import time

import pandas as pd
import pytest

from .studies import REPO, snakemake_command, snakemake_env, write_config

pytestmark = pytest.mark.slurm

CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"
RUN = "results/ml-100k/paper"
TABLES = [f"{RUN}/{model}/exact/{kind}/influence.parquet" for model, kind in (("svd", "user"), ("ncf", "item"))]
RANKED = f"{RUN}/svd/exact/user/top_bottom.md"  # made by `rank`, a local rule
SLURM_TIMEOUT = 300  # seconds; a hung Snakemake (see tests/slurm/cluster.sh) is killed, not waited for

# Only what this cluster needs on top of profiles/slurm: no slurmdbd (so squeue, not sacct, for
# the status), its one partition, requests that fit one small node (these replace the profile's
# default-resources and set-resources), short waits, and the Slurm logs of successful jobs kept
# for the checks. `--cores`, the node's CPU count, is added below: no job asks for more CPUs than
# the node has.
TEST_CLUSTER = [
    "--slurm-status-command",
    "squeue",
    "--default-resources",
    "slurm_partition=debug",
    "runtime=10",
    "mem_mb=500",
    "cpus_per_task=threads",
    "--set-resources",
    "influence_shard:mem_mb=500",
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--latency-wait",
    "5",
    "--slurm-keep-successful-logs",
]
PROFILE = REPO / "profiles" / "slurm"


def cannot_start_slurm() -> str | None:
    """Why a one-node Slurm cannot be started here, or None."""
    if platform.system() != "Linux":
        return "the test cluster runs on Linux only"
    if os.geteuid() != 0:
        return "starting a Slurm cluster needs root (it installs packages and starts daemons)"
    sbin = f"{os.environ.get('PATH', '')}{os.pathsep}/usr/sbin{os.pathsep}/sbin"
    if not shutil.which("slurmctld", path=sbin) and not shutil.which("apt-get"):
        return "Slurm is not installed and there is no apt-get to install it"
    return None


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A one-node Slurm cluster for this module: the environment in which its clients find it,
    and its node's CPU count. Stopped at the end, whatever happened."""
    reason = cannot_start_slurm()
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("slurm")
    try:
        start = subprocess.run(
            ["bash", str(CLUSTER), "start", str(folder)], capture_output=True, text=True, timeout=600
        )
        if start.returncode == 3:  # e.g. a Slurm daemon already runs on this host
            pytest.skip(start.stderr.strip().splitlines()[-1])
        if start.returncode != 0:
            pytest.fail(f"could not start the test Slurm cluster:\n{start.stdout}\n{start.stderr[-5000:]}")
        env = snakemake_env()
        env["SLURM_CONF"] = str(folder / "slurm.conf")
        env["PATH"] = f"{folder / 'bin'}{os.pathsep}{env['PATH']}"  # see tests/slurm/cluster.sh
        cpus = subprocess.run(
            ["sinfo", "-h", "-o", "%c"], capture_output=True, text=True, env=env, timeout=30, check=True
        )
        yield {"env": env, "cpus": cpus.stdout.strip()}
    finally:
        subprocess.run(["bash", str(CLUSTER), "stop", str(folder)], timeout=120)


@pytest.fixture(scope="module")
def studies(slurm, tmp_path_factory, movielens_dir):
    """The small study through Slurm and, at the same time, locally: both working folders, the
    Slurm run's output and the Slurm jobs it left (squeue keeps finished ones for MinJobAge)."""
    on_slurm, local = tmp_path_factory.mktemp("on_slurm"), tmp_path_factory.mktemp("local")
    # without the random-rows control: what Slurm runs, not every estimator (CI time); two shards
    # per table
    for folder in (on_slurm, local):
        config = write_config(
            folder, movielens_dir, estimators={"exact": {"seeds": 2}, "random": {"seeds": 2}}, influence__shards=2
        )
    targets = [*TABLES, RANKED]
    started = time.monotonic()
    local_run = subprocess.Popen(
        snakemake_command(local, "--cores", "2", *targets),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=snakemake_env(),
        cwd=REPO,
    )
    try:
        command = ["timeout", "-k", "10", str(SLURM_TIMEOUT)]
        command += snakemake_command(
            on_slurm, "--profile", str(PROFILE), *TEST_CLUSTER, "--cores", slurm["cpus"], *targets
        )
        slurm_run = subprocess.run(command, capture_output=True, text=True, env=slurm["env"], cwd=REPO)
        slurm_seconds = time.monotonic() - started
        local_output, _ = local_run.communicate(timeout=600)
    finally:
        if local_run.poll() is None:
            local_run.kill()
    output = slurm_run.stdout + slurm_run.stderr
    if slurm_run.returncode != 0:
        pytest.fail(f"snakemake --profile profiles/slurm failed (exit {slurm_run.returncode}):\n{output[-8000:]}")
    if local_run.returncode != 0:
        pytest.fail(f"the local run failed:\n{local_output[-5000:]}")
    run_id = re.search(r"SLURM run ID: (\S+)", output)
    assert run_id, output[-3000:]
    queue = subprocess.run(
        ["squeue", "-h", "--states=all", f"--name={run_id.group(1)}", "-o", "%i|%k|%T"],
        capture_output=True,
        text=True,
        env=slurm["env"],
        timeout=30,
        check=True,
    )
    jobs = [line.split("|") for line in queue.stdout.split()]
    print(f"\nsmall study through Slurm: {len(jobs)} Slurm jobs, {slurm_seconds:.0f} s")
    return {
        "on_slurm": on_slurm,
        "local": local,
        "output": output,
        "jobs": jobs,
        "shards": config["influence"]["shards"],
    }


def test_shard_jobs_ran_as_slurm_jobs(studies):
    jobs = studies["jobs"]
    assert jobs and all(state == "COMPLETED" for _, _, state in jobs), jobs
    # every Slurm job Snakemake announced is one squeue knows, and the other way round
    announced = re.findall(r"has been submitted with SLURM jobid (\d+)", studies["output"])
    assert sorted(announced) == sorted(job_id for job_id, _, _ in jobs)
    # one Slurm job per shard (not grouped: the plugin runs a group's members one after another),
    # whose logs name them
    shard_jobs = {job_id for job_id, comment, _ in jobs if comment.startswith("rule_influence_shard_")}
    assert len(shard_jobs) == len(TABLES) * studies["shards"], jobs
    logs = studies["on_slurm"] / ".snakemake" / "slurm_logs" / "rule_influence_shard"
    text = "".join(log.read_text() for log in logs.rglob("*.log") if log.stem in shard_jobs)
    for table in TABLES:
        for shard in range(studies["shards"]):
            assert table.replace("influence.parquet", f"shards/{shard}.parquet") in text


def test_local_rules_stay_on_the_submitting_machine(studies):
    assert not [
        comment for _, comment, _ in studies["jobs"] if "merge_influence" in comment or "analyse_influence" in comment
    ]
    assert "localrule merge_influence:" in studies["output"] and "localrule analyse_influence:" in studies["output"]
    assert (studies["on_slurm"] / RANKED).stat().st_size > 0


def test_influence_tables_equal_those_of_a_local_run(studies):
    for table in TABLES:
        pd.testing.assert_frame_equal(
            pd.read_parquet(studies["on_slurm"] / table), pd.read_parquet(studies["local"] / table)
        )
