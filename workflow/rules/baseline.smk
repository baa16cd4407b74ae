rule baseline:
    input:
        data="results/{dataset}/data/interactions.parquet",
        split=RUN + "/split.parquet",
    output:
        metrics=report(
            MODEL + "/baseline.csv",
            caption="../report/baseline.rst",
            category="Baseline and noise floor",
            subcategory="{dataset} / {protocol}",
        ),
        per_user=MODEL + "/baseline_per_user.parquet",
        seeds=MODEL + "/noise_seeds.csv",
        pairs=MODEL + "/noise_pairs.csv",
        noise_floor=MODEL + "/noise_floor.csv",
        markdown=report(
            MODEL + "/noise_floor.md",
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
    conda:
        ENV
    script:
        "../scripts/baseline.py"
