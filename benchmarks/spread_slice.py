"""How reliable is SVD's user ranking at 10M ratings on users that differ? (docs/scale.md
"Studies at 10M and 25M ratings")

The shipped 10M config deletes the first 16 user ids, and the `synthetic` loader numbers the
copies of each MovieLens 100K user consecutively (ids u*10 .. u*10+9 grow from user u), so those
16 are copies of two people. This deletes one copy of each of 16 users spread over the id range
instead (ids 0, 590, 1180, ...: 16 different source users), exact deletion with R seeds, SVD
(`fast`), heldout split, every evaluation user, and reports the split-half reliability of the
ranking by each metric. Each shard is its own process (run them side by side), then --table:

    python benchmarks/spread_slice.py ../shared/data/ml-100k --shard 0 --shards 2 &
    python benchmarks/spread_slice.py ../shared/data/ml-100k --shard 1 --shards 2; wait
    python benchmarks/spread_slice.py ../shared/data/ml-100k --table

Writes results/benchmarks/spread_slice/ (by_seed_<shard>.parquet, reliability.csv/.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from recinfluence.analysis import split_half_reliability
from recinfluence.data import expand_interactions, load_movielens_100k
from recinfluence.estimators.exact import ExactDeletion
from recinfluence.io import write_csv, write_parquet, write_text
from recinfluence.jobs import limit_threads
from recinfluence.models import model_factory
from recinfluence.retrain import Experiment, Retrainer
from recinfluence.split import split_interactions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("movielens", help="an ml-100k folder")
    parser.add_argument("--users", type=int, default=16, help="users deleted, spread evenly over the ids")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--shard", type=int, default=0)
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument("--table", action="store_true", help="tabulate the shards written")
    parser.add_argument("--out", default="results/benchmarks/spread_slice")
    args = parser.parse_args()
    out = Path(args.out)
    if args.table:
        by_seed = pd.concat([pd.read_parquet(path) for path in sorted(out.glob("by_seed_*.parquet"))])
        table = pd.DataFrame(
            [split_half_reliability(by_seed, metric, args.seeds) for metric in by_seed["metric"].unique()]
        )
        table.insert(0, "users", by_seed["entity"].nunique())
        write_csv(table, out / "reliability.csv", index=False)
        write_text(table.to_markdown(index=False, floatfmt=".3g") + "\n", out / "reliability.md")
        print(table.to_markdown(index=False, floatfmt=".3g"))
        return
    limit_threads(1)
    data = expand_interactions(load_movielens_100k(args.movielens), 100, seed=0, log=None)
    split = split_interactions(len(data.frame), 0.25, seed=0, protocol="heldout", valid_fraction=0.1)
    experiment = Experiment.build(data, split, "evaluation", 10, 4.0)
    users = np.linspace(0, data.n_users, args.users, endpoint=False).astype(np.int64)
    mine = np.array_split(users, args.shards)[args.shard]
    retrainer = Retrainer(model_factory("svd", {"backend": "fast"}), experiment, log=None)
    result = ExactDeletion(seed=0, seeds=args.seeds).estimate(retrainer, "user", mine)
    write_parquet(result.by_seed, out / f"by_seed_{args.shard}.parquet")


if __name__ == "__main__":
    main()
