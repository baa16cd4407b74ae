from recinfluence.jobs import log_to

log_to(snakemake.log[0])  # stderr to the log; bad input ends the job with one line there

import pandas as pd

from recinfluence.io import write_text
from recinfluence.settings import Settings
from recinfluence.summary import study_summary


def gather(name):
    """Every table of one name, each tagged with the dataset, protocol, model and kind it belongs to."""
    frames = [
        pd.read_csv(path).assign(**key) for path, key in zip(snakemake.input[name], snakemake.params.tables[name])
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


tables = {name: gather(name) for name in snakemake.params.tables}
write_text(study_summary(Settings.from_params(snakemake.params.settings), tables) + "\n", snakemake.output[0])
