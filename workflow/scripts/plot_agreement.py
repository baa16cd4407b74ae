from recinfluence.cli import log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

import pandas as pd

from recinfluence import plots

w = snakemake.wildcards
metric = snakemake.params.metric
influences = {model: pd.read_parquet(path) for model, path in zip(snakemake.params.models, snakemake.input.influence)}
agreement = pd.read_csv(snakemake.input.table)
plots.agreement(
    influences, agreement[agreement["metric"] == metric], metric,
    f"Do the models agree on which {w.kind}s matter? {w.dataset} ({w.protocol}, {w.estimator} estimator)", snakemake.output.figure,
)
