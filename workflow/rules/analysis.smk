rule rank:
    input:
        influence="results/{dataset}/{protocol}/{model}/{kind}/influence.parquet",
        names=lambda wildcards: f"results/{wildcards.dataset}/data/{wildcards.kind}s.parquet",
    output:
        csv="results/{dataset}/{protocol}/{model}/{kind}/top_bottom.csv",
        markdown=report(
            "results/{dataset}/{protocol}/{model}/{kind}/top_bottom.md",
            caption="../report/top_bottom.rst",
            category="Most and least influential",
            subcategory="{dataset} / {protocol}",
        ),
    log:
        "logs/{dataset}/{protocol}/{model}/{kind}/rank.log",
    params:
        config=config,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/rank.py"


rule prune:
    input:
        data="results/{dataset}/data/interactions.parquet",
        split="results/{dataset}/{protocol}/split.parquet",
        influence="results/{dataset}/{protocol}/{model}/{kind}/influence.parquet",
    output:
        table="results/{dataset}/{protocol}/{model}/{kind}/pruning.csv",
        summary="results/{dataset}/{protocol}/{model}/{kind}/pruning_summary.csv",
        markdown=report(
            "results/{dataset}/{protocol}/{model}/{kind}/pruning_summary.md",
            caption="../report/pruning.rst",
            category="Prune and retrain",
            subcategory="{dataset} / {protocol}",
        ),
    log:
        "logs/{dataset}/{protocol}/{model}/{kind}/prune.log",
    params:
        config=config,
    threads: config["influence"].get("threads", 1)
    conda:
        ENV
    script:
        "../scripts/prune.py"


rule agreement:
    input:
        influence=expand("results/{{dataset}}/{{protocol}}/{model}/{{kind}}/influence.parquet", model=MODELS),
    output:
        table="results/{dataset}/{protocol}/agreement_{kind}.csv",
    log:
        "logs/{dataset}/{protocol}/agreement_{kind}.log",
    params:
        models=MODELS,
        config=config,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/agreement.py"
