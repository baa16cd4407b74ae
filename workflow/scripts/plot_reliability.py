from recinfluence.jobs import log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

import pandas as pd

from recinfluence import plots

w, metric = snakemake.wildcards, snakemake.params.metric
rows = []
for estimator, reproducibility, timing in zip(
    snakemake.params.estimators, snakemake.input.reproducibility, snakemake.input.timing
):
    row = pd.read_csv(reproducibility).set_index("metric").loc[metric]
    rows.append(
        {
            "estimator": estimator,
            "cpu_seconds": pd.read_csv(timing)["seconds"].sum(),
            **row[["samples", "reliability", "reliability_low", "reliability_high"]],
        }
    )
plots.reliability(
    pd.DataFrame(rows),
    metric,
    f"How reliable is each estimator's {w.kind} ranking? {w.model.upper()} on {w.dataset} ({w.protocol})",
    snakemake.output.figure,
)
