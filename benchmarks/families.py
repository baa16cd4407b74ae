"""Model families on MovieLens 100K: hyperparameters tuned on the heldout validation split, and
the cost of one deletion derived without refitting (EASE's downdates, item-kNN's item deletions)
against a refit, with the largest relative score difference between the two.

    python benchmarks/families.py [--data ../shared/data/ml-100k] [--tune] [--cost 30]

Everything runs on one thread (as a workflow job does). Writes results/benchmarks/families/
tuning.csv and deletion_cost.csv (and prints them as Markdown).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits

from recinfluence.data import load_movielens_100k
from recinfluence.io import write_csv
from recinfluence.metrics import aggregate
from recinfluence.models import ALS, EASE, ItemKNN
from recinfluence.retrain import Experiment
from recinfluence.split import split_interactions

OUT = Path("results/benchmarks/families")
GRID = {
    "ease": (EASE, [{"l2": value} for value in (10, 50, 100, 200, 300, 500, 1000, 2000, 5000)]),
    "item_knn": (ItemKNN, [{"k": value} for value in (10, 20, 50, 100)]),
    "als": (ALS, [{"factors": f, "regularization": r} for f in (16, 32, 64, 100) for r in (0.01, 1.0, 10.0)]),
}


def tune(data) -> pd.DataFrame:
    split = split_interactions(len(data.frame), test_fraction=0.25, seed=0, protocol="heldout", valid_fraction=0.1)
    experiment = Experiment.build(data, split, part="evaluation")
    rows = []
    for family, (cls, grid) in GRID.items():
        for params in grid:
            metrics = aggregate(experiment.evaluate(cls(**params).fit(experiment.train, 0)))
            rows.append({"family": family, "params": str(params), "validation map@10": metrics["map@10"], "validation ndcg@10": metrics["ndcg@10"]})
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def _seconds(function, repeats: int) -> tuple[float, object]:
    started = time.perf_counter()
    for _ in range(repeats):
        result = function()
    return (time.perf_counter() - started) / repeats, result


def deletion_cost(data, count: int) -> pd.DataFrame:
    """Per deletion: scores of every user from the derived variant and from a refit."""
    split = split_interactions(len(data.frame), test_fraction=0.25, seed=0, protocol="paper")
    train = Experiment.build(data, split).train
    users = np.arange(train.n_users)
    rng = np.random.default_rng(0)
    rows = []
    for family, make, kinds in (("ease", EASE, ("user", "item")), ("item_knn", ItemKNN, ("item",))):
        model = make().fit(train)
        model.score(users)
        for kind in kinds:
            ids = rng.choice(train.n_users if kind == "user" else train.n_items, size=count, replace=False)
            derived = refit = 0.0
            worst = 0.0
            for entity in ids:
                seconds, derived_scores = _seconds(lambda: next(model.deletion_variants(train, kind, [[entity]])).score(users), 1)
                derived += seconds
                seconds, refit_scores = _seconds(lambda: make().fit(train.without(kind, [entity])).score(users), 1)
                refit += seconds
                worst = max(worst, float(np.abs(derived_scores - refit_scores).max() / np.abs(refit_scores).max()))
            rows.append({
                "family": family, "kind": kind, "deletions": count, "derived s": derived / count, "refit s": refit / count,
                "speed-up": refit / derived, "max relative difference": worst,
            })
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/ml-100k")
    parser.add_argument("--tune", action="store_true", help="validation MAP@10 over each family's grid")
    parser.add_argument("--cost", type=int, metavar="N", help="time N random deletions of each kind, derived and refitted")
    args = parser.parse_args()
    threadpool_limits(1)
    torch.set_num_threads(1)
    data = load_movielens_100k(args.data)
    if args.tune:
        table = tune(data)
        write_csv(table, OUT / "tuning.csv", index=False)
        print(table.to_markdown(index=False, floatfmt=".4f"))
    if args.cost:
        table = deletion_cost(data, args.cost)
        write_csv(table, OUT / "deletion_cost.csv", index=False)
        print(table.to_markdown(index=False, floatfmt=".3g"))


if __name__ == "__main__":
    main()
