# Names, wildcard constraints and the list of final outputs.
from recinfluence.errors import InputError
from recinfluence.study import model_from_config, seeds

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
    outputs = ["results/summary.md"]
    for dataset in DATASETS:
        for protocol in PROTOCOLS:
            run = f"results/{dataset}/{protocol}"
            outputs.append(f"{run}/split.json")
            for model in MODELS:
                outputs += [f"{run}/{model}/baseline.csv", f"{run}/{model}/noise_floor.md"]
                for kind in KINDS:
                    base = f"{run}/{model}/{kind}"
                    outputs += [f"{base}/influence.parquet", f"{base}/top_bottom.md", f"{base}/significance.md"]
                    outputs += [f"{base}/metric_agreement.md", f"{base}/moved_users.md"]
                    for stem in ("distribution", "top_bottom", "moved_users", "metric_agreement"):
                        outputs += figure(f"{base}/{stem}")
                for kind in PRUNE_KINDS:
                    outputs += [f"{run}/{model}/{kind}/pruning_summary.md"] + figure(f"{run}/{model}/{kind}/pruning")
            if len(MODELS) >= 2:
                for kind in KINDS:
                    outputs += [f"{run}/agreement_{kind}.md"] + figure(f"{run}/agreement_{kind}")
    return outputs


def summary_inputs():
    """Every table results/summary.md reads, by name: a list of paths and, in the same order,
    the (dataset, protocol, model, kind) each belongs to."""
    tables = {name: ([], []) for name in ("noise_floor", "significance", "pruning", "metric_agreement", "reproducibility", "model_agreement")}

    def add(name, path, **key):
        tables[name][0].append(path)
        tables[name][1].append(key)

    for dataset in DATASETS:
        for protocol in PROTOCOLS:
            run = f"results/{dataset}/{protocol}"
            for model in MODELS:
                add("noise_floor", f"{run}/{model}/noise_floor.csv", dataset=dataset, protocol=protocol, model=model)
                for kind in KINDS:
                    key = dict(dataset=dataset, protocol=protocol, model=model, kind=kind)
                    for name in ("significance", "metric_agreement", "reproducibility"):
                        add(name, f"{run}/{model}/{kind}/{name}.csv", **key)
                for kind in PRUNE_KINDS:
                    add("pruning", f"{run}/{model}/{kind}/pruning_summary.csv", dataset=dataset, protocol=protocol, model=model)
            if len(MODELS) >= 2:
                for kind in KINDS:
                    add("model_agreement", f"{run}/agreement_{kind}.csv", dataset=dataset, protocol=protocol, kind=kind)
    return tables
