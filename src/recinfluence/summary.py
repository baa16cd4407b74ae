"""``results/summary.md``: each claim of the paper beside our number on the same data, under
every protocol, with the noise floor and the random control next to it, then the tables behind
it (noise floor and significance, pruning, metric and model agreement, seed reproducibility).

:func:`study_summary` takes the tables the workflow writes, each with the (dataset, protocol,
model, kind) it belongs to as columns, and returns Markdown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .estimators import build_estimator

if TYPE_CHECKING:  # the summary reads a study's settings; it needs no config reader to run
    from .settings import Settings

PAPER = (
    "Arévalo & Salmeron, Model-agnostic post-hoc explainability for recommender systems (ESWA 2025, arXiv 2509.10245)"
)
# the columns that say which table of the study a row comes from
TABLE_KEYS = ["dataset", "protocol", "model", "estimator", "kind"]


@dataclass(frozen=True)
class PaperClaim:
    """A published number for pruning: removing the ``k`` least influential entities of ``kind``
    (ranked by ``metric``) changed ``metric`` by ``change_pct`` percent. ``None`` for ``loader``,
    ``k`` or ``metric``: a claim not tied to one dataset, size or metric (compared with every
    row of its model class)."""

    loader: str | None
    model_class: str
    kind: str
    k: int | None
    metric: str | None
    change_pct: float
    text: str

    def matches(self, loader: str, model_class: str, kind: str, k: int, metric: str) -> bool:
        return (
            self.loader in (None, loader)
            and self.model_class == model_class
            and self.kind == kind
            and self.k in (None, k)
            and (self.metric is None or metric.split("@")[0] == self.metric)
        )


# The metrics the summary's tables show (every metric is in the CSVs behind them).
SHOWN_METRICS = ("map", "ndcg", "precision", "recall", "rmse")

PAPER_CLAIMS = (
    PaperClaim(
        "movielens_100k",
        "ncf",
        "user",
        10,
        "map",
        18.49,
        "the paper: removing the 10 least influential users raised MAP@K by 18.49%",
    ),
    PaperClaim(
        None,
        "item_knn",
        "user",
        None,
        None,
        3.0,
        "Meister et al. (RobustRecSys 2024): removing the users of negative leave-one-out influence (3.56% of users) "
        "raised item-kNN accuracy by about 3% on average over five datasets",
    ),
)


def _pct(value) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:+.2f}%"


def _with_ci(row) -> str:
    if row is None:
        return "n/a"
    ci = f" [{row['ci_low']:+.2f}, {row['ci_high']:+.2f}]" if np.isfinite(row["ci_low"]) else ""
    return f"{_pct(row['mean'])}{ci} (n={int(row['runs'])})"


def _table(frame: pd.DataFrame, floatfmt=".4f") -> str:
    return (
        frame.to_markdown(index=False, floatfmt=floatfmt) if len(frame) else "(none: not part of this study's config)"
    )


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


def _shown_names(metric: str) -> tuple[str, ...]:
    """The metrics the tables show: the paper's, and the study's own influence ``metric``."""
    name = metric.split("@")[0]
    return SHOWN_METRICS if name in SHOWN_METRICS else (*SHOWN_METRICS, name)


def _shown(metrics: pd.Series, metric: str) -> pd.Series:
    return metrics.str.split("@").str[0].isin(_shown_names(metric))


def _summary_size(sizes) -> int:
    """The pruning size of the claims table: the paper's 10 when the grid has it, else the closest."""
    return min(sizes, key=lambda size: (abs(size - 10), size))


def _sampled_text(users) -> str:
    """How many evaluation users the study evaluates, where it samples them."""
    if users is None:
        return ""
    size = f"{users:.0%} of" if users < 1 else f"{int(users):,} of"
    return (
        f"; evaluated on a sample of {size} the evaluation users, stratified by activity (evaluation.users: every "
        "interval covers the sampling error; items are never sampled)"
    )


def _estimators_text(settings: Settings) -> str:
    texts = []
    for name, estimator in settings.estimators.items():
        seeds = build_estimator(name, estimator.params, settings.seed).seeds  # as the estimator itself derives them
        if name == "exact":
            texts.append(
                f"`exact`: exact deletion with R = {len(seeds)} seed(s) per deletion ({', '.join(map(str, seeds))}), "
                "each deletion compared with the baseline of the same seed, averaged"
                + (" with a 95% t confidence interval" if len(seeds) > 1 else "")
            )
        elif name == "random":
            texts.append(
                f"`random`: the **negative control**, {len(seeds)} draw(s) per entity from a normal distribution with "
                f"sd {estimator.params.get('scale')}, no retraining: what pure chance looks like in every table below; "
                "an estimator that does no better than it carries no information"
            )
        elif name == "random_rows":
            texts.append(
                f"`random_rows`: the **size-matched control** of exact deletion, {len(seeds)} seed(s) "
                f"({', '.join(map(str, seeds))}): for each entity, as many random training rows of other entities "
                'deleted instead of its own, compared on the same users and catalog; "differs from random rows" counts '
                "the entities whose deletion, paired seed by seed, differs from it (Benjamini-Hochberg)"
            )
        else:
            texts.append(f"`{name}` ({estimator.params or 'default settings'})")
    return "; ".join(texts)


def study_summary(settings: Settings, tables: dict[str, pd.DataFrame]) -> str:
    """Markdown of ``results/summary.md``. ``tables``: ``noise_floor`` (dataset, protocol,
    model), ``significance``, ``metric_agreement`` and ``reproducibility`` (dataset, protocol,
    model, estimator, kind), ``pruning`` (pruning summaries; dataset, protocol, model, estimator)
    and ``model_agreement`` (dataset, protocol, estimator, kind), each possibly empty."""
    metric = settings.metric
    noise_seeds = settings.noise_seeds()
    size = _summary_size(settings.prune.sizes)
    top_n = settings.report.top_n
    chosen = "the first {} ids" if settings.influence.sample == "first" else "{} ids at random"

    def deleted(kind, model=None):
        limit = settings.limit(kind, model)
        return "all" if limit is None else chosen.format(limit)

    entities = ", ".join(f"{kind}s: {deleted(kind)}" for kind in settings.influence.kinds)
    models = "; ".join(
        f"{name} ({model.class_name}, params {model.params or 'default'}"
        + "".join(f", {kind}s: {deleted(kind, name)}" for kind in model.limit)
        + ")"
        for name, model in settings.models.items()
    )
    lines = [
        "# Deletion diagnostics: the paper's claims beside our measurements",
        "",
        f"Paper: {PAPER}.",
        "",
        f"Study: datasets {', '.join(settings.datasets)}; models {models}; protocols {', '.join(settings.protocols)}; "
        f"influence of {entities}; K = {settings.evaluation.k}, influence metric {metric}, relevant = held-out rating "
        f">= {settings.evaluation.relevance_threshold}, comparison {settings.comparison}, split seed {settings.seed}"
        + _sampled_text(settings.evaluation.users)
        + ".",
        "",
        "- Protocols: `paper` measures influence and judges pruning on the same test split "
        f"({settings.split.test_fraction:.0%} of the data, the paper's setup, selection on the test set); `heldout` "
        f"measures influence on a validation split ({settings.split.valid_fraction:.0%} of the training part) and "
        "judges pruning on the untouched test split.",
        f"- Noise floor: the full model is retrained with S = {len(noise_seeds)} seeds "
        f"({', '.join(map(str, noise_seeds))}). For each metric the noise floor is the {settings.noise.quantile:.0%} "
        f"quantile of |metric(seed a) - metric(seed b)| over the {len(noise_seeds) * (len(noise_seeds) - 1) // 2} seed "
        "pairs (the smallest pair difference at or above that quantile: with fewer than 21 pairs, the largest). Two "
        "rules, named apart: an entity's influence is **detectable** when the estimator's p-value of \"it is 0\" "
        f"survives Benjamini-Hochberg control of the false discovery rate (q = {settings.report.fdr}) across the "
        "entities of its table (the effect of the deletion is real), and **above the noise** when its absolute value "
        "exceeds the noise floor of the split influence is measured on (it is larger than what a change of seed does "
        "to the whole model).",
        f"- Estimators: {_estimators_text(settings)}.",
        f"- Pruning: remove the k least / most influential by {metric}, or k random entities "
        f"({settings.prune.random_draws} draws), retrain with each of the S seeds and compare every test metric with "
        "the baseline of the same seed on the same users and catalog. Mean relative change over seeds (random: draws x "
        'seeds), 95% t confidence interval, n runs. "At the selection seed": the mean over the seed(s) influence was '
        "measured with; the gain that carries over to fresh seeds is usually smaller.",
        "",
        f"- Tables below show {', '.join(_shown_names(metric))} (every metric is in the CSVs under "
        "`results/<dataset>/<protocol>/`).",
        "",
        f"## 1. Published claims beside ours (k = {size})",
        "",
    ]
    claims = _claims(settings, tables, metric, size)
    lines += [_table(claims, floatfmt=".3f"), "", _verdict(claims, size), ""]
    lines += [
        f"Noise floor (test): the test {metric} noise floor as a percentage of the test baseline mean, i.e. how far "
        'one retrain with another seed moves the metric with nothing removed. "Least vs random": whether the 95% '
        "confidence intervals of the least-influential removal and of the random control are disjoint.",
        "",
        "## 2. Detectable entities, and those above the noise floor (split influence is measured on; "
        f"{len(noise_seeds)} seeds)",
        "",
        _table(_noise(tables, settings.influence.kinds, metric), floatfmt=".5f"),
        "",
        *_deterministic(tables.get("noise_floor", pd.DataFrame())),
        f"## 3. Pruning at k = {size}, test {metric}",
        "",
        _table(_pruning(tables, metric, size)),
        "",
        f"## 4. Metric sensitivity: agreement of the influence rankings under {metric} and every other metric",
        "",
        f"Spearman and Kendall correlation over the entities; overlap of the top-{top_n} (most influential) and "
        f"bottom-{top_n} (least influential) sets as a share of N, beside the overlap expected by chance (N / "
        "entities). All pairs of metrics are in `<model>/<estimator>/<kind>/metric_agreement.csv`.",
        "",
        _table(
            _agreement(tables.get("metric_agreement"), TABLE_KEYS, metric),
            floatfmt=".3f",
        ),
        "",
        "## 5. Model agreement: the same entities' influence under each pair of models",
        "",
        _table(
            _agreement(tables.get("model_agreement"), ["dataset", "protocol", "estimator", "kind"], metric, False),
            floatfmt=".3f",
        ),
        "",
        "## 6. Reliability of the influence rankings",
        "",
    ]
    reproducibility = _reproducibility(tables, metric)
    measured = reproducibility[reproducibility["samples"] > 1] if len(reproducibility) else reproducibility
    lines += [
        "Split-half reliability of each ranking: the samples (seeds, draws) split in two halves, the Spearman "
        "correlation of the halves' mean influence corrected by Spearman-Brown to the full count (95% bootstrap "
        "interval over the entities), and `samples_to_target`, the samples per entity an average would need to reach a "
        "reliability of 0.8 (inf: the halves do not agree at all). A ranking below about 0.5 is mostly noise; "
        "`spearman_mean` is the correlation between single seeds.",
        "",
        _table(measured, floatfmt=".4f"),
        "",
    ]
    single = sorted(set(reproducibility["estimator"]) - set(measured["estimator"])) if len(reproducibility) else []
    if single:
        lines += [
            f"Not measured for {', '.join(single)}: one seed per entity. Set `estimators.<name>.seeds` to 2 or more.",
            "",
        ]
    lines += _planted(tables)
    return "\n".join(lines)


def _planted(tables: dict[str, pd.DataFrame]) -> list[str]:
    """Section 7, where the study plants users (``datasets.<name>.inject``): whether the least
    influential are the planted ones, against the trivial detectors, and what removing them
    does to a pushed target."""
    detection = tables.get("detection", pd.DataFrame())
    if detection.empty:
        return []
    metric = detection["metric"].fillna("")  # empty for the baselines
    # the top-K metric of the paper and the smooth one that ranks reliably (docs/results.md)
    shown = detection[(metric == "") | metric.str.split("@").str[0].isin(("map", "auc"))]
    keys = ["dataset", "protocol", "model", "estimator"]
    columns = [*keys, "method", "roc_auc", "roc_auc_low", "roc_auc_high", "precision_at_n", "n_planted"]
    lines = [
        "## 7. Planted data: does influence find it?",
        "",
        "ROC-AUC of planted users against the ranking (least influential = most suspicious), 95% bootstrap interval "
        "over the users, and precision at n (n = the number planted), beside the detectors a practitioner would try "
        "first: profile size, rating deviation from mean agreement (`rdma`) and degree of similarity with the top "
        "neighbours (`degsim`). 0.5 is chance. Influence on MAP@K and on AUC (every metric is in `detection.csv`). "
        "An estimator **beats the baselines** where its interval lies wholly above every baseline's ROC-AUC.",
        "",
        _table(shown[columns], floatfmt=".3f"),
        "",
    ]
    for key, group in shown.groupby(keys, sort=False):
        found = group[group["method"].str.startswith("influence")]
        best_baseline = group.loc[~group["method"].str.startswith("influence"), "roc_auc"].max()
        if found.empty:
            continue
        best = found.loc[found["roc_auc"].idxmax()]
        beats = best["roc_auc_low"] > best_baseline
        lines.append(
            f"- {' / '.join(map(str, key))}: best influence ranking {best['method']}, ROC-AUC {best['roc_auc']:.3f} "
            f"[{best['roc_auc_low']:.3f}, {best['roc_auc_high']:.3f}]; best baseline {best_baseline:.3f}: "
            + ("**beats every baseline**" if beats else "does not beat the best baseline")
            + ("" if best["roc_auc"] >= 0.9 else "; below the 0.9 goal")
            + "."
        )
    impact = tables.get("attack_impact", pd.DataFrame())
    if not impact.empty:
        rate = next(column for column in impact.columns if column.startswith("hit_rate@"))
        means = impact.groupby([*keys, "removal", "target"], sort=False)[[rate, "mean_rank"]].mean().reset_index()
        lines += [
            "",
            "Attack impact on the pushed target (test split, real users only, mean over the noise seeds): its hit rate "
            "and mean rank with the data as attacked, without as many least influential users as were planted, and "
            "without the planted users (the oracle).",
            "",
            _table(means, floatfmt=".4f"),
        ]
    return [*lines, ""]


def _verdict(claims: pd.DataFrame, size: int) -> str:
    """Which estimators, if any, select users whose removal helps: the least-influential removal
    above the random control with disjoint 95% intervals."""
    if claims.empty:
        return "No user pruning in this study."
    helps = claims[claims["least vs random"] == "above random"]
    if helps.empty:
        return (
            f"**For no model, protocol and estimator does removing the {size} least influential users beat removing "
            f"{size} random users** (disjoint 95% intervals): no estimator of this study selects users whose removal "
            "helps."
        )
    named = ", ".join(f"{row.model} / {row.estimator} ({row.protocol})" for row in helps.itertuples())
    return (
        f"Removing the {size} least influential users beats removing {size} random users (disjoint 95% intervals) for: "
        f"{named}; for the other {len(claims) - len(helps)} of {len(claims)} rows it does not. Under `heldout` the "
        "gain is judged on a test split no selection has seen."
    )


def _claims(settings: Settings, tables: dict[str, pd.DataFrame], metric: str, size: int) -> pd.DataFrame:
    """One row per (dataset, model, protocol, estimator) with user pruning at ``size``: the
    paper's number where it reports one, our least / random / most removals and the test noise
    floor."""
    pruning, floor = tables.get("pruning", pd.DataFrame()), tables.get("noise_floor", pd.DataFrame())
    rows = []
    if pruning.empty:
        return pd.DataFrame()
    for dataset, spec in settings.datasets.items():
        for model, model_spec in settings.models.items():
            claim = next(
                (c for c in PAPER_CLAIMS if c.matches(spec.loader, model_spec.class_name, "user", size, metric)), None
            )
            for protocol in settings.protocols:
                test = floor[
                    (floor["dataset"] == dataset) & (floor["model"] == model) & (floor["protocol"] == protocol)
                ]
                test = test[(test["part"] == "test") & (test["metric"] == metric)]
                relative_floor = 100 * test["noise_floor"].iloc[0] / test["mean"].iloc[0] if len(test) else np.nan
                for estimator in settings.pruned_estimators():
                    mine = pruning[
                        (pruning["dataset"] == dataset)
                        & (pruning["model"] == model)
                        & (pruning["protocol"] == protocol)
                        & (pruning["estimator"] == estimator)
                        & (pruning["kind"] == "user")
                        & (pruning["size"] == size)
                        & (pruning["metric"] == metric)
                    ]
                    if mine.empty:
                        continue
                    least, random, most = (
                        _pruning_row(mine, s) for s in ("least influential", "random", "most influential")
                    )
                    rows.append(
                        {
                            "published claim": claim.text
                            if claim
                            else f"(no published number) removing the {size} least influential users",
                            "published": _pct(claim.change_pct) if claim else "n/a",
                            "dataset": dataset,
                            "model": model,
                            "protocol": protocol,
                            "estimator": estimator,
                            f"ours: {size} least influential removed": _with_ci(least),
                            "at the selection seed": _pct(least["same_seed_mean"]) if least is not None else "n/a",
                            f"random control ({size} users)": _with_ci(random),
                            f"{size} most influential removed": _with_ci(most),
                            "noise floor (test)": f"+/-{relative_floor:.2f}%" if np.isfinite(relative_floor) else "n/a",
                            "least vs random": _compare(least, random),
                        }
                    )
    return pd.DataFrame(rows)


def _noise(tables: dict[str, pd.DataFrame], kinds, metric: str) -> pd.DataFrame:
    """Per (dataset, protocol, model, estimator, metric): the baseline across seeds, the noise
    floor and how many entities of each kind stand above it."""
    floor, significance = tables.get("noise_floor", pd.DataFrame()), tables.get("significance", pd.DataFrame())
    if floor.empty or significance.empty:
        return pd.DataFrame()
    table = floor[(floor["part"] == "evaluation") & _shown(floor["metric"], metric)]
    table = table.assign(baseline=[f"{m:.5f} +/- {s:.5f}" for m, s in zip(table["mean"], table["sd"])])
    table = table[["dataset", "protocol", "model", "metric", "baseline", "noise_floor"]].rename(
        columns={"baseline": "baseline mean +/- sd over seeds", "noise_floor": "noise floor"}
    )
    keys = ["dataset", "protocol", "model", "estimator", "metric"]
    rules = [("detectable", "detectable"), ("above_noise", "above the floor")]
    if "differs_from_random_rows" in significance.columns and significance["differs_from_random_rows"].notna().any():
        rules.append(("differs_from_random_rows", "differ from random rows"))
    for rule, label in rules:
        counts = significance.assign(
            text=[
                f"{int(s)} of {int(e)} ({s / e:.0%})" if np.isfinite(s) else "-"
                for s, e in zip(significance[rule].astype(float), significance["entities"])
            ]
        )
        counts = counts.pivot_table(index=keys, columns="kind", values="text", aggfunc="first")
        counts = (
            counts[[kind for kind in kinds if kind in counts.columns]]
            .rename(columns=lambda kind: f"{kind}s {label}")
            .reset_index()
        )
        table = table.merge(counts, on=[key for key in keys if key in table.columns], how="inner")
    return table[keys + [column for column in table.columns if column not in keys]]


def _deterministic(floor: pd.DataFrame) -> list[str]:
    """A paragraph naming the models whose every seed gave the same metrics (e.g. EASE,
    item-kNN): for them the rules of section 2 read differently."""
    if floor.empty:
        return []
    spread = floor[floor["seeds"] > 1].groupby("model")["sd"].max()
    same = sorted(spread[spread == 0].index)
    if not same:
        return []
    return [
        f"Deterministic: {', '.join(same)} gave the same metrics with every seed (noise floor 0). Their influence has "
        'no seed noise: every nonzero value is the exact effect of the deletion, "above the floor" counts the nonzero '
        'ones, "detectable" (a spread across seeds) does not apply unless the evaluation users were sampled (then it '
        "tests the sampling error alone), and their pruning intervals reflect no seed noise (only the random draws "
        "vary).",
        "",
    ]


def _pruning(tables: dict[str, pd.DataFrame], metric: str, size: int) -> pd.DataFrame:
    pruning = tables.get("pruning", pd.DataFrame())
    if pruning.empty:
        return pd.DataFrame()
    table = pruning[(pruning["size"] == size) & (pruning["metric"] == metric)]
    columns = [*TABLE_KEYS, "selection", "mean", "ci_low", "ci_high", "runs", "same_seed_mean", "fresh_seed_mean"]
    return table[columns].rename(
        columns={
            "mean": "mean change %",
            "same_seed_mean": "at the selection seed %",
            "fresh_seed_mean": "fresh seeds %",
        }
    )


def _agreement(table: pd.DataFrame | None, keys: list[str], metric: str, pairs: bool = True) -> pd.DataFrame:
    """Metric agreement (``pairs``) restricted to the pairs with ``metric``; model agreement as
    is, on the metrics shown."""
    if table is None or table.empty:
        return pd.DataFrame()
    if pairs:
        table = table[
            ((table["metric_a"] == metric) | (table["metric_b"] == metric))
            & _shown(table["metric_a"], metric)
            & _shown(table["metric_b"], metric)
        ]
        other = np.where(table["metric_a"] == metric, table["metric_b"], table["metric_a"])
        table = table.assign(metric=metric, other=other)
        keys = [*keys, "metric", "other"]
    else:
        table = table[_shown(table["metric"], metric)]
        keys = [*keys, "metric", "model_a", "model_b"]
    return table[[*keys, "entities", "spearman", "kendall", "n", "top_overlap", "bottom_overlap", "chance_overlap"]]


def _reproducibility(tables: dict[str, pd.DataFrame], metric: str) -> pd.DataFrame:
    table = tables.get("reproducibility", pd.DataFrame())
    if table.empty:
        return table
    table = table[_shown(table["metric"], metric)]
    columns = [
        *TABLE_KEYS,
        "metric",
        "entities",
        "samples",
        "mean_abs_influence",
        "per_entity_sd_across_seeds",
        "spearman_mean",
        "reliability",
        "reliability_low",
        "reliability_high",
        "samples_to_target",
    ]
    return table[columns]
