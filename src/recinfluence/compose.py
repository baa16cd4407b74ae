"""Where a study's settings meet the library: the models and estimators a config describes, built
and checked. The Snakefile, the workflow scripts and the benchmarks build through here; the
library itself never reads settings.

    settings = load_settings("config.yaml")                 # validated, every model checked
    make = make_model(settings.models["svd"])               # a zero-argument model factory
    estimator = make_estimator(settings.estimators["exact"], settings.seed)
    check_memory(settings.models.values(), "ml-25m", size, settings.resources.memory_mb)  # size: a DataSize

Importing it is as cheap as importing the settings (the Snakefile does, to plan the DAG): the
library is imported when a model or estimator is first built.
"""

from __future__ import annotations

import math
from pathlib import Path

from .errors import InputError
from .registry import ESTIMATORS, MODELS
from .settings import EstimatorSettings, Model, Settings, raise_problems


def make_model(model: Model):
    """A zero-argument callable that builds a fresh, unfitted model of the ``models`` entry
    (imports the model's module, hence torch or numba for the built-ins)."""
    from .models import model_factory

    return model_factory(model.class_name, model.params, key=f"{model.key}.class")


def make_estimator(estimator: EstimatorSettings, seed: int = 0):
    """The estimator of the ``estimators`` entry, starting from the study's ``seed``."""
    from .estimators import build_estimator

    return build_estimator(estimator.name, estimator.params, seed)


# What a training job holds whatever its model: the interpreter with numpy, scipy, pandas and
# torch (0.4 GB measured; torch is imported only by the models that use it, NCF and Mult-VAE,
# so the others hold less), and about 150 bytes a rating at the peak of reading the data and
# building its training set, matrices and evaluation split (146 measured at 1M ratings).
JOB_BYTES, BYTES_PER_RATING = 2**29, 150


def check_memory(models, dataset: str, size, memory_mb: float, evaluation_mb: float = 0.0) -> dict[str, int]:
    """The estimated peak memory, in bytes, of a training job of each of ``models`` (``models``
    entries) on ``dataset`` of ``size`` (a :class:`recinfluence.models.base.DataSize`): the
    model's own (``memory_needed``; nothing for a model without, whose parameters are taken to
    be small beside the data), the data's and the evaluation's blocks (``evaluation_mb``).
    Every model above ``memory_mb`` (``resources.memory_mb``) is refused in one
    :class:`InputError`, a line each naming the model, the dataset, both sizes."""
    from .models.base import EstimatesMemory, MemoryNeed  # here: the Snakefile imports this module without numpy

    needs, problems = {}, []
    for model in models:
        built = make_model(model)()
        if isinstance(built, EstimatesMemory):
            need = built.memory_needed(size)
        else:
            need = MemoryNeed(0, f"{size.ratings:,} ratings; the model declares no estimate of its own")
        total = needs[model.name] = (
            need.bytes + JOB_BYTES + BYTES_PER_RATING * size.ratings + int(evaluation_mb * 2**20)
        )
        if total > memory_mb * 2**20:
            remedy = f"{need.instead}, or raise the limit" if need.instead else "raise the limit"
            problems.append(
                f"{model.key} on dataset {dataset} needs about {total / 2**30:.1f} GB ({need.what}), over the limit "
                f"of {memory_mb / 2**10:.1f} GB; {remedy}"
            )
    raise_problems("resources.memory_mb", problems)
    return needs


def memory_request_mb(needed_mb: float, attempt: int = 1) -> int:
    """The memory a training job asks its scheduler for (Snakemake's ``mem_mb``: sbatch --mem on
    Slurm, the share of ``--resources mem_mb`` on a workstation): its estimate
    (:func:`check_memory`) and a quarter more, for what the estimate leaves out (a baseline job
    measured 17% above it at 25M ratings), at least 1 GB, times the attempt (a retried job asks
    for twice as much)."""
    return max(1024, math.ceil(1.25 * needed_mb)) * attempt


def check_models(settings: Settings, source: str = "config") -> Settings:
    """Import every ``package.module:Class`` model, check it can be built and has what each
    estimator of the study needs (built-ins declare their capabilities in the registry and are
    checked by :meth:`Settings.check_cross_keys` without importing torch). Every problem is
    reported at once."""
    problems = []
    for model in (model for model in settings.models.values() if model.class_name not in MODELS):
        from .models.base import model_capabilities  # here: the Snakefile imports this module without numpy

        try:
            capabilities = model_capabilities(make_model(model)())
        except InputError as error:
            problems.append(str(error))
            continue
        for name in settings.estimators:
            needs = ESTIMATORS[name].needs
            if needs is not None and needs not in capabilities:
                problems.append(f"estimators.{name}: model {model.name} ({model.class_name}) has no {needs}()")
    raise_problems(source, problems)
    return settings


def load_settings(config: dict | str | Path, source: str | None = None) -> Settings:
    """The study of a config dict (``source`` names it in messages) or of a YAML file: validated
    against the schema, with every model checked (:func:`check_models`)."""
    if isinstance(config, dict):
        source = source or "config"
        return check_models(Settings.from_config(config, source), source)
    return check_models(Settings.from_file(config), str(config))
