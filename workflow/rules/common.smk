# Names, wildcard constraints and the list of final outputs.
from recinfluence.errors import InputError
from recinfluence.study import model_from_config

DATASETS = list(config["datasets"])
MODELS = list(config["models"])
PROTOCOLS = config["protocols"]
KINDS = config["influence"]["kinds"]
SHARDS = range(config["influence"]["shards"])
PRUNE_KINDS = [kind for kind in config["prune"]["kinds"] if kind in KINDS]
ENV = "../../envs/recinfluence.yaml"

# Fail before any job runs if a model cannot be built from config (every bad model at once).
_model_errors = []
for _name in MODELS:
    try:
        model_from_config(config, _name)
    except InputError as error:
        _model_errors.append(str(error))
if _model_errors:
    raise WorkflowError("\n".join(_model_errors))


wildcard_constraints:
    dataset="|".join(map(re.escape, DATASETS)),
    model="|".join(map(re.escape, MODELS)),
    protocol="paper|heldout",
    kind="user|item",
    shard=r"\d+",


def figure(stem):
    """Both formats of one figure."""
    return [f"{stem}.png", f"{stem}.pdf"]


def study_outputs():
    outputs = []
    for dataset in DATASETS:
        for protocol in PROTOCOLS:
            run = f"results/{dataset}/{protocol}"
            outputs.append(f"{run}/split.json")
            for model in MODELS:
                outputs.append(f"{run}/{model}/baseline.csv")
                for kind in KINDS:
                    base = f"{run}/{model}/{kind}"
                    outputs += [f"{base}/influence.parquet", f"{base}/top_bottom.md"]
                    outputs += figure(f"{base}/distribution") + figure(f"{base}/top_bottom")
                for kind in PRUNE_KINDS:
                    outputs += [f"{run}/{model}/{kind}/pruning_summary.md"] + figure(f"{run}/{model}/{kind}/pruning")
            if len(MODELS) >= 2:
                for kind in KINDS:
                    outputs += [f"{run}/agreement_{kind}.csv"] + figure(f"{run}/agreement_{kind}")
    return outputs
