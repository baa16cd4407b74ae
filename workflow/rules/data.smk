rule prepare_dataset:
    output:
        interactions="results/{dataset}/data/interactions.parquet",
        user_names="results/{dataset}/data/users.parquet",
        item_names="results/{dataset}/data/items.parquet",
    log:
        "logs/{dataset}/prepare_dataset.log",
    params:
        dataset=lambda wildcards: settings.datasets[wildcards.dataset].to_params(),
        cache_dir="resources",
    conda:
        ENV
    script:
        "../scripts/prepare_dataset.py"


rule split:
    input:
        interactions="results/{dataset}/data/interactions.parquet",
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
