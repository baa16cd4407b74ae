"""Built-in recommenders and the loader for any ``package.module:Class`` given in config.

The built-ins are imported on first use (``recinfluence.models.SVD`` or :func:`model_factory`),
so that importing this package does not import torch or numba."""

from __future__ import annotations

from ..errors import InputError
from ..registry import MODELS, import_object
from .base import ENTITY_KINDS, Recommender, TrainSet

__all__ = [
    "ALS",
    "EASE",
    "ENTITY_KINDS",
    "ItemKNN",
    "LowRankEASE",
    "MultVAE",
    "NCF",
    "Recommender",
    "SVD",
    "TrainSet",
    "model_factory",
]


def __getattr__(name: str):
    by_class = {entry.class_name: entry.path for entry in MODELS.values()}
    if name in by_class:
        return import_object(by_class[name], name, "model class")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check_declared_params(cls, params: dict, key: str) -> None:
    """A plug-in class may declare its parameters as a JSON schema (``params_schema``: types,
    ranges, allowed values, ``additionalProperties: false`` for no unknown names); every problem
    is reported at once, in one line, each naming ``<key>.params.<name>``."""
    schema = getattr(cls, "params_schema", None)
    if schema is None:
        return
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    problems = sorted(
        f"{'.'.join([f'{key}.params', *map(str, error.absolute_path)])}: {error.message}"
        for error in validator.iter_errors(params)
    )
    if problems:
        raise InputError("; ".join(problems))


def model_factory(name: str, params: dict | None = None, key: str = "models"):
    """A zero-argument callable that builds a fresh, unfitted model.

    ``name`` is a built-in (``svd``, ``ncf``, ``ease``, ...) or ``package.module:Class``; ``params`` are passed
    to the class. Errors name the config ``key`` they came from."""
    params = dict(params or {})
    if name in MODELS:
        cls = import_object(MODELS[name].path, key, "model class")
    elif ":" in name:
        cls = import_object(name, key, "model class")
    else:
        raise InputError(f"{key}: unknown model {name!r} (built-ins: {', '.join(MODELS)}; or package.module:Class)")
    check_declared_params(cls, params, key.removesuffix(".class"))
    try:
        cls(**params)
    except (TypeError, ValueError) as error:
        raise InputError(f"{key}: bad parameters for {name!r} ({error})") from None
    if not issubclass(cls, Recommender):
        missing = [method for method in ("fit", "score") if not callable(getattr(cls, method, None))]
        raise InputError(f"{key}: model class {name!r} has no {missing[0]}() method")
    return lambda: cls(**params)
