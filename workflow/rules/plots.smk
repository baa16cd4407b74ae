rule plot_influence:
    input:
        influence=INFLUENCE + "/influence.parquet",
        ranked=INFLUENCE + "/top_bottom.csv",
        moved=INFLUENCE + "/moved_users.csv",
        metric_agreement=INFLUENCE + "/metric_agreement.csv",
        noise_floor=MODEL + "/noise_floor.csv",
        per_user=INFLUENCE + "/per_user.parquet",
    output:
        distribution=report(
            figure(INFLUENCE + "/distribution"),
            caption="../report/distribution.rst",
            category="Influence distribution",
            subcategory="{dataset} / {protocol} / {estimator}",
        ),
        top_bottom=report(
            figure(INFLUENCE + "/top_bottom"),
            caption="../report/top_bottom.rst",
            category="Most and least influential",
            subcategory="{dataset} / {protocol} / {estimator}",
        ),
        moved=report(
            figure(INFLUENCE + "/moved_users"),
            caption="../report/moved_users.rst",
            category="Whose recommendations moved",
            subcategory="{dataset} / {protocol} / {estimator}",
        ),
        metric_agreement=report(
            figure(INFLUENCE + "/metric_agreement"),
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
        summary=INFLUENCE + "/pruning_summary.csv",
    output:
        figure=report(
            figure(INFLUENCE + "/pruning"),
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
        influence=expand(INFLUENCE + "/influence.parquet", model=MODELS, allow_missing=True),
        table=RUN + "/agreement/{estimator}_{kind}.csv",
    output:
        figure=report(
            figure(RUN + "/agreement/{estimator}_{kind}"),
            caption="../report/agreement.rst",
            category="Model agreement",
            subcategory="{dataset} / {protocol} / {estimator}",
        ),
    log:
        "logs/{dataset}/{protocol}/agreement/{estimator}_{kind}_plot.log",
    params:
        models=MODELS,
        metric=settings.metric,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/plot_agreement.py"
