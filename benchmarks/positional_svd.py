"""scikit-surprise's SVD used the usual way, as a contrast for the seed benchmark.

Its trainset numbers users and items in order of appearance in the training data, and its
initial factors are drawn by that position: deleting one user re-draws the initial vectors of
every later user and of every item. This is what ``recinfluence.models.SVD`` avoids (inner id =
global id). Use it only to measure how much "influence" that re-initialisation fakes:

    python benchmarks/seed_reproducibility.py --model positional_svd:PositionalSVD --users 60
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from surprise import SVD as SurpriseSVD
from surprise import Dataset, Reader


class PositionalSVD:
    def __init__(self, **params):
        self.params = params

    def fit(self, train, seed):
        frame = pd.DataFrame({"user": train.users, "item": train.items, "rating": train.ratings})
        trainset = Dataset.load_from_df(frame, Reader(rating_scale=train.rating_scale)).build_full_trainset()
        self.algo = SurpriseSVD(random_state=seed, **self.params).fit(trainset)
        self.rating_scale = train.rating_scale
        n_users, n_items = train.n_users, train.n_items
        # Global-id views of the fitted parameters; unknown entities get surprise's fallback
        # (no bias, no factor contribution).
        self.bu, self.bi = np.zeros(n_users), np.zeros(n_items)
        self.pu, self.qi = np.zeros((n_users, self.algo.n_factors)), np.zeros((n_items, self.algo.n_factors))
        users = [trainset.to_raw_uid(inner) for inner in range(trainset.n_users)]
        items = [trainset.to_raw_iid(inner) for inner in range(trainset.n_items)]
        self.bu[users], self.pu[users] = self.algo.bu, self.algo.pu
        self.bi[items], self.qi[items] = self.algo.bi, self.algo.qi
        self.global_mean = trainset.global_mean
        return self

    def score(self, users):
        return self.global_mean + self.bu[users, None] + self.bi[None, :] + self.pu[users] @ self.qi.T
