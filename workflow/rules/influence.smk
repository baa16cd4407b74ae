rule influence_shard:
    input:
        data="results/{dataset}/data/interactions.parquet",
        split="results/{dataset}/{protocol}/split.parquet",
    output:
        influence="results/{dataset}/{protocol}/{model}/{kind}/shards/{shard}.parquet",
        per_user="results/{dataset}/{protocol}/{model}/{kind}/shards/{shard}_per_user.parquet",
        timing="results/{dataset}/{protocol}/{model}/{kind}/shards/{shard}_timing.csv",
        by_seed="results/{dataset}/{protocol}/{model}/{kind}/shards/{shard}_by_seed.parquet",
    log:
        "logs/{dataset}/{protocol}/{model}/{kind}/shard_{shard}.log",
    params:
        config=config,
        seeds=seeds(config, "influence"),
    threads: config["influence"].get("threads", 1)
    resources:
        runtime=120,
    conda:
        ENV
    script:
        "../scripts/influence_shard.py"


rule merge_influence:
    input:
        influence=expand("results/{{dataset}}/{{protocol}}/{{model}}/{{kind}}/shards/{shard}.parquet", shard=SHARDS),
        per_user=expand("results/{{dataset}}/{{protocol}}/{{model}}/{{kind}}/shards/{shard}_per_user.parquet", shard=SHARDS),
        timing=expand("results/{{dataset}}/{{protocol}}/{{model}}/{{kind}}/shards/{shard}_timing.csv", shard=SHARDS),
        by_seed=expand("results/{{dataset}}/{{protocol}}/{{model}}/{{kind}}/shards/{shard}_by_seed.parquet", shard=SHARDS),
    output:
        influence="results/{dataset}/{protocol}/{model}/{kind}/influence.parquet",
        per_user="results/{dataset}/{protocol}/{model}/{kind}/per_user.parquet",
        timing="results/{dataset}/{protocol}/{model}/{kind}/timing.csv",
        by_seed="results/{dataset}/{protocol}/{model}/{kind}/influence_by_seed.parquet",
    log:
        "logs/{dataset}/{protocol}/{model}/{kind}/merge.log",
    localrule: True
    conda:
        ENV
    script:
        "../scripts/merge_influence.py"
