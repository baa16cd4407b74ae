"""What one exact SVD user deletion costs at 10M ratings (docs/scale.md "Cost at scale"), per backend.

MovieLens 100K grown x100 by the synthetic loader (9,430 users x 18,502 items), heldout split,
one thread: the baseline's fit and evaluation, one evaluation alone, and exact deletion of the
two users of median activity (fit and evaluation each), in CPU-seconds; the influence tables go
to results/benchmarks/svd_deletion/<backend>.csv.

    python benchmarks/svd_deletion.py ../shared/data/ml-100k compiled fast

An earlier version is measured by putting its checkout first on the path (this machine's speed
varies by up to 1.8x from day to day, so compare versions one after the other, not across days):

    git worktree add /tmp/before <commit>
    PYTHONPATH=/tmp/before/src python benchmarks/svd_deletion.py ../shared/data/ml-100k compiled fast
"""

import sys
import time
from pathlib import Path

import numpy as np

from recinfluence.data import expand_interactions, load_movielens_100k
from recinfluence.estimators.exact import ExactDeletion
from recinfluence.jobs import limit_threads
from recinfluence.models import model_factory
from recinfluence.retrain import Experiment, Retrainer
from recinfluence.split import split_interactions

limit_threads(1)
source = load_movielens_100k(sys.argv[1])
data = expand_interactions(source, 100, seed=0, log=None)
split = split_interactions(len(data.frame), 0.25, seed=0, protocol="heldout", valid_fraction=0.1)
exp = Experiment.build(data, split, "evaluation", 10, 4.0)
activity = np.bincount(exp.train.users)
median = np.sort(np.argsort(np.abs(activity - np.median(activity)), kind="stable")[:2])
out = Path("results/benchmarks/svd_deletion")
out.mkdir(parents=True, exist_ok=True)
for backend in sys.argv[2:]:
    retrainer = Retrainer(model_factory("svd", {"backend": backend}), exp, log=None)
    started = time.process_time()
    baseline = retrainer.baseline(0)
    fitted = time.process_time() - started
    started = time.process_time()
    exp.evaluate(baseline.model)
    evaluated = time.process_time() - started
    started = time.process_time()
    result = ExactDeletion(seed=0).estimate(retrainer, "user", median, log=None)
    deleted = (time.process_time() - started) / len(median)
    print(
        f"{backend}: baseline fit + evaluation {fitted:.1f} CPU-s, one evaluation {evaluated:.2f}, exact user "
        f"deletion {deleted:.1f} CPU-s each",
        flush=True,
    )
    result.influence[["entity", "metric", "influence"]].to_csv(out / f"{backend}.csv", index=False)
