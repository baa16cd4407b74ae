"""Peak memory of one influence shard job at scale, evaluated in blocks of users or all at once.

Does what one shard job of the workflow does (``workflow/scripts/influence_shard.py``): load the
data (MovieLens 100K grown ``--factor`` times by the ``synthetic`` loader: 100 gives 10M
ratings), split it (heldout), build the experiment and run exact deletion over a few users (or
items) with one seed. ``--memory-mb`` is the ``evaluation.memory_mb`` setting: the default
evaluates users in blocks of about that many MB; a value above the whole users x items matrix
(e.g. 100000) evaluates every user at once, as the tool did before blocks. Run it under
``/usr/bin/time -v`` for the peak (maximum resident set size):

    /usr/bin/time -v python benchmarks/shard_memory.py ../shared/data/ml-100k --factor 100
    /usr/bin/time -v python benchmarks/shard_memory.py ../shared/data/ml-100k --factor 100 --memory-mb 100000

Prints the stages' wall times and the influence table (the same whatever ``--memory-mb``).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from recinfluence.data import expand_interactions, load_movielens_100k
from recinfluence.estimators.exact import ExactDeletion
from recinfluence.jobs import limit_threads
from recinfluence.models import model_factory
from recinfluence.retrain import Experiment, Retrainer
from recinfluence.split import split_interactions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("movielens", help="an ml-100k folder")
    parser.add_argument("--factor", type=int, default=100)
    parser.add_argument("--model", default="svd")
    parser.add_argument("--kind", default="user", choices=["user", "item"])
    parser.add_argument("--deletions", type=int, default=2)
    parser.add_argument("--memory-mb", type=float, default=512)
    args = parser.parse_args()
    limit_threads(1)
    started = time.perf_counter()
    source = load_movielens_100k(args.movielens)
    data = expand_interactions(source, args.factor, seed=0, log=None) if args.factor > 1 else source
    split = split_interactions(len(data.frame), 0.25, seed=0, protocol="heldout", valid_fraction=0.1)
    experiment = Experiment.build(data, split, "evaluation", 10, 4.0, memory_mb=args.memory_mb)
    blocks = len(experiment.evalset.blocks())
    print(
        f"{len(data.frame):,} ratings, {data.n_users:,} users x {data.n_items:,} items; {len(experiment.evalset):,} "
        f"evaluation users in {blocks} block(s); prepared in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    activity = np.bincount(experiment.train.users if args.kind == "user" else experiment.train.items)
    median = np.argsort(np.abs(activity - np.median(activity)))[: args.deletions]  # of median activity
    started = time.perf_counter()
    retrainer = Retrainer(model_factory(args.model), experiment, log=None)
    result = ExactDeletion(seed=0).estimate(retrainer, args.kind, np.sort(median), log=None)
    print(
        f"baseline and {args.deletions} {args.kind} deletions in {time.perf_counter() - started:.1f} s", file=sys.stderr
    )
    print(result.influence[["entity", "metric", "influence"]].to_string(index=False))


if __name__ == "__main__":
    main()
