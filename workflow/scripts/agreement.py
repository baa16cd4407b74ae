from recinfluence.jobs import log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

import pandas as pd

from recinfluence.analysis import model_agreement
from recinfluence.io import write_csv, write_text

influences = {model: pd.read_parquet(path) for model, path in zip(snakemake.params.models, snakemake.input.influence)}
# Every metric that all models report (RMSE only where every model predicts ratings).
shared = set.intersection(*(set(table["metric"]) for table in influences.values()))
top_n = snakemake.params.top_n
table = pd.concat([model_agreement(influences, metric, top_n) for metric in sorted(shared)], ignore_index=True)
write_csv(table, snakemake.output.table, index=False)
write_text(table.to_markdown(index=False, floatfmt=".3f") + "\n", snakemake.output.markdown)
