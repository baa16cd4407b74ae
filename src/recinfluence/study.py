"""Glue between a study's config and the library: what the workflow scripts call, and what a
notebook user calls to reproduce one step of the workflow in Python."""

from __future__ import annotations

import copy

import pandas as pd

from .data import Interactions
from .errors import InputError
from .influence import Experiment
from .models import model_factory
from .split import Split


def validate_config(config: dict, schema_file, source: str = "config") -> None:
    """Check ``config`` against the JSON schema in ``schema_file``; on failure raise one
    :class:`InputError` listing every problem as ``key.path: what is wrong`` (``source`` names
    the config file in the first line). Optional keys left out of ``config`` are filled in, in
    place, with the schema's ``default`` (as Snakemake's own ``validate`` does)."""
    import jsonschema  # part of the workflow extra, needed only here
    import yaml

    with open(schema_file) as handle:
        schema = yaml.safe_load(handle)
    base = jsonschema.validators.validator_for(schema)

    def fill_defaults(validator, properties, instance, subschema):
        if isinstance(instance, dict):
            for name, spec in properties.items():
                if "default" in spec:
                    instance.setdefault(name, copy.deepcopy(spec["default"]))
        yield from base.VALIDATORS["properties"](validator, properties, instance, subschema)

    validator = jsonschema.validators.extend(base, {"properties": fill_defaults})(schema)
    errors = sorted(validator.iter_errors(config), key=lambda error: [str(part) for part in error.absolute_path])
    lines = [f"{'.'.join(map(str, error.absolute_path)) or '(top level)'}: {error.message}" for error in errors]
    if len(lines) == 1:
        raise InputError(f"{source}: {lines[0]}")
    if lines:
        raise InputError(f"{source}: {len(lines)} problems\n  " + "\n  ".join(lines))


def primary_metric(config: dict) -> str:
    """Column name of the configured influence metric, e.g. ``map@10`` or ``rmse``."""
    name = config["primary_metric"]
    return name if name in ("rmse", "mae") else f"{name}@{config['k']}"


def seeds(config: dict, section: str) -> list[int]:
    """The seeds of ``noise`` (the baseline retrains of the noise floor, also used by pruning)
    or of ``influence`` (each deletion): ``seed``, ``seed`` + 1, ... (``<section>.seeds`` of them)."""
    return [config["seed"] + offset for offset in range(config[section]["seeds"])]


def model_from_config(config: dict, name: str):
    spec = config["models"][name]
    return model_factory(spec["class"], spec.get("params"), key=f"models.{name}.class")


def load_experiment(data_folder, split_file, protocol: str, config: dict, part: str = "evaluation") -> tuple[Interactions, Experiment]:
    """The dataset and the experiment (train rows + ``part`` of the split) a step works on."""
    data = Interactions.load(data_folder)
    split = Split.from_frame(pd.read_parquet(split_file), protocol)
    experiment = Experiment.build(data, split, part=part, k=config["k"], relevance_threshold=config["relevance_threshold"])
    return data, experiment


def entity_names(data: Interactions, kind: str) -> pd.DataFrame:
    return data.users if kind == "user" else data.items
