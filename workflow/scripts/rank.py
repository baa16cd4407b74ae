from recinfluence.cli import log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

import pandas as pd

from recinfluence.analysis import rank_entities
from recinfluence.io import write_csv, write_text
from recinfluence.study import primary_metric

config = snakemake.params.config
ranked = rank_entities(
    pd.read_parquet(snakemake.input.influence), pd.read_parquet(snakemake.input.names), primary_metric(config), config["report"]["top_n"]
)
write_csv(ranked, snakemake.output.csv, index=False)
write_text(ranked.to_markdown(index=False, floatfmt=".6f") + "\n", snakemake.output.markdown)
