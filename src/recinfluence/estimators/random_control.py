"""A negative control: "influence" drawn from a seeded normal distribution, no retraining.

It has the output of a real estimator and none of its information, so every figure the study
reports for it (reliability, entities above the noise floor, pruning against the random
control) shows what pure chance looks like. A real estimator has to do better. The only model it
fits is the full one, once per process, to report the metrics the model reports (RMSE and MAE
only for a model that predicts ratings)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ..metrics import metric_columns
from ..models.base import ENTITY_KINDS
from ..retrain import rows_per_entity
from .base import Estimator, Partial, blocks

UNIT = 256  # entities per work unit: the draws are cheap, a unit only bounds a shard's size


class RandomControl(Estimator):
    name = "random"

    def __init__(self, seed: int = 0, seeds: int = 1, scale: float = 0.001):
        super().__init__(seed, seeds)
        self.scale = scale

    def training_seeds(self) -> list[int]:
        return []  # no model is trained

    def work_units(self, retrainer, entities) -> list[np.ndarray]:
        return blocks(entities, UNIT)

    def run(self, retrainer, kind: str, unit: np.ndarray, comparison: str = "exclude") -> Partial:
        started = time.perf_counter()
        metrics = metric_columns(retrainer.baseline(self.seeds[0]).per_user)
        rows_of = rows_per_entity(retrainer.train, kind)
        rows = []
        for seed in self.seeds:
            for entity in unit:
                # keyed by (seed, kind, entity): the same draw whatever the unit or shard
                draws = np.random.default_rng([seed, ENTITY_KINDS.index(kind), int(entity)]).normal(
                    0.0, self.scale, len(metrics)
                )
                rows += [
                    (kind, int(entity), int(rows_of[entity]), seed, metric, value)
                    for metric, value in zip(metrics, draws)
                ]
        rows = pd.DataFrame(rows, columns=["kind", "entity", "n_train_rows", "seed", "metric", "influence"])
        seconds = (time.perf_counter() - started) / len(unit)
        timing = pd.DataFrame({"kind": kind, "entity": unit, "seconds": seconds})
        return Partial(rows, pd.DataFrame(columns=["entity", "user"]), timing)
