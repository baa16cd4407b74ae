import sys

from recinfluence.jobs import limit_threads, log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

import time
from pathlib import Path

from recinfluence.analysis import noise_floor
from recinfluence.compose import make_model
from recinfluence.io import write_csv, write_parquet, write_text
from recinfluence.retrain import Experiment, seed_baselines
from recinfluence.settings import Evaluation, Model

limit_threads(snakemake.threads)
evaluation = Evaluation.from_params(snakemake.params.evaluation)
seeds = snakemake.params.seeds
data_folder = Path(snakemake.input.data).parent
# The same training rows, evaluated on the split influence is measured on and on the test split.
experiments = {
    part: Experiment.load(data_folder, snakemake.input.split, snakemake.wildcards.protocol, evaluation, part)
    for part in ("evaluation", "test")
}
started = time.perf_counter()
values, per_user = seed_baselines(make_model(Model.from_params(snakemake.params.model)), experiments, seeds)
print(f"{len(seeds)} seeds: fit and score in {time.perf_counter() - started:.2f} s", file=sys.stderr)
summary, pairs = noise_floor(values, snakemake.params.quantile)
first = values["seed"] == seeds[0]  # the study's seed: the baseline every estimator starts from
write_csv(values.loc[first, ["part", "metric", "value"]], snakemake.output.metrics, index=False)
write_parquet(
    per_user[per_user["seed"] == seeds[0]].drop(columns="seed").reset_index(drop=True), snakemake.output.per_user
)
write_csv(values, snakemake.output.seeds, index=False)
write_csv(pairs, snakemake.output.pairs, index=False)
write_csv(summary, snakemake.output.noise_floor, index=False)
write_text(summary.to_markdown(index=False, floatfmt=".5f") + "\n", snakemake.output.markdown)
