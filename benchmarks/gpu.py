"""\
Batched NCF deletions on CUDA against one CPU thread (docs/scale.md "NCF on a GPU"; the device check of the GPU path).

MovieLens 100K, paper split, default NCF: the baseline and V user deletions trained in one
``fit_many`` pass on the GPU for each V of ``--variants`` (passes cut to free device memory by
``NCF.variants_per_pass``), against the same work unit of 16 on one CPU thread. Reports seconds
per deletion, the speed-up, and two checks: the CUDA floats of a variant do not depend on its
position in the stack (bit for bit), and CUDA deletion influence on MAP@10 and AUC correlates
with the CPU's (not bit-identical: the kernels differ).

    python benchmarks/gpu.py ../shared/data/ml-100k     # needs a CUDA device; about 5 minutes

Writes results/benchmarks/gpu/gpu.csv and gpu.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats

from recinfluence.data import load_movielens_100k
from recinfluence.estimators import build_estimator
from recinfluence.io import write_csv, write_text
from recinfluence.jobs import limit_threads
from recinfluence.models import model_factory
from recinfluence.retrain import Experiment, Retrainer
from recinfluence.split import split_interactions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("movielens", help="an ml-100k folder")
    parser.add_argument(
        "--variants", type=int, nargs="+", default=[16, 64, 256], help="deletions per work unit on the GPU"
    )
    parser.add_argument("--out", default="results/benchmarks/gpu")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("benchmarks/gpu.py: PyTorch sees no CUDA device here")
    limit_threads(1)
    data = load_movielens_100k(args.movielens)
    experiment = Experiment.build(data, split_interactions(len(data.frame), 0.2, 0, "paper"), k=10)
    users = np.arange(max(args.variants))

    rows, influence = [], {}
    for device, sizes in (("cpu", [16]), ("cuda", args.variants)):
        for size in sizes:
            retrainer = Retrainer(model_factory("ncf", {"device": device}), experiment, size, log=None)
            if device == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            result = build_estimator("exact", {"seeds": 1}, 0).estimate(retrainer, "user", users[:size], log=None)
            if device == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - started
            influence[device, size] = result.influence.set_index(["entity", "metric"])["influence"]
            rows.append(
                {
                    "device": device,
                    "variants_per_batch": size,
                    "deletions": size,
                    "seconds_per_deletion": seconds / size,
                }
            )
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table["speed_up_vs_one_cpu_thread"] = table["seconds_per_deletion"].iloc[0] / table["seconds_per_deletion"]

    cpu, cuda = influence["cpu", 16], influence["cuda", max(args.variants)]
    checks = {
        f"spearman_cpu_cuda_{metric}": stats.spearmanr(
            cpu.xs(metric, level="metric"), cuda.xs(metric, level="metric").loc[cpu.xs(metric, level="metric").index]
        )[0]
        for metric in ("map@10", "auc")
    }
    train = experiment.train
    stack = model_factory("ncf", {"device": "cuda"})().fit_many([train] * 7, seed=0)
    checks["cuda_position_independent"] = all(
        torch.equal(model.params[name], stack[0].params[name]) for model in stack for name in model.params
    )
    summary = pd.DataFrame([checks])

    out = Path(args.out)
    write_csv(table, out / "gpu.csv", index=False)
    write_text(
        table.to_markdown(index=False, floatfmt=".3g")
        + "\n\n"
        + summary.to_markdown(index=False, floatfmt=".3f")
        + "\n",
        out / "gpu.md",
    )
    print(table.to_markdown(index=False, floatfmt=".3g"), summary.to_markdown(index=False, floatfmt=".3f"), sep="\n\n")


if __name__ == "__main__":
    main()
