# One job per static shard of an estimator's work units (the shard count does not change the
# units, so it changes no number), then one merge that reduces the partial tables.
rule influence_shard:
    input:
        data="results/{dataset}/data/interactions.parquet",
        split=RUN + "/split.parquet",
    output:
        rows=INFLUENCE + "/shards/{shard}.parquet",
        per_user=INFLUENCE + "/shards/{shard}_per_user.parquet",
        timing=INFLUENCE + "/shards/{shard}_timing.csv",
    log:
        "logs/{dataset}/{protocol}/{model}/{estimator}/{kind}/shard_{shard}.log",
    params:
        evaluation=settings.evaluation.to_params(),
        model=lambda wildcards: settings.models[wildcards.model].to_params(),
        estimator=lambda wildcards: settings.estimators[wildcards.estimator].to_params(),
        seed=settings.seed,
        limit=lambda wildcards: settings.limit(wildcards.kind),
        shards=settings.influence.shards,
        comparison=settings.comparison,
        variants_per_batch=settings.influence.variants_per_batch,
    threads: settings.influence.threads
    resources:
        runtime=120,
    conda:
        ENV
    script:
        "../scripts/influence_shard.py"


rule merge_influence:
    input:
        rows=expand(INFLUENCE + "/shards/{shard}.parquet", shard=SHARDS, allow_missing=True),
        per_user=expand(INFLUENCE + "/shards/{shard}_per_user.parquet", shard=SHARDS, allow_missing=True),
        timing=expand(INFLUENCE + "/shards/{shard}_timing.csv", shard=SHARDS, allow_missing=True),
    output:
        influence=INFLUENCE + "/influence.parquet",
        per_user=INFLUENCE + "/per_user.parquet",
        timing=INFLUENCE + "/timing.csv",
        by_seed=INFLUENCE + "/influence_by_seed.parquet",
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
