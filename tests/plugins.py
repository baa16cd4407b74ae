"""Plug-in recommenders for the model-factory tests, loaded as ``tests.plugins:Class``."""

from __future__ import annotations

import numpy as np


class Popularity:
    """Scores every item by its number of training rows, the same for every user."""

    rating_scale = None

    def __init__(self, smoothing: float = 0.0):
        self.smoothing = smoothing

    def fit(self, train, seed: int) -> "Popularity":
        self.counts = np.bincount(train.items, minlength=train.n_items).astype(float) + self.smoothing
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.tile(self.counts, (len(users), 1))


class NoScore:
    """Has fit() but no score(): not a recommender."""

    def fit(self, train, seed: int) -> "NoScore":
        return self


class Declared(Popularity):
    """Popularity that declares its parameters (checked with the config)."""

    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"smoothing": {"type": "number", "minimum": 0}},
    }
