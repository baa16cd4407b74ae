"""Figures (PNG + PDF) whose titles and axes say what they show."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .io import atomic_path  # noqa: E402

SELECTION_COLOURS = {"least influential": "tab:green", "most influential": "tab:red", "random": "tab:gray"}


def save(fig, paths) -> None:
    """Write the figure to every path given (one per format, e.g. .png and .pdf)."""
    for path in paths:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=Path(path).suffix.lstrip("."), dpi=150, bbox_inches="tight")
    plt.close(fig)


def influence_distribution(
    influence: pd.DataFrame,
    metric: str,
    title: str,
    paths,
    noise_floor: float | None = None,
    control: pd.DataFrame | None = None,
) -> None:
    """Histogram of the entities' influence on ``metric``, with the noise floor (the seed-to-seed
    spread of the baseline) as dashed lines at +/- ``noise_floor`` and, given the influence table
    of the size-matched random-rows ``control``, its histogram as an outline on the same bins."""
    values = influence.loc[influence["metric"] == metric, "influence"].to_numpy()
    matched = control.loc[control["metric"] == metric, "influence"].to_numpy() if control is not None else np.array([])
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.histogram_bin_edges(np.concatenate([values, matched]), bins=min(50, max(10, len(values) // 5)))
    ax.hist(
        values, bins=bins, color="tab:blue", alpha=0.8, label="deleting the entity" if control is not None else None
    )
    if control is not None:
        ax.hist(
            matched,
            bins=bins,
            histtype="step",
            color="black",
            linewidth=1.2,
            label="deleting as many random rows (control)",
        )
    ax.axvline(0, color="black", linewidth=0.8)
    if noise_floor is not None and np.isfinite(noise_floor):
        above = int((np.abs(values) > noise_floor).sum())
        for x in (-noise_floor, noise_floor):
            ax.axvline(x, color="tab:red", linestyle="--", linewidth=1)
        ax.plot(
            [],
            [],
            color="tab:red",
            linestyle="--",
            label=f"noise floor +/-{noise_floor:.2g}: {above} of {len(values)} above",
        )
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    ax.set_xlabel(f"influence on {metric} (full model minus model without the entity)")
    ax.set_ylabel("number of entities")
    ax.set_title(title)
    save(fig, paths)


def top_bottom(ranked: pd.DataFrame, title: str, paths) -> None:
    """Horizontal bars of the most (top) and least (bottom) influential entities."""
    label_column = "title" if "title" in ranked.columns else "raw_id"
    most = ranked[ranked["group"] == "most"]
    least = ranked[ranked["group"] == "least"].iloc[::-1]
    rows = pd.concat([least, most.iloc[::-1]])
    labels = [
        f"{label} ({n} rows)" for label, n in zip(rows[label_column].astype(str).str.slice(0, 40), rows["n_train_rows"])
    ]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(rows) + 1.5))
    colours = ["tab:green" if g == "most" else "tab:red" for g in rows["group"]]
    ax.barh(np.arange(len(rows)), rows["influence"], color=colours)
    ax.set_yticks(np.arange(len(rows)), labels, fontsize=7)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"influence on {ranked['metric'].iloc[0]}")
    ax.set_title(title)
    save(fig, paths)


def pruning(summary: pd.DataFrame, metric: str, title: str, paths) -> None:
    """Relative change of ``metric`` after removing a number of entities, per selection: mean
    over seeds (and, for random, draws) with its 95% confidence interval."""
    table = summary[summary["metric"] == metric]
    sizes = sorted(table["size"].unique())
    selections = [s for s in SELECTION_COLOURS if s in set(table["selection"])]
    width = 0.8 / max(1, len(selections))
    fig, ax = plt.subplots(figsize=(6, 4))
    for index, selection in enumerate(selections):
        rows = table[table["selection"] == selection].set_index("size").reindex(sizes)
        error = np.vstack([rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]])
        ax.bar(
            np.arange(len(sizes)) + index * width,
            rows["mean"],
            width,
            yerr=np.nan_to_num(error),
            color=SELECTION_COLOURS[selection],
            label=selection,
            capsize=3,
        )
    ax.set_xticks(np.arange(len(sizes)) + width * (len(selections) - 1) / 2, [str(size) for size in sizes])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("number of entities removed")
    ax.set_ylabel(f"relative change in {metric} (%)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="best")
    save(fig, paths)


def moved_users(
    per_user: pd.DataFrame, ranked: pd.DataFrame, moved: pd.DataFrame, metric: str, title: str, paths
) -> None:
    """One row per most (top) and least (bottom) influential entity: every evaluation user's
    change of ``metric`` when the entity was removed (grey dots; positive: the user's metric was
    higher with the entity), the users listed in ``moved`` in colour, and the number of users
    whose metric changed at all."""
    rows = pd.concat([ranked[ranked["group"] == "least"].iloc[::-1], ranked[ranked["group"] == "most"].iloc[::-1]])
    label_column = "title" if "title" in rows.columns else "raw_id"
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.5))
    jitter = np.random.default_rng(0)
    for y, entity in enumerate(rows.itertuples()):
        changes = (
            per_user.loc[per_user["entity"] == entity.entity, metric].dropna()
            if metric in per_user.columns
            else pd.Series(dtype=float)
        )
        changes = changes[changes != 0]
        ax.scatter(changes, y + jitter.uniform(-0.2, 0.2, len(changes)), s=4, color="lightgray")
        listed = moved[moved["entity"] == entity.entity]
        colour = "tab:green" if entity.group == "most" else "tab:red"
        ax.scatter(listed["change"], np.full(len(listed), y), s=14, color=colour)
        ax.annotate(
            f"{len(changes)} users moved", (1.01, y), xycoords=("axes fraction", "data"), fontsize=6, va="center"
        )
    labels = [
        f"{str(label)[:30]} ({influence:+.2g})" for label, influence in zip(rows[label_column], rows["influence"])
    ]
    ax.set_yticks(np.arange(len(rows)), labels, fontsize=7)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"change of a user's {metric} when the entity is removed (with minus without)")
    ax.set_title(title)
    save(fig, paths)


def metric_agreement(agreement: pd.DataFrame, title: str, paths) -> None:
    """Heatmap of the Spearman correlation between the influence rankings under every pair of
    metrics (a :func:`analysis.metric_agreement` table), with the top-N overlap in brackets."""
    _agreement_matrix(agreement, "metric_a", "metric_b", "Spearman correlation of influence", title, paths)


def model_agreement(agreement: pd.DataFrame, metric: str, title: str, paths) -> None:
    """Heatmap of the Spearman correlation between every pair of models' influence on
    ``metric`` (an :func:`analysis.model_agreement` table, on the entities both measured),
    with the top-N overlap in brackets."""
    _agreement_matrix(agreement, "model_a", "model_b", f"Spearman correlation of {metric} influence", title, paths)


def _agreement_matrix(agreement: pd.DataFrame, a: str, b: str, label: str, title: str, paths) -> None:
    names = list(dict.fromkeys([*agreement[a], *agreement[b]]))
    index = {name: i for i, name in enumerate(names)}
    matrix = np.eye(len(names))
    overlap = np.ones((len(names), len(names)))
    for row in agreement.itertuples():
        i, j = index[getattr(row, a)], index[getattr(row, b)]
        matrix[i, j] = matrix[j, i] = row.spearman
        overlap[i, j] = overlap[j, i] = row.top_overlap
    fig, ax = plt.subplots(figsize=(max(1.0 * len(names) + 3.5, 7), max(0.9 * len(names) + 2, 5)))
    image = ax.imshow(matrix, vmin=-1, vmax=1, cmap="RdBu")
    for i in range(len(names)):
        for j in range(len(names)):
            colour = "white" if abs(matrix[i, j]) > 0.6 else "black"
            ax.text(
                j, i, f"{matrix[i, j]:.2f}\n({overlap[i, j]:.0%})", ha="center", va="center", fontsize=7, color=colour
            )
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    fig.colorbar(image, ax=ax, label=label)
    ax.set_title(title, fontsize=10)
    save(fig, paths)


def reliability(rows: pd.DataFrame, metric: str, title: str, paths, target: float = 0.8) -> None:
    """Reliability of the ranking by ``metric`` against the CPU time it cost, one line per
    estimator. ``rows``: one row per estimator (``estimator``, ``cpu_seconds``, ``samples``,
    ``reliability``, ``reliability_low``, ``reliability_high``). The point is what was measured
    (with its 95% interval); the dashed line projects more samples by Spearman-Brown."""
    fig, ax = plt.subplots(figsize=(6, 4))
    measured = rows[np.isfinite(rows["reliability"].astype(float))]
    unmeasured = rows.loc[~rows.index.isin(measured.index), "estimator"]
    if len(unmeasured):  # one sample per entity: nothing to split in halves
        ax.text(
            0.02,
            0.02,
            f"not measured (one sample per entity): {', '.join(unmeasured)}",
            transform=ax.transAxes,
            fontsize=8,
        )
    for row in measured.itertuples():
        seconds = max(float(row.cpu_seconds), 1e-3)
        colour = ax.errorbar(
            [seconds],
            [row.reliability],
            yerr=[[row.reliability - row.reliability_low], [row.reliability_high - row.reliability]],
            fmt="o",
            capsize=3,
            label=f"{row.estimator} ({int(row.samples)} samples)",
        )[0].get_color()
        n = float(row.samples)
        if n >= 2 and np.isfinite(row.reliability):
            one = row.reliability / (n - (n - 1) * row.reliability)  # one sample's reliability
            factors = np.geomspace(1 / n, 64, 100)
            with np.errstate(invalid="ignore", divide="ignore"):
                projected = factors * n * one / (1 + (factors * n - 1) * one)
            ax.plot(seconds * factors, projected, linestyle="--", color=colour, linewidth=1)
    ax.axhline(target, color="gray", linewidth=0.8, linestyle=":")
    if len(measured):
        ax.set_xscale("log")
        ax.legend(fontsize=8, loc="best")
    ax.set_ylim(-0.2, 1.0)
    ax.set_xlabel("CPU seconds spent on the estimate (log scale)")
    ax.set_ylabel(f"split-half reliability of the {metric} ranking")
    ax.set_title(title)
    save(fig, paths)


def plot_detection(table: pd.DataFrame, path_stem, title: str) -> None:
    """ROC-AUC of "planted against the rest" per method of a :func:`recinfluence.detection.detection_table`
    (influence by each metric in blue, the trivial baselines in grey), with its 95% bootstrap
    interval as error bars, precision@n beside each bar and a dashed line at 0.5 (chance). Written
    to ``<path_stem>.png`` and ``<path_stem>.pdf``."""
    rows = table.iloc[::-1].reset_index(drop=True)  # the first method on top
    auc = rows["roc_auc"].to_numpy(dtype=float)
    error = np.vstack(
        [auc - rows["roc_auc_low"].to_numpy(dtype=float), rows["roc_auc_high"].to_numpy(dtype=float) - auc]
    )
    is_baseline = rows["metric"].fillna("").eq("").to_numpy()
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 2.4), layout="constrained")
    y = np.arange(len(rows))
    ax.barh(
        y,
        np.nan_to_num(auc),
        xerr=np.nan_to_num(np.clip(error, 0, None)),
        color=np.where(is_baseline, "tab:gray", "tab:blue"),
        capsize=3,
    )
    for position, row in zip(y, rows.itertuples()):
        text = "not measured" if np.isnan(row.roc_auc) else f"{row.roc_auc:.2f}, precision@n {row.precision_at_n:.2f}"
        ax.annotate(text, (1.01, position), xycoords=("axes fraction", "data"), fontsize=7, va="center")
    chance = ax.axvline(0.5, color="black", linestyle="--", linewidth=1, label="chance (ROC-AUC 0.5)")
    ax.text(0.5, 1.0, " chance", transform=ax.get_xaxis_transform(), fontsize=7, va="bottom")
    handles = [
        chance,
        matplotlib.patches.Patch(color="tab:blue", label="influence (least influential = most suspicious)"),
        matplotlib.patches.Patch(color="tab:gray", label="trivial baseline (higher score = more suspicious)"),
    ]
    ax.set_yticks(y, rows["method"], fontsize=8)
    ax.set_xlim(0, 1)
    counts = {(int(a), int(b)) for a, b in zip(table["n_planted"], table["n_entities"])}
    if len(counts) == 1:
        n_planted, n_entities = counts.pop()
        judged = f"the {n_planted} planted against the other {n_entities - n_planted} entities"
    else:  # some method left entities out (NaN scores): the table says how many
        judged = "the planted against the other entities"
    ax.set_xlabel(f"ROC-AUC of {judged} (95% bootstrap interval)")
    ax.set_ylabel("method (suspicion score)")
    ax.set_title(title, fontsize=10, pad=14)
    fig.legend(handles=handles, fontsize=7, loc="outside lower center", ncols=2)
    save(fig, [f"{path_stem}.png", f"{path_stem}.pdf"])
