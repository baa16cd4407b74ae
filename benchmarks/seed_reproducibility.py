"""How much of single-entity deletion influence survives a change of seed (docs/method.md "Trustworthy influence").

For one model on MovieLens 100K (paper split, seed 0), computes the influence of the first N
users under several seeds (the same seed for baseline and deletion in each run: common random
numbers) and reports, per metric, the mean magnitude of influence, the per-user standard
deviation across seeds, and the seed-to-seed Spearman correlation.

    python benchmarks/seed_reproducibility.py --model svd --users 60 --seeds 0 1 2
    python benchmarks/seed_reproducibility.py --model ncf --users 30 --seeds 0 1 2

Writes results/benchmarks/seed_reproducibility_<model class name, lower case>.csv and prints it as Markdown.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd

from recinfluence.analysis import seed_reproducibility
from recinfluence.data import load_movielens_100k
from recinfluence.estimators.exact import ExactDeletion
from recinfluence.io import write_csv
from recinfluence.models import model_factory
from recinfluence.retrain import Experiment, Retrainer
from recinfluence.split import split_interactions

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="svd", help="svd, ncf or package.module:Class")
    parser.add_argument("--users", type=int, default=60, help="influence of the first N users")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--data", default=os.environ.get("RECINFLUENCE_MOVIELENS", DEFAULT_DATA), help="MovieLens 100K folder"
    )
    parser.add_argument("--out", default="results/benchmarks")
    args = parser.parse_args()

    data = load_movielens_100k(args.data)
    experiment = Experiment.build(data, split_interactions(len(data.frame), 0.25, seed=0), k=10)
    make_model = model_factory(args.model)
    influences = {}
    for seed in args.seeds:
        started = time.perf_counter()
        retrainer = Retrainer(make_model, experiment, log=None)
        influences[seed] = ExactDeletion(seed=seed).estimate(retrainer, "user", range(args.users), log=None).influence
        print(f"seed {seed}: {args.users} retrains in {time.perf_counter() - started:.0f} s", flush=True)
    metrics = sorted(set(influences[args.seeds[0]]["metric"]))
    table = pd.DataFrame([seed_reproducibility(influences, metric)[0] for metric in metrics])
    table.insert(0, "model", args.model)
    name = args.model.split(":")[-1].lower()
    write_csv(table, Path(args.out) / f"seed_reproducibility_{name}.csv", index=False)
    print(table.to_markdown(index=False, floatfmt=".5f"))


if __name__ == "__main__":
    main()
