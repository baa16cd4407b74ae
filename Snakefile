# Deletion diagnostics for recommender systems: retrain without each user and item and
# measure how the ranking metrics move. See README.md.
import csv
import os

from snakemake.utils import min_version

from recinfluence.compose import load_settings, memory_request_mb
from recinfluence.errors import InputError
from recinfluence.jobs import claim_folder
from recinfluence.registry import controlled_by_random_rows

min_version("9.0")


configfile: "config.yaml"


# The config, validated against src/recinfluence/config.schema.yaml (every problem at once, one
# line per key) and read into typed sections before any job runs. Rules read `settings`, never
# `config`, and each passes its jobs only the sections they read.
try:
    settings = load_settings(config, ", ".join(map(os.path.abspath, workflow.configfiles)) or "config")
except InputError as error:
    raise WorkflowError(str(error))


# One run per folder: a second `snakemake` started in the same folder while one is running stops
# before any job (Snakemake's own lock can let two runs started at the same moment through).
onstart:
    if workflow.is_main_process:
        try:
            claim_folder(".")
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
