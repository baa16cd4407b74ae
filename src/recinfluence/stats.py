"""Small statistics shared by the estimators and the analysis, and the stratified sample of
evaluation users (``evaluation.users``) with the standard error it adds to a mean over users."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# scipy.special's t distribution, not scipy.stats': the same numbers, and a second less to start
# every workflow job that imports this module.
from scipy.special import stdtr, stdtrit

# Cochran (1977, "Sampling Techniques", 5A.8): beyond about six strata the variance hardly falls.
ACTIVITY_STRATA = 5
# Keeps the sample's uniform numbers apart from the streams the split and the models draw from ``seed``.
SAMPLE_STREAM = 0xE7A1


def mean_confidence_interval(mean, sd, n, level: float = 0.95):
    """Two-sided t confidence interval of a mean of ``n`` values with standard deviation ``sd``
    (elementwise; NaN where ``n`` < 2)."""
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stdtrit(n - 1, 0.5 + level / 2) * np.asarray(sd, dtype=float) / np.sqrt(n)
    return np.asarray(mean, dtype=float) - half, np.asarray(mean, dtype=float) + half


def sampled_mean_interval(mean, seed_sd, seeds, sampling_se, sampling_df, level: float = 0.95):
    """(low, high, p-value of "the mean is 0") of a mean over ``seeds`` seeds (their standard
    deviation ``seed_sd``) of means over a sample of users (standard error ``sampling_se`` with
    ``sampling_df`` degrees of freedom, :meth:`UserSample.standard_error`). The two errors are
    independent (the sample is the same at every seed), so their variances add; the t quantile
    takes Welch-Satterthwaite degrees of freedom. Elementwise; NaN where ``seeds`` < 2 and
    ``seed_sd`` is not 0 (the seed error unknown; a deterministic model's is known to be 0) or
    where the sampling error is NaN (RMSE, MAE); a zero error gives the point itself, and p 1 for
    a zero mean, else 0."""
    mean, seed_sd, seeds, sampling_se, sampling_df = (
        np.asarray(value, dtype=float) for value in (mean, seed_sd, seeds, sampling_se, sampling_df)
    )
    seed_var, sampling_var = seed_sd**2 / seeds, sampling_se**2
    se = np.sqrt(seed_var + sampling_var)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = se**4 / (
            np.where(seed_var > 0, seed_var**2 / (seeds - 1), 0.0)
            + np.where(sampling_var > 0, sampling_var**2 / sampling_df, 0.0)
        )
        half = np.where(se == 0, 0.0, stdtrit(df, 0.5 + level / 2) * se)
        p = np.where(se == 0, np.where(mean == 0, 1.0, 0.0), 2 * stdtr(df, -np.abs(mean) / se))
    enough = (seeds >= 2) | (seed_sd == 0)
    return (
        np.where(enough, mean - half, np.nan),
        np.where(enough, mean + half, np.nan),
        np.where(enough, p, np.nan),
    )


@dataclass(frozen=True)
class UserSample:
    """A stratified sample of evaluation users (:func:`sample_users`): ``users`` (sorted ids),
    the stratum of each (``strata``) and how many users each stratum has in the whole population
    (``population``)."""

    users: np.ndarray
    strata: np.ndarray
    population: np.ndarray

    def standard_error(self, users, values) -> tuple[np.ndarray, np.ndarray]:
        """(standard error, degrees of freedom) from sampling of the mean over ``users`` (sampled
        ids, e.g. all of them but a deleted one) of each column of ``values`` (one row per user;
        NaN where a metric is undefined for the user, who is then outside its mean).

        The stratified variance with finite population correction (Cochran 1977, eq. 5.13),
        sum_h W_h^2 (1 - n_h / N_h) s_h^2 / n_h with W_h = N_h / N, of the linearised values
        z = (y - mean) / (share of users with y defined), 0 where y is undefined: the mean over the
        users a metric is defined for is a ratio (domain) estimator, and z its Taylor linearisation
        (Saerndal, Swensson & Wretman 1992, "Model Assisted Survey Sampling", 5.7 and 10.3).
        Degrees of freedom: Satterthwaite's over the strata. NaN for a stratum left with one user."""
        users, values = np.asarray(users), np.asarray(values, dtype=float).reshape(len(users), -1)
        strata = self.strata[np.searchsorted(self.users, users)]
        defined = np.isfinite(values)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(defined, values, 0.0).sum(axis=0) / defined.sum(axis=0)
            z = np.where(defined, values - mean, 0.0) / defined.mean(axis=0)
            member = strata == np.arange(len(self.population))[:, None]  # strata x users
            n = member.sum(axis=1, keepdims=True).astype(float)
            s2 = member @ (z - (member @ z / n)[strata]) ** 2 / (n - 1)
            weight = (self.population / self.population.sum())[:, None]
            terms = weight**2 * (1 - n / self.population[:, None]) * s2 / n
            variance = terms.sum(axis=0)
            df = variance**2 / (terms**2 / (n - 1)).sum(axis=0)
        return np.sqrt(variance), df


def sample_users(users, activity, size: float | None, seed: int) -> UserSample | None:
    """A stratified sample of ``size`` of ``users`` (an integer >= 1: that many; a number in
    (0, 1): that share, rounded, at least one); None when ``size`` is None or would keep them all.

    Strata: the users in order of ``activity`` (their training rows; ties by id) cut into
    :data:`ACTIVITY_STRATA` groups of equal size (fewer where the sample is too small for 3 users
    in each: a deleted user leaves 2 for its stratum's variance). Allocation proportional to the
    strata, rounded by largest remainder, so each stratum's share of the sample is its share of
    the users within one user, and the plain mean over the sample is the stratified estimator
    (self-weighting; Cochran 1977, 5.5). Within a stratum, the users whose uniform number, drawn
    per user id from ``default_rng([seed, SAMPLE_STREAM])``, is smallest: a simple random sample
    of the stratum (permanent random numbers, Ohlsson 1995), and two populations that share
    users, as the validation and test users of one split do, share the sampled ones as far as
    their strata agree."""
    if size is None:
        return None
    users, activity = np.asarray(users, dtype=np.int64), np.asarray(activity)
    wanted = int(size) if size >= 1 else max(1, round(size * len(users)))
    if wanted >= len(users):
        return None
    n_strata = max(1, min(ACTIVITY_STRATA, wanted // 3))
    strata = np.empty(len(users), dtype=np.int64)
    for stratum, members in enumerate(np.array_split(np.lexsort((users, activity)), n_strata)):
        strata[members] = stratum
    population = np.bincount(strata, minlength=n_strata)
    allocation = proportional_allocation(population, wanted)
    keys = np.random.default_rng([seed, SAMPLE_STREAM]).random(int(users.max()) + 1)[users]
    order = np.lexsort((keys, strata))  # by stratum, then by the uniform number
    place = np.arange(len(users)) - np.searchsorted(strata[order], strata[order])  # rank within the stratum
    chosen = order[place < allocation[strata[order]]]
    chosen = chosen[np.argsort(users[chosen])]
    return UserSample(users[chosen], strata[chosen], population)


def proportional_allocation(population, size: int) -> np.ndarray:
    """``size`` units shared among strata of ``population`` in proportion, by largest remainder
    (Hamilton's method): each gets the floor of its quota, and the units left go to the largest
    remainders (ties to the first stratum)."""
    quota = size * np.asarray(population, dtype=float) / np.sum(population)
    allocation = np.floor(quota).astype(np.int64)
    left = size - int(allocation.sum())
    allocation[np.argsort(-(quota - allocation), kind="stable")[:left]] += 1
    return allocation


def mean_p_value(mean, sd, n):
    """Two-sided p-value of the one-sample t test that a mean of ``n`` values with standard
    deviation ``sd`` is 0 (elementwise; NaN where ``n`` < 2; with ``sd`` = 0: 1 for a zero mean,
    0 otherwise)."""
    mean, sd, n = (np.asarray(value, dtype=float) for value in (mean, sd, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 2 * stdtr(n - 1, -np.abs(mean) / (sd / np.sqrt(n)))
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
