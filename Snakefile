# Deletion diagnostics for recommender systems: retrain without each user and item and
# measure how the ranking metrics move. See README.md; the method is in DESIGN notes.
import os

from snakemake.utils import min_version

from recinfluence.errors import InputError
from recinfluence.study import validate_config

min_version("9.0")


configfile: "config.yaml"


# Every config error is reported here, one line per key, before any job runs.
try:
    validate_config(
        config,
        os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml"),
        ", ".join(map(os.path.abspath, workflow.configfiles)) or "config",
    )
except InputError as error:
    raise WorkflowError(str(error))


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/baseline.smk"
include: "workflow/rules/influence.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/plots.smk"


rule all:
    input:
        study_outputs(),
    default_target: True
