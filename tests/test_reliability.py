"""Reliability of the workflow: bad input stops early with one clear message, an interrupted
study resumes without losing or recomputing finished work, and results are reproducible.

Workflow-level tests run Snakemake on small studies in temporary folders. A bad data file
fails in the first job, so those runs target only that job's output. Loader details are
tested in test_data.py, shard-count invariance in test_influence.py and test_workflow.py."""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from recinfluence import plots
from recinfluence.data import MOVIELENS_100K_SHA256, sha256
from recinfluence.errors import InputError
from recinfluence.io import atomic_path, write_csv, write_text
from recinfluence.retrain import entity_list
from recinfluence.settings import SCHEMA, Settings, validate_config

from .studies import (
    REPO,
    SMALL_CONFIG,
    edit_first_rating,
    run_snakemake,
    snakemake_command,
    snakemake_env,
    write_config,
)

pytestmark = pytest.mark.workflow

PREPARED = ("interactions.parquet", "users.parquet", "items.parquet")
SVD_ONLY = {"svd": {"class": "svd", "params": {"n_factors": 20, "n_epochs": 10}}}


def fails(workdir: Path, *args: str) -> str:
    """Run Snakemake, expect a non-zero exit, return everything it printed."""
    result = run_snakemake(workdir, "--cores", "2", *args, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    return output


# ---------------------------------------------------------------------------------------------
# Bad data files, at workflow level (the loaders' own tests are in test_data.py). One Snakemake
# run holds one dataset per bad file and asks for each dataset's first output with --keep-going,
# so that every prepare_dataset job runs (and fails) in a single invocation.

COLUMNS = {"user": "reviewer", "item": "movie", "rating": "stars"}
HEADER = "reviewer,movie,stars\n"
GOOD = "1,10,4\n2,10,3\n"

BAD_TABLES = {
    # dataset: (file content, or None for no file; message after "<path>: ")
    "missing-file": (None, "file not found"),
    "empty-file": ("", "file is empty"),
    "missing-column": ("reviewer,movie,when\n1,10,100\n", "missing column(s) stars; found reviewer, movie, when"),
    "non-numeric-rating": (HEADER + GOOD + "3,11,great\n", "non-numeric rating 'great' at data row 3 (line 4)"),
    "out-of-range-rating": (
        HEADER + GOOD + "3,11,6\n",
        "rating 6 at data row 3 (line 4) is outside the rating scale [1, 5]",
    ),
    "duplicate-pair": (
        HEADER + GOOD + "1,10,5\n",
        "2 rows repeat a (user, item) pair, e.g. user '1' item '10'; keep one rating per pair",
    ),
    "duplicate-pair-up-to-spaces": (
        HEADER + GOOD + " 1 ,10,5\n",
        "2 rows repeat a (user, item) pair, e.g. user '1' item '10'; keep one rating per pair",
    ),
    "blank-user-id": (HEADER + GOOD + " ,11,4\n", "1 blank user id(s), first at data row 3 (line 4)"),
    "blank-item-id": (HEADER + GOOD + "3,,4\n", "1 blank item id(s), first at data row 3 (line 4)"),
    "extra-field": (HEADER + GOOD + "3,11,4,9\n", "cannot be read (Expected 3 fields in line 4, saw 4)"),
}
BAD_DATA = [
    *BAD_TABLES,
    "directory-as-path",
    "parquet-for-amazon",
    "wrong-column-count",
    "checksum-of-local-copy",
    "checksum-of-downloaded-archive",
    "damaged-archive",
]


def _archive(movielens_dir: Path, path: Path, corrupt: bool = False) -> str:
    with zipfile.ZipFile(path, "w") as bundle:
        for name in ("u.data", "u.item"):
            data = (movielens_dir / name).read_bytes()
            bundle.writestr(f"ml-100k/{name}", data[: len(data) // 2] if corrupt else data)
    return path.resolve().as_uri()


@pytest.fixture(scope="module")
def bad_data_run(tmp_path_factory, movielens_dir):
    """(workdir, exit code, everything Snakemake printed, {dataset: expected message})."""
    workdir = tmp_path_factory.mktemp("bad_data")
    inputs = workdir / "inputs"
    inputs.mkdir()
    datasets, messages = {}, {}
    for name, (content, message) in BAD_TABLES.items():
        path = inputs / f"{name}.csv"
        if content is not None:
            path.write_text(content)
        datasets[name] = {"loader": "table", "path": str(path), "columns": COLUMNS, "rating_scale": [1, 5]}
        messages[name] = f"{path}: {message}"

    path = inputs / "a-folder.csv"
    path.mkdir()
    datasets["directory-as-path"] = {"loader": "table", "path": str(path), "columns": COLUMNS}
    messages["directory-as-path"] = f"{path}: is a directory, not a file"

    path = inputs / "ratings.parquet"
    pd.DataFrame({"user": ["A1"], "item": ["0528881469"], "rating": [5.0], "timestamp": [1]}).to_parquet(path)
    datasets["parquet-for-amazon"] = {"loader": "amazon_ratings", "path": str(path), "k_core": 1}
    messages["parquet-for-amazon"] = (
        f"{path}: is a binary file, not a text table (a Parquet file needs the table loader and a .parquet name)"
    )

    path = inputs / "ratings_Electronics.csv"
    path.write_text("A1,0528881469\nA2,0594451647\n")  # user, item: no rating, no timestamp
    datasets["wrong-column-count"] = {"loader": "amazon_ratings", "path": str(path), "k_core": 1}
    messages["wrong-column-count"] = f"{path}: expected 4 columns (user, item, rating, timestamp), found 2"

    folder = inputs / "ml-100k"
    folder.mkdir()
    for name in ("u.data", "u.item"):
        shutil.copyfile(movielens_dir / name, folder / name)
    edit_first_rating(folder / "u.data")
    datasets["checksum-of-local-copy"] = {"loader": "movielens_100k", "path": str(folder)}
    messages["checksum-of-local-copy"] = (
        f"{folder / 'u.data'}: sha256 {sha256(folder / 'u.data')} does not match the expected "
        f"{MOVIELENS_100K_SHA256['u.data']}"
    )

    url = _archive(movielens_dir, inputs / "ml-100k.zip")
    wrong = "0" * 64
    datasets["checksum-of-downloaded-archive"] = {"loader": "movielens_100k", "path": None, "url": url, "sha256": wrong}
    messages["checksum-of-downloaded-archive"] = (
        f"{url}: downloaded sha256 {sha256(inputs / 'ml-100k.zip')} does not match the expected {wrong}"
    )

    url = _archive(movielens_dir, inputs / "ml-100k-damaged.zip", corrupt=True)
    half = inputs / "half-u.data"
    data = (movielens_dir / "u.data").read_bytes()
    half.write_bytes(data[: len(data) // 2])
    datasets["damaged-archive"] = {"loader": "movielens_100k", "path": None, "url": url}
    messages["damaged-archive"] = (
        f"{url}: ml-100k/u.data in the archive has sha256 {sha256(half)}, not the published "
        f"{MOVIELENS_100K_SHA256['u.data']}"
    )

    assert sorted(datasets) == sorted(BAD_DATA)
    write_config(workdir, movielens_dir, datasets=datasets)
    targets = [f"results/{name}/data/interactions.parquet" for name in datasets]
    result = run_snakemake(workdir, "--cores", "2", "--keep-going", *targets, check=False)
    return workdir, result.returncode, result.stdout + result.stderr, messages


@pytest.mark.parametrize("dataset", BAD_DATA)
def test_bad_data_file_stops_with_one_message(dataset, bad_data_run):
    """The job fails with the message as its log's last line (printed by Snakemake), no
    traceback, a non-zero exit, and none of its outputs (nor a half-downloaded file) left."""
    workdir, returncode, output, messages = bad_data_run
    message = f"error: {messages[dataset]}"
    assert returncode != 0
    assert message in output, output[-5000:]
    assert "Traceback" not in output
    log = (workdir / "logs" / dataset / "prepare_dataset.log").read_text()
    assert log.strip().splitlines()[-1] == message
    for name in PREPARED:
        assert not (workdir / "results" / dataset / "data" / name).exists(), name
    cache = workdir / "resources" / dataset
    assert not cache.exists() or list(cache.iterdir()) == [], list(cache.iterdir())


# ---------------------------------------------------------------------------------------------
# A dataset too small to split; a user left without training rows


def table_spec(path: Path) -> dict:
    return {"loader": "table", "path": str(path), "columns": COLUMNS, "rating_scale": [1, 5]}


def test_dataset_too_small_to_split(tmp_path, movielens_dir):
    """Two rows leave no test row; four rows leave a test row but no validation row."""
    (tmp_path / "two.csv").write_text(HEADER + "1,10,4\n2,10,3\n")
    (tmp_path / "four.csv").write_text(HEADER + "1,10,4\n2,10,3\n1,11,5\n2,11,2\n")
    datasets = {"two-rows": table_spec(tmp_path / "two.csv"), "four-rows": table_spec(tmp_path / "four.csv")}
    write_config(tmp_path, movielens_dir, datasets=datasets, protocols=["paper", "heldout"])
    output = fails(
        tmp_path, "--keep-going", "results/two-rows/paper/split.json", "results/four-rows/heldout/split.json"
    )
    assert "error: datasets.two-rows: split: 2 interactions are too few for a test fraction of 0.25" in output, output[
        -3000:
    ]
    assert (
        "error: datasets.four-rows: split: 4 interactions are too few for a validation fraction of 0.1 (heldout "
        "protocol)" in output
    )
    assert "Traceback" not in output
    for dataset, protocol in (("two-rows", "paper"), ("four-rows", "heldout")):
        assert (tmp_path / "results" / dataset / "data" / "interactions.parquet").is_file()  # the data step succeeded
        for name in ("split.parquet", "split.json"):
            assert not (tmp_path / "results" / dataset / protocol / name).exists()


def test_data_too_small_for_the_study_stops_at_split_with_the_reason(tmp_path, movielens_dir):
    """One user (a study of deletions needs others to evaluate on), and k above the catalog."""
    (tmp_path / "one.csv").write_text(HEADER + "".join(f"1,{item},{1 + item % 5}\n" for item in range(40)))
    (tmp_path / "few.csv").write_text(
        HEADER + "".join(f"{user},{item},{1 + (user + item) % 5}\n" for user in range(30) for item in range(6))
    )
    datasets = {"one-user": table_spec(tmp_path / "one.csv"), "six-items": table_spec(tmp_path / "few.csv")}
    write_config(tmp_path, movielens_dir, datasets=datasets, protocols=["paper"])
    output = fails(tmp_path, "--keep-going", "results/one-user/paper/split.json", "results/six-items/paper/split.json")
    assert (
        "error: datasets.one-user: 1 user(s) and 40 item(s): deletion diagnostics need at least two of each" in output
    ), output[-3000:]
    assert "error: datasets.six-items: k: 10 is more than the 6 items of the dataset" in output
    assert "Traceback" not in output
    assert not list((tmp_path / "results").glob("*/paper/split.json"))


def test_users_without_training_rows_are_reported_not_fatal(tmp_path, movielens_dir):
    """Eight users with a single rating: those whose rating lands in test keep their id, are
    listed in split.json and in the split log, and deleting them changes nothing."""
    raw = pd.read_csv(movielens_dir / "u.data", sep="\t", names=["reviewer", "movie", "stars", "when"])
    regulars = raw[raw["reviewer"] <= 30].assign(reviewer=lambda frame: frame["reviewer"] + 100)
    lonely = pd.DataFrame({"reviewer": range(1, 9), "movie": 50, "stars": 5})  # dense ids 0..7
    path = tmp_path / "ratings.csv"
    pd.concat([lonely, regulars[["reviewer", "movie", "stars"]]]).to_csv(path, index=False)
    write_config(
        tmp_path,
        movielens_dir,
        datasets={"lonely": table_spec(path)},
        models=SVD_ONLY,
        influence={"kinds": ["user"], "limit": {"user": 8}, "shards": 1, "threads": 1},
    )
    run = tmp_path / "results" / "lonely" / "paper"
    run_snakemake(tmp_path, "--cores", "2", "results/lonely/paper/svd/exact/user/influence.parquet")
    report = yaml.safe_load((run / "split.json").read_text())
    without = report["users_without_training"]
    assert without and set(without) <= set(range(8)), without
    assert f"{len(without)} users and" in (tmp_path / "logs" / "lonely" / "paper" / "split.log").read_text()
    influence = pd.read_parquet(run / "svd" / "exact" / "user" / "influence.parquet")
    assert sorted(influence["entity"].unique()) == list(range(8))
    untrained = influence[influence["entity"].isin(without)]
    assert (untrained["n_train_rows"] == 0).all()
    assert (untrained["influence"] == 0).all()  # common random numbers: the same model


# ---------------------------------------------------------------------------------------------
# Config errors: caught by the JSON schema (or the model check) before any job runs. k = 0 is
# in test_workflow.py; the schema's other rules are checked without Snakemake further down.


def test_config_errors_stop_before_any_job(tmp_path, movielens_dir):
    write_config(tmp_path, movielens_dir, k="ten", split__test_fraction=1.0, influence__shards=-2)
    output = fails(tmp_path)
    expected = [
        "config.yaml: 3 problems",
        "  influence.shards: -2 is less than the minimum of 1",
        "  k: 'ten' is not of type 'integer'",
        "  split.test_fraction: 1.0 is greater than or equal to the maximum of 1",
    ]
    assert "\n".join(expected) in output, output[-3000:]
    assert not (tmp_path / "results").exists()
    assert not (tmp_path / "logs").exists()


def test_model_errors_stop_before_any_job(tmp_path, movielens_dir):
    models = {
        "svd": {"class": "nope"},
        "ncf": {"class": "no_such_package.recommenders:Model"},
        "rows": {"class": "recinfluence.models.base:TrainSet"},
    }
    write_config(tmp_path, movielens_dir, models=models)
    output = fails(tmp_path)
    for message in (
        "config.yaml: 3 problems",
        "models.svd.class: unknown model 'nope' (built-ins: svd, ncf, ease, ease_lowrank, item_knn, als, mult_vae; or "
        "package.module:Class)",
        "models.ncf.class: cannot load model class 'no_such_package.recommenders:Model' (No module named "
        "'no_such_package')",
        "models.rows.class: bad parameters for 'recinfluence.models.base:TrainSet' (",
    ):
        assert message in output, output[-3000:]
    assert not (tmp_path / "results").exists()
    assert not (tmp_path / "logs").exists()


def _small_config() -> dict:
    return yaml.safe_load(SMALL_CONFIG.read_text())


@pytest.mark.parametrize(
    "path", [REPO / "config.yaml", SMALL_CONFIG, *sorted((REPO / "configs").glob("*.yaml"))], ids=lambda p: p.name
)
def test_shipped_configs_are_valid(path):
    Settings.from_config(yaml.safe_load(path.read_text()), str(path))


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda c: c["split"].update(valid_fraction=0),
            "split.valid_fraction: 0 is less than or equal to the minimum of 0",
        ),
        (lambda c: c["influence"].update(shards=0), "influence.shards: 0 is less than the minimum of 1"),
        (lambda c: c["influence"].update(threads=0), "influence.threads: 0 is less than the minimum of 1"),
        (lambda c: c["influence"]["limit"].update(user=0), "influence.limit.user: 0 is less than the minimum of 1"),
        (lambda c: c.update(k=-3), "k: -3 is less than the minimum of 1"),
        (lambda c: c.update(seed=1.5), "seed: 1.5 is not of type 'integer'"),
        (lambda c: c.update(primary_metric="mrr"), "primary_metric: 'mrr' is not one of"),
        (lambda c: c.update(protocols=["kfold"]), "protocols.0: 'kfold' is not one of ['paper', 'heldout']"),
        (lambda c: c.update(sead=1), "(top level): Additional properties are not allowed ('sead' was unexpected)"),
        (lambda c: c["datasets"]["ml-100k"].update(loader="csv"), "datasets.ml-100k.loader: 'csv' is not one of"),
        (lambda c: c["datasets"]["ml-100k"].update(sha256="abc"), "datasets.ml-100k.sha256: 'abc' does not match"),
        (
            lambda c: c["datasets"].update(t={"loader": "table", "columns": COLUMNS}),
            "datasets.t: 'path' is a required property",
        ),
        (
            lambda c: c["datasets"].update(
                t={"loader": "table", "path": "r.csv", "columns": {"user": "u", "item": "i"}}
            ),
            "datasets.t.columns: 'rating' is a required property",
        ),
        (lambda c: c["models"]["svd"].update(params=[]), "models.svd.params: [] is not of type 'object'"),
        (
            lambda c: c["models"]["svd"]["params"].update(n_factorz=3),
            "models.svd.params: Additional properties are not allowed ('n_factorz' was unexpected)",
        ),
        (
            lambda c: c["models"]["ncf"]["params"].update(lr=0),
            "models.ncf.params.lr: 0 is less than or equal to the minimum of 0",
        ),
        (
            lambda c: c.update(estimators={"influence_functions": {}}),
            "estimators: Additional properties are not allowed ('influence_functions' was unexpected)",
        ),
        (lambda c: c["estimators"]["exact"].update(seeds=0), "estimators.exact.seeds: 0 is less than the minimum of 1"),
        (lambda c: c["prune"].update(k=[2]), "prune: Additional properties are not allowed ('k' was unexpected)"),
    ],
)
def test_schema_names_the_key(edit, message):
    config = _small_config()
    edit(config)
    with pytest.raises(InputError) as error:
        validate_config(config, SCHEMA, "study.yaml")
    assert str(error.value).startswith("study.yaml: ")
    assert message in str(error.value)


def test_schema_reports_every_problem_one_per_line():
    config = _small_config()
    config["k"] = 0
    config["split"]["test_fraction"] = 1.5
    config["influence"]["shards"] = -1
    with pytest.raises(InputError) as error:
        validate_config(config, SCHEMA, "study.yaml")
    assert str(error.value).splitlines() == [
        "study.yaml: 3 problems",
        "  influence.shards: -1 is less than the minimum of 1",
        "  k: 0 is less than the minimum of 1",
        "  split.test_fraction: 1.5 is greater than or equal to the maximum of 1",
    ]


def test_more_shards_than_entities_is_valid():
    config = _small_config()
    config["influence"].update(shards=1000, limit={"user": 2, "item": 2})
    validate_config(config, SCHEMA)


# ---------------------------------------------------------------------------------------------
# How a step fails: one line in its log, non-zero exit, outputs removed


def _script(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    script = tmp_path / "step.py"
    script.write_text(
        "import sys\nfrom recinfluence.jobs import log_to\nlog_to(sys.argv[1])\n"
        "from recinfluence.errors import InputError\n" + body
    )
    return subprocess.run([sys.executable, str(script), str(tmp_path / "step.log")], capture_output=True, text=True)


def test_input_error_ends_a_step_with_one_line(tmp_path):
    result = _script(tmp_path, "print('working', file=sys.stderr)\nraise InputError('data.csv: file is empty')\n")
    assert result.returncode == 1
    assert result.stderr == ""  # everything went to the log
    assert (tmp_path / "step.log").read_text() == "working\nerror: data.csv: file is empty\n"


def test_a_finished_step_logs_its_resources_last(tmp_path):
    """What a cluster job must ask for: the peak resident memory covers what the step held."""
    result = _script(tmp_path, "import numpy\nheld = numpy.ones(2**27)\nprint('working', file=sys.stderr)\n")
    assert result.returncode == 0
    working, resources = (tmp_path / "step.log").read_text().splitlines()
    peak_gb = float(resources.split("peak resident memory ")[1].split(" GB")[0])
    assert working == "working" and resources.startswith("job resources: ") and peak_gb >= 1.0  # 2**27 doubles: 1 GB


def test_a_bug_keeps_its_traceback(tmp_path):
    result = _script(tmp_path, "raise KeyError('oops')\n")
    assert result.returncode == 1
    log = (tmp_path / "step.log").read_text()
    assert log.startswith("Traceback") and log.rstrip().endswith("KeyError: 'oops'")


THREAD_POOLS = (
    "import sys\nfrom threadpoolctl import threadpool_info\nfrom recinfluence.jobs import limit_threads\n"
    "{before}limit_threads(1)\ntorch_imported = 'torch' in sys.modules\nimport torch\n"
    "print(torch_imported, torch.get_num_threads(), max(pool['num_threads'] for pool in threadpool_info()))\n"
)


@pytest.mark.parametrize("torch_first", [False, True])
def test_limit_threads_caps_every_pool_without_importing_torch(torch_first):
    """A job's thread cap reaches torch whether a model imports it after the cap (NCF, Mult-VAE)
    or before; a job that never uses torch does not pay for importing it."""
    script = THREAD_POOLS.format(before="import torch\n" if torch_first else "")
    env = {name: value for name, value in os.environ.items() if not name.endswith("_NUM_THREADS")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.split() == [str(torch_first), "1", "1"]


def test_failed_job_leaves_no_output(tmp_path):
    """A step that wrote one of its outputs and then hit bad input: Snakemake exits non-zero
    and removes what the job wrote."""
    (tmp_path / "step.py").write_text(
        "from recinfluence.jobs import log_to\nlog_to(snakemake.log[0])\n"
        "from recinfluence.errors import InputError\nfrom recinfluence.io import write_text\n"
        "write_text('half\\n', snakemake.output.first)\nraise InputError('input.csv: broken on purpose')\n"
    )
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(
        "rule two_outputs:\n    output:\n        first='out/first.txt',\n        second='out/second.txt',\n"
        "    log:\n        'logs/two_outputs.log',\n    script:\n        'step.py'\n"
    )
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(snakefile),
        "--directory",
        str(tmp_path),
        "--cores",
        "1",
        "--show-failed-logs",
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=snakemake_env(), timeout=300)
    assert result.returncode != 0
    assert "error: input.csv: broken on purpose" in result.stdout + result.stderr
    assert not (tmp_path / "out" / "first.txt").exists()
    assert not (tmp_path / "out" / "second.txt").exists()


# ---------------------------------------------------------------------------------------------
# Atomic outputs (every script writes through recinfluence.io; plots through atomic_path)


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "table.csv"
    write_text("old\n", target)
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half a ta")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_atomic_outputs_get_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_csv(pd.DataFrame({"a": [1]}), tmp_path / "a.csv", index=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.csv").stat().st_mode) == 0o644


def test_figures_are_written_atomically(tmp_path):
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots()
    paths = [tmp_path / "figure.png", tmp_path / "figure.pdf"]
    plots.save(fig, paths)
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figure.pdf", "figure.png"]


IN_PLACE = (".to_parquet(", ".to_csv(", ".savefig(", ".write_text(", ".write_bytes(", "open(snakemake.output")


def test_every_script_logs_through_the_error_wrapper_and_writes_atomically():
    for script in sorted((REPO / "workflow" / "scripts").glob("*.py")):
        text = script.read_text()
        assert "log_to(snakemake.log[0])" in text, script.name
        for direct in IN_PLACE:
            assert direct not in text, f"{script.name} writes in place: {direct}"


def test_library_writes_only_through_atomic_paths():
    for module in sorted((REPO / "src" / "recinfluence").rglob("*.py")):
        if module.name == "io.py":
            continue
        text = module.read_text().replace(".savefig(tmp,", "")  # plots.save: inside atomic_path
        for direct in IN_PLACE:
            assert direct not in text, f"{module.name} writes in place: {direct}"


# ---------------------------------------------------------------------------------------------
# Interruption and determinism

SHARDS = 4
TARGET = "results/ml-100k/paper/svd/exact/user/influence.parquet"
# NCF: batches of 2 variants (the batched fit_many path), one per shard, 1 epoch
NCF_ONLY = {
    "ncf": {
        "class": "ncf",
        "params": {"factors": 4, "layers": [8, 4], "epochs": 1, "batch_size": 4096, "n_negatives": 1, "device": "cpu"},
    }
}


def interruptible(model: str) -> dict:
    """The study the interruption tests run: 8 users of ``model`` (svd or ncf) in 4 shards."""
    return {
        "models": SVD_ONLY if model == "svd" else NCF_ONLY,
        "influence": {"kinds": ["user"], "limit": {"user": 8}, "shards": SHARDS, "threads": 1, "variants_per_batch": 2},
        "prune": {"kinds": [], "sizes": [2], "random_draws": 2},
    }


def target(model: str) -> str:
    return TARGET.replace("/svd/", f"/{model}/")


def shard_files(shard: int, model: str = "svd") -> list[Path]:
    folder = Path(target(model)).parent / "shards"
    return [folder / f"{shard}.parquet", folder / f"{shard}_per_user.parquet", folder / f"{shard}_timing.csv"]


def marked_incomplete(workdir: Path) -> set[str]:
    """Outputs Snakemake has marked incomplete: a job's outputs are marked when it starts and
    unmarked after it finished. Snakemake 9 keeps one marker per output in
    .snakemake/incomplete/, named by the urlsafe base64 of the path (long names split into
    folders prefixed with @)."""
    root = workdir / ".snakemake" / "incomplete"
    marked = set()
    for marker in root.rglob("*") if root.exists() else []:
        if marker.is_file() and marker.name != "migration_underway":
            encoded = "".join(part.lstrip("@") for part in marker.relative_to(root).parts)
            marked.add(base64.urlsafe_b64decode(encoded).decode())
    return marked


def finished_shards(workdir: Path, model: str = "svd") -> set[int]:
    """Shards whose outputs all exist and whose job Snakemake has recorded as complete."""
    marked = marked_incomplete(workdir)
    return {
        shard
        for shard in range(SHARDS)
        if all((workdir / f).exists() and str(f) not in marked for f in shard_files(shard, model))
    }


REFERENCE_RUNS: dict[str, Path] = {}


def uninterrupted(model: str, tmp_path_factory, movielens_dir) -> Path:
    """The interruptible study of ``model`` run once without interruption (kept per session)."""
    if model not in REFERENCE_RUNS:
        workdir = tmp_path_factory.mktemp(f"uninterrupted_{model}")
        write_config(workdir, movielens_dir, **interruptible(model))
        run_snakemake(workdir, "--cores", "2", target(model))
        REFERENCE_RUNS[model] = workdir
    return REFERENCE_RUNS[model]


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, movielens_dir) -> Path:
    return uninterrupted("svd", tmp_path_factory, movielens_dir)


@pytest.mark.parametrize("model", ["svd", "ncf"])
def test_interrupted_study_resumes_and_loses_nothing(model, tmp_path_factory, tmp_path, movielens_dir):
    """Killed while some shards are done and others run (for NCF: inside a batched fit_many),
    the study resumes with only the unfinished shards and ends with the uninterrupted numbers."""
    reference_run = uninterrupted(model, tmp_path_factory, movielens_dir)
    TARGET = target(model)
    write_config(tmp_path, movielens_dir, **interruptible(model))
    with open(tmp_path / "first_attempt.txt", "w") as out:
        process = subprocess.Popen(
            snakemake_command(tmp_path, "--cores", "2", TARGET),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=snakemake_env(),
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 600
            while True:
                if process.poll() is not None:
                    pytest.fail(
                        "the study finished before it could be interrupted:\n"
                        + (tmp_path / "first_attempt.txt").read_text()[-3000:]
                    )
                if time.monotonic() > deadline:
                    pytest.fail("no shard finished within 10 minutes")
                finished = finished_shards(tmp_path, model)
                logs = tmp_path / "logs" / "ml-100k" / "paper" / model / "exact" / "user"
                running = {
                    s
                    for s in range(SHARDS)
                    if (logs / f"shard_{s}.log").exists() and not (tmp_path / shard_files(s, model)[-1]).exists()
                }
                if finished and running:
                    break
                time.sleep(0.02)
            kept = {
                f: (tmp_path / f).stat().st_mtime_ns for shard in sorted(finished) for f in shard_files(shard, model)
            }
        finally:
            with contextlib.suppress(ProcessLookupError):  # already ended: the failure above says why
                os.killpg(process.pid, signal.SIGKILL)  # Snakemake and every job it started
            process.wait()
    unfinished = set(range(SHARDS)) - finished_shards(tmp_path, model)
    assert unfinished, "every shard had finished: nothing was interrupted"
    assert not (tmp_path / TARGET).exists()

    # The documented resume: the same command refuses to run while the killed run's lock is
    # there and says to unlock; after --unlock the same command completes the study.
    locked = run_snakemake(tmp_path, "--cores", "2", TARGET, check=False)
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr
    run_snakemake(tmp_path, "--unlock")
    resumed = run_snakemake(tmp_path, "--cores", "2", TARGET)

    for path, mtime in kept.items():
        assert (tmp_path / path).stat().st_mtime_ns == mtime, f"{path} was recomputed"
    output = resumed.stdout + resumed.stderr
    for shard in range(SHARDS):
        rerun = (
            f"wildcards: dataset=ml-100k, protocol=paper, model={model}, estimator=exact, kind=user, shard={shard}\n"
            in output
        )
        assert rerun == (shard in unfinished), shard
    for name in ("influence.parquet", "per_user.parquet"):
        resumed_table = pd.read_parquet(tmp_path / Path(TARGET).parent / name)
        reference = pd.read_parquet(reference_run / Path(TARGET).parent / name)
        pd.testing.assert_frame_equal(resumed_table, reference, check_exact=True)


def test_more_shards_than_entities_a_random_sample_and_another_seed(reference_run, tmp_path, movielens_dir):
    """Three shards for two users is fine (one shard is empty); and the workflow passes the seed
    through: seed 1 deletes the two users it draws (``influence.sample: random``) with seeds
    numbered from 1, where the reference's seed 0 numbers them from 0."""
    influence = {"kinds": ["user"], "limit": {"user": 2}, "sample": "random", "shards": 3, "threads": 1}
    write_config(tmp_path, movielens_dir, seed=1, **dict(interruptible("svd"), influence=influence))
    run_snakemake(tmp_path, "--cores", "2", TARGET)
    assert [pd.read_parquet(tmp_path / shard_files(shard)[0]).empty for shard in range(3)].count(True) == 1
    other = pd.read_parquet(tmp_path / TARGET)
    ids = type("Ids", (), {"n_users": len(pd.read_parquet(tmp_path / "results/ml-100k/data/users.parquet"))})()
    drawn = entity_list(ids, "user", 2, "random", seed=1)
    assert sorted(other["entity"].unique()) == list(drawn) and drawn.max() > 1  # not the first two
    by_seed = [
        pd.read_parquet(run / Path(TARGET).with_name("influence_by_seed.parquet")) for run in (tmp_path, reference_run)
    ]
    assert sorted(by_seed[0]["seed"].unique()) == [seed + 1 for seed in sorted(by_seed[1]["seed"].unique())]
