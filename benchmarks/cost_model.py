"""The cost model of docs/scale.md ("Cost model"): what one deletion and one whole study cost
against the ratings, users and items, for every family and estimator that
``benchmarks/growth.py`` has measured (measured sizes only, nothing projected).

Reads ``<growth>/<model>/growth.csv`` for each model measured and merges it into the committed
table, ``docs/figures/cost_model.csv`` (a model measured now replaces its rows there; the others
are kept, so one family can be measured again without the hours the rest take), then writes that
table back with ``cost_model.png``/``.pdf`` beside it and prints it as Markdown: per user and per
item deletion (fit or derivation plus evaluation, CPU-seconds of one thread), and a study of one
seed over every user and item of that size (CPU-hours, and hours on 8 cores).

    python benchmarks/growth.py ../shared/data/ml-100k --model svd        # factors 1 10 100
    python benchmarks/growth.py ../shared/data/ml-100k --model ease
    python benchmarks/growth.py ../shared/data/ml-100k --model item_knn --factors 1 10
    python benchmarks/growth.py ../shared/data/ml-100k --model item_knn --save-nbrs 50 --deletions 2
    python benchmarks/growth.py ../shared/data/ml-100k --model als --deletions 2
    python benchmarks/growth.py ../shared/data/ml-100k --model mult_vae --factors 1 10 --deletions 2
    python benchmarks/growth.py ../shared/data/ml-100k --model ncf --factors 1 10 --deletions 3
    python benchmarks/cost_model.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from recinfluence.io import write_csv

LABELS = {
    "svd": "SVD",
    "ncf": "NCF",
    "ease": "EASE",
    "item_knn": "item-kNN",
    "item_knn_save_nbrs_50": "item-kNN, save_nbrs 50",
    "als": "ALS",
    "mult_vae": "Mult-VAE",
}


def cost_table(growth: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per model, estimator and size: CPU-seconds per user and per item deletion, and
    the study over every user and item with one seed."""
    rows = []
    for model, table in growth.items():
        deletions = table[~table["estimator"].isin(["baseline", "evaluation"])]
        per = deletions.pivot_table(
            index=["ratings", "users", "items", "estimator"], columns="kind", values="cpu_seconds"
        ).reset_index()
        for _, row in per.iterrows():
            study = row["user"] * row["users"] + row["item"] * row["items"]
            rows.append(
                {
                    "model": LABELS.get(model, model),
                    "estimator": row["estimator"],
                    "ratings": int(row["ratings"]),
                    "users": int(row["users"]),
                    "items": int(row["items"]),
                    "seconds_per_user": row["user"],
                    "seconds_per_item": row["item"],
                    "study_cpu_hours": study / 3600,
                    "study_hours_on_8_cores": study / 3600 / 8,
                }
            )
    return pd.DataFrame(rows).sort_values(["model", "estimator", "ratings"], ignore_index=True)


def plot(costs: pd.DataFrame, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    styles = {"exact": "-", "warm_start": "--", "influence_function": ":"}
    colors = {model: f"C{n}" for n, model in enumerate(costs["model"].unique())}
    for (model, estimator), mine in costs.groupby(["model", "estimator"], sort=False):
        label = f"{model}, {estimator}"
        style = {"color": colors[model], "linestyle": styles.get(estimator, "-."), "marker": "o", "label": label}
        axes[0].loglog(mine["ratings"], mine["seconds_per_user"], **style)
        axes[1].loglog(mine["ratings"], mine["seconds_per_item"], **style)
        axes[2].loglog(mine["ratings"], mine["study_cpu_hours"], **style)
    for axis, title, unit in (
        (axes[0], "One user deletion (fit or derivation + evaluation)", "CPU-seconds, one thread"),
        (axes[1], "One item deletion (fit or derivation + evaluations)", "CPU-seconds, one thread"),
        (axes[2], "A study: every user and item, one seed", "CPU-hours"),
    ):
        axis.set_title(title, fontsize=10)
        axis.set_ylabel(unit)
        axis.set_xlabel("ratings (MovieLens 100K grown x1, x10, x100; measured)")
        axis.grid(True, which="both", alpha=0.3)
    axes[2].legend(fontsize=7)
    figure.suptitle("Cost of deletion diagnostics against the size of the data, per family and estimator")
    figure.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    for suffix in ("png", "pdf"):
        figure.savefig(out / f"cost_model.{suffix}", dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--growth", default="results/benchmarks/growth", help="growth.py's output folder")
    parser.add_argument(
        "--table", default="docs/figures/cost_model.csv", help="the table to update; the figure goes beside it"
    )
    args = parser.parse_args()
    growth = {path.parent.name: pd.read_csv(path) for path in sorted(Path(args.growth).glob("*/growth.csv"))}
    if not growth:
        raise SystemExit(f"{args.growth}: no <model>/growth.csv; run benchmarks/growth.py first")
    measured = cost_table(growth)
    table = Path(args.table)
    kept = pd.read_csv(table) if table.exists() else measured.iloc[:0]
    costs = pd.concat([kept[~kept["model"].isin(measured["model"])], measured], ignore_index=True)
    costs = costs.sort_values(["model", "estimator", "ratings"], ignore_index=True)
    write_csv(costs, table, index=False)
    print(costs.to_markdown(index=False, floatfmt=".3g"))
    plot(costs, table.parent)


if __name__ == "__main__":
    main()
