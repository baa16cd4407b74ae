from recinfluence.jobs import log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

import pandas as pd

from recinfluence import plots

w = snakemake.wildcards
metric = snakemake.params.metric
plots.pruning(
    pd.read_csv(snakemake.input.summary),
    metric,
    f"Test {metric} after removing {w.kind}s and retraining: {w.model.upper()} on {w.dataset} ({w.protocol}, ranked by "
    f"{w.estimator})",
    snakemake.output.figure,
)
