# Names, wildcard constraints and the list of final outputs. Results live in
# results/<dataset>/<protocol>/<model>/<estimator>/<kind>/ (see results/README.md).
DATASETS = list(settings.datasets)
PLANTED = [name for name, dataset in settings.datasets.items() if dataset.inject]  # with planted users
MODELS = list(settings.models)
ESTIMATORS = list(settings.estimators)
PROTOCOLS = settings.protocols
KINDS = settings.influence.kinds
SHARDS = range(settings.influence.shards)
ENV = "../../envs/recinfluence.yaml"


wildcard_constraints:
    dataset="|".join(map(re.escape, DATASETS)),
    model="|".join(map(re.escape, MODELS)),
    estimator="|".join(map(re.escape, ESTIMATORS)),
    protocol="paper|heldout",
    kind="user|item",
    shard=r"\d+",


def memory_request(wildcards, input, attempt):
    """mem_mb of a job that trains the model: its estimated peak on the dataset (check_memory's
    table, an input of the job) with a margin, times the attempt."""
    with open(input.memory) as table:
        return memory_request_mb(float(next(csv.DictReader(table))["needed_mb"]), attempt)


def figure(stem):
    """Both formats of one figure."""
    return [f"{stem}.png", f"{stem}.pdf"]


def random_rows_control(wildcards, table):
    """``table`` of the size-matched random-rows control of this estimator's deletions, when the
    study runs it and the estimator pairs with it seed by seed; nothing otherwise."""
    if not controlled_by_random_rows(wildcards.estimator, ESTIMATORS):
        return []
    return f"results/{wildcards.dataset}/{wildcards.protocol}/{wildcards.model}/random_rows/{wildcards.kind}/{table}"


def study_outputs():
    outputs = ["results/summary.md"]
    for dataset in DATASETS:
        for protocol in PROTOCOLS:
            run = f"results/{dataset}/{protocol}"
            outputs.append(f"{run}/split.json")
            for model in MODELS:
                outputs += [f"{run}/{model}/baseline.csv", f"{run}/{model}/noise_floor.md"]
                for estimator in ESTIMATORS:
                    for kind in KINDS:
                        base = f"{run}/{model}/{estimator}/{kind}"
                        outputs += [f"{base}/influence.parquet", f"{base}/top_bottom.md", f"{base}/significance.md"]
                        outputs += [f"{base}/metric_agreement.md", f"{base}/moved_users.md"]
                        for stem in ("distribution", "top_bottom", "moved_users", "metric_agreement"):
                            outputs += figure(f"{base}/{stem}")
                for estimator in settings.pruned_estimators():
                    for kind in settings.pruned_kinds():
                        base = f"{run}/{model}/{estimator}/{kind}"
                        outputs += [f"{base}/pruning_summary.md"] + figure(f"{base}/pruning")
                for kind in KINDS:
                    outputs += figure(f"{run}/{model}/reliability_{kind}")
                if dataset in PLANTED and "user" in KINDS:
                    for estimator in ESTIMATORS:
                        base = f"{run}/{model}/{estimator}/user"
                        outputs += [f"{base}/detection.md", f"{base}/attack_impact.md"] + figure(f"{base}/detection")
            if len(MODELS) >= 2:
                for estimator in ESTIMATORS:
                    for kind in KINDS:
                        outputs += [f"{run}/agreement/{estimator}_{kind}.md"] + figure(f"{run}/agreement/{estimator}_{kind}")
    return outputs


def summary_inputs():
    """Every table results/summary.md reads, by name: a list of paths and, in the same order,
    the (dataset, protocol, model, estimator, kind) each belongs to."""
    names = ("noise_floor", "significance", "pruning", "metric_agreement", "reproducibility", "model_agreement", "detection", "attack_impact")
    tables = {name: ([], []) for name in names}

    def add(name, path, **key):
        tables[name][0].append(path)
        tables[name][1].append(key)

    for dataset in DATASETS:
        for protocol in PROTOCOLS:
            run = f"results/{dataset}/{protocol}"
            for model in MODELS:
                add("noise_floor", f"{run}/{model}/noise_floor.csv", dataset=dataset, protocol=protocol, model=model)
                for estimator in ESTIMATORS:
                    for kind in KINDS:
                        key = dict(dataset=dataset, protocol=protocol, model=model, estimator=estimator, kind=kind)
                        for name in ("significance", "metric_agreement", "reproducibility"):
                            add(name, f"{run}/{model}/{estimator}/{kind}/{name}.csv", **key)
                if dataset in PLANTED and "user" in KINDS:
                    for estimator in ESTIMATORS:
                        for name in ("detection", "attack_impact"):
                            add(name, f"{run}/{model}/{estimator}/user/{name}.csv", dataset=dataset, protocol=protocol, model=model, estimator=estimator)
                for estimator in settings.pruned_estimators():
                    for kind in settings.pruned_kinds():
                        add("pruning", f"{run}/{model}/{estimator}/{kind}/pruning_summary.csv", dataset=dataset, protocol=protocol, model=model, estimator=estimator)
            if len(MODELS) >= 2:
                for estimator in ESTIMATORS:
                    for kind in KINDS:
                        add("model_agreement", f"{run}/agreement/{estimator}_{kind}.csv", dataset=dataset, protocol=protocol, estimator=estimator, kind=kind)
    return tables
