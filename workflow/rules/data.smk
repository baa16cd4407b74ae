rule prepare_dataset:
    output:
        interactions="results/{dataset}/data/interactions.parquet",
        user_names="results/{dataset}/data/users.parquet",
        item_names="results/{dataset}/data/items.parquet",
    log:
        "logs/{dataset}/prepare_dataset.log",
    params:
        spec=lambda wildcards: config["datasets"][wildcards.dataset],
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
        seed=config["seed"],
        test_fraction=config["split"]["test_fraction"],
        valid_fraction=config["split"]["valid_fraction"],
    conda:
        ENV
    script:
        "../scripts/split.py"
