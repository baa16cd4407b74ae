"""``results/summary.md``: each claim of the paper beside our number on the same data, under
every protocol, with the noise floor and the random control next to it, then the tables behind
it (noise floor and significance, pruning, metric and model agreement, seed reproducibility).

:func:`study_summary` takes the tables the workflow writes, each with the (dataset, protocol,
model, kind) it belongs to as columns, and returns Markdown."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .study import primary_metric, seeds

PAPER = "Arévalo & Salmeron, Model-agnostic post-hoc explainability for recommender systems (ESWA 2025, arXiv 2509.10245)"


@dataclass(frozen=True)
class PaperClaim:
    """A number the paper reports for pruning: removing the ``k`` least influential entities of
    ``kind`` (ranked by ``metric``) changed ``metric`` by ``change_pct`` percent."""

    loader: str
    model_class: str
    kind: str
    k: int
    metric: str
    change_pct: float
    text: str


# The metrics the summary's tables show (every metric is in the CSVs behind them).
SHOWN_METRICS = ("map", "ndcg", "precision", "recall", "rmse")

PAPER_CLAIMS = (
    PaperClaim("movielens_100k", "ncf", "user", 10, "map", 18.49, "removing the 10 least influential users raised MAP@K by 18.49%"),
)


def _pct(value) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:+.2f}%"


def _with_ci(row) -> str:
    if row is None:
        return "n/a"
    ci = f" [{row['ci_low']:+.2f}, {row['ci_high']:+.2f}]" if np.isfinite(row["ci_low"]) else ""
    return f"{_pct(row['mean'])}{ci} (n={int(row['runs'])})"


def _table(frame: pd.DataFrame, floatfmt=".4f") -> str:
    return frame.to_markdown(index=False, floatfmt=floatfmt) if len(frame) else "(none: not part of this study's config)"


def _compare(least, random) -> str:
    """Whether the least-influential removal beats the random control: their 95% confidence
    intervals do not overlap."""
    if least is None or random is None or not (np.isfinite(least["ci_low"]) and np.isfinite(random["ci_high"])):
        return "n/a"
    if least["ci_low"] > random["ci_high"]:
        return "above random"
    if least["ci_high"] < random["ci_low"]:
        return "below random"
    return "not distinguishable (CIs overlap)"


def _pruning_row(pruning: pd.DataFrame, selection: str):
    rows = pruning[pruning["selection"] == selection]
    return rows.iloc[0] if len(rows) else None


def _shown(metrics: pd.Series) -> pd.Series:
    return metrics.str.split("@").str[0].isin(SHOWN_METRICS)


def _summary_k(ks) -> int:
    """The k of the claims table: the paper's 10 when the grid has it, else the grid's closest."""
    return min(ks, key=lambda k: (abs(k - 10), k))


def study_summary(config: dict, tables: dict[str, pd.DataFrame]) -> str:
    """Markdown of ``results/summary.md``. ``tables``: ``noise_floor`` (dataset, protocol,
    model), ``significance``, ``metric_agreement`` and ``reproducibility`` (dataset, protocol,
    model, kind), ``pruning`` (pruning summaries; dataset, protocol, model) and
    ``model_agreement`` (dataset, protocol, kind), each possibly empty."""
    metric = primary_metric(config)
    noise_seeds, influence_seeds = seeds(config, "noise"), seeds(config, "influence")
    k = _summary_k(config["prune"]["k"])
    top_n = config["report"]["top_n"]
    limits = config["influence"].get("limit") or {}
    entities = ", ".join(
        f"{kind}s: {'all' if limits.get(kind) is None else f'the first {limits[kind]} ids'}" for kind in config["influence"]["kinds"]
    )
    models = "; ".join(f"{name} ({spec['class']}, params {spec.get('params') or 'default'})" for name, spec in config["models"].items())
    lines = [
        "# Deletion diagnostics: the paper's claims beside our measurements",
        "",
        f"Paper: {PAPER}.",
        "",
        f"Study: datasets {', '.join(config['datasets'])}; models {models}; protocols {', '.join(config['protocols'])}; "
        f"influence of {entities}; K = {config['k']}, influence metric {metric}, relevant = held-out rating >= "
        f"{config['relevance_threshold']}, deletion protocol {config['deletion_protocol']}, split seed {config['seed']}.",
        "",
        f"- Protocols: `paper` measures influence and judges pruning on the same test split ({config['split']['test_fraction']:.0%} "
        f"of the data, the paper's setup, selection on the test set); `heldout` measures influence on a validation split "
        f"({config['split']['valid_fraction']:.0%} of the training part) and judges pruning on the untouched test split.",
        f"- Noise floor: the full model is retrained with S = {len(noise_seeds)} seeds ({', '.join(map(str, noise_seeds))}). For each "
        f"metric the noise floor is the {config['noise']['quantile']:.0%} quantile of |metric(seed a) - metric(seed b)| over the "
        f"{len(noise_seeds) * (len(noise_seeds) - 1) // 2} seed pairs (the smallest pair difference at or above that quantile: "
        "with fewer than 21 pairs, the largest). An entity's influence is **significant** when its absolute value exceeds the "
        "noise floor of the split influence is measured on.",
        f"- Influence: R = {len(influence_seeds)} seed(s) per deletion ({', '.join(map(str, influence_seeds))}), each deletion compared "
        "with the baseline of the same seed, averaged" + (" with a 95% t confidence interval." if len(influence_seeds) > 1 else "."),
        f"- Pruning: remove the k least / most influential by {metric}, or k random entities ({config['prune']['random_draws']} draws), "
        f"retrain with each of the S seeds and compare every test metric with the baseline of the same seed on the same users and "
        "catalog. Mean relative change over seeds (random: draws x seeds), 95% t confidence interval, n runs. \"At the selection "
        "seed\": the mean over the seed(s) influence was measured with; the gain that carries over to fresh seeds is usually smaller.",
        "",
        f"- Tables below show {', '.join(SHOWN_METRICS)} (every metric is in the CSVs under `results/<dataset>/<protocol>/`).",
        "",
        f"## 1. The paper's claims beside ours (k = {k})",
        "",
    ]
    lines += [_table(_claims(config, tables, metric, k), floatfmt=".3f"), ""]
    lines += [
        f"Noise floor (test): the test {metric} noise floor as a percentage of the test baseline mean, i.e. how far one retrain with "
        "another seed moves the metric with nothing removed. \"Least vs random\": whether the 95% confidence intervals of the "
        "least-influential removal and of the random control are disjoint.",
        "",
        f"## 2. Noise floor and the share of entities above it (split influence is measured on; {len(noise_seeds)} seeds)",
        "",
        _table(_noise(tables, config["influence"]["kinds"]), floatfmt=".5f"),
        "",
        f"## 3. Pruning at k = {k}, test {metric}",
        "",
        _table(_pruning(tables, metric, k)),
        "",
        f"## 4. Metric sensitivity: agreement of the influence rankings under {metric} and every other metric",
        "",
        f"Spearman and Kendall correlation over the entities; overlap of the top-{top_n} (most influential) and bottom-{top_n} (least "
        "influential) sets as a share of N, beside the overlap expected by chance (N / entities). All pairs of metrics are in "
        "`<model>/<kind>/metric_agreement.csv`.",
        "",
        _table(_agreement(tables.get("metric_agreement"), ["dataset", "protocol", "model", "kind"], metric), floatfmt=".3f"),
        "",
        "## 5. Model agreement: the same entities' influence under each pair of models",
        "",
        _table(_agreement(tables.get("model_agreement"), ["dataset", "protocol", "kind"], None), floatfmt=".3f"),
        "",
        f"## 6. Seed-to-seed reproducibility of single-entity influence (R = {len(influence_seeds)})",
        "",
    ]
    if len(influence_seeds) > 1:
        lines += [_table(_reproducibility(tables), floatfmt=".5f"), ""]
    else:
        lines += ["Not measured: one seed per deletion (`influence.seeds: 1`). Set `influence.seeds` to 2 or more.", ""]
    return "\n".join(lines)


def _claims(config: dict, tables: dict[str, pd.DataFrame], metric: str, k: int) -> pd.DataFrame:
    """One row per (dataset, model, protocol) with user pruning at k: the paper's number where it
    reports one, our least / random / most removals and the test noise floor."""
    pruning, floor = tables.get("pruning", pd.DataFrame()), tables.get("noise_floor", pd.DataFrame())
    rows = []
    if pruning.empty:
        return pd.DataFrame()
    for dataset, spec in config["datasets"].items():
        for model, model_spec in config["models"].items():
            claims = [c for c in PAPER_CLAIMS if c.loader == spec["loader"] and c.model_class == model_spec["class"] and c.k == k]
            claim = next((c for c in claims if c.kind == "user" and metric == f"{c.metric}@{config['k']}"), None)
            for protocol in config["protocols"]:
                mine = pruning[
                    (pruning["dataset"] == dataset) & (pruning["model"] == model) & (pruning["protocol"] == protocol)
                    & (pruning["kind"] == "user") & (pruning["k"] == k) & (pruning["metric"] == metric)
                ]
                if mine.empty:
                    continue
                least, random, most = (_pruning_row(mine, s) for s in ("least influential", "random", "most influential"))
                test = floor[(floor["dataset"] == dataset) & (floor["model"] == model) & (floor["protocol"] == protocol)]
                test = test[(test["part"] == "test") & (test["metric"] == metric)]
                relative_floor = 100 * test["noise_floor"].iloc[0] / test["mean"].iloc[0] if len(test) else np.nan
                rows.append({
                    "claim (paper)": claim.text if claim else f"(no number in the paper) removing the {k} least influential users",
                    "paper": _pct(claim.change_pct) if claim else "n/a",
                    "dataset": dataset,
                    "model": model,
                    "protocol": protocol,
                    f"ours: {k} least influential removed": _with_ci(least),
                    "at the selection seed": _pct(least["same_seed_mean"]) if least is not None else "n/a",
                    f"random control ({k} users)": _with_ci(random),
                    f"{k} most influential removed": _with_ci(most),
                    "noise floor (test)": f"+/-{relative_floor:.2f}%" if np.isfinite(relative_floor) else "n/a",
                    "least vs random": _compare(least, random),
                })
    return pd.DataFrame(rows)


def _noise(tables: dict[str, pd.DataFrame], kinds) -> pd.DataFrame:
    floor, significance = tables.get("noise_floor", pd.DataFrame()), tables.get("significance", pd.DataFrame())
    if floor.empty:
        return pd.DataFrame()
    table = floor[(floor["part"] == "evaluation") & _shown(floor["metric"])]
    table = table.assign(baseline=[f"{m:.5f} +/- {s:.5f}" for m, s in zip(table["mean"], table["sd"])])
    table = table[["dataset", "protocol", "model", "metric", "baseline", "noise_floor"]].rename(
        columns={"baseline": "baseline mean +/- sd over seeds", "noise_floor": "noise floor"}
    )
    for kind in kinds:
        share = significance[significance["kind"] == kind] if len(significance) else significance
        if share.empty:
            continue
        share = share.assign(**{f"{kind}s above the floor": [f"{int(s)} of {int(e)} ({s / e:.0%})" for s, e in zip(share["significant"], share["entities"])]})
        table = table.merge(share[["dataset", "protocol", "model", "metric", f"{kind}s above the floor"]], how="left")
    return table


def _pruning(tables: dict[str, pd.DataFrame], metric: str, k: int) -> pd.DataFrame:
    pruning = tables.get("pruning", pd.DataFrame())
    if pruning.empty:
        return pd.DataFrame()
    table = pruning[(pruning["k"] == k) & (pruning["metric"] == metric)]
    columns = ["dataset", "protocol", "model", "kind", "selection", "mean", "ci_low", "ci_high", "runs", "same_seed_mean", "fresh_seed_mean"]
    return table[columns].rename(columns={"mean": "mean change %", "same_seed_mean": "at the selection seed %", "fresh_seed_mean": "fresh seeds %"})


def _agreement(table: pd.DataFrame | None, keys: list[str], metric: str | None) -> pd.DataFrame:
    """Model agreement as is; metric agreement restricted to the pairs with ``metric``."""
    if table is None or table.empty:
        return pd.DataFrame()
    if metric is not None:
        table = table[((table["metric_a"] == metric) | (table["metric_b"] == metric)) & _shown(table["metric_a"]) & _shown(table["metric_b"])]
        other = np.where(table["metric_a"] == metric, table["metric_b"], table["metric_a"])
        table = table.assign(metric=metric, other=other)
        keys = [*keys, "metric", "other"]
    else:
        table = table[_shown(table["metric"])]
        keys = [*keys, "metric", "model_a", "model_b"]
    return table[[*keys, "entities", "spearman", "kendall", "n", "top_overlap", "bottom_overlap", "chance_overlap"]]


def _reproducibility(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    table = tables.get("reproducibility", pd.DataFrame())
    if table.empty:
        return table
    table = table[_shown(table["metric"])]
    columns = ["dataset", "protocol", "model", "kind", "metric", "entities", "seeds", "mean_abs_influence",
               "per_entity_sd_across_seeds", "spearman_mean", "spearman_min", "spearman_max"]
    return table[columns]
