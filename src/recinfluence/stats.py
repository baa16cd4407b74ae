"""Small statistics shared by the estimators and the analysis."""

from __future__ import annotations

import numpy as np
from scipy import stats


def mean_confidence_interval(mean, sd, n, level: float = 0.95):
    """Two-sided t confidence interval of a mean of ``n`` values with standard deviation ``sd``
    (elementwise; NaN where ``n`` < 2)."""
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + level / 2, n - 1) * np.asarray(sd, dtype=float) / np.sqrt(n)
    return np.asarray(mean, dtype=float) - half, np.asarray(mean, dtype=float) + half


def mean_p_value(mean, sd, n):
    """Two-sided p-value of the one-sample t test that a mean of ``n`` values with standard
    deviation ``sd`` is 0 (elementwise; NaN where ``n`` < 2; with ``sd`` = 0: 1 for a zero mean,
    0 otherwise)."""
    mean, sd, n = (np.asarray(value, dtype=float) for value in (mean, sd, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 2 * stats.t.sf(np.abs(mean) / (sd / np.sqrt(n)), n - 1)
    p = np.where(sd == 0, np.where(mean == 0, 1.0, 0.0), p)
    return np.where(n >= 2, p, np.nan)


def benjamini_hochberg(p_values, q: float = 0.05) -> np.ndarray:
    """Which hypotheses the Benjamini-Hochberg step-up procedure rejects at false discovery rate
    ``q``; NaN p-values are never rejected and do not count as tests."""
    p = np.asarray(p_values, dtype=float)
    rejected = np.zeros(len(p), dtype=bool)
    tested = np.flatnonzero(~np.isnan(p))
    if len(tested):
        order = tested[np.argsort(p[tested], kind="stable")]
        below = p[order] <= q * np.arange(1, len(order) + 1) / len(order)
        if below.any():
            rejected[order[: np.flatnonzero(below)[-1] + 1]] = True
    return rejected


def spearman_brown(r, factor):
    """Reliability of an average of ``factor`` times as many samples as those that gave ``r``."""
    r = np.asarray(r, dtype=float)
    return factor * r / (1 + (factor - 1) * r)


def samples_for_reliability(r_one, target: float = 0.8):
    """How many samples, each of reliability ``r_one``, an average needs to reach ``target``
    (Spearman-Brown solved for the factor; inf where ``r_one`` <= 0)."""
    r_one = np.asarray(r_one, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        needed = target * (1 - r_one) / (r_one * (1 - target))
    return np.where(r_one > 0, needed, np.inf)
