"""How closely does each approximate estimator follow exact deletion, and at what cost?
(docs/method.md "Approximate influence")

The reference is exact deletion's mean over many seeds, from the pieces
``benchmarks/reliability.py`` saves (``--run exact:user:R``), using only seeds the estimator
under test did not use: an approximation derived from the baseline of seed 0 would otherwise
share that baseline's noise with its reference. Each row gives, for one estimator with R seeds
and one utility: the Spearman correlation with the reference and the overlap of the top and
bottom N; the same correlation corrected for the reference's own noise (divided by the square
root of its split-half reliability: an estimate of the correlation with exact deletion's
infinite-seed mean; none where the reference's halves do not agree at all); CPU-seconds per
entity and the speed-up against exact deletion with the same R. Exact deletion with R = 1 and 4
is tabulated beside, against the same kind of reference.

    python benchmarks/reliability.py configs/reliability-ml100k.yaml --run exact:user:16
    python benchmarks/fidelity.py configs/reliability-ml100k.yaml --run warm_start:epochs=1 warm_start:epochs=2 \
influence_function influence_function:epochs=100000 --seeds 4
    python benchmarks/fidelity.py configs/reliability-ml100k.yaml --table

Writes fidelity.csv and fidelity.md beside the pieces.
"""

from __future__ import annotations

import argparse
import ast
import sys

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from reliability import UTILITIES, _pieces, _seeds, add_study_arguments, load_study, run_seeds  # noqa: E402

from recinfluence.analysis import ranking_agreement, split_half_reliability  # noqa: E402
from recinfluence.compose import make_model  # noqa: E402
from recinfluence.io import write_csv, write_text  # noqa: E402
from recinfluence.retrain import Retrainer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    parser.add_argument("--kind", default="user", choices=["user", "item"])
    parser.add_argument(
        "--run",
        nargs="*",
        default=[],
        metavar="ESTIMATOR[:PARAM=VALUE,...]",
        help="compute an approximate estimator for --seeds seeds",
    )
    parser.add_argument(
        "--seeds", type=int, default=4, help="seeds (baselines) of each approximation, and the largest R of the table"
    )
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--top-n", type=int, default=10)
    args = parser.parse_args()
    settings, model, _, _, experiment, out = load_study(args)
    for job in args.run:
        name, params = parse_job(job)
        retrainer = Retrainer(make_model(model), experiment, settings.influence.variants_per_batch)
        label = job.replace(":", "-").replace("=", "")
        run_seeds(
            settings,
            name,
            retrainer,
            args.kind,
            args.seeds,
            out,
            params=params,
            label=label,
            limit=args.limit or settings.limit(args.kind, model.name),
        )
    if args.table:
        table = tabulate(out, args.kind, args.seeds, settings.seed, args.top_n)
        write_csv(table, out / f"fidelity_{args.kind}.csv", index=False)
        write_text(table.to_markdown(index=False, floatfmt=".3f") + "\n", out / f"fidelity_{args.kind}.md")
        print(table.to_markdown(index=False, floatfmt=".3f"))


def parse_job(job: str) -> tuple[str, dict]:
    """``warm_start:epochs=2`` -> ("warm_start", {"epochs": 2})."""
    name, _, rest = job.partition(":")
    params = {key: ast.literal_eval(value) for key, value in (item.split("=") for item in rest.split(",") if item)}
    return name, params


def tabulate(out, kind: str, max_seeds: int, first_seed: int, top_n: int) -> pd.DataFrame:
    exact = _seeds(out, "exact", kind)
    if exact.empty:
        raise SystemExit(f"{out}: no exact deletion pieces; run benchmarks/reliability.py --run exact:{kind}:16 first")
    reference_seeds = sorted(seed for seed in exact["seed"].unique() if seed >= first_seed + max_seeds)
    if len(reference_seeds) < 4:
        raise SystemExit(
            f"{out}: the reference needs 4 exact seeds beyond the first {max_seeds}; run reliability.py --run "
            f"exact:{kind}:{max_seeds + 4}"
        )
    reference_rows = exact[exact["seed"].isin(reference_seeds)]
    exact_cost = _cost(exact)
    labels = sorted(
        {path.name.split(f"_{kind}_seed")[0] for path in out.glob(f"*_{kind}_seed*.parquet")} - {"exact", "random_rows"}
    )
    rows = []
    for metric in UTILITIES:
        reference = reference_rows[reference_rows["metric"] == metric].groupby("entity")["influence"].mean()
        reliability = split_half_reliability(reference_rows, metric, len(reference_seeds))
        for label in ["exact", *labels]:
            pieces = exact if label == "exact" else _pieces(out, f"{label}_{kind}_seed")
            for count in sorted({1, max_seeds}):
                chosen = pieces[
                    (pieces["metric"] == metric) & pieces["seed"].between(first_seed, first_seed + count - 1)
                ]
                if chosen["seed"].nunique() < count:
                    continue
                estimate = chosen.groupby("entity")["influence"].mean()
                agreement = ranking_agreement({"estimate": estimate, "reference": reference}, top_n).iloc[0]
                cost = _cost(pieces)
                rows.append(
                    {
                        "kind": kind,
                        "estimator": label,
                        "seeds": count,
                        "utility": metric,
                        "entities": int(agreement["entities"]),
                        "spearman": agreement["spearman"],
                        "spearman_corrected": agreement["spearman"] / np.sqrt(reliability["reliability"])
                        if reliability["reliability"] > 0
                        else np.nan,
                        f"top{top_n}_overlap": agreement["top_overlap"],
                        f"bottom{top_n}_overlap": agreement["bottom_overlap"],
                        "reference_seeds": len(reference_seeds),
                        "reference_reliability": reliability["reliability"],
                        "exact_split_half": reliability["split_half"],
                        "cpu_seconds_per_entity": cost * count,
                        "speed_up": exact_cost / cost,
                    }
                )
    return pd.DataFrame(rows)


def _cost(pieces: pd.DataFrame) -> float:
    """CPU-seconds per entity and seed (a piece spreads its seed's time over its rows)."""
    return float((pieces.groupby("seed")["cpu_seconds"].sum() / pieces.groupby("seed")["entity"].nunique()).mean())


if __name__ == "__main__":
    torch.set_num_threads(1)  # CPU-seconds as one single-threaded shard job spends them
    main()
