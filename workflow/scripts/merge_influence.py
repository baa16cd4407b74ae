import sys

from recinfluence.cli import log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

import pandas as pd

from recinfluence.io import write_csv, write_parquet


def concat(frames):
    frames = [frame for frame in frames if len(frame)]
    return pd.concat(frames, ignore_index=True)


influence = concat(pd.read_parquet(path) for path in snakemake.input.influence)
write_parquet(influence, snakemake.output.influence)
write_parquet(concat(pd.read_parquet(path) for path in snakemake.input.per_user), snakemake.output.per_user)
write_csv(concat(pd.read_csv(path) for path in snakemake.input.timing), snakemake.output.timing, index=False)
write_parquet(concat(pd.read_parquet(path) for path in snakemake.input.by_seed), snakemake.output.by_seed)
print(f"merged {influence['entity'].nunique()} entities from {len(snakemake.input.influence)} shards", file=sys.stderr)
