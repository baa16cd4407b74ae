import sys

from recinfluence.cli import log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

import time
from pathlib import Path

import pandas as pd
import torch

from recinfluence.io import write_csv, write_parquet
from recinfluence.metrics import aggregate
from recinfluence.study import load_experiment, model_from_config

torch.set_num_threads(snakemake.threads)
config = snakemake.params.config
make_model = model_from_config(config, snakemake.wildcards.model)
data_folder = Path(snakemake.input.data).parent
rows, per_user = [], []
for part in ("evaluation", "test"):
    _, experiment = load_experiment(data_folder, snakemake.input.split, snakemake.wildcards.protocol, config, part)
    started = time.perf_counter()
    model, scores = experiment.fit_and_score(make_model, experiment.train, config["seed"])
    seconds = time.perf_counter() - started
    table = experiment.evaluate(scores, getattr(model, "rating_scale", None))
    for metric, value in aggregate(table).items():
        rows.append((part, metric, value))
    per_user.append(table.assign(part=part))
    print(f"{part}: fit and score in {seconds:.2f} s", file=sys.stderr)
write_csv(pd.DataFrame(rows, columns=["part", "metric", "value"]), snakemake.output.metrics, index=False)
write_parquet(pd.concat(per_user, ignore_index=True), snakemake.output.per_user)
