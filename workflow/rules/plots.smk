rule plot_influence:
    input:
        influence="results/{dataset}/{protocol}/{model}/{kind}/influence.parquet",
        ranked="results/{dataset}/{protocol}/{model}/{kind}/top_bottom.csv",
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
