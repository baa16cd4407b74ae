import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from pathlib import Path

import torch

from recinfluence.influence import deletion_influence, entity_list, shard_entities
from recinfluence.io import write_csv, write_parquet
from recinfluence.study import load_experiment, model_from_config

torch.set_num_threads(snakemake.threads)
config = snakemake.params.config
kind = snakemake.wildcards.kind
data, experiment = load_experiment(Path(snakemake.input.data).parent, snakemake.input.split, snakemake.wildcards.protocol, config)
entities = entity_list(data, kind, config["influence"].get("limit", {}).get(kind))
chunk = shard_entities(entities, config["influence"]["shards"], int(snakemake.wildcards.shard))
print(f"shard {snakemake.wildcards.shard}: {len(chunk)} of {len(entities)} {kind}s", file=sys.stderr)
result = deletion_influence(
    model_from_config(config, snakemake.wildcards.model), experiment, kind, chunk, config["seed"], config["deletion_protocol"]
)
write_parquet(result.influence, snakemake.output.influence)
write_parquet(result.per_user, snakemake.output.per_user)
write_csv(result.timing, snakemake.output.timing, index=False)
