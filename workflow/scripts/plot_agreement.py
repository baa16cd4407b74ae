from recinfluence.jobs import log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

import pandas as pd

from recinfluence import plots

w = snakemake.wildcards
metric = snakemake.params.metric
agreement = pd.read_csv(snakemake.input.table)
plots.model_agreement(
    agreement[agreement["metric"] == metric],
    metric,
    f"Do the models agree on which {w.kind}s matter?\n"
    f"{w.dataset} ({w.protocol}, {w.estimator} estimator; top-N overlap in brackets)",
    snakemake.output.figure,
)
