rule baseline:
    input:
        data="results/{dataset}/data/interactions.parquet",
        split="results/{dataset}/{protocol}/split.parquet",
    output:
        metrics=report(
            "results/{dataset}/{protocol}/{model}/baseline.csv",
            caption="../report/baseline.rst",
            category="Baseline and noise floor",
            subcategory="{dataset} / {protocol}",
        ),
        per_user="results/{dataset}/{protocol}/{model}/baseline_per_user.parquet",
        seeds="results/{dataset}/{protocol}/{model}/noise_seeds.csv",
        pairs="results/{dataset}/{protocol}/{model}/noise_pairs.csv",
        noise_floor="results/{dataset}/{protocol}/{model}/noise_floor.csv",
        markdown=report(
            "results/{dataset}/{protocol}/{model}/noise_floor.md",
            caption="../report/noise_floor.rst",
            category="Baseline and noise floor",
            subcategory="{dataset} / {protocol}",
        ),
    log:
        "logs/{dataset}/{protocol}/{model}/baseline.log",
    params:
        config=config,
        seeds=seeds(config, "noise"),
        quantile=config["noise"]["quantile"],
    threads: config["influence"].get("threads", 1)
    conda:
        ENV
    script:
        "../scripts/baseline.py"
