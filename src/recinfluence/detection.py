"""Does the influence ranking find planted (harmful) users? The detection report of issue 24: with
the truth known (fake profiles or corrupted ratings planted by ``datasets.<name>.inject``), how
well "least influential first" separates the planted users from the rest, beside the trivial
detectors a practitioner would try first. Pure table work (numpy, pandas, scipy; no torch).

- :func:`suspicion_baselines`: per user, the training profile size and two standard shilling
  detectors' scores, RDMA and DegSim (Chirita, Nejdl & Zamfir, "Preventing shilling attacks in
  online recommender systems", WIDM 2005);
- :func:`detection_table`: per method (influence by each metric, each baseline) the ROC-AUC of
  planted against the rest with a 95% bootstrap interval, and precision@n for n = the number
  planted;
- :func:`beats_baselines`: per influence method, whether its interval lies wholly above every
  baseline's point ROC-AUC.

Every score reads "higher = more suspicious": for influence that is ``-influence`` (the least
influential entity, the one whose removal helps the metric most, is the first suspect)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse, stats

BASELINES = ("profile_size", "rdma", "degsim")

# Rows of the user x user similarity computed at once in suspicion_baselines (memory: about
# eight float64 arrays of this many entries).
_BLOCK_ENTRIES = 1 << 22


def suspicion_baselines(train: pd.DataFrame, n_users: int, neighbours: int = 25, min_overlap: int = 2) -> pd.DataFrame:
    """The trivial detectors' scores of every user id ``0 .. n_users - 1``, from the training rows
    ``train`` (columns user, item, rating; other columns are ignored). Higher = more suspicious
    for each column; users without training rows get NaN in every column.

    - ``profile_size``: the user's number of training rows. Whether large or small profiles are
      the suspicious ones is not known a priori (fake profiles are often larger than the typical
      real one, corrupted users are whoever was hit); it is reported as is, larger = more
      suspicious, and its ROC-AUC below 0.5 says the reverse order would have found them.
    - ``rdma``, Rating Deviation from Mean Agreement: the mean over the user's rows of
      ``|r_ui - mean_i| / n_i``, with ``mean_i`` and ``n_i`` the item's mean rating and number of
      ratings over all training rows (the attacker's own included, as a deployed detector sees
      them).
    - ``degsim``, Degree of Similarity with top neighbours: the mean Pearson correlation of the
      user with its ``neighbours`` most similar other users (fewer where fewer users have
      training rows; NaN where there is no other). The correlation of two users is taken over
      their co-rated items, each user's mean taken over those items; a pair with fewer than
      ``min_overlap`` (at least 2) co-rated items, or where either user's ratings of them do not
      vary, counts as similarity 0. Only users with training rows are candidate neighbours. Fake
      profiles built from item means correlate strongly with many real users and with each other,
      hence a high score. Beware on sparse data: a correlation over two or three co-rated items
      is often exactly 1, so with the default ``min_overlap`` most MovieLens 100K users have 25
      neighbours at 1 and DegSim saturates (median 1.0; its ROC-AUC then mostly counts ties). A
      larger ``min_overlap`` spreads it out again (median 0.80 at 5); whether it then finds the
      fakes depends on the attack.

    A user who rated an item several times counts every row for ``profile_size`` and ``rdma``;
    for ``degsim`` the user's rating of the item is the mean of those rows. DegSim comes from
    sparse matrix products over the co-rated items, a block of users at a time against all (dense
    blocks of about four million user pairs)."""
    users = train["user"].to_numpy(dtype=np.int64)
    ratings = train["rating"].to_numpy(dtype=np.float64)
    if len(users) and (users.min() < 0 or users.max() >= n_users):
        raise ValueError(f"user ids must lie in 0 .. {n_users - 1}; got {users.min()} .. {users.max()}")
    items = pd.factorize(train["item"], sort=True)[0]
    n_items = int(items.max()) + 1 if len(items) else 0

    size = np.bincount(users, minlength=n_users).astype(np.float64)
    active = size > 0
    item_count = np.bincount(items, minlength=n_items).astype(np.float64)
    item_mean = np.bincount(items, weights=ratings, minlength=n_items) / np.maximum(item_count, 1)
    deviation = np.abs(ratings - item_mean[items]) / item_count[items]
    with np.errstate(invalid="ignore", divide="ignore"):
        rdma = np.bincount(users, weights=deviation, minlength=n_users) / size

    degsim = np.full(n_users, np.nan)
    degsim[active] = _degsim(users, items, ratings, n_users, n_items, active, neighbours, max(2, int(min_overlap)))
    size[~active] = np.nan
    return pd.DataFrame(
        {"entity": np.arange(n_users, dtype=np.int64), "profile_size": size, "rdma": rdma, "degsim": degsim}
    )


def _degsim(users, items, ratings, n_users, n_items, active, neighbours, min_overlap) -> np.ndarray:
    """DegSim of the active users (see :func:`suspicion_baselines`), in the order of their ids."""
    ids = np.flatnonzero(active)
    n = len(ids)
    k = min(int(neighbours), n - 1)
    if k < 1:
        return np.full(n, np.nan)
    position = np.full(n_users, -1, dtype=np.int64)
    position[ids] = np.arange(n)
    # One rating per (user, item): the mean of its rows.
    keys, inverse = np.unique(position[users] * n_items + items, return_inverse=True)
    mean = np.bincount(inverse, weights=ratings) / np.bincount(inverse)
    shape = (n, n_items)
    row, column = keys // n_items, keys % n_items
    mask = sparse.csr_matrix((np.ones(len(keys)), (row, column)), shape=shape)
    value = sparse.csr_matrix((mean, (row, column)), shape=shape)
    square = sparse.csr_matrix((mean * mean, (row, column)), shape=shape)
    mask_t, value_t, square_t = mask.T.tocsr(), value.T.tocsr(), square.T.tocsr()

    scores = np.empty(n)
    block = max(1, _BLOCK_ENTRIES // n)
    for start in range(0, n, block):
        stop = min(n, start + block)
        part = slice(start, stop)
        # Over the items both users rated: count, sums, sums of squares and of products.
        count = (mask[part] @ mask_t).toarray()
        sum_x = (value[part] @ mask_t).toarray()  # the block user's ratings
        sum_y = (mask[part] @ value_t).toarray()  # the other user's ratings
        sum_xx = (square[part] @ mask_t).toarray()
        sum_yy = (mask[part] @ square_t).toarray()
        sum_xy = (value[part] @ value_t).toarray()
        with np.errstate(invalid="ignore", divide="ignore"):
            var_x = sum_xx - sum_x * sum_x / count
            var_y = sum_yy - sum_y * sum_y / count
            cov = sum_xy - sum_x * sum_y / count
            # Rounding leaves a constant profile a variance of a few ulps of its sum of squares.
            varies = (var_x > 1e-9 * sum_xx) & (var_y > 1e-9 * sum_yy)
            similarity = np.where((count >= min_overlap) & varies, cov / np.sqrt(var_x * var_y), 0.0)
        similarity = np.clip(similarity, -1.0, 1.0)
        similarity[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # never one's own neighbour
        top = np.partition(similarity, n - k, axis=1)[:, n - k :]
        scores[part] = top.mean(axis=1)
    return scores


def roc_auc(scores, positive) -> float:
    """ROC-AUC of ``scores`` (higher = more likely positive) for the boolean labels ``positive``:
    the Mann-Whitney U of the positives over the negatives divided by n_positive * n_negative, a
    tie counting one half (NaN without a positive or without a negative)."""
    scores = np.asarray(scores, dtype=float)
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = stats.rankdata(scores)  # average ranks over ties
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def bootstrap_roc_auc(scores, positive, n_boot: int = 1000, seed: int = 0, level: float = 0.95):
    """Percentile bootstrap interval of :func:`roc_auc` at ``level``: ``n_boot`` resamples, each
    drawing the positives and the negatives separately with replacement (their counts fixed), from
    ``numpy.random.default_rng(seed)``. Exact for each resample (ties one half) without sorting it:
    each positive's count of negatives below and tied with it is read from cumulative sums of the
    resampled negative counts. (NaN, NaN) without a positive or a negative, or with ``n_boot`` 0."""
    scores = np.asarray(scores, dtype=float)
    positive = np.asarray(positive, dtype=bool)
    pos, neg = np.sort(scores[positive]), np.sort(scores[~positive])
    if len(pos) == 0 or len(neg) == 0 or n_boot < 1:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    pos_counts = rng.multinomial(len(pos), np.full(len(pos), 1 / len(pos)), size=n_boot)
    neg_counts = rng.multinomial(len(neg), np.full(len(neg), 1 / len(neg)), size=n_boot)
    below = np.searchsorted(neg, pos, side="left")
    up_to = np.searchsorted(neg, pos, side="right")
    cumulative = np.concatenate([np.zeros((n_boot, 1)), np.cumsum(neg_counts, axis=1)], axis=1)
    wins = cumulative[:, below] + 0.5 * (cumulative[:, up_to] - cumulative[:, below])
    aucs = (pos_counts * wins).sum(axis=1) / (len(pos) * len(neg))
    tail = (1 - level) / 2
    low, high = np.quantile(aucs, [tail, 1 - tail])
    return float(low), float(high)


def precision_at_n(entities, scores, positive, n: int | None = None) -> float:
    """Share of positives among the ``n`` (default: the number of positives) highest ``scores``,
    ties broken by the smaller entity id first so the answer does not depend on row order (NaN
    where ``n`` is 0)."""
    entities = np.asarray(entities)
    scores = np.asarray(scores, dtype=float)
    positive = np.asarray(positive, dtype=bool)
    n = int(positive.sum()) if n is None else int(n)
    if n == 0:
        return float("nan")
    order = np.lexsort((entities, -scores))
    return float(positive[order[:n]].mean())


def detection_table(
    influence: pd.DataFrame,
    planted: pd.DataFrame,
    baselines: pd.DataFrame | None,
    metrics=None,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """How well each method ranks the planted entities first, one row per method.

    ``influence``: an influence table of one kind (columns kind, entity, metric, influence, ...).
    ``planted``: the planted entities (columns kind, entity, ...); only those of the influence
    table's kind count. ``baselines``: one row per entity (column ``entity``) and one suspicion
    score per other column, higher = more suspicious (:func:`suspicion_baselines`), or None.

    Methods: ``"influence (<metric>)"`` for each metric of the table (or of ``metrics``, in that
    order), scoring suspicion as ``-influence`` (least influential = most suspicious), then one per
    baseline column, named as the column (``metric`` ""). The entities judged are those of the
    influence table (the evaluated ones), for the baselines too: a planted entity the table lacks
    is left out, and so, per method, is an entity whose score is NaN (``n_planted`` and
    ``n_entities`` say how many were judged).

    Columns: ``method``, ``metric``, ``roc_auc`` (:func:`roc_auc`: Mann-Whitney U / (n_planted *
    n_other), ties one half; 0.5 is chance), ``roc_auc_low`` and ``roc_auc_high`` (95% percentile
    bootstrap interval, planted and other entities resampled separately, ``n_boot`` resamples,
    the same ``seed`` for every method: methods over the same entities see the same resamples),
    ``precision_at_n`` (:func:`precision_at_n`, n = ``n_planted``), ``n_planted``, ``n_entities``."""
    kinds = influence["kind"].unique() if "kind" in influence.columns else np.array([])
    if len(kinds) > 1:
        raise ValueError(f"the influence table mixes kinds {sorted(kinds)}: pass one kind at a time")
    chosen = planted if not len(kinds) or "kind" not in planted.columns else planted[planted["kind"] == kinds[0]]
    planted_ids = np.unique(chosen["entity"].to_numpy(dtype=np.int64))
    present = list(dict.fromkeys(influence["metric"]))
    metrics = present if metrics is None else list(metrics)
    missing = [metric for metric in metrics if metric not in present]
    if missing:
        raise ValueError(f"metrics {missing} are not in the influence table (it has {present})")
    scored = influence.pivot(index="entity", columns="metric", values="influence")
    entities = scored.index.to_numpy(dtype=np.int64)

    methods = [(f"influence ({metric})", metric, -scored[metric].to_numpy(dtype=float)) for metric in metrics]
    if baselines is not None:
        table = baselines.set_index("entity").reindex(entities)
        methods += [(column, "", table[column].to_numpy(dtype=float)) for column in table.columns]

    rows = []
    for method, metric, scores in methods:
        kept = ~np.isnan(scores)
        ids, values = entities[kept], scores[kept]
        positive = np.isin(ids, planted_ids)
        low, high = bootstrap_roc_auc(values, positive, n_boot=n_boot, seed=seed)
        rows.append(
            {
                "method": method,
                "metric": metric,
                "roc_auc": roc_auc(values, positive),
                "roc_auc_low": low,
                "roc_auc_high": high,
                "precision_at_n": precision_at_n(ids, values, positive),
                "n_planted": int(positive.sum()),
                "n_entities": len(ids),
            }
        )
    columns = [
        "method",
        "metric",
        "roc_auc",
        "roc_auc_low",
        "roc_auc_high",
        "precision_at_n",
        "n_planted",
        "n_entities",
    ]
    return pd.DataFrame(rows, columns=columns)


def beats_baselines(table: pd.DataFrame) -> pd.DataFrame:
    """Per influence method of a :func:`detection_table` (a row with a ``metric``), whether it
    beats every trivial baseline by a plain, conservative rule: the lower end of its 95% ROC-AUC
    interval lies strictly above the largest point ROC-AUC of the baselines (the rows with metric
    ""). The baselines' own sampling noise is not counted, which makes the rule stricter, not
    looser. With no baseline of finite ROC-AUC, or no interval, nothing is beaten (False).

    Columns: ``method``, ``metric``, ``roc_auc``, ``roc_auc_low``, ``roc_auc_high``,
    ``best_baseline`` (its name, "" where none), ``best_baseline_roc_auc``, ``beats_baselines``."""
    is_baseline = table["metric"].fillna("") == ""
    baselines = table[is_baseline & table["roc_auc"].notna()]
    best = baselines.loc[baselines["roc_auc"].idxmax()] if len(baselines) else None
    out = table.loc[~is_baseline, ["method", "metric", "roc_auc", "roc_auc_low", "roc_auc_high"]].reset_index(drop=True)
    out["best_baseline"] = best["method"] if best is not None else ""
    out["best_baseline_roc_auc"] = float(best["roc_auc"]) if best is not None else np.nan
    out["beats_baselines"] = (out["roc_auc_low"] > out["best_baseline_roc_auc"]).to_numpy(dtype=bool)
    return out
