"""Exact deletion: retrain without each entity, with R seeds (common random numbers), and
average the paired differences with the baseline of the same seed.

A work unit is one training pass of the model: a block of ``variants_per_batch`` entities for a
model with a batched path (NCF), one entity otherwise. A model that derives its deletion
variants without refitting (``deletion_variants``) is used through it (docs/extending.md "Your own model").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..registry import lower_is_better
from ..retrain import rows_per_entity
from .base import TIMING_COLUMNS, Estimator, Partial, blocks


class ExactDeletion(Estimator):
    name = "exact"
    value_columns = ("baseline", "without")  # the metric of the baseline and without the entity

    def work_units(self, retrainer, entities) -> list[np.ndarray]:
        return blocks(entities, retrainer.variants_per_batch)

    def variant_trains(self, train, kind: str, unit: np.ndarray, seed: int):
        """What each entity's variant trains on (None: the training set without the entity)."""
        return None

    approximation = None  # see :mod:`recinfluence.estimators.approximate`

    def run(self, retrainer, kind: str, unit: np.ndarray, comparison: str = "exclude") -> Partial:
        return over_seeds([self.run_seed(retrainer, kind, unit, seed, comparison) for seed in self.seeds])

    def run_seed(self, retrainer, kind: str, unit: np.ndarray, seed: int, comparison: str = "exclude") -> Partial:
        """The deletions of ``unit`` retrained with one ``seed``: one row per (entity, metric);
        ``per_user`` keeps the seed (:func:`over_seeds` averages it away)."""
        rows_of = rows_per_entity(retrainer.train, kind)
        rows, per_user, timing = [], [], []
        comparisons = retrainer.deletions(
            kind, unit, seed, comparison, self.variant_trains(retrainer.train, kind, unit, seed), self.approximation
        )
        for entity, (baseline, without, users, seconds) in zip(unit, comparisons):
            for metric in baseline.index:
                sign = -1.0 if lower_is_better(metric) else 1.0
                influence = sign * (baseline[metric] - without[metric]) + 0.0  # + 0.0: no -0.0
                rows.append(
                    (
                        kind,
                        int(entity),
                        int(rows_of[entity]),
                        seed,
                        metric,
                        baseline[metric],
                        without[metric],
                        influence,
                    )
                )
            per_user.append(users.assign(entity=int(entity)))
            timing.append((kind, int(entity), seconds))
        rows = pd.DataFrame(
            rows, columns=["kind", "entity", "n_train_rows", "seed", "metric", "baseline", "without", "influence"]
        )
        return Partial(rows, pd.concat(per_user, ignore_index=True), pd.DataFrame(timing, columns=TIMING_COLUMNS))


def over_seeds(partials: list[Partial]) -> Partial:
    """Several seeds' partials of the same entities as one: per-user changes averaged over the
    seeds, seconds summed (so a shard's files do not grow with the seeds)."""
    whole = Partial.concat(partials)
    per_user = whole.per_user.groupby(["entity", "user"], sort=False).mean().reset_index()
    timing = whole.timing.groupby(["kind", "entity"], sort=False)["seconds"].sum().reset_index()
    return Partial(whole.rows, per_user, timing)
