"""The size-matched random-rows control of exact deletion: for each entity, delete as many
random training rows as the entity has, instead of the entity's own, with the same seeds.

An entity's deletion influence means something only where it differs from this: deleting one
user's 80 rows and deleting 80 random rows both perturb a chaotic training run, and for SVD and
NCF on MovieLens 100K the two move MAP@10 by about as much (docs/method.md "Trustworthy influence").
Everything else is exact deletion's: the same seeds (common random numbers, paired with exact
deletion seed by seed), the same comparison (deleting user u's count of random rows is still
compared on every evaluation user except u, item i's on the catalog without i), the same
tables. The rows are drawn, without replacement, from the rows of the *other* entities of the
kind, keyed by (seed, kind, entity id): the same draw whatever the work unit, shard or batch.
An entity without training rows deletes nothing (influence exactly 0, as exact deletion's).
"""

from __future__ import annotations

import numpy as np

from ..models.base import ENTITY_KINDS, TrainSet
from .exact import ExactDeletion


class RandomRows(ExactDeletion):
    name = "random_rows"
    seed_draws_trains = True

    def variant_trains(self, train: TrainSet, kind: str, unit: np.ndarray, seed: int) -> list[TrainSet]:
        trains = []
        for entity in np.asarray(unit, dtype=np.int64):
            keep = np.ones(len(train), dtype=bool)
            keep[self.rows(train, kind, entity, seed)] = False
            trains.append(train.keep(keep))
        return trains

    @staticmethod
    def rows(train: TrainSet, kind: str, entity: int, seed: int) -> np.ndarray:
        """Positions (in ``train``) of the random rows matched to ``entity``: as many as it has,
        among the rows of the other entities of ``kind``."""
        column = train.users if kind == "user" else train.items
        others = np.flatnonzero(column != entity)
        size = int((column == entity).sum())
        rng = np.random.default_rng([int(seed), ENTITY_KINDS.index(kind), int(entity)])
        return np.sort(rng.choice(others, size=size, replace=False))
