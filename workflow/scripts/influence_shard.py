import sys

from recinfluence.jobs import limit_threads, log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

from pathlib import Path

from recinfluence.compose import make_estimator, make_model
from recinfluence.estimators.base import shard_units
from recinfluence.io import write_csv, write_parquet
from recinfluence.retrain import Experiment, Retrainer, entity_list
from recinfluence.settings import EstimatorSettings, Evaluation, Model

limit_threads(snakemake.threads)
params, kind, shard = snakemake.params, snakemake.wildcards.kind, int(snakemake.wildcards.shard)
experiment = Experiment.load(
    Path(snakemake.input.data).parent,
    snakemake.input.split,
    snakemake.wildcards.protocol,
    Evaluation.from_params(params.evaluation),
)
retrainer = Retrainer(make_model(Model.from_params(params.model)), experiment, params.variants_per_batch, log=None)
estimator = make_estimator(EstimatorSettings.from_params(params.estimator), params.seed)
entities = entity_list(experiment.train, kind, params.limit, params.sample, params.seed)
units = estimator.work_units(retrainer, entities)
mine = shard_units(units, params.shards, shard)
print(
    f"shard {shard}: {len(mine)} of {len(units)} work units ({sum(map(len, mine))} {estimator.unit_items(kind)}), "
    f"{len(entities)} {kind}s, estimator {estimator.name}",
    file=sys.stderr,
)
partial = estimator.run_units(retrainer, kind, mine, params.comparison, log=sys.stderr)
write_parquet(partial.rows, snakemake.output.rows)
write_parquet(partial.per_user, snakemake.output.per_user)
write_csv(partial.timing, snakemake.output.timing, index=False)
