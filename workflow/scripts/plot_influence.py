from recinfluence.cli import log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

import pandas as pd

from recinfluence import plots
from recinfluence.study import primary_metric

config = snakemake.params.config
w = snakemake.wildcards
metric = primary_metric(config)
where = f"{w.model.upper()} on {w.dataset} ({w.protocol} protocol)"
plots.influence_distribution(
    pd.read_parquet(snakemake.input.influence), metric, f"Influence of each {w.kind} on {metric}: {where}", snakemake.output.distribution
)
plots.top_bottom(
    pd.read_csv(snakemake.input.ranked), f"Most (green) and least (red) influential {w.kind}s: {where}", snakemake.output.top_bottom
)
