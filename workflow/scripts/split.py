import sys

from recinfluence.jobs import log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

import pandas as pd

from recinfluence.data import planted_rows
from recinfluence.errors import InputError
from recinfluence.io import write_json, write_parquet
from recinfluence.settings import Evaluation, SplitSettings
from recinfluence.split import check_evaluable, coverage, split_interactions

frame = pd.read_parquet(snakemake.input.interactions)
settings = SplitSettings.from_params(snakemake.params.split)
try:
    n_planted = planted_rows(frame, pd.read_parquet(snakemake.input.planted))  # fake users' rows: always train
    split = split_interactions(
        len(frame),
        settings.test_fraction,
        settings.seed,
        snakemake.wildcards.protocol,
        settings.valid_fraction,
        n_planted=n_planted,
    )
    evaluation = Evaluation.from_params(snakemake.params.evaluation)
    check_evaluable(frame, split, evaluation.k, evaluation.relevance_threshold)
except InputError as error:
    raise InputError(f"datasets.{snakemake.wildcards.dataset}: {error}") from None
report = coverage(frame, split)
print(
    f"{report['train_rows']} train ({n_planted} of planted users) / {report['valid_rows']} valid / "
    f"{report['test_rows']} test rows; "
    f"{len(report['users_without_training'])} users and {len(report['items_without_training'])} items "
    "have no training row",
    file=sys.stderr,
)
write_parquet(split.to_frame(), snakemake.output.split)
write_json(report, snakemake.output.coverage)
