"""One item-kNN item deletion evaluated on the users it changes, against an evaluation of them all.

    python benchmarks/incremental_items.py ../shared/data/ml-100k --factors 1 10 [--save-nbrs 50]

MovieLens 100K grown by each factor (``recinfluence.data.expand_interactions``), the heldout
split, comparison ``exclude``, default evaluation blocks. For items of several popularities (the
busiest, and those at 10%, 50% and 90% of the items by training rows) it times, as
``Retrainer.deletions`` does them: the baseline evaluated again without the item (what either
way needs), the variant derived, then evaluated over every evaluation user (full) or over the
users it changes only (incremental, ``recinfluence.retrain.evaluate_variant``), and checks that
both give the same per-user table. Seconds are wall time of one thread.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from recinfluence.data import expand_interactions, load_movielens_100k
from recinfluence.models import ItemKNN
from recinfluence.retrain import Experiment, Retrainer, evaluate_variant
from recinfluence.split import split_interactions


def timed(function, *args):
    started = time.perf_counter()
    return function(*args), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="../shared/data/ml-100k")
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--save-nbrs", type=int, default=None)
    args = parser.parse_args()
    threadpool_limits(1)
    print(
        "| ratings (users x items) | item: training rows | users changed | derive s | baseline without the item s "
        "| variant, full s | variant, incremental s | speed-up of the variant | of the deletion |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    source = load_movielens_100k(args.folder)
    for factor in args.factors:
        data = expand_interactions(source, factor, seed=0, log=None) if factor > 1 else source
        split = split_interactions(len(data.frame), test_fraction=0.25, seed=0, protocol="heldout")
        experiment = Experiment.build(data, split, k=10)
        retrainer = Retrainer(lambda: ItemKNN(save_nbrs=args.save_nbrs), experiment, log=None)
        baseline = retrainer.baseline(0)
        train, users = experiment.train, experiment.evalset.users
        counts = np.bincount(train.items, minlength=train.n_items)
        ranked = np.argsort(-counts, kind="stable")[: np.count_nonzero(counts)]
        for item in ranked[[0, len(ranked) // 10, len(ranked) // 2, 9 * len(ranked) // 10]]:
            excluded = [item]
            base, base_s = timed(experiment.evaluate, baseline.model, baseline.scores, excluded)
            (variant,), derive_s = timed(list, baseline.model.deletion_variants(train, "item", [excluded]))
            full, full_s = timed(experiment.evaluate, variant, None, excluded)
            (variant,) = baseline.model.deletion_variants(train, "item", [excluded])
            incremental, incremental_s = timed(evaluate_variant, experiment, variant, base, excluded)
            pd.testing.assert_frame_equal(incremental.reset_index(drop=True), full)
            print(
                f"| {len(data.frame):,} ({data.n_users:,} x {data.n_items:,}) | {counts[item]:,} | "
                f"{variant.changed_users(users).sum():,} of {len(users):,} | {derive_s:.3f} | {base_s:.3f} | "
                f"{full_s:.3f} | {incremental_s:.3f} | {full_s / incremental_s:.1f}x | "
                f"{(derive_s + base_s + full_s) / (derive_s + base_s + incremental_s):.1f}x |"
            )


if __name__ == "__main__":
    main()
