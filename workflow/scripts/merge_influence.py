import sys

from recinfluence.jobs import log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

import pandas as pd

from recinfluence.compose import make_estimator
from recinfluence.estimators.base import Partial
from recinfluence.io import write_csv, write_parquet
from recinfluence.settings import EstimatorSettings

inputs = snakemake.input
partials = [
    Partial(pd.read_parquet(rows), pd.read_parquet(per_user), pd.read_csv(timing))
    for rows, per_user, timing in zip(inputs.rows, inputs.per_user, inputs.timing)
]
estimator = make_estimator(EstimatorSettings.from_params(snakemake.params.estimator), snakemake.params.seed)
result = estimator.reduce(snakemake.wildcards.kind, partials)
write_parquet(result.influence, snakemake.output.influence)
write_parquet(result.per_user, snakemake.output.per_user)
write_csv(result.timing, snakemake.output.timing, index=False)
write_parquet(result.by_seed, snakemake.output.by_seed)
print(f"{estimator.name}: {result.influence['entity'].nunique()} entities from {len(partials)} shards", file=sys.stderr)
