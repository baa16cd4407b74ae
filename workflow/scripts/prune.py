from recinfluence.jobs import limit_threads, log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

import sys
from pathlib import Path

import pandas as pd

from recinfluence.analysis import summarise_pruning
from recinfluence.compose import make_estimator, make_model
from recinfluence.io import write_csv, write_text
from recinfluence.pruning import prune_and_retrain
from recinfluence.retrain import Experiment, Retrainer
from recinfluence.settings import EstimatorSettings, Evaluation, Model

limit_threads(snakemake.threads)
params = snakemake.params
# Pruning is always judged on the test split (under the heldout protocol influence was measured
# on validation, so the choice of what to prune never saw the test data).
experiment = Experiment.load(
    Path(snakemake.input.data).parent,
    snakemake.input.split,
    snakemake.wildcards.protocol,
    Evaluation.from_params(params.evaluation),
    part="test",
)
retrainer = Retrainer(
    make_model(Model.from_params(params.model)), experiment, params.variants_per_batch, log=sys.stderr
)
table = prune_and_retrain(
    retrainer,
    pd.read_parquet(snakemake.input.influence),
    snakemake.wildcards.kind,
    params.metric,
    params.sizes,
    params.random_draws,
    params.seeds,
    # planted users (datasets.<name>.inject): removing exactly them is the oracle row
    pd.read_parquet(snakemake.input.planted).query("kind == @snakemake.wildcards.kind")["entity"].to_numpy(),
)
selection_seeds = make_estimator(EstimatorSettings.from_params(params.estimator), params.seed).training_seeds()
summary = summarise_pruning(table, selection_seeds)
write_csv(table, snakemake.output.table, index=False)
write_csv(summary, snakemake.output.summary, index=False)
write_text(summary.to_markdown(index=False, floatfmt=".3f") + "\n", snakemake.output.markdown)
