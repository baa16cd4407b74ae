import sys

from recinfluence.jobs import log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

from pathlib import Path

from recinfluence.data import load_dataset
from recinfluence.settings import Dataset

data = load_dataset(
    Dataset.from_params(snakemake.params.dataset), Path(snakemake.params.cache_dir) / snakemake.wildcards.dataset
)
data.save(Path(snakemake.output.interactions).parent)
print(
    f"{snakemake.wildcards.dataset}: {len(data.frame)} interactions, {data.n_users} users, {data.n_items} items",
    file=sys.stderr,
)
