from recinfluence.jobs import log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

import pandas as pd

from recinfluence import plots

w = snakemake.wildcards
metric = snakemake.params.metric
where = f"{w.model.upper()} on {w.dataset} ({w.protocol} protocol, {w.estimator} estimator)"
floor = pd.read_csv(snakemake.input.noise_floor).query("part == 'evaluation'").set_index("metric")["noise_floor"]
ranked = pd.read_csv(snakemake.input.ranked)
plots.influence_distribution(
    pd.read_parquet(snakemake.input.influence),
    metric,
    f"Influence of each {w.kind} on {metric}: {where}",
    snakemake.output.distribution,
    floor.get(metric),
    pd.read_parquet(snakemake.input.control) if snakemake.input.control else None,
)
plots.top_bottom(ranked, f"Most (green) and least (red) influential {w.kind}s: {where}", snakemake.output.top_bottom)
plots.moved_users(
    pd.read_parquet(snakemake.input.per_user),
    ranked,
    pd.read_csv(snakemake.input.moved),
    metric,
    f"Whose {metric} moved when a {w.kind} was removed: {where}",
    snakemake.output.moved,
)
plots.metric_agreement(
    pd.read_csv(snakemake.input.metric_agreement),
    f"Do the metrics agree on which {w.kind}s matter? {where}",
    snakemake.output.metric_agreement,
)
