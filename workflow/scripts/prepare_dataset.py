import sys

from recinfluence.jobs import log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

from pathlib import Path

from recinfluence.data import inject, load_dataset, no_planted
from recinfluence.io import write_parquet
from recinfluence.settings import Dataset, SplitSettings

spec = Dataset.from_params(snakemake.params.dataset)
name = snakemake.wildcards.dataset
data = load_dataset(spec, Path(snakemake.params.cache_dir) / name)
planted = no_planted()
if spec.inject:  # the labels go to planted.parquet, apart from what models read
    split = SplitSettings.from_params(snakemake.params.split)
    data, planted = inject(
        data, spec.inject, split.test_fraction, split.valid_fraction, split.seed, source=f"datasets.{name}.inject"
    )
data.save(Path(snakemake.output.interactions).parent)
write_parquet(planted, snakemake.output.planted)
print(f"{name}: {len(data.frame)} interactions, {data.n_users} users, {data.n_items} items", file=sys.stderr)
