"""How the cost of deletion diagnostics grows with the data (README "Cost at scale").

MovieLens 100K grown by the seeded Kronecker expansion of the ``synthetic`` loader (factor 1,
10, 100: 100K, 1M and 10M ratings, users and items each about sqrt(factor) times as many), SVD
(compiled, one thread), heldout protocol. For each size and estimator (exact deletion, warm
start, influence function), a few user and item deletions are timed (fit or derivation plus
evaluation, CPU-seconds); the baseline fit and evaluation apart. A least-squares fit of
seconds per deletion = a x ratings + b x users x items (training grows with the ratings,
evaluating every user's ranking over the catalog with the matrix) projects the cost of one
seed over every user and item of MovieLens 1M and 25M and Amazon Electronics 5-core, on 8
cores and on a 100-node cluster of 32-core nodes.

    python benchmarks/growth.py ../shared/data/ml-100k                 # factors 1 10 100
    python benchmarks/growth.py ../shared/data/ml-100k --factors 1 10 --deletions 2

Writes results/benchmarks/growth/growth.csv, projections.csv, their .md and growth.png/.pdf.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from recinfluence.cli import limit_threads
from recinfluence.data import expand_interactions, load_movielens_100k
from recinfluence.estimators import build_estimator
from recinfluence.io import write_csv, write_text
from recinfluence.models import SVD
from recinfluence.retrain import Experiment, Retrainer
from recinfluence.split import split_interactions

ESTIMATORS = {"exact": {}, "warm_start": {"epochs": 2}, "influence_function": {}}
# (ratings, users, items) of the datasets projected to (GroupLens READMEs; Amazon Electronics
# 5-core as McAuley et al. publish it)
TARGETS = {
    "MovieLens 1M": (1_000_209, 6_040, 3_706),
    "MovieLens 25M": (25_000_095, 162_541, 59_047),
    "Amazon Electronics 5-core": (1_689_188, 192_403, 63_001),
}
CORES = {"8 cores": 8, "100 nodes x 32 cores": 3200}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("movielens", help="an ml-100k folder")
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--deletions", type=int, default=3, help="deletions timed per kind, size and estimator")
    parser.add_argument("--out", default="results/benchmarks/growth")
    args = parser.parse_args()
    limit_threads(1)
    out = Path(args.out)
    source = load_movielens_100k(args.movielens)
    rows = []
    for factor in args.factors:
        rows += measure(expand_interactions(source, factor, seed=0, log=None) if factor > 1 else source, factor, args.deletions)
        table = pd.DataFrame(rows)
        write_csv(table, out / "growth.csv", index=False)  # after each size: a long run keeps what it measured
        print(table.to_markdown(index=False, floatfmt=".3g"), flush=True)
    projections = project(table)
    write_csv(projections, out / "projections.csv", index=False)
    write_text(table.to_markdown(index=False, floatfmt=".3g") + "\n\n" + projections.to_markdown(index=False, floatfmt=".3g") + "\n", out / "growth.md")
    print(projections.to_markdown(index=False, floatfmt=".3g"))
    plot(table, out)


def measure(data, factor: int, deletions: int) -> list[dict]:
    split = split_interactions(len(data.frame), 0.25, 0, "heldout", 0.1)
    experiment = Experiment.build(data, split, "evaluation", 10, 4.0)
    size = {"factor": factor, "ratings": len(data.frame), "users": data.n_users, "items": data.n_items}
    retrainer = Retrainer(SVD, experiment, log=None)
    started = time.process_time()
    retrainer.baseline(0)
    rows = [{**size, "estimator": "baseline", "kind": "-", "cpu_seconds": time.process_time() - started}]
    print(f"x{factor}: {size['ratings']:,} ratings, baseline {rows[0]['cpu_seconds']:.1f} CPU-s", flush=True)
    counts = {"user": np.bincount(experiment.train.users, minlength=data.n_users), "item": np.bincount(experiment.train.items, minlength=data.n_items)}
    for kind in ("user", "item"):
        # entities of median activity, so that a few stand for the many
        order = np.argsort(np.abs(counts[kind] - np.median(counts[kind][counts[kind] > 0])), kind="stable")
        entities = np.sort(order[:deletions])
        for name, params in ESTIMATORS.items():
            started = time.process_time()
            build_estimator(name, params, 0).estimate(retrainer, kind, entities, log=None)
            rows.append({**size, "estimator": name, "kind": kind, "cpu_seconds": (time.process_time() - started) / len(entities)})
            print(f"x{factor} {name} {kind}: {rows[-1]['cpu_seconds']:.2f} CPU-s per deletion", flush=True)
    return rows


def project(table: pd.DataFrame) -> pd.DataFrame:
    """Least squares of seconds per deletion on (ratings, users x items), non-negative, per
    estimator and kind; the cost of one seed over every user and item of each target."""
    rows = []
    for name in ESTIMATORS:
        coefficients = {}
        for kind in ("user", "item"):
            mine = table[(table["estimator"] == name) & (table["kind"] == kind)]
            design = np.column_stack([mine["ratings"], mine["users"] * mine["items"]]).astype(float)
            coefficients[kind] = np.clip(np.linalg.lstsq(design, mine["cpu_seconds"].to_numpy(), rcond=None)[0], 0, None)
        for target, (ratings, users, items) in TARGETS.items():
            per_user = coefficients["user"] @ [ratings, users * items]
            per_item = coefficients["item"] @ [ratings, users * items]
            total = per_user * users + per_item * items
            rows.append({
                "dataset": target, "ratings": ratings, "users": users, "items": items, "estimator": name,
                "seconds_per_user": per_user, "seconds_per_item": per_item, "cpu_hours": total / 3600,
                **{f"wall_hours_{label.replace(' ', '_')}": total / 3600 / cores for label, cores in CORES.items()},
                "score_matrix_gb": users * items * 8 / 1e9,
            })
    return pd.DataFrame(rows)


def plot(table: pd.DataFrame, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for axis, kind in zip(axes, ("user", "item")):
        for name in ESTIMATORS:
            mine = table[(table["estimator"] == name) & (table["kind"] == kind)]
            axis.loglog(mine["ratings"], mine["cpu_seconds"], marker="o", label=name)
        base = table[table["estimator"] == "baseline"]
        axis.loglog(base["ratings"], base["cpu_seconds"], marker="s", linestyle="--", color="grey", label="baseline fit + evaluation")
        axis.set_title(f"One {kind} deletion, SVD (one thread)")
        axis.set_xlabel("ratings (MovieLens 100K grown by Kronecker expansion)")
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("CPU-seconds per deletion")
    axes[1].legend()
    figure.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    for suffix in ("png", "pdf"):
        figure.savefig(out / f"growth.{suffix}", dpi=150)


if __name__ == "__main__":
    main()
