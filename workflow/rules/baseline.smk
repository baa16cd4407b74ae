rule baseline:
    input:
        data="results/{dataset}/data/interactions.parquet",
        split="results/{dataset}/{protocol}/split.parquet",
        memory="results/{dataset}/memory/{model}.csv",
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
        evaluation=settings.evaluation.to_params(),
        model=lambda wildcards: settings.models[wildcards.model].to_params(),
        seeds=settings.noise_seeds(),
        quantile=settings.noise.quantile,
    threads: settings.influence.threads
    resources:
        mem_mb=memory_request,
    conda:
        ENV
    script:
        "../scripts/baseline.py"
