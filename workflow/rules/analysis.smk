# Everything read off one influence table: the most and least influential, which stand out
# (significance), whose recommendations moved, and how the metrics agree.
rule analyse_influence:
    input:
        influence="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/influence.parquet",
        by_seed="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/influence_by_seed.parquet",
        per_user="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/per_user.parquet",
        noise_floor="results/{dataset}/{protocol}/{model}/noise_floor.csv",
        control=lambda wildcards: random_rows_control(wildcards, "influence_by_seed.parquet"),
        names=lambda wildcards: f"results/{wildcards.dataset}/data/{wildcards.kind}s.parquet",
        users="results/{dataset}/data/users.parquet",
    output:
        csv="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/top_bottom.csv",
        markdown=report(
            "results/{dataset}/{protocol}/{model}/{estimator}/{kind}/top_bottom.md",
            caption="../report/top_bottom.rst",
            category="Most and least influential",
            subcategory="{dataset} / {protocol} / {estimator}",
        ),
        significance="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/significance.csv",
        significance_markdown=report(
            "results/{dataset}/{protocol}/{model}/{estimator}/{kind}/significance.md",
            caption="../report/significance.rst",
            category="Baseline and noise floor",
            subcategory="{dataset} / {protocol} / {estimator}",
        ),
        moved="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/moved_users.csv",
        moved_markdown=report(
            "results/{dataset}/{protocol}/{model}/{estimator}/{kind}/moved_users.md",
            caption="../report/moved_users.rst",
            category="Whose recommendations moved",
            subcategory="{dataset} / {protocol} / {estimator}",
        ),
        metric_agreement="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/metric_agreement.csv",
        reproducibility="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/reproducibility.csv",
        metric_agreement_markdown=report(
            "results/{dataset}/{protocol}/{model}/{estimator}/{kind}/metric_agreement.md",
            caption="../report/metric_agreement.rst",
            category="Metric sensitivity",
            subcategory="{dataset} / {protocol} / {estimator}",
        ),
    log:
        "logs/{dataset}/{protocol}/{model}/{estimator}/{kind}/analyse_influence.log",
    params:
        metric=settings.metric,
        top_n=settings.report.top_n,
        moved_users=settings.report.moved_users,
        fdr=settings.report.fdr,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/analyse_influence.py"


rule prune:
    input:
        data="results/{dataset}/data/interactions.parquet",
        planted="results/{dataset}/data/planted.parquet",
        split="results/{dataset}/{protocol}/split.parquet",
        influence="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/influence.parquet",
        memory="results/{dataset}/memory/{model}.csv",
    output:
        table="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/pruning.csv",
        summary="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/pruning_summary.csv",
        markdown=report(
            "results/{dataset}/{protocol}/{model}/{estimator}/{kind}/pruning_summary.md",
            caption="../report/pruning.rst",
            category="Prune and retrain",
            subcategory="{dataset} / {protocol} / {estimator}",
        ),
    log:
        "logs/{dataset}/{protocol}/{model}/{estimator}/{kind}/prune.log",
    params:
        evaluation=settings.evaluation.to_params(),
        model=lambda wildcards: settings.models[wildcards.model].to_params(),
        estimator=lambda wildcards: settings.estimators[wildcards.estimator].to_params(),
        seed=settings.seed,
        metric=settings.metric,
        sizes=settings.prune.sizes,
        random_draws=settings.prune.random_draws,
        seeds=settings.noise_seeds(),
        variants_per_batch=settings.influence.variants_per_batch,
    threads: settings.influence.threads
    resources:
        mem_mb=memory_request,
    conda:
        ENV
    script:
        "../scripts/prune.py"


rule agreement:
    input:
        influence=expand("results/{dataset}/{protocol}/{model}/{estimator}/{kind}/influence.parquet", model=MODELS, allow_missing=True),
    output:
        table="results/{dataset}/{protocol}/agreement/{estimator}_{kind}.csv",
        markdown=report(
            "results/{dataset}/{protocol}/agreement/{estimator}_{kind}.md",
            caption="../report/agreement.rst",
            category="Model agreement",
            subcategory="{dataset} / {protocol} / {estimator}",
        ),
    log:
        "logs/{dataset}/{protocol}/agreement/{estimator}_{kind}.log",
    params:
        models=MODELS,
        top_n=settings.report.top_n,
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
        settings=settings.to_params(),
    localrule: True
    conda:
        ENV
    script:
        "../scripts/summary.py"


# Where the data has planted users (datasets.<name>.inject): does the ranking find them, against
# the trivial detectors, and what does removing the flagged users take back from a pushed target?
rule detect_planted:
    input:
        data="results/{dataset}/data/interactions.parquet",
        planted="results/{dataset}/data/planted.parquet",
        split="results/{dataset}/{protocol}/split.parquet",
        influence="results/{dataset}/{protocol}/{model}/{estimator}/user/influence.parquet",
    output:
        table="results/{dataset}/{protocol}/{model}/{estimator}/user/detection.csv",
        markdown=report(
            "results/{dataset}/{protocol}/{model}/{estimator}/user/detection.md",
            caption="../report/detection.rst",
            category="Planted data",
            subcategory="{dataset} / {protocol} / {estimator}",
        ),
        figure=multiext("results/{dataset}/{protocol}/{model}/{estimator}/user/detection", ".png", ".pdf"),
        impact="results/{dataset}/{protocol}/{model}/{estimator}/user/attack_impact.csv",
        impact_markdown="results/{dataset}/{protocol}/{model}/{estimator}/user/attack_impact.md",
    log:
        "logs/{dataset}/{protocol}/{model}/{estimator}/user/detect_planted.log",
    params:
        evaluation=settings.evaluation.to_params(),
        model=lambda wildcards: settings.models[wildcards.model].to_params(),
        metric=settings.metric,
        seed=settings.seed,
        seeds=settings.noise_seeds(),
    threads: settings.influence.threads
    conda:
        ENV
    script:
        "../scripts/detect_planted.py"
