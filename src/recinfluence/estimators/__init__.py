"""Influence estimators behind one contract (:class:`~recinfluence.estimators.base.Estimator`).

Adding one is a new module here, its line in :data:`recinfluence.registry.ESTIMATORS` and its
settings under ``estimators`` in ``config.schema.yaml`` (a test checks the three agree); the
workflow, the analysis and the figures then treat it like any other."""

from __future__ import annotations

from ..registry import ESTIMATORS, import_object

__all__ = ["ESTIMATORS", "build_estimator"]


def build_estimator(name: str, params: dict | None = None, seed: int = 0):
    """The estimator ``name`` with its ``params`` (its entry under ``estimators`` in config) and
    the study's base ``seed``."""
    return import_object(ESTIMATORS[name].path, f"estimators.{name}", "estimator")(seed=seed, **(params or {}))
