import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

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
