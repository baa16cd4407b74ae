import sys

from recinfluence.cli import log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

from pathlib import Path

import torch

from recinfluence.influence import entity_list, repeated_deletion_influence, shard_entities, variant_block
from recinfluence.io import write_csv, write_parquet
from recinfluence.study import load_experiment, model_from_config

torch.set_num_threads(snakemake.threads)
config = snakemake.params.config
kind = snakemake.wildcards.kind
data, experiment = load_experiment(Path(snakemake.input.data).parent, snakemake.input.split, snakemake.wildcards.protocol, config)
entities = entity_list(data, kind, config["influence"].get("limit", {}).get(kind))
make_model = model_from_config(config, snakemake.wildcards.model)
variants_per_batch = config["influence"].get("variants_per_batch", 16)
block = variant_block(make_model, variants_per_batch)
chunk = shard_entities(entities, config["influence"]["shards"], int(snakemake.wildcards.shard), block)
print(f"shard {snakemake.wildcards.shard}: {len(chunk)} of {len(entities)} {kind}s, seeds {snakemake.params.seeds}", file=sys.stderr)
result = repeated_deletion_influence(
    make_model, experiment, kind, chunk, snakemake.params.seeds, config["deletion_protocol"], variants_per_batch
)
write_parquet(result.influence, snakemake.output.influence)
write_parquet(result.per_user, snakemake.output.per_user)
write_csv(result.timing, snakemake.output.timing, index=False)
write_parquet(result.by_seed, snakemake.output.by_seed)
