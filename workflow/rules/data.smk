rule prepare_dataset:
    output:
        interactions="results/{dataset}/data/interactions.parquet",
        user_names="results/{dataset}/data/users.parquet",
        item_names="results/{dataset}/data/items.parquet",
        planted="results/{dataset}/data/planted.parquet",
    log:
        "logs/{dataset}/prepare_dataset.log",
    params:
        dataset=lambda wildcards: settings.datasets[wildcards.dataset].to_params(),
        # which rows train under both protocols (the only ones corrupted): read only with inject, so a
        # split edit leaves the data of an entry without one alone
        split=lambda wildcards: settings.split.to_params() if settings.datasets[wildcards.dataset].inject else None,
        cache_dir="resources",
    conda:
        ENV
    script:
        "../scripts/prepare_dataset.py"


rule split:
    input:
        interactions="results/{dataset}/data/interactions.parquet",
        planted="results/{dataset}/data/planted.parquet",
    output:
        split="results/{dataset}/{protocol}/split.parquet",
        coverage="results/{dataset}/{protocol}/split.json",
    log:
        "logs/{dataset}/{protocol}/split.log",
    params:
        split=settings.split.to_params(),
        evaluation=settings.evaluation.to_params(),
    conda:
        ENV
    script:
        "../scripts/split.py"


# A model's estimated peak memory on the prepared dataset, against resources.memory_mb, before any
# training job of the model. The limit is a resource, not a param: params are rerun triggers, and
# raising the limit after a refusal must rerun no finished job.
rule check_memory:
    input:
        interactions="results/{dataset}/data/interactions.parquet",
        user_names="results/{dataset}/data/users.parquet",
        item_names="results/{dataset}/data/items.parquet",
    output:
        "results/{dataset}/memory/{model}.csv",
    log:
        "logs/{dataset}/memory/{model}.log",
    params:
        model=lambda wildcards: settings.models[wildcards.model].to_params(),
        evaluation_mb=settings.evaluation.memory_mb,
    resources:
        memory_limit_mb=settings.resources.memory_mb,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/check_memory.py"
