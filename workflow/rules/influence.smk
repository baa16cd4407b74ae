# One job per static shard of an estimator's work units (the shard count does not change the
# units, so it changes no number), then one merge that reduces the partial tables.
rule influence_shard:
    input:
        data="results/{dataset}/data/interactions.parquet",
        split="results/{dataset}/{protocol}/split.parquet",
        memory="results/{dataset}/memory/{model}.csv",
    output:
        rows="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/shards/{shard}.parquet",
        per_user="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/shards/{shard}_per_user.parquet",
        timing="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/shards/{shard}_timing.csv",
    log:
        "logs/{dataset}/{protocol}/{model}/{estimator}/{kind}/shard_{shard}.log",
    params:
        evaluation=settings.evaluation.to_params(),
        model=lambda wildcards: settings.models[wildcards.model].to_params(),
        estimator=lambda wildcards: settings.estimators[wildcards.estimator].to_params(),
        seed=settings.seed,
        limit=lambda wildcards: settings.limit(wildcards.kind, wildcards.model),
        sample=settings.influence.sample,
        shards=settings.influence.shards,
        comparison=settings.comparison,
        variants_per_batch=settings.influence.variants_per_batch,
    threads: settings.influence.threads
    resources:
        runtime=120,
        mem_mb=memory_request,
    conda:
        ENV
    script:
        "../scripts/influence_shard.py"


rule merge_influence:
    input:
        rows=expand("results/{dataset}/{protocol}/{model}/{estimator}/{kind}/shards/{shard}.parquet", shard=SHARDS, allow_missing=True),
        per_user=expand("results/{dataset}/{protocol}/{model}/{estimator}/{kind}/shards/{shard}_per_user.parquet", shard=SHARDS, allow_missing=True),
        timing=expand("results/{dataset}/{protocol}/{model}/{estimator}/{kind}/shards/{shard}_timing.csv", shard=SHARDS, allow_missing=True),
    output:
        influence="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/influence.parquet",
        per_user="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/per_user.parquet",
        timing="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/timing.csv",
        by_seed="results/{dataset}/{protocol}/{model}/{estimator}/{kind}/influence_by_seed.parquet",
    log:
        "logs/{dataset}/{protocol}/{model}/{estimator}/{kind}/merge.log",
    params:
        estimator=lambda wildcards: settings.estimators[wildcards.estimator].to_params(),
        seed=settings.seed,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/merge_influence.py"
