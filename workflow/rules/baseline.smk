rule baseline:
    input:
        data="results/{dataset}/data/interactions.parquet",
        split="results/{dataset}/{protocol}/split.parquet",
    output:
        metrics=report(
            "results/{dataset}/{protocol}/{model}/baseline.csv",
            caption="../report/baseline.rst",
            category="Baseline",
            subcategory="{dataset} / {protocol}",
        ),
        per_user="results/{dataset}/{protocol}/{model}/baseline_per_user.parquet",
    log:
        "logs/{dataset}/{protocol}/{model}/baseline.log",
    params:
        config=config,
    threads: config["influence"].get("threads", 1)
    conda:
        ENV
    script:
        "../scripts/baseline.py"
