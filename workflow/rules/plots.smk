rule plot_influence:
    input:
        influence="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/influence.parquet",
        ranked="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/top_bottom.csv",
        moved="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/moved_users.csv",
        metric_agreement="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/metric_agreement.csv",
        noise_floor="results/{dataset}/{protocol}/{model}/noise_floor.csv",
        per_user="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/per_user.parquet",
        control=lambda wildcards: random_rows_control(wildcards, "influence.parquet"),
    output:
        distribution=report(
            figure("results/{dataset}/{protocol}/{model}/{estimator}/{kind}/distribution"),
            caption="../report/distribution.rst",
            category="Influence distribution",
            subcategory="{dataset} / {protocol} / {estimator}",
        ),
        top_bottom=report(
            figure("results/{dataset}/{protocol}/{model}/{estimator}/{kind}/top_bottom"),
            caption="../report/top_bottom.rst",
            category="Most and least influential",
            subcategory="{dataset} / {protocol} / {estimator}",
        ),
        moved=report(
            figure("results/{dataset}/{protocol}/{model}/{estimator}/{kind}/moved_users"),
            caption="../report/moved_users.rst",
            category="Whose recommendations moved",
            subcategory="{dataset} / {protocol} / {estimator}",
        ),
        metric_agreement=report(
            figure("results/{dataset}/{protocol}/{model}/{estimator}/{kind}/metric_agreement"),
            caption="../report/metric_agreement.rst",
            category="Metric sensitivity",
            subcategory="{dataset} / {protocol} / {estimator}",
        ),
    log:
        "logs/{dataset}/{protocol}/{model}/{estimator}/{kind}/plot_influence.log",
    params:
        metric=settings.metric,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/plot_influence.py"


rule plot_pruning:
    input:
        summary="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/pruning_summary.csv",
    output:
        figure=report(
            figure("results/{dataset}/{protocol}/{model}/{estimator}/{kind}/pruning"),
            caption="../report/pruning.rst",
            category="Prune and retrain",
            subcategory="{dataset} / {protocol} / {estimator}",
        ),
    log:
        "logs/{dataset}/{protocol}/{model}/{estimator}/{kind}/plot_pruning.log",
    params:
        metric=settings.metric,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/plot_pruning.py"


rule plot_agreement:
    input:
        table="results/{dataset}/{protocol}/agreement/{estimator}_{kind}.csv",
    output:
        figure=report(
            figure("results/{dataset}/{protocol}/agreement/{estimator}_{kind}"),
            caption="../report/agreement.rst",
            category="Model agreement",
            subcategory="{dataset} / {protocol} / {estimator}",
        ),
    log:
        "logs/{dataset}/{protocol}/agreement/{estimator}_{kind}_plot.log",
    params:
        metric=settings.metric,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/plot_agreement.py"


rule plot_reliability:
    input:
        reproducibility=expand("results/{{dataset}}/{{protocol}}/{{model}}/{estimator}/{{kind}}/reproducibility.csv", estimator=ESTIMATORS),
        timing=expand("results/{{dataset}}/{{protocol}}/{{model}}/{estimator}/{{kind}}/timing.csv", estimator=ESTIMATORS),
    output:
        figure=report(
            figure("results/{dataset}/{protocol}/{model}/reliability_{kind}"),
            caption="../report/reliability.rst",
            category="Reliability",
            subcategory="{dataset} / {protocol}",
        ),
    log:
        "logs/{dataset}/{protocol}/{model}/reliability_{kind}.log",
    params:
        estimators=ESTIMATORS,
        metric=settings.metric,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/plot_reliability.py"
