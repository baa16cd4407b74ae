"""How the cost of deletion diagnostics grows with the data (docs/scale.md "Cost at scale").

MovieLens 100K grown by the seeded Kronecker expansion of the ``synthetic`` loader (factor 1,
10, 100: 100K, 1M and 10M ratings, users and items each about sqrt(factor) times as many), one
model at its defaults (``--model``: SVD, compiled; NCF, exact deletion batched, the timed
deletions sharing one pass with the baseline; EASE; item-kNN, ``--save-nbrs`` for the sparse
form; ALS; Mult-VAE), one thread, heldout protocol. For each size and estimator (exact deletion, warm
start, influence function), a few user and item deletions of median activity are timed (fit or
derivation plus evaluation, CPU-seconds), and so are the baseline's fit and one evaluation (the
scores of every evaluation user over the catalog and their metrics).

Projection: a deletion is its training part (the time less its evaluations: one for a user, two
for an item, whose baseline is evaluated again without it), which grows with the ratings, plus
its evaluations, which grow with users x items; both are scaled from the largest size measured
to MovieLens 1M and 25M and Amazon Electronics 5-core, for one seed over every user and item,
on 8 cores and on a 100-node cluster of 32-core nodes. ``score_matrix_gb`` is what the whole
users x items score matrix would take; evaluation goes by blocks of users (``evaluation.memory_mb``),
so no job holds it (``benchmarks/shard_memory.py`` measures the peak).

    python benchmarks/growth.py ../shared/data/ml-100k                 # factors 1 10 100
    python benchmarks/growth.py ../shared/data/ml-100k --model ncf --factors 1 10 --deletions 3

Writes results/benchmarks/growth/<model>/growth.csv, projections.csv, growth.md and growth.png/.pdf.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from recinfluence.data import expand_interactions, load_movielens_100k
from recinfluence.estimators import build_estimator
from recinfluence.io import write_csv, write_text
from recinfluence.jobs import limit_threads
from recinfluence.models import model_factory
from recinfluence.retrain import Experiment, Retrainer
from recinfluence.split import split_interactions

# the estimators timed for each model (an approximation only where the model has its hook)
ESTIMATORS = {
    "svd": {"exact": {}, "warm_start": {"epochs": 2}, "influence_function": {}},
    "ncf": {"exact": {}, "warm_start": {"epochs": 1}},
    "ease": {"exact": {}},
    "item_knn": {"exact": {}},
    "als": {"exact": {}},
    "mult_vae": {"exact": {}},
}
# Models whose score() returns the last call's scores again for the same users
KEEPS_LAST_SCORES = ("item_knn",)
# Models whose training grows with the ratings (SGD epochs), which the projection assumes; EASE's
# grows with the cube of the items and item-kNN's with the co-rated pairs: measured only.
PROJECTED = ("svd", "ncf")
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
    parser.add_argument("--model", default="svd", choices=sorted(ESTIMATORS))
    parser.add_argument("--deletions", type=int, default=3, help="deletions timed per kind, size and estimator")
    parser.add_argument("--save-nbrs", type=int, help="item_knn's save_nbrs (results in item_knn_save_nbrs_<N>/)")
    parser.add_argument("--out", default="results/benchmarks/growth")
    args = parser.parse_args()
    if args.save_nbrs is not None and args.model != "item_knn":
        parser.error("--save-nbrs is item_knn's")
    limit_threads(1)
    params = {} if args.save_nbrs is None else {"save_nbrs": args.save_nbrs}
    out = Path(args.out) / (args.model if args.save_nbrs is None else f"item_knn_save_nbrs_{args.save_nbrs}")
    source = load_movielens_100k(args.movielens)
    rows = []
    for factor in args.factors:
        rows += measure(
            expand_interactions(source, factor, seed=0, log=None) if factor > 1 else source,
            factor,
            args.model,
            params,
            args.deletions,
        )
        table = pd.DataFrame(rows)
        write_csv(table, out / "growth.csv", index=False)  # after each size: a long run keeps what it measured
        print(table.to_markdown(index=False, floatfmt=".3g"), flush=True)
    if args.model not in PROJECTED:
        write_text(table.to_markdown(index=False, floatfmt=".3g") + "\n", out / "growth.md")
        plot(table, None, args.model, out)
        return
    projections = project(table)
    write_csv(projections, out / "projections.csv", index=False)
    write_text(
        table.to_markdown(index=False, floatfmt=".3g")
        + "\n\n"
        + projections.to_markdown(index=False, floatfmt=".3g")
        + "\n",
        out / "growth.md",
    )
    print(projections.to_markdown(index=False, floatfmt=".3g"))
    plot(table, projections, args.model, out)


def measure(data, factor: int, model: str, params: dict, deletions: int) -> list[dict]:
    split = split_interactions(len(data.frame), 0.25, 0, "heldout", 0.1)
    experiment = Experiment.build(data, split, "evaluation", 10, 4.0)
    size = {"factor": factor, "ratings": len(data.frame), "users": data.n_users, "items": data.n_items}
    retrainer = Retrainer(model_factory(model, params), experiment, log=None)
    started = time.process_time()
    baseline = retrainer.baseline(0).model
    rows = [{**size, "estimator": "baseline", "kind": "-", "cpu_seconds": time.process_time() - started}]
    # item-kNN keeps its last scores, so evaluating its baseline again would time a look-up: a
    # fresh fit; any other model is evaluated as fitted (EASE's second fit at 10M costs 441 CPU-s)
    fresh = retrainer.fit(0) if model in KEEPS_LAST_SCORES else baseline
    started = time.process_time()
    experiment.evaluate(fresh)
    rows.append({**size, "estimator": "evaluation", "kind": "-", "cpu_seconds": time.process_time() - started})
    print(
        f"x{factor}: {size['ratings']:,} ratings, baseline {rows[0]['cpu_seconds']:.1f} CPU-s, one evaluation "
        f"{rows[1]['cpu_seconds']:.1f}",
        flush=True,
    )
    counts = {
        "user": np.bincount(experiment.train.users, minlength=data.n_users),
        "item": np.bincount(experiment.train.items, minlength=data.n_items),
    }
    for kind in ("user", "item"):
        # entities of median activity, so that a few stand for the many
        order = np.argsort(np.abs(counts[kind] - np.median(counts[kind][counts[kind] > 0])), kind="stable")
        entities = np.sort(order[:deletions])
        for name, params in ESTIMATORS[model].items():
            started = time.process_time()
            build_estimator(name, params, 0).estimate(retrainer, kind, entities, log=None)
            rows.append(
                {
                    **size,
                    "estimator": name,
                    "kind": kind,
                    "cpu_seconds": (time.process_time() - started) / len(entities),
                }
            )
            print(f"x{factor} {name} {kind}: {rows[-1]['cpu_seconds']:.2f} CPU-s per deletion", flush=True)
    return rows


def project(table: pd.DataFrame) -> pd.DataFrame:
    """One seed over every user and item of each target, from the largest size measured: the
    training part scaled by the ratings, the evaluations by users x items."""
    largest = table[table["ratings"] == table["ratings"].max()]
    evaluation = float(largest.loc[largest["estimator"] == "evaluation", "cpu_seconds"].iloc[0])
    measured = largest.iloc[0]
    rows = []
    for name in _estimators(table):
        for target, (ratings, users, items) in TARGETS.items():
            per = {}
            for kind, evaluations in (("user", 1), ("item", 2)):
                seconds = float(
                    largest.loc[(largest["estimator"] == name) & (largest["kind"] == kind), "cpu_seconds"].iloc[0]
                )
                training = max(seconds - evaluations * evaluation, 0.0)
                per[kind] = training * ratings / measured["ratings"] + evaluations * evaluation * (users * items) / (
                    measured["users"] * measured["items"]
                )
            total = per["user"] * users + per["item"] * items
            rows.append(
                {
                    "dataset": target,
                    "ratings": ratings,
                    "users": users,
                    "items": items,
                    "estimator": name,
                    "seconds_per_user": per["user"],
                    "seconds_per_item": per["item"],
                    "cpu_hours": total / 3600,
                    **{f"wall_hours_{label.replace(' ', '_')}": total / 3600 / cores for label, cores in CORES.items()},
                    "score_matrix_gb": users * items * 8 / 1e9,
                }
            )
    return pd.DataFrame(rows)


def _estimators(table: pd.DataFrame) -> list[str]:
    return [name for name in table["estimator"].unique() if name not in ("baseline", "evaluation")]


def plot(table: pd.DataFrame, projections: pd.DataFrame, model: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    colors = dict(zip(_estimators(table), ("C0", "C1", "C2")))
    for axis, kind in zip(axes, ("user", "item")):
        for name in colors:
            mine = table[(table["estimator"] == name) & (table["kind"] == kind)]
            axis.loglog(mine["ratings"], mine["cpu_seconds"], marker="o", color=colors[name], label=name)
        for name, style in (("baseline", "--"), ("evaluation", ":")):
            mine = table[table["estimator"] == name]
            axis.loglog(
                mine["ratings"],
                mine["cpu_seconds"],
                marker="s",
                linestyle=style,
                color="grey",
                label="baseline fit + evaluation" if name == "baseline" else "one evaluation",
            )
        axis.set_title(f"One {kind} deletion, {model.upper()}, one thread")
        axis.set_ylabel("CPU-seconds per deletion")
    study = axes[2]
    for name in colors:
        per = (
            table[table["estimator"] == name]
            .pivot_table(index=["ratings", "users", "items"], columns="kind", values="cpu_seconds")
            .reset_index()
        )
        study.loglog(
            per["ratings"],
            (per["user"] * per["users"] + per["item"] * per["items"]) / 3600,
            marker="o",
            color=colors[name],
            label=f"{name} (measured)",
        )
        if projections is None:
            continue
        mine = projections[projections["estimator"] == name]
        study.loglog(
            mine["ratings"],
            mine["cpu_hours"],
            marker="x",
            linestyle="none",
            color=colors[name],
            label=f"{name} (projected)",
        )
    for _, target in (projections.drop_duplicates("dataset") if projections is not None else pd.DataFrame()).iterrows():
        study.annotate(
            target["dataset"],
            (target["ratings"], projections.loc[projections["dataset"] == target["dataset"], "cpu_hours"].max()),
            fontsize=7,
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
        )
    study.set_title("Every user and item, one seed")
    study.set_ylabel("CPU-hours")
    study.set_xlabel(
        "ratings (o: MovieLens 100K grown; x: projected to real datasets)" if projections is not None else ""
    )
    for axis in axes:
        axis.set_xlabel(axis.get_xlabel() or "ratings (MovieLens 100K grown by Kronecker expansion)")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    for suffix in ("png", "pdf"):
        figure.savefig(out / f"growth.{suffix}", dpi=150)


if __name__ == "__main__":
    main()
