"""Memory and time of the models with item x item matrices, against the memory guard's estimate.

    python benchmarks/large_catalogs.py ../shared/data/ml-100k --factor 10 --models ease item_knn item_knn:50

MovieLens 100K grown ``--factor`` times (``recinfluence.data.expand_interactions``). Each model
(``item_knn:50`` is item-kNN with ``save_nbrs: 50``) runs in a fresh process: fit on every rating,
score ``--users`` users, derive the deletion of the busiest item and score those users again.
It prints the fit and scoring times, the peak resident memory the model added (``ru_maxrss``
after, less before the fit: the data are loaded by then) and the largest Python and numpy
allocation at once (``tracemalloc``), next to the model's own estimate (``memory_needed``, what
``recinfluence.compose.check_memory`` adds the data and the evaluation blocks to).
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
from recinfluence.models import EASE, ItemKNN, TrainSet
from recinfluence.models.base import DataSize


def build(spec: str):
    name, _, save_nbrs = spec.partition(":")
    return EASE() if name == "ease" else ItemKNN(save_nbrs=int(save_nbrs) if save_nbrs else None)


def measure(folder: str, factor: int, spec: str, n_users: int) -> dict:
    data = load_movielens_100k(folder)
    data = expand_interactions(data, factor, seed=0, log=None) if factor > 1 else data
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
    (variant,) = model.deletion_variants(train, "item", [[np.bincount(train.items).argmax()]])
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
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
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
