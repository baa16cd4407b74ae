"""The estimator contract: how any influence estimator is sharded, run and reduced.

    units = estimator.work_units(retrainer, entities)                # shardable, fixed list
    partial = estimator.run(retrainer, kind, unit, comparison)       # one unit -> Partial
    result = estimator.reduce(kind, [partial, ...])                  # -> InfluenceResult

The list of work units does not depend on how many shards the workflow cuts it into
(:func:`shard_units`), so every number is the same whatever the shard count. Every estimator's
result has the same influence schema (:data:`INFLUENCE_COLUMNS`, plus columns of its own), and
the analysis, figures and summary read it without knowing which estimator produced it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..progress import Progress
from ..stats import mean_confidence_interval, mean_p_value, sampled_mean_interval

# entity and metric; the influence (mean over samples, positive = the entity helped), how many
# independent samples it averages (seeds, draws), their standard deviation, the 95% confidence
# interval of the mean and the p-value of "the influence is 0" (NaN with one sample). Each
# estimator computes the interval and the p-value from its own model of uncertainty.
INFLUENCE_COLUMNS = [
    "kind",
    "entity",
    "n_train_rows",
    "metric",
    "influence",
    "samples",
    "influence_sd",
    "ci_low",
    "ci_high",
    "p_value",
]
# On an evaluation sample of users, an estimator that averages per-user changes adds the standard
# error of its influence from sampling the users and its degrees of freedom (constant over seeds).
SAMPLING_COLUMNS = ["sampling_se", "sampling_df"]
BY_SEED_COLUMNS = ["kind", "entity", "seed", "metric", "influence"]
TIMING_COLUMNS = ["kind", "entity", "seconds"]


@dataclass(frozen=True)
class Partial:
    """What one work unit (or one shard of them) produced: ``rows`` in the estimator's own long
    format, ``per_user`` (entity, user, one influence column per metric: whose metrics moved)
    and ``timing`` (kind, entity, seconds)."""

    rows: pd.DataFrame
    per_user: pd.DataFrame
    timing: pd.DataFrame

    @classmethod
    def concat(cls, partials: list["Partial"]) -> "Partial":
        """One partial of many (an empty one, with the columns downstream reads, of none)."""
        rows, per_user, timing = (
            _concat([getattr(p, name) for p in partials]) for name in ("rows", "per_user", "timing")
        )
        if per_user.empty:
            per_user = pd.DataFrame(columns=["entity", "user"])
        if timing.empty:
            timing = pd.DataFrame(columns=TIMING_COLUMNS)
        return cls(rows, per_user, timing)


@dataclass(frozen=True)
class InfluenceResult:
    """``influence`` (:data:`INFLUENCE_COLUMNS` + the estimator's own), ``by_seed`` (one
    influence per sample: :data:`BY_SEED_COLUMNS`), ``per_user`` and ``timing``."""

    influence: pd.DataFrame
    by_seed: pd.DataFrame
    per_user: pd.DataFrame
    timing: pd.DataFrame


class Estimator:
    """Base of every estimator. A subclass sets ``name``, lists its work units and runs one;
    the default :meth:`reduce` averages ``rows`` that hold one influence per (entity, metric,
    seed), with the mean of every column in ``value_columns`` beside it (and of
    :data:`SAMPLING_COLUMNS` where the rows have them: the interval and p-value then cover the
    seed and the sampling error, :func:`recinfluence.stats.sampled_mean_interval`)."""

    name: str = ""
    value_columns: tuple[str, ...] = ()

    def __init__(self, seed: int = 0, seeds: int = 1):
        self.seeds = [seed + offset for offset in range(seeds)]

    def training_seeds(self) -> list[int]:
        """The seeds whose models the estimator trained (pruning reports its gain at these
        seeds apart from fresh ones)."""
        return self.seeds

    def work_units(self, retrainer, entities) -> list[np.ndarray]:
        raise NotImplementedError

    def run(self, retrainer, kind: str, unit: np.ndarray, comparison: str = "exclude") -> Partial:
        raise NotImplementedError

    def unit_items(self, kind: str) -> str:
        """What the elements of a work unit are, for progress lines (entities, by default)."""
        return f"{kind}s"

    def run_units(
        self, retrainer, kind: str, units: list[np.ndarray], comparison: str = "exclude", log=sys.stderr
    ) -> Partial:
        """Several work units (one shard's) into one partial, with progress on ``log``."""
        progress = Progress(sum(map(len, units)), f"{self.unit_items(kind)} done ({self.name})", log)
        partials = []
        for unit in units:
            partials.append(self.run(retrainer, kind, unit, comparison))
            progress.step(len(unit))
        return Partial.concat(partials)

    def estimate(self, retrainer, kind: str, entities, comparison: str = "exclude", log=sys.stderr) -> InfluenceResult:
        """Every work unit in one process (what the workflow's shards do together)."""
        return self.reduce(
            kind, [self.run_units(retrainer, kind, self.work_units(retrainer, entities), comparison, log)]
        )

    def reduce(self, kind: str, partials: list[Partial]) -> InfluenceResult:
        whole = Partial.concat(partials)
        rows, per_user = whole.rows, whole.per_user
        if rows.empty:
            empty = pd.DataFrame(columns=[*INFLUENCE_COLUMNS, *self.value_columns])
            return InfluenceResult(empty, pd.DataFrame(columns=BY_SEED_COLUMNS), per_user, whole.timing)
        sampled = set(SAMPLING_COLUMNS) <= set(rows.columns)
        values = [*self.value_columns, *(SAMPLING_COLUMNS if sampled else [])]
        grouped = rows.groupby(["kind", "entity", "n_train_rows", "metric"], sort=False)
        influence = grouped[["influence", *values]].mean().reset_index()
        influence["samples"] = grouped.size().to_numpy()
        influence["influence_sd"] = grouped["influence"].std(ddof=1).to_numpy()
        if "seed_sd" in rows.columns:  # known without spreading seeds (a deterministic model's)
            influence["influence_sd"] = grouped["seed_sd"].first().to_numpy()
        if sampled:
            influence["ci_low"], influence["ci_high"], influence["p_value"] = sampled_mean_interval(
                *(influence[c] for c in ("influence", "influence_sd", "samples", *SAMPLING_COLUMNS))
            )
        else:
            influence["ci_low"], influence["ci_high"] = mean_confidence_interval(
                influence["influence"], influence["influence_sd"], influence["samples"]
            )
            influence["p_value"] = mean_p_value(influence["influence"], influence["influence_sd"], influence["samples"])
        influence = influence[[*INFLUENCE_COLUMNS, *values]]
        return InfluenceResult(influence, rows[BY_SEED_COLUMNS].reset_index(drop=True), per_user, whole.timing)


def shard_units(units: list, n_shards: int, shard: int) -> list:
    """Static contiguous chunk ``shard`` of ``n_shards`` (empty when there are more shards than
    units)."""
    positions = np.array_split(np.arange(len(units)), n_shards)[shard]
    return [units[position] for position in positions]


def blocks(entities, size: int) -> list[np.ndarray]:
    """Consecutive blocks of ``size`` entities (the last may be shorter)."""
    entities = np.asarray(entities, dtype=np.int64)
    return [entities[start : start + size] for start in range(0, len(entities), size)]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [frame for frame in frames if len(frame)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
