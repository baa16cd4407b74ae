"""The project's vocabulary: metric names, and the built-in models, estimators and dataset
loaders by config name. Everything that reads a config or builds a study looks names up here.

Importing it is cheap (the standard library only): the Snakefile plans the DAG with it, every
Slurm job parses the Snakefile again, and the config is checked before any model is imported.
Entries name their class as ``package.module:Name``, imported only when a job needs it.

Adding an estimator is its module, one line in :data:`ESTIMATORS` and its block under
``estimators`` in ``config.schema.yaml``; adding a built-in model is its module, one line in
:data:`MODELS` and its ``<name>_params`` block in the schema. ``tests/test_settings.py`` checks
that the schema's names and blocks equal these tables, and that each model's declared
capabilities are the ones its class has.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import MappingProxyType

from .errors import InputError

ENTITY_KINDS = ("user", "item")

# Metrics, as config names: the top-K ones get a cut-off column (``map@10``), the others not.
CUTOFF_METRICS = ("map", "ndcg", "precision", "recall", "hit_rate")
SCORE_METRICS = ("auc",)  # ranking metrics without a cut-off
RATING_METRICS = ("rmse", "mae")  # errors of rating predictions: lower is better
METRICS = (*CUTOFF_METRICS, *SCORE_METRICS, *RATING_METRICS)


def metric_column(name: str, k: int) -> str:
    """``map`` at K = 10 is ``map@10``; rating errors and AUC have no cut-off."""
    return name if name in RATING_METRICS or name in SCORE_METRICS else f"{name}@{k}"


def is_metric_column(column: str) -> bool:
    return "@" in column or column in SCORE_METRICS or column in RATING_METRICS


def lower_is_better(column: str) -> bool:
    return column in RATING_METRICS


# What a model may offer beyond fit() and score(), by method name (the protocols of
# recinfluence.models.base): each speeds up or enables some estimators.
CAPABILITIES = ("deletion_variants", "fit_many", "warm_start", "warm_start_many", "influence_variants")


@dataclass(frozen=True)
class ModelEntry:
    """A built-in model: its class, and the capabilities it has, each with the keyword options
    its method takes beyond the contract's arguments."""

    path: str
    capabilities: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    @property
    def class_name(self) -> str:
        return self.path.rsplit(":", 1)[1]


def _model(path: str, **capabilities: tuple) -> ModelEntry:
    return ModelEntry(path, MappingProxyType(capabilities))


MODELS = {
    "svd": _model("recinfluence.models.svd:SVD", warm_start=(), influence_variants=("epochs",)),
    "ncf": _model(
        "recinfluence.models.ncf:NCF", fit_many=(), warm_start=(), warm_start_many=(), influence_variants=("damping",)
    ),
    "ease": _model("recinfluence.models.ease:EASE", deletion_variants=()),
    "ease_lowrank": _model("recinfluence.models.ease:LowRankEASE"),
    "item_knn": _model("recinfluence.models.item_knn:ItemKNN", deletion_variants=()),
    "als": _model("recinfluence.models.als:ALS"),
    "mult_vae": _model("recinfluence.models.mult_vae:MultVAE"),
}


@dataclass(frozen=True)
class EstimatorEntry:
    """A built-in estimator: its class; the model capability it needs (None: any model) and
    which of its settings are passed on to that capability (a model whose method lacks one is
    refused); and whether its per-seed influences are paired deletions (common random numbers),
    compared seed by seed with the size-matched random-rows control."""

    path: str
    needs: str | None = None
    hook_options: tuple = ()
    paired_by_seed: bool = False


ESTIMATORS = {
    "exact": EstimatorEntry("recinfluence.estimators.exact:ExactDeletion", paired_by_seed=True),
    "racing": EstimatorEntry("recinfluence.estimators.racing:Racing", paired_by_seed=True),
    "random_rows": EstimatorEntry("recinfluence.estimators.random_rows:RandomRows"),
    "random": EstimatorEntry("recinfluence.estimators.random_control:RandomControl"),
    "banzhaf": EstimatorEntry("recinfluence.estimators.banzhaf:DataBanzhaf"),
    "warm_start": EstimatorEntry("recinfluence.estimators.approximate:WarmStart", needs="warm_start"),
    "influence_function": EstimatorEntry(
        "recinfluence.estimators.approximate:InfluenceFunction",
        needs="influence_variants",
        hook_options=("epochs", "damping"),
    ),
}


def controlled_by_random_rows(name: str, names) -> bool:
    """Whether estimator ``name`` of a study running the estimators ``names`` is compared, seed by
    seed, with the size-matched random-rows control (docs/method.md "Trustworthy influence")."""
    return "random_rows" in names and ESTIMATORS[name].paired_by_seed


@dataclass(frozen=True)
class LoaderEntry:
    """A dataset loader: its ``from_spec(dataset, cache_dir)`` function, which loads what one
    entry of ``datasets`` describes, and the rating scale it assumes when ``rating_scale`` is left
    out (``None``: the data's own, or a ``synthetic`` entry's source's)."""

    path: str
    rating_scale: tuple | None = None


FIVE_STARS = (1, 5)  # the MovieLens and Amazon scale
LOADERS = {
    "movielens_100k": LoaderEntry("recinfluence.data.movielens:from_spec", FIVE_STARS),
    "movielens_1m": LoaderEntry("recinfluence.data.movielens:from_spec", FIVE_STARS),
    "movielens_25m": LoaderEntry("recinfluence.data.movielens:from_spec", (0.5, 5)),  # half stars
    "amazon_ratings": LoaderEntry("recinfluence.data.amazon:from_spec", FIVE_STARS),
    "table": LoaderEntry("recinfluence.data.table:from_spec"),
    "synthetic": LoaderEntry("recinfluence.data.synthetic:from_spec"),
}


def import_object(spec: str, key: str, what: str):
    """``package.module:Name`` -> the object; an :class:`InputError` naming ``key`` otherwise."""
    module_name, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as error:
        raise InputError(f"{key}: cannot load {what} {spec!r} ({error})") from None
