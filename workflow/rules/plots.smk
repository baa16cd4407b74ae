rule plot_influence:
    input:
        influence="results/{dataset}/{protocol}/{model}/{kind}/influence.parquet",
        ranked="results/{dataset}/{protocol}/{model}/{kind}/top_bottom.csv",
        moved="results/{dataset}/{protocol}/{model}/{kind}/moved_users.csv",
        metric_agreement="results/{dataset}/{protocol}/{model}/{kind}/metric_agreement.csv",
        noise_floor="results/{dataset}/{protocol}/{model}/noise_floor.csv",
        per_user="results/{dataset}/{protocol}/{model}/{kind}/per_user.parquet",
    output:
        distribution=report(
            figure("results/{dataset}/{protocol}/{model}/{kind}/distribution"),
            caption="../report/distribution.rst",
            category="Influence distribution",
            subcategory="{dataset} / {protocol}",
        ),
        top_bottom=report(
            figure("results/{dataset}/{protocol}/{model}/{kind}/top_bottom"),
            caption="../report/top_bottom.rst",
            category="Most and least influential",
            subcategory="{dataset} / {protocol}",
        ),
        moved=report(
            figure("results/{dataset}/{protocol}/{model}/{kind}/moved_users"),
            caption="../report/moved_users.rst",
            category="Whose recommendations moved",
            subcategory="{dataset} / {protocol}",
        ),
        metric_agreement=report(
            figure("results/{dataset}/{protocol}/{model}/{kind}/metric_agreement"),
            caption="../report/metric_agreement.rst",
            category="Metric sensitivity",
            subcategory="{dataset} / {protocol}",
        ),
    log:
        "logs/{dataset}/{protocol}/{model}/{kind}/plot_influence.log",
    params:
        config=config,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/plot_influence.py"


rule plot_pruning:
    input:
        summary="results/{dataset}/{protocol}/{model}/{kind}/pruning_summary.csv",
    output:
        figure=report(
            figure("results/{dataset}/{protocol}/{model}/{kind}/pruning"),
            caption="../report/pruning.rst",
            category="Prune and retrain",
            subcategory="{dataset} / {protocol}",
        ),
    log:
        "logs/{dataset}/{protocol}/{model}/{kind}/plot_pruning.log",
    params:
        config=config,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/plot_pruning.py"


rule plot_agreement:
    input:
        influence=expand("results/{{dataset}}/{{protocol}}/{model}/{{kind}}/influence.parquet", model=MODELS),
        table="results/{dataset}/{protocol}/agreement_{kind}.csv",
    output:
        figure=report(
            figure("results/{dataset}/{protocol}/agreement_{kind}"),
            caption="../report/agreement.rst",
            category="Model agreement",
            subcategory="{dataset} / {protocol}",
        ),
    log:
        "logs/{dataset}/{protocol}/agreement_{kind}_plot.log",
    params:
        models=MODELS,
        config=config,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/plot_agreement.py"
