from recinfluence.cli import log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

import sys
from pathlib import Path

import pandas as pd
import torch

from recinfluence.analysis import prune_and_retrain, summarise_pruning
from recinfluence.io import write_csv, write_text
from recinfluence.study import load_experiment, model_from_config, primary_metric

torch.set_num_threads(snakemake.threads)
config = snakemake.params.config
# Pruning is always judged on the test split (under the heldout protocol influence was measured
# on validation, so the choice of what to prune never saw the test data).
_, experiment = load_experiment(Path(snakemake.input.data).parent, snakemake.input.split, snakemake.wildcards.protocol, config, part="test")
table = prune_and_retrain(
    model_from_config(config, snakemake.wildcards.model),
    experiment,
    pd.read_parquet(snakemake.input.influence),
    snakemake.wildcards.kind,
    primary_metric(config),
    config["prune"]["k"],
    config["prune"]["random_draws"],
    snakemake.params.seeds,
    config["influence"].get("variants_per_batch", 16),
    log=sys.stderr,
)
summary = summarise_pruning(table, snakemake.params.selection_seeds)
write_csv(table, snakemake.output.table, index=False)
write_csv(summary, snakemake.output.summary, index=False)
write_text(summary.to_markdown(index=False, floatfmt=".3f") + "\n", snakemake.output.markdown)
