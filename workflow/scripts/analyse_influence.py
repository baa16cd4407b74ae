from recinfluence.jobs import log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

import pandas as pd

from recinfluence.analysis import (
    flag_significance,
    flag_versus_control,
    metric_agreement,
    moved_users,
    rank_entities,
    seed_reproducibility,
    significance_summary,
    split_half_reliability,
)
from recinfluence.io import write_csv, write_text

metric = snakemake.params.metric
top_n = snakemake.params.top_n
out = snakemake.output


def write(table, csv, markdown=None, floatfmt=".6f", heading=""):
    write_csv(table, csv, index=False)
    if markdown:
        write_text(heading + table.to_markdown(index=False, floatfmt=floatfmt) + "\n", markdown)


# Who is influential, whose influence is detectable (FDR-controlled), who stands above the noise
# floor measured on the split influence is measured on, and (with the random-rows control) whose
# deletion differs from deleting as many random rows.
influence = pd.read_parquet(snakemake.input.influence)
by_seed = pd.read_parquet(snakemake.input.by_seed)
flagged = flag_significance(influence, pd.read_csv(snakemake.input.noise_floor), "evaluation", snakemake.params.fdr)
if snakemake.input.control:
    flagged = flag_versus_control(flagged, by_seed, pd.read_parquet(snakemake.input.control), snakemake.params.fdr)
ranked = rank_entities(flagged, pd.read_parquet(snakemake.input.names), metric, top_n)
write(ranked, out.csv, out.markdown)
write(significance_summary(flagged), out.significance, out.significance_markdown)

# Whose recommendations moved when each of them was removed.
moved = moved_users(
    pd.read_parquet(snakemake.input.per_user),
    ranked,
    metric,
    snakemake.params.moved_users,
    pd.read_parquet(snakemake.input.users),
)
write(moved, out.moved, out.moved_markdown, ".4f")

# Does the choice of metric change who counts as influential, and how reliable is each metric's ranking?
agreement = metric_agreement(flagged, top_n)
runs = dict(iter(by_seed.groupby("seed")))
samples = int(influence["samples"].max()) if len(influence) else 0
reproducibility = pd.DataFrame(
    [
        pd.concat([seed_reproducibility(runs, name)[0], split_half_reliability(by_seed, name, samples).drop("metric")])
        for name in flagged["metric"].unique()
    ]
)
write(reproducibility, out.reproducibility)
write(
    agreement,
    out.metric_agreement,
    out.metric_agreement_markdown,
    ".3f",
    f"Seed-to-seed reproducibility and split-half reliability of each metric's influence ({len(runs)} replicate(s) per "
    "entity):\n\n"
    + reproducibility.to_markdown(index=False, floatfmt=".5f")
    + "\n\nAgreement between the influence rankings under every pair of metrics:\n\n",
)
