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
