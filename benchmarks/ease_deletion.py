"""What EASE's exact (derived) deletions cost at 10M ratings (docs/scale.md "Studies at 10M and
25M ratings"): every evaluation user, and a stratified sample of 1,000 (``evaluation.users``).

MovieLens 100K grown x100 by the synthetic loader (9,430 users x 18,502 items), heldout split,
one thread. EASE is fitted once (deterministic; about 11 CPU-minutes and 12 GB), then three user
and three item deletions of median activity are derived and evaluated, in CPU-seconds each.

    python benchmarks/ease_deletion.py ../shared/data/ml-100k
"""

from __future__ import annotations

import resource
import sys
import time

import numpy as np

from recinfluence.data import expand_interactions, load_movielens_100k
from recinfluence.estimators.exact import ExactDeletion
from recinfluence.jobs import limit_threads
from recinfluence.models import EASE
from recinfluence.retrain import Experiment, Retrainer
from recinfluence.split import split_interactions


class FittedOnce(EASE):
    """EASE fitted on the first call only: both experiments share the training rows, and the
    model has no seed, so every later fit would give the same model."""

    def fit(self, train, seed=None):
        return self if hasattr(self, "P") else super().fit(train, seed)


def main() -> None:
    limit_threads(1)
    data = expand_interactions(load_movielens_100k(sys.argv[1]), 100, seed=0, log=None)
    split = split_interactions(len(data.frame), 0.25, seed=0, protocol="heldout", valid_fraction=0.1)
    model = FittedOnce(l2=500)
    for name, users in (("all users", None), ("1,000 users", 1000)):
        experiment = Experiment.build(data, split, "evaluation", 10, 4.0, users=users, seed=0)
        retrainer = Retrainer(lambda: model, experiment, log=None)
        started = time.process_time()
        retrainer.baseline(0)
        print(f"{name}: fit (first time only) and evaluation {time.process_time() - started:.1f} CPU-s", flush=True)
        started = time.process_time()
        experiment.evaluate(model)
        print(f"{name}: one evaluation {time.process_time() - started:.2f} CPU-s", flush=True)
        for kind in ("user", "item"):
            activity = np.bincount(experiment.train.users if kind == "user" else experiment.train.items)
            ids = np.sort(np.argsort(np.abs(activity - np.median(activity)), kind="stable")[:3])
            started = time.process_time()
            ExactDeletion(seed=0).estimate(retrainer, kind, ids, log=None)
            each = (time.process_time() - started) / len(ids)
            print(f"{name}: exact {kind} deletion {each:.2f} CPU-s each", flush=True)
    print(f"peak resident memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB")


if __name__ == "__main__":
    main()
