import sys

from recinfluence.jobs import log_to

log_to(snakemake.log[0])  # stderr to the log; a model over the limit ends the job with one line there

import pandas as pd

from recinfluence.compose import check_memory
from recinfluence.io import write_csv
from recinfluence.models.base import DataSize
from recinfluence.settings import Model

size = DataSize.of(
    pd.read_parquet(snakemake.input.interactions, columns=["user"])["user"].to_numpy(),
    len(pd.read_parquet(snakemake.input.user_names)),
    len(pd.read_parquet(snakemake.input.item_names)),
)
limit_mb = snakemake.resources.memory_limit_mb
model = Model.from_params(snakemake.params.model)
print(f"{snakemake.wildcards.dataset}: {size}", file=sys.stderr)
(needed,) = check_memory([model], snakemake.wildcards.dataset, size, limit_mb, snakemake.params.evaluation_mb).values()
write_csv(
    pd.DataFrame({"model": [model.name], "needed_mb": [needed / 2**20], "limit_mb": [limit_mb]}),
    snakemake.output[0],
    index=False,
)
