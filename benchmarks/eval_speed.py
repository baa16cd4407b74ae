"""Cost of one evaluation (``recinfluence.metrics.evaluate``) at 100K and 10M ratings, one thread.

MovieLens 100K grown by the seeded Kronecker expansion of the ``synthetic`` loader (factor 100:
10M ratings, 9,430 users x 18,502 items), heldout protocol, SVD (100 factors, fitted for one
epoch: how good the scores are hardly changes the cost). One evaluation of every evaluation user
(blocks of ``evaluation.memory_mb``, the default) is timed and split into its two parts: the
model's scoring (``model.score`` of each block: a matrix product) and the metric pass (everything
else: top-K, AUC, rating errors, the table). Median of ``--repeats`` evaluations, after one
untimed evaluation on MovieLens 100K that compiles the kernels.

    python benchmarks/eval_speed.py ../shared/data/ml-100k                  # factors 1 and 100
    python benchmarks/eval_speed.py ../shared/data/ml-100k --factors 100 --repeats 1

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from recinfluence.data import expand_interactions, load_movielens_100k
from recinfluence.jobs import limit_threads
from recinfluence.metrics import evaluate
from recinfluence.models import model_factory
from recinfluence.models.base import rating_scale
from recinfluence.retrain import Experiment
from recinfluence.split import split_interactions


def fitted(data) -> tuple[Experiment, object]:
    split = split_interactions(len(data.frame), seed=0, protocol="heldout")
    experiment = Experiment.build(data, split)
    return experiment, model_factory("svd", {"n_epochs": 1})().fit(experiment.train, seed=0)


def timed_evaluation(experiment: Experiment, model) -> tuple[float, float]:
    """(scoring, metric pass) seconds of one evaluation."""
    scoring = []

    def score(users: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        scores = model.score(users)
        scoring.append(time.perf_counter() - started)
        return scores

    started = time.perf_counter()
    evaluate(score, experiment.evalset, experiment.k, rating_scale(model))
    total = time.perf_counter() - started
    return sum(scoring), total - sum(scoring)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("movielens", help="an ml-100k folder")
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    limit_threads(1)
    source = load_movielens_100k(args.movielens)
    timed_evaluation(*fitted(source))  # compiles (or loads) the kernels: not timed
    rows = []
    for factor in args.factors:
        data = expand_interactions(source, factor, seed=0, log=None) if factor > 1 else source
        experiment, model = fitted(data)
        scoring, metrics = np.median([timed_evaluation(experiment, model) for _ in range(args.repeats)], axis=0)
        rows.append(
            {
                "ratings": f"{len(data.frame):,}",
                "users": f"{len(experiment.evalset):,}",
                "items": f"{data.n_items:,}",
                "blocks": len(experiment.evalset.blocks()),
                "evaluation_s": round(scoring + metrics, 3),
                "scoring_s": round(scoring, 3),
                "metric_pass_s": round(metrics, 3),
            }
        )
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
