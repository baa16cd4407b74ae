"""Influence estimators behind one contract (:class:`~recinfluence.estimators.base.Estimator`).

Adding one is a new module here, its line in :data:`ESTIMATORS` and its settings under
``estimators`` in ``config.schema.yaml``; the workflow, the analysis and the figures then treat
it like any other."""

from __future__ import annotations

from ..settings import import_object

ESTIMATORS = {
    "exact": "recinfluence.estimators.exact:ExactDeletion",
    "random": "recinfluence.estimators.random_control:RandomControl",
    "banzhaf": "recinfluence.estimators.banzhaf:DataBanzhaf",
}


def build_estimator(name: str, params: dict | None = None, seed: int = 0):
    """The estimator ``name`` with its ``params`` (its entry under ``estimators`` in config) and
    the study's base ``seed``."""
    return import_object(ESTIMATORS[name], f"estimators.{name}", "estimator")(seed=seed, **(params or {}))
