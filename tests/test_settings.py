"""The settings: defaults for every optional key, the schema against the code it describes, plain
rule params, and what importing the analysis and parsing the Snakefile cost."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
import yaml

from recinfluence.compose import load_settings, make_model
from recinfluence.errors import InputError
from recinfluence.models.base import CAPABILITY_PROTOCOLS, model_capabilities
from recinfluence.registry import CAPABILITIES, ENTITY_KINDS, ESTIMATORS, LOADERS, METRICS, MODELS, import_object
from recinfluence.settings import SCHEMA, Settings

from .studies import REPO, SMALL_CONFIG, snakemake_command, snakemake_env, write_config


def optional_keys(config: dict, prefix=()) -> list[tuple]:
    """Every key path of the small config but the two required sections and dataset/model entries."""
    paths = []
    for key, value in config.items():
        path = (*prefix, key)
        if path[0] in ("datasets", "models"):
            continue
        paths.append(path)
        if isinstance(value, dict) and path[0] != "estimators":
            paths += optional_keys(value, path)
    return paths


@pytest.mark.parametrize("path", optional_keys(yaml.safe_load(SMALL_CONFIG.read_text())), ids=".".join)
def test_every_optional_key_can_be_left_out(path):
    config = yaml.safe_load(SMALL_CONFIG.read_text())
    parent = config
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    settings = Settings.from_config(config)
    # every section a rule or script reads is complete
    assert settings.metric == "map@10" and settings.report.top_n > 0 and settings.noise.seeds >= 2
    assert settings.prune.sizes and settings.influence.shards >= 1 and settings.estimators


def test_defaults_are_the_papers_setup():
    settings = Settings.from_config(
        {"datasets": {"d": {"loader": "movielens_100k"}}, "models": {"m": {"class": "svd"}}}
    )
    assert (settings.evaluation.k, settings.evaluation.relevance_threshold, settings.primary_metric) == (10, 4, "map")
    assert (
        settings.split.test_fraction == 0.25
        and settings.protocols == ["heldout", "paper"]
        and settings.comparison == "exclude"
    )
    assert list(settings.estimators) == ["exact"] and settings.estimators["exact"].params == {"seeds": 1}
    assert settings.models["m"].params == {} and settings.influence.variants_per_batch == 16


def test_settings_travel_as_plain_values_and_come_back_equal():
    settings = Settings.from_config(yaml.safe_load(SMALL_CONFIG.read_text()))
    params = settings.to_params()
    assert repr(params) == repr(
        yaml.safe_load(yaml.safe_dump(params, sort_keys=False))
    )  # only plain values: Snakemake can compare them
    assert Settings.from_params(params) == settings


def test_the_schema_names_what_the_registry_holds():
    """A new estimator, model or loader is its module, its registry line and its schema block:
    forgetting one fails here."""
    schema = yaml.safe_load(SCHEMA.read_text())
    properties, definitions = schema["properties"], schema["definitions"]
    assert list(properties["estimators"]["properties"]) == list(ESTIMATORS)
    assert properties["prune"]["properties"]["estimators"]["items"]["enum"] == list(ESTIMATORS)
    assert definitions["dataset"]["properties"]["loader"]["enum"] == list(LOADERS)
    assert definitions["metric"]["enum"] == list(METRICS)
    assert definitions["kinds"]["items"]["enum"] == list(ENTITY_KINDS)
    assert {name.removesuffix("_params") for name in definitions if name.endswith("_params")} == set(MODELS)
    conditions = properties["models"]["additionalProperties"]["allOf"]
    assert [
        (c["if"]["properties"]["class"]["const"], c["then"]["properties"]["params"]["$ref"]) for c in conditions
    ] == [(name, f"#/definitions/{name}_params") for name in MODELS]


def test_the_registry_is_true_to_the_classes_it_names():
    assert tuple(CAPABILITY_PROTOCOLS) == CAPABILITIES
    schema = yaml.safe_load(SCHEMA.read_text())
    for name, entry in MODELS.items():
        cls = import_object(entry.path, name, "model class")
        assert set(schema["definitions"][f"{name}_params"]["properties"]) == set(inspect.signature(cls).parameters), (
            name
        )
        assert model_capabilities(cls) == set(entry.capabilities), name
        for capability, options in entry.capabilities.items():  # each option is a keyword of the method
            assert set(options) <= set(inspect.signature(getattr(cls, capability)).parameters), (name, capability)
    for name, entry in ESTIMATORS.items():
        cls = import_object(entry.path, name, "estimator")
        assert cls.name == name
        assert entry.needs is None or entry.needs in CAPABILITIES
        assert set(entry.hook_options) <= set(inspect.signature(cls).parameters), name
        taken = {option for model in MODELS.values() for option in model.capabilities.get(entry.needs, ())}
        assert set(entry.hook_options) == taken, name  # every option some model's method takes, and no other
    for name, entry in LOADERS.items():
        assert callable(import_object(entry.path, name, "loader")), name


def test_a_model_may_set_its_own_limit_kind_by_kind():
    config = yaml.safe_load(SMALL_CONFIG.read_text())
    config["models"]["ncf"]["limit"] = {"user": 3}
    settings = Settings.from_config(config)
    assert (settings.limit("user", "ncf"), settings.limit("item", "ncf")) == (3, 6)  # item follows influence.limit
    assert (settings.limit("user", "svd"), settings.limit("user")) == (6, 6)
    config["models"]["ncf"]["limit"] = {"user": 0, "items": 5}
    with pytest.raises(InputError) as error:
        Settings.from_config(config, "study.yaml")
    assert "models.ncf.limit.user: 0 is less than the minimum of 1" in str(error.value)
    assert "models.ncf.limit: Additional properties are not allowed ('items' was unexpected)" in str(error.value)


def test_model_parameters_are_checked_with_the_config():
    config = yaml.safe_load(SMALL_CONFIG.read_text())
    config["models"]["ncf"]["params"].update(epochs=0, layers=[15, 8], device="tpu")
    config["models"]["svd"]["params"]["n_factor"] = 3
    with pytest.raises(Exception) as error:
        Settings.from_config(config, "study.yaml")
    lines = str(error.value).splitlines()
    assert lines[0] == "study.yaml: 4 problems"
    assert "  models.ncf.params.epochs: 0 is less than the minimum of 1" in lines
    assert "  models.ncf.params.device: 'tpu' is not one of ['auto', 'cpu', 'cuda']" in lines
    assert "  models.ncf.params.layers.0: 15 is not a multiple of 2" in lines
    assert any(
        line.startswith("  models.svd.params: Additional properties are not allowed ('n_factor'") for line in lines
    )


def test_a_plug_in_model_may_declare_its_parameters():
    config = yaml.safe_load(SMALL_CONFIG.read_text())
    config["models"] = {"mine": {"class": "tests.plugins:Declared", "params": {"smoothing": -1, "alpha": 2}}}
    with pytest.raises(InputError) as error:
        load_settings(config, "study.yaml")
    assert str(error.value) == (
        "study.yaml: models.mine.params.smoothing: -1 is less than the minimum of 0; "
        "models.mine.params: Additional properties are not allowed ('alpha' was unexpected)"
    )
    config["models"]["mine"]["params"] = {"smoothing": 0.5}
    assert make_model(load_settings(config).models["mine"])().smoothing == 0.5


def test_ncf_on_cuda_without_a_cuda_device_is_one_line_naming_the_key(monkeypatch):
    import torch

    from recinfluence.models import model_factory

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(
        InputError,
        match=r"^models.ncf: bad parameters for 'ncf' \(device: 'cuda', but PyTorch sees no CUDA device here; use auto",
    ):
        model_factory("ncf", {"device": "cuda"}, "models.ncf")
    assert model_factory("ncf", {"device": "auto"}, "models.ncf")().device.type == "cpu"


def test_keys_that_must_agree_are_checked_together_before_any_job():
    config = yaml.safe_load(SMALL_CONFIG.read_text())
    config["relevance_threshold"] = 10
    config["datasets"]["mine"] = {
        "loader": "table",
        "path": "r.csv",
        "columns": {"user": "u", "item": "i", "rating": "r"},
        "rating_scale": [5, 0.5],
    }
    config["estimators"]["racing"] = {"start_seeds": 8, "max_seeds": 4}
    with pytest.raises(InputError) as error:
        Settings.from_config(config, "study.yaml")
    assert str(error.value).splitlines() == [
        "study.yaml: 3 problems",
        "  relevance_threshold: 10 is above the rating scale [1, 5] of datasets.ml-100k: no held-out rating would be "
        "relevant",
        "  datasets.mine.rating_scale: [5, 0.5] is not [lowest, highest]",
        "  estimators.racing.start_seeds: 8 is more than max_seeds (4)",
    ]
    # a threshold below the scale makes every rating relevant (implicit data): allowed
    config = yaml.safe_load(SMALL_CONFIG.read_text())
    config["relevance_threshold"] = 0
    assert Settings.from_config(config).evaluation.relevance_threshold == 0


def test_synthetic_and_larger_movielens_entries_are_read_and_checked():
    config = yaml.safe_load(SMALL_CONFIG.read_text())
    config["datasets"] = {
        "ml-1m": {"loader": "movielens_1m"},
        "ml-25m": {"loader": "movielens_25m", "path": "/data/ml-25m"},
        "big": {
            "loader": "synthetic",
            "source": {"loader": "movielens_100k", "path": "/data/ml-100k"},
            "factor": 100,
            "expansion_seed": 2,
        },
        "grown": {
            "loader": "synthetic",
            "source": {"loader": "table", "path": "r.csv", "columns": {"user": "u", "item": "i", "rating": "r"}},
            "factor": 2,
        },
    }
    settings = Settings.from_config(config)
    big = settings.datasets["big"]
    assert (big.factor, big.expansion_seed, big.source_spec().name, big.source_spec().path) == (
        100,
        2,
        "big.source",
        "/data/ml-100k",
    )
    assert [spec.scale() for spec in settings.datasets.values()] == [
        (1, 5),
        (0.5, 5),
        (1, 5),
        None,
    ]  # a source's scale is the synthetic one's
    assert Settings.from_params(settings.to_params()) == settings
    # the keys a synthetic entry does not read, a missing factor and a bad source: every problem at once
    config["datasets"] = {
        "big": {"loader": "synthetic", "source": {"loader": "table"}, "rating_scale": [1, 5]},
        "half": {"loader": "synthetic", "source": {"loader": "movielens_100k"}, "factor": 0},
    }
    with pytest.raises(InputError) as error:
        Settings.from_config(config, "study.yaml")
    assert str(error.value).splitlines() == [
        "study.yaml: 5 problems",
        "  datasets.big.source: 'columns' is a required property",
        "  datasets.big.source: 'path' is a required property",
        "  datasets.big: 'factor' is a required property",
        "  datasets.big: 'rating_scale' is not one of ['loader', 'source', 'factor', 'expansion_seed']",
        "  datasets.half.factor: 0 is less than the minimum of 1",
    ]
    # the rating scale is checked where it is set: in the source
    config["datasets"] = {
        "half": {"loader": "synthetic", "source": {"loader": "movielens_25m", "rating_scale": [5, 1]}, "factor": 2}
    }
    with pytest.raises(
        InputError, match=r"^study.yaml: datasets.half.source.rating_scale: \[5, 1\] is not \[lowest, highest\]$"
    ):
        Settings.from_config(config, "study.yaml")


ANALYSIS = [
    "recinfluence.analysis",
    "recinfluence.summary",
    "recinfluence.plots",
    "recinfluence.settings",
    "recinfluence.estimators.base",
]


def test_analysis_and_report_code_import_neither_torch_nor_numba():
    code = (
        f"import sys\nfor name in {ANALYSIS!r}: __import__(name)\n"
        "print(sorted(m for m in ('torch', 'numba') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_planning_the_dag_imports_neither_torch_nor_numba_nor_scipy(tmp_path, movielens_dir):
    """Modules that fail to import stand first on the path: a dry run that imported them would fail."""
    blockers = tmp_path / "blockers"
    for name in ("torch", "numba", "scipy"):
        (blockers / name).mkdir(parents=True)
        (blockers / name / "__init__.py").write_text(f"raise ImportError('{name} imported while planning the DAG')\n")
    study = tmp_path / "study"
    write_config(study, movielens_dir)
    env = snakemake_env()
    env["PYTHONPATH"] = f"{blockers}:{REPO / 'src'}"
    result = subprocess.run(snakemake_command(study, "-n"), capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "influence_shard" in result.stdout


def test_a_second_run_in_the_same_folder_stops_before_any_job(tmp_path, movielens_dir):
    """Snakemake's lock checks and then writes; the kernel lock a run holds cannot be taken twice
    and dies with its holder."""
    study = tmp_path / "study"
    write_config(study, movielens_dir)
    hold = (
        f"from recinfluence.jobs import claim_folder; claim_folder({str(study)!r}); "
        "print('held', flush=True); import time; time.sleep(120)"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True, env=snakemake_env())
    try:
        assert holder.stdout.readline().strip() == "held"
        result = subprocess.run(
            snakemake_command(study, "--cores", "1"), capture_output=True, text=True, env=snakemake_env(), timeout=300
        )
        assert result.returncode != 0
        assert (
            f"{study}: another Snakemake run (pid {holder.pid}) is working in this folder"
            in result.stdout + result.stderr
        )
        assert not (study / "results").exists() and not (study / "logs").exists()
    finally:
        holder.kill()
        holder.wait()
    retry = subprocess.run(
        [sys.executable, "-c", f"from recinfluence.jobs import claim_folder; claim_folder({str(study)!r})"],
        env=snakemake_env(),
    )
    assert retry.returncode == 0  # the lock went with its holder
