rule rank:
    input:
        influence="results/{dataset}/{protocol}/{model}/{kind}/influence.parquet",
        by_seed="results/{dataset}/{protocol}/{model}/{kind}/influence_by_seed.parquet",
        per_user="results/{dataset}/{protocol}/{model}/{kind}/per_user.parquet",
        noise_floor="results/{dataset}/{protocol}/{model}/noise_floor.csv",
        names=lambda wildcards: f"results/{wildcards.dataset}/data/{wildcards.kind}s.parquet",
        users="results/{dataset}/data/users.parquet",
    output:
        csv="results/{dataset}/{protocol}/{model}/{kind}/top_bottom.csv",
        markdown=report(
            "results/{dataset}/{protocol}/{model}/{kind}/top_bottom.md",
            caption="../report/top_bottom.rst",
            category="Most and least influential",
            subcategory="{dataset} / {protocol}",
        ),
        significance="results/{dataset}/{protocol}/{model}/{kind}/significance.csv",
        significance_markdown=report(
            "results/{dataset}/{protocol}/{model}/{kind}/significance.md",
            caption="../report/significance.rst",
            category="Baseline and noise floor",
            subcategory="{dataset} / {protocol}",
        ),
        moved="results/{dataset}/{protocol}/{model}/{kind}/moved_users.csv",
        moved_markdown=report(
            "results/{dataset}/{protocol}/{model}/{kind}/moved_users.md",
            caption="../report/moved_users.rst",
            category="Whose recommendations moved",
            subcategory="{dataset} / {protocol}",
        ),
        metric_agreement="results/{dataset}/{protocol}/{model}/{kind}/metric_agreement.csv",
        reproducibility="results/{dataset}/{protocol}/{model}/{kind}/reproducibility.csv",
        metric_agreement_markdown=report(
            "results/{dataset}/{protocol}/{model}/{kind}/metric_agreement.md",
            caption="../report/metric_agreement.rst",
            category="Metric sensitivity",
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
        seeds=seeds(config, "noise"),
        selection_seeds=seeds(config, "influence"),
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
        markdown=report(
            "results/{dataset}/{protocol}/agreement_{kind}.md",
            caption="../report/agreement.rst",
            category="Model agreement",
            subcategory="{dataset} / {protocol}",
        ),
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


rule summary:
    input:
        **{name: paths for name, (paths, _) in summary_inputs().items()},
    output:
        report(
            "results/summary.md",
            caption="../report/summary.rst",
            category="Summary: the paper's claims beside ours",
        ),
    log:
        "logs/summary.log",
    params:
        tables={name: keys for name, (_, keys) in summary_inputs().items()},
        config=config,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/summary.py"
