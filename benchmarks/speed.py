"""Cost of exact deletion retraining on MovieLens 100K (paper split), one thread per job.

Measures, in one run: scikit-surprise SVD fit vs the compiled SVD fit (bit-identical) and the
fast one (fastmath, within 1e-9); NCF retrains per second
through the plain loop of ``fit`` vs the batched ``fit_many`` path (same epochs, same data);
evaluation time per model; one full deletion retrain (fit + evaluation) per model; peak memory.
Projects the wall time of the full study on MovieLens 100K (every user and item, SVD and NCF)
on 8 cores, one single-threaded shard job per core.

    python benchmarks/speed.py                       # NCF timed with 2 epochs, projected to the config's 10
    python benchmarks/speed.py --ncf-epochs 10 --variants 16
    python benchmarks/speed.py --svd-only            # the SVD lines only

Prints a Markdown table and writes results/benchmarks/speed.csv.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from recinfluence.data import load_movielens_100k
from recinfluence.io import write_csv
from recinfluence.models import NCF, SVD
from recinfluence.retrain import Experiment

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"
CORES = 8


def timed(function, repeats: int) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return float(np.median(times)), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("RECINFLUENCE_MOVIELENS", DEFAULT_DATA))
    parser.add_argument("--ncf-epochs", type=int, default=2, help="epochs timed (the cost is linear in epochs)")
    parser.add_argument("--study-epochs", type=int, default=10, help="NCF epochs of the study being projected")
    parser.add_argument("--variants", type=int, default=16, help="deletion variants per batched NCF pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="results/benchmarks")
    parser.add_argument("--svd-only", action="store_true", help="time the SVD backends only")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from recinfluence.split import split_interactions

    data = load_movielens_100k(args.data)
    experiment = Experiment.build(data, split_interactions(len(data.frame), 0.25, seed=0), k=10)
    train = experiment.train
    rows = []

    def add(measure, value, unit):
        rows.append((measure, value, unit))
        print(f"{measure}: {value:.4g} {unit}", flush=True)

    SVD().fit(train, 0), SVD(backend="fast").fit(train, 0)  # compile once (numba caches the machine code on disk)
    surprise_fit, _ = timed(lambda: SVD(backend="surprise").fit(train, 0), args.repeats)
    compiled_fit, svd = timed(lambda: SVD().fit(train, 0), args.repeats)
    fast_fit, _ = timed(lambda: SVD(backend="fast").fit(train, 0), args.repeats)
    svd_eval, _ = timed(lambda: experiment.evaluate(svd), args.repeats)
    svd_retrain, _ = timed(lambda: experiment.evaluate(SVD().fit(train.without("user", 0), 0)), args.repeats)
    add("surprise SVD fit", surprise_fit, "s")
    add("compiled SVD fit", compiled_fit, "s")
    add("compiled SVD speed-up over surprise", surprise_fit / compiled_fit, "x")
    add("fast SVD fit", fast_fit, "s")
    add("fast SVD speed-up over surprise", surprise_fit / fast_fit, "x")
    add("SVD evaluation", svd_eval, "s")
    add("SVD evaluation / fit", svd_eval / compiled_fit, "ratio")
    add("SVD deletion retrain (fit + evaluation)", svd_retrain, "s")
    if args.svd_only:
        return

    ncf = NCF(epochs=args.ncf_epochs)
    variants = [train.without("user", u) for u in range(args.variants)]
    loop, _ = timed(lambda: [ncf.fit(v, 0) for v in variants], 1)
    batched, models = timed(lambda: ncf.fit_many([train] + variants, 0), 1)
    ncf_eval, _ = timed(lambda: experiment.evaluate(models[1]), args.repeats)
    scale = args.study_epochs / args.ncf_epochs
    loop_per_retrain = loop / len(variants) * scale
    # the engine's batches carry the baseline too: len(variants) + 1 models per pass
    batched_per_retrain = batched / len(variants) * scale
    add(f"NCF fit, plain loop ({args.study_epochs} epochs)", loop_per_retrain, "s per retrain")
    add(
        f"NCF fit, batched x{args.variants} + baseline ({args.study_epochs} epochs)",
        batched_per_retrain,
        "s per retrain",
    )
    add("NCF batched speed-up over the loop", loop_per_retrain / batched_per_retrain, "x")
    add("NCF evaluation", ncf_eval, "s")
    add("NCF evaluation / batched fit per retrain", ncf_eval / batched_per_retrain, "ratio")
    add("NCF deletion retrain (batched fit + evaluation)", batched_per_retrain + ncf_eval, "s")
    add("peak memory", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "MiB")

    entities = data.n_users + data.n_items
    core_seconds = entities * (svd_retrain + batched_per_retrain + ncf_eval)
    add(f"projected study on {CORES} cores ({entities} users + items, SVD + NCF)", core_seconds / CORES / 60, "min")

    table = pd.DataFrame(rows, columns=["measure", "value", "unit"])
    write_csv(table, Path(args.out) / "speed.csv", index=False)
    print(table.to_markdown(index=False, floatfmt=".4g"))


if __name__ == "__main__":
    main()
