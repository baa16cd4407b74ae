from recinfluence.jobs import limit_threads, log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from recinfluence.compose import make_model
from recinfluence.detection import detection_table, suspicion_baselines
from recinfluence.io import write_csv, write_text
from recinfluence.plots import plot_detection
from recinfluence.pruning import ORACLE, attack_impact, impact_columns
from recinfluence.retrain import Experiment, Retrainer
from recinfluence.settings import Evaluation, Model

limit_threads(snakemake.threads)
params, wildcards = snakemake.params, snakemake.wildcards
influence = pd.read_parquet(snakemake.input.influence)
planted = pd.read_parquet(snakemake.input.planted).query("kind == 'user'")
frame = pd.read_parquet(snakemake.input.data)
split = pd.read_parquet(snakemake.input.split)
train = frame.iloc[split.loc[split["part"] == "train", "row"].to_numpy()]
n_users = int(frame["user"].max()) + 1

table = detection_table(influence, planted, suspicion_baselines(train, n_users), seed=params.seed)
write_csv(table, snakemake.output.table, index=False)
write_text(table.to_markdown(index=False, floatfmt=".3f") + "\n", snakemake.output.markdown)
plot_detection(
    table,
    Path(snakemake.output.figure[0]).with_suffix(""),
    f"Finding {len(planted)} planted users ({', '.join(sorted(set(planted['planted'])))}): "
    f"{wildcards.model}, {wildcards.estimator}, {wildcards.dataset} / {wildcards.protocol}",
)
print(table.to_string(index=False), file=sys.stderr)

# Attack impact, judged on the test split: the pushed targets with the data as attacked, without
# the n least influential users (n = the number planted) and without the planted users.
targets = np.unique(planted["target"].to_numpy())
targets = targets[targets >= 0]
evaluation = Evaluation.from_params(params.evaluation)
impact = pd.DataFrame(columns=impact_columns(evaluation.k))
if len(targets):
    experiment = Experiment.load(
        Path(snakemake.input.data).parent,
        snakemake.input.split,
        wildcards.protocol,
        evaluation,
        part="test",
    )
    ranked = influence.loc[influence["metric"] == params.metric].sort_values(["influence", "entity"])
    planted_users = planted["entity"].to_numpy()
    removals = {
        "attacked data": [],
        f"without the {len(planted_users)} least influential": ranked["entity"].to_numpy()[: len(planted_users)],
        ORACLE: planted_users,
    }
    real_users = np.setdiff1d(np.arange(n_users), planted_users)
    retrainer = Retrainer(make_model(Model.from_params(params.model)), experiment, log=sys.stderr)
    impact = attack_impact(retrainer, targets, removals, params.seeds, real_users)
write_csv(impact, snakemake.output.impact, index=False)
summary = (
    impact.groupby(["removal", "target"], sort=False).mean(numeric_only=True).drop(columns="seed").reset_index()
    if len(impact)
    else impact
)
write_text(
    (summary.to_markdown(index=False, floatfmt=".3f") if len(summary) else "No target item was pushed.") + "\n",
    snakemake.output.impact_markdown,
)
