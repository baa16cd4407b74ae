"""Influence estimators behind one contract (:class:`~recinfluence.estimators.base.Estimator`).

Adding one is a new module here, its line in :data:`ESTIMATORS` and its settings under
``estimators`` in ``config.schema.yaml``; the workflow, the analysis and the figures then treat
it like any other."""

from __future__ import annotations

from ..settings import import_object

ESTIMATORS = {
    "exact": "recinfluence.estimators.exact:ExactDeletion",
    "random_rows": "recinfluence.estimators.random_rows:RandomRows",
    "racing": "recinfluence.estimators.racing:Racing",
    "random": "recinfluence.estimators.random_control:RandomControl",
    "banzhaf": "recinfluence.estimators.banzhaf:DataBanzhaf",
    "warm_start": "recinfluence.estimators.approximate:WarmStart",
    "influence_function": "recinfluence.estimators.approximate:InfluenceFunction",
}


# Whose per-seed influences are paired deletions (common random numbers, one per training seed):
# they are compared seed by seed with the size-matched random-rows control. Named here, not read
# from the classes, so that planning the workflow imports none of them.
PAIRED_BY_SEED = ("exact", "racing")


def controlled_by_random_rows(name: str, names) -> bool:
    """Whether estimator ``name`` of a study running the estimators ``names`` is compared, seed by
    seed, with the size-matched random-rows control (README "Trustworthy influence")."""
    return "random_rows" in names and name in PAIRED_BY_SEED


def build_estimator(name: str, params: dict | None = None, seed: int = 0):
    """The estimator ``name`` with its ``params`` (its entry under ``estimators`` in config) and
    the study's base ``seed``."""
    return import_object(ESTIMATORS[name], f"estimators.{name}", "estimator")(seed=seed, **(params or {}))
