"""Cross-check of recinfluence's item-kNN against LensKit's ItemKNNScorer on MovieLens 100K.

LensKit (2025.x) pins pandas < 3, so it is not a test dependency; run this in an environment
that has both (e.g. `python -m venv /tmp/lk && /tmp/lk/bin/pip install lenskit torch==2.13.0
-e .`):

    python benchmarks/lenskit_knn.py [ML-100K folder]

For both feedback modes it scores every item for every user of the paper split's training rows
with both implementations and prints: the largest absolute and relative score difference where
LensKit gives a score (LensKit computes in float32), whether the unscored (item, user) pairs
coincide, the share of users whose top-10 lists are equal, and, for the pairs whose scores
differ by more than 1e-4, whether the k-th and (k+1)-th most similar of the user's items tie
(then the two implementations keep different, equally similar neighbours).
"""

from __future__ import annotations

import sys

import numpy as np
from lenskit.data import ItemList, RecQuery, from_interactions_df
from lenskit.knn import ItemKNNScorer

from recinfluence.data import load_movielens_100k
from recinfluence.models import ItemKNN, TrainSet
from recinfluence.split import split_interactions

folder = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/ml-100k"
data = load_movielens_100k(folder)
split = split_interactions(len(data.frame), test_fraction=0.25, seed=0, protocol="paper")
rows = data.frame.iloc[split.train]
train = TrainSet.from_frame(rows, data.n_users, data.n_items)
users = np.arange(data.n_users)
all_items = np.arange(data.n_items)
dataset = from_interactions_df(
    rows.rename(columns={"user": "user_id", "item": "item_id"})[["user_id", "item_id", "rating"]]
)

for feedback in ("implicit", "explicit"):
    model = ItemKNN(feedback=feedback).fit(train)
    ours = model.score(users)
    scorer = ItemKNNScorer(feedback=feedback)
    scorer.train(dataset)
    theirs = np.full_like(ours, np.nan)
    for u, history in rows.groupby("user"):
        query = RecQuery(
            user_id=u, history_items=ItemList(item_ids=history["item"].to_numpy(), rating=history["rating"].to_numpy())
        )
        theirs[u] = scorer(query, ItemList(item_ids=all_items)).scores()
    scored = np.isfinite(theirs)
    difference = np.abs(ours - theirs)[scored]
    fallback = ours[~scored]
    unscored_match = np.array_equal(fallback, np.broadcast_to(model.fallback, ours.shape)[~scored])
    differ = np.argwhere(scored & (np.abs(ours - np.where(scored, theirs, 0)) > 1e-4))
    tied = 0
    for u, i in differ:
        sims = np.sort(model.similarity[i, rows["item"].to_numpy()[rows["user"].to_numpy() == u]])[::-1]
        tied += len(sims) > model.k and np.isclose(sims[model.k - 1], sims[model.k], rtol=1e-6, atol=0)
    top_ours = np.argsort(-ours, axis=1, kind="stable")[:, :10]
    top_theirs = np.argsort(-np.where(scored, theirs, -np.inf), axis=1, kind="stable")[:, :10]
    same_top = np.mean([set(a) == set(b) for a, b in zip(top_ours, top_theirs)])
    print(
        f"{feedback}: {scored.sum():,} scored pairs, max |difference| {difference.max():.2e}, "
        f"max relative {(difference / np.maximum(np.abs(theirs[scored]), 1e-12)).max():.2e}; "
        f"{(~scored).sum():,} pairs LensKit leaves unscored, ours give them the fallback: {unscored_match}; "
        f"users with the same top-10 set: {same_top:.3f}; {len(differ):,} pairs differ by > 1e-4, "
        f"{tied:,} of them with a tie at the k-th neighbour"
    )
