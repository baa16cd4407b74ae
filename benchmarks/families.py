"""Model families on MovieLens 100K: hyperparameters tuned on the heldout validation split, the
cost of one deletion derived without refitting (EASE's downdates, item-kNN's item deletions)
against a refit with the largest relative score difference between the two, and a report of a
finished study of configs/families.yaml.

    python benchmarks/families.py [--data ../shared/data/ml-100k] [--tune] [--cost 30] [--report runs/families]

Everything runs on one thread (as a workflow job does). Writes results/benchmarks/families/
tuning.csv, deletion_cost.csv and report.md (and prints them as Markdown).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits

from recinfluence.data import load_movielens_100k
from recinfluence.io import write_csv
from recinfluence.metrics import aggregate
from recinfluence.models import ALS, EASE, ItemKNN
from recinfluence.retrain import Experiment
from recinfluence.split import split_interactions

OUT = Path("results/benchmarks/families")
GRID = {
    "ease": (EASE, [{"l2": value} for value in (10, 50, 100, 200, 300, 500, 1000, 2000, 5000)]),
    "item_knn": (ItemKNN, [{"k": value} for value in (10, 20, 50, 100)]),
    "als": (ALS, [{"factors": f, "regularization": r} for f in (16, 32, 64, 100) for r in (0.01, 1.0, 10.0)]),
}


def tune(data) -> pd.DataFrame:
    split = split_interactions(len(data.frame), test_fraction=0.25, seed=0, protocol="heldout", valid_fraction=0.1)
    experiment = Experiment.build(data, split, part="evaluation")
    rows = []
    for family, (cls, grid) in GRID.items():
        for params in grid:
            metrics = aggregate(experiment.evaluate(cls(**params).fit(experiment.train, 0)))
            rows.append(
                {
                    "family": family,
                    "params": str(params),
                    "validation map@10": metrics["map@10"],
                    "validation ndcg@10": metrics["ndcg@10"],
                }
            )
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def _seconds(function, repeats: int) -> tuple[float, object]:
    started = time.perf_counter()
    for _ in range(repeats):
        result = function()
    return (time.perf_counter() - started) / repeats, result


def deletion_cost(data, count: int) -> pd.DataFrame:
    """Per deletion: scores of every user from the derived variant and from a refit."""
    split = split_interactions(len(data.frame), test_fraction=0.25, seed=0, protocol="paper")
    train = Experiment.build(data, split).train
    users = np.arange(train.n_users)
    rng = np.random.default_rng(0)
    rows = []
    for family, make, kinds in (("ease", EASE, ("user", "item")), ("item_knn", ItemKNN, ("item",))):
        model = make().fit(train)
        model.score(users)
        for kind in kinds:
            ids = rng.choice(train.n_users if kind == "user" else train.n_items, size=count, replace=False)
            derived = refit = 0.0
            worst = 0.0
            for entity in ids:
                seconds, derived_scores = _seconds(
                    lambda: next(model.deletion_variants(train, kind, [[entity]])).score(users), 1
                )
                derived += seconds
                seconds, refit_scores = _seconds(lambda: make().fit(train.without(kind, [entity])).score(users), 1)
                refit += seconds
                worst = max(worst, float(np.abs(derived_scores - refit_scores).max() / np.abs(refit_scores).max()))
            rows.append(
                {
                    "family": family,
                    "kind": kind,
                    "deletions": count,
                    "derived s": derived / count,
                    "refit s": refit / count,
                    "speed-up": refit / derived,
                    "max relative difference": worst,
                }
            )
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def report(folder: Path, metric: str = "map@10", shown=("map@10", "ndcg@10", "precision@10"), extremes: int = 5) -> str:
    """Markdown of a finished families study (every dataset and protocol in ``folder``/results):
    baselines, influence cost, share of nonzero influence, the extremes of the deterministic
    families, user pruning against the random control, and the agreement matrices."""
    lines = []
    for protocol_dir in sorted((folder / "results").glob("*/*/")):
        if not (protocol_dir / "split.parquet").exists():
            continue
        where = f"{protocol_dir.parent.name}, {protocol_dir.name}"
        models = sorted(path.parent.name for path in protocol_dir.glob("*/noise_floor.csv"))
        baselines, costs, nonzero, pruning = [], [], [], []
        for model in models:
            floor = pd.read_csv(protocol_dir / model / "noise_floor.csv").set_index(["part", "metric"])
            baselines.append(
                {
                    "model": model,
                    **{f"{part} {m}": floor.loc[(part, m), "mean"] for part in ("evaluation", "test") for m in shown},
                }
            )
            for kind in ("user", "item"):
                kind_dir = protocol_dir / model / "exact" / kind
                if not (kind_dir / "influence.parquet").exists():
                    continue
                timing = pd.read_csv(kind_dir / "timing.csv")
                influence = pd.read_parquet(kind_dir / "influence.parquet").query("metric == @metric")
                costs.append(
                    {
                        "model": model,
                        "kind": kind,
                        "deletions": len(timing),
                        "CPU s": timing["seconds"].sum(),
                        "s per deletion": timing["seconds"].mean(),
                    }
                )
                nonzero.append(
                    {
                        "model": model,
                        "kind": kind,
                        "entities": len(influence),
                        f"nonzero {metric}": (influence["influence"] != 0).mean(),
                        "nonzero auc": (
                            pd.read_parquet(kind_dir / "influence.parquet").query("metric == 'auc'")["influence"] != 0
                        ).mean(),
                    }
                )
                summary = kind_dir / "pruning_summary.csv"
                if summary.exists():
                    table = pd.read_csv(summary).query("metric == @metric")
                    for row in table.itertuples():
                        pruning.append(
                            {
                                "model": model,
                                "kind": kind,
                                "size": row.size,
                                "selection": row.selection,
                                f"test {metric} change %": (
                                    f"{row.mean:+.2f} [{row.ci_low:+.2f}, {row.ci_high:+.2f}] (n={row.runs})"
                                ),
                            }
                        )
        lines += [
            f"## {where}",
            "",
            "Baselines (mean over the noise seeds):",
            "",
            pd.DataFrame(baselines).to_markdown(index=False, floatfmt=".4f"),
            "",
        ]
        lines += [
            "Influence runs (exact deletion, CPU seconds of the retrains and evaluations):",
            "",
            pd.DataFrame(costs).to_markdown(index=False, floatfmt=".3g"),
            "",
        ]
        lines += [
            "Share of entities with nonzero influence:",
            "",
            pd.DataFrame(nonzero).to_markdown(index=False, floatfmt=".3f"),
            "",
        ]
        for model in (m for m in ("ease", "item_knn") if m in models):
            for kind in ("user", "item"):
                path = protocol_dir / model / "exact" / kind / "top_bottom.csv"
                if path.exists():
                    table = pd.read_csv(path).query("metric == @metric and rank <= @extremes")
                    label = "title" if "title" in table.columns else "raw_id"
                    table = table[["group", "rank", label, "n_train_rows", "influence"]]
                    lines += [
                        f"{model}: the {extremes} most and least influential {kind}s ({metric}):",
                        "",
                        table.to_markdown(index=False, floatfmt=".3g"),
                        "",
                    ]
        if pruning:
            lines += ["User pruning, judged on the test split:", "", pd.DataFrame(pruning).to_markdown(index=False), ""]
        for kind in ("user", "item"):
            path = protocol_dir / "agreement" / f"exact_{kind}.csv"
            if path.exists():
                pairs = pd.read_csv(path).query("metric == @metric")
                matrix = pairs.pivot(index="model_a", columns="model_b", values="spearman")
                lines += [
                    f"Agreement of {kind} influence ({metric}; Spearman, on the entities both models measured):",
                    "",
                    matrix.to_markdown(floatfmt=".2f"),
                    "",
                ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/ml-100k")
    parser.add_argument("--tune", action="store_true", help="validation MAP@10 over each family's grid")
    parser.add_argument(
        "--cost", type=int, metavar="N", help="time N random deletions of each kind, derived and refitted"
    )
    parser.add_argument(
        "--report", type=Path, metavar="FOLDER", help="report a finished study of configs/families.yaml run in FOLDER"
    )
    args = parser.parse_args()
    if args.report:
        text = report(args.report)
        (OUT / "report.md").parent.mkdir(parents=True, exist_ok=True)
        (OUT / "report.md").write_text(text + "\n")
        print(text)
    if not (args.tune or args.cost):
        return
    threadpool_limits(1)
    torch.set_num_threads(1)
    data = load_movielens_100k(args.data)
    if args.tune:
        table = tune(data)
        write_csv(table, OUT / "tuning.csv", index=False)
        print(table.to_markdown(index=False, floatfmt=".4f"))
    if args.cost:
        table = deletion_cost(data, args.cost)
        write_csv(table, OUT / "deletion_cost.csv", index=False)
        print(table.to_markdown(index=False, floatfmt=".3g"))


if __name__ == "__main__":
    main()
