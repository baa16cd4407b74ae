"""Memory and time of the models with item x item matrices, against the memory guard's estimate.

    python benchmarks/large_catalogs.py ../shared/data/ml-100k --factor 10 --models ease item_knn item_knn:50
    python benchmarks/large_catalogs.py ../shared/data/ml-100k --factor 1 --quality --models ease ease_lowrank:256

MovieLens 100K grown ``--factor`` times (``recinfluence.data.expand_interactions``). Each model
(``item_knn:50`` is item-kNN with ``save_nbrs: 50``, ``ease_lowrank:256`` EASE on a rank-256 Gram
matrix) runs in a fresh process: fit on every rating, score ``--users`` users, delete the busiest
item (derived without a refit where the model can, else refitted) and score those users again.
It prints the fit and scoring times, the peak resident memory the model added (``ru_maxrss``
after, less before the fit: the data are loaded by then) and the largest Python and numpy
allocation at once (``tracemalloc``), next to the model's own estimate (``memory_needed``, what
``recinfluence.compose.check_memory`` adds the data and the evaluation blocks to).

``--quality`` instead fits each model on the training part of the heldout split (seed 0) and
prints its MAP@10, NDCG@10 and AUC on the evaluation part, every evaluation user.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np

from recinfluence.data import expand_interactions, load_movielens_100k
from recinfluence.metrics import aggregate
from recinfluence.models import EASE, ItemKNN, LowRankEASE, TrainSet
from recinfluence.models.base import DataSize
from recinfluence.retrain import Experiment
from recinfluence.split import split_interactions


def build(spec: str):
    name, _, option = spec.partition(":")
    if name == "ease":
        return EASE()
    if name == "ease_lowrank":
        return LowRankEASE(rank=int(option)) if option else LowRankEASE()
    return ItemKNN(save_nbrs=int(option) if option else None)


def load(folder: str, factor: int):
    data = load_movielens_100k(folder)
    return expand_interactions(data, factor, seed=0, log=None) if factor > 1 else data


def quality(folder: str, factor: int, spec: str) -> dict:
    data = load(folder, factor)
    split = split_interactions(len(data.frame), test_fraction=0.25, seed=0, protocol="heldout")
    experiment = Experiment.build(data, split, part="evaluation")
    started = time.perf_counter()
    model = build(spec).fit(experiment.train)
    fitted = time.perf_counter()
    means = aggregate(experiment.evaluate(model))
    return {"model": spec, "fit_s": fitted - started, **{name: means[name] for name in ("map@10", "ndcg@10", "auc")}}


def measure(folder: str, factor: int, spec: str, n_users: int) -> dict:
    data = load(folder, factor)
    train = TrainSet.from_frame(data.frame, data.n_users, data.n_items)
    size = DataSize.of(train.users, train.n_users, train.n_items)
    model = build(spec)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    started = time.perf_counter()
    model.fit(train)
    fitted = time.perf_counter()
    users = np.arange(min(n_users, train.n_users))
    model.score(users)
    scored = time.perf_counter()
    busiest = np.bincount(train.items).argmax()
    if hasattr(model, "deletion_variants"):
        (variant,) = model.deletion_variants(train, "item", [[busiest]])
    else:
        variant = build(spec).fit(train.without("item", [busiest]))
    variant.score(users)
    derived = time.perf_counter()
    return {
        "model": spec,
        "size": size._asdict(),
        "estimate_gb": model.memory_needed(size).bytes / 2**30,
        "rss_added_gb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before) / 2**30,
        "traced_peak_gb": tracemalloc.get_traced_memory()[1] / 2**30,
        "fit_s": fitted - started,
        "score_s": scored - fitted,
        "deletion_s": derived - scored,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="../shared/data/ml-100k")
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--models", nargs="+", default=["ease", "item_knn", "item_knn:50"])
    parser.add_argument("--users", type=int, default=500, help="users scored by the model and by one deletion")
    parser.add_argument("--quality", action="store_true", help="accuracy on the heldout split instead of memory")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quality:
        print("| model | fit s | MAP@10 | NDCG@10 | AUC |\n| --- | --- | --- | --- | --- |")
        for spec in args.models:
            row = quality(args.folder, args.factor, spec)
            print(f"| {spec} | {row['fit_s']:.1f} | {row['map@10']:.4f} | {row['ndcg@10']:.4f} | {row['auc']:.4f} |")
        return
    if args.child:  # one model in a fresh process, so that its peak memory is its own
        print(json.dumps(measure(args.folder, args.factor, args.child, args.users)))
        return
    print(
        "| model | users x items, ratings | fit s | score s | one deletion s | estimate GB | RSS added GB | traced GB |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for spec in args.models:
        command = [sys.executable, __file__, args.folder, "--factor", str(args.factor), "--users", str(args.users)]
        row = json.loads(subprocess.run([*command, "--child", spec], check=True, capture_output=True, text=True).stdout)
        size = row["size"]
        print(
            f"| {spec} | {size['users']:,} x {size['items']:,}, {size['ratings']:,} | {row['fit_s']:.1f} | "
            f"{row['score_s']:.1f} | {row['deletion_s']:.1f} | {row['estimate_gb']:.2f} | {row['rss_added_gb']:.2f} | "
            f"{row['traced_peak_gb']:.2f} |"
        )


if __name__ == "__main__":
    main()
