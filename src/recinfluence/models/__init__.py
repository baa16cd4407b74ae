"""Built-in recommenders and the loader for any ``package.module:Class`` given in config."""

from __future__ import annotations

import importlib

from ..errors import InputError
from .base import ENTITY_KINDS, TrainSet
from .ncf import NCF
from .svd import SVD

BUILTIN = {"svd": SVD, "ncf": NCF}

__all__ = ["BUILTIN", "ENTITY_KINDS", "NCF", "SVD", "TrainSet", "model_factory"]


def model_factory(name: str, params: dict | None = None, key: str = "models"):
    """A zero-argument callable that builds a fresh, unfitted model.

    ``name`` is a built-in (``svd``, ``ncf``) or ``package.module:Class``; ``params`` are passed
    to the class. Errors name the config ``key`` they came from."""
    params = dict(params or {})
    if name in BUILTIN:
        cls = BUILTIN[name]
    elif ":" in name:
        module_name, _, class_name = name.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as error:
            raise InputError(f"{key}: cannot load model class {name!r} ({error})") from None
    else:
        raise InputError(f"{key}: unknown model {name!r} (built-ins: {', '.join(BUILTIN)}; or package.module:Class)")
    try:
        cls(**params)
    except TypeError as error:
        raise InputError(f"{key}: bad parameters for {name!r} ({error})") from None
    for method in ("fit", "score"):
        if not callable(getattr(cls, method, None)):
            raise InputError(f"{key}: model class {name!r} has no {method}() method")
    return lambda: cls(**params)
