"""Exact deletion: retrain without each entity, with R seeds (common random numbers), and
average the paired differences with the baseline of the same seed.

A work unit is one training pass of the model: a block of ``variants_per_batch`` entities for a
model with a batched path (NCF), one entity otherwise. A model that derives its deletion
variants without refitting (``deletion_variants``) is used through it (docs/extending.md "Your own model").

On an evaluation sample of users (``evaluation.users``, :class:`recinfluence.retrain.Experiment`)
a shard's rows also carry the sampling error of each entity's influence, ``sampling_se`` with its
``sampling_df`` degrees of freedom (:func:`sampling_errors`), and the interval covers both errors
(:meth:`recinfluence.estimators.base.Estimator.reduce`). So do the estimators built on this one
(racing, random rows, the approximations).
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
import pandas as pd

from ..metrics import metric_columns
from ..registry import RATING_METRICS, lower_is_better
from ..retrain import rows_per_entity
from ..stats import UserSample
from .base import TIMING_COLUMNS, Estimator, Partial, blocks


class ExactDeletion(Estimator):
    name = "exact"
    value_columns = ("baseline", "without")  # the metric of the baseline and without the entity

    def work_units(self, retrainer, entities) -> list[np.ndarray]:
        return blocks(entities, retrainer.variants_per_batch)

    def variant_trains(self, train, kind: str, unit: np.ndarray, seed: int):
        """What each entity's variant trains on (None: the training set without the entity)."""
        return None

    approximation = None  # see :mod:`recinfluence.estimators.approximate`
    # Whether the seed draws what each variant trains on (random rows): then even a deterministic
    # model's influence varies with the seed.
    seed_draws_trains = False

    def run(self, retrainer, kind: str, unit: np.ndarray, comparison: str = "exclude") -> Partial:
        return over_seeds([self.run_seed(retrainer, kind, unit, seed, comparison) for seed in self.seeds])

    def run_units(
        self, retrainer, kind: str, units: list[np.ndarray], comparison: str = "exclude", log=sys.stderr
    ) -> Partial:
        """:meth:`Estimator.run_units`, with each entity's :func:`sampling_errors` on its rows where
        the evaluation is a sample of users; for a deterministic model, whose every seed gives
        the same influence, also its seed error, zero (``seed_sd``: the interval is then the
        sampling error's alone, even with one seed)."""
        partial = super().run_units(retrainer, kind, units, comparison, log)
        sample = retrainer.experiment.sample
        if sample is None or partial.rows.empty:
            return partial
        rows = partial.rows.merge(sampling_errors(partial.per_user, sample), on=["entity", "metric"], how="left")
        if retrainer.deterministic and not self.seed_draws_trains:
            rows["seed_sd"] = 0.0
        return replace(partial, rows=rows)

    def run_seed(self, retrainer, kind: str, unit: np.ndarray, seed: int, comparison: str = "exclude") -> Partial:
        """The deletions of ``unit`` retrained with one ``seed``: one row per (entity, metric);
        ``per_user`` keeps the seed (:func:`over_seeds` averages it away)."""
        rows_of = rows_per_entity(retrainer.train, kind)
        rows, per_user, timing = [], [], []
        comparisons = retrainer.deletions(
            kind, unit, seed, comparison, self.variant_trains(retrainer.train, kind, unit, seed), self.approximation
        )
        for entity, (baseline, without, users, seconds) in zip(unit, comparisons):
            for metric in baseline.index:
                sign = -1.0 if lower_is_better(metric) else 1.0
                influence = sign * (baseline[metric] - without[metric]) + 0.0  # + 0.0: no -0.0
                rows.append(
                    (
                        kind,
                        int(entity),
                        int(rows_of[entity]),
                        seed,
                        metric,
                        baseline[metric],
                        without[metric],
                        influence,
                    )
                )
            per_user.append(users.assign(entity=int(entity)))
            timing.append((kind, int(entity), seconds))
        rows = pd.DataFrame(
            rows, columns=["kind", "entity", "n_train_rows", "seed", "metric", "baseline", "without", "influence"]
        )
        return Partial(rows, pd.concat(per_user, ignore_index=True), pd.DataFrame(timing, columns=TIMING_COLUMNS))


def over_seeds(partials: list[Partial]) -> Partial:
    """Several seeds' partials of the same entities as one: per-user changes averaged over the
    seeds, seconds summed (so a shard's files do not grow with the seeds)."""
    whole = Partial.concat(partials)
    per_user = whole.per_user.groupby(["entity", "user"], sort=False).mean().reset_index()
    timing = whole.timing.groupby(["kind", "entity"], sort=False)["seconds"].sum().reset_index()
    return Partial(whole.rows, per_user, timing)


def sampling_errors(per_user: pd.DataFrame, sample: UserSample) -> pd.DataFrame:
    """Per (entity, metric): the standard error from sampling the users (``sampling_se``) of the
    influence, the mean over the sampled users of their seed-averaged changes in ``per_user``
    (:func:`over_seeds`), and its degrees of freedom (``sampling_df``;
    :meth:`recinfluence.stats.UserSample.standard_error`). The seed average is what every seed's
    mean over the sample shares; their spread is the seed error. (A user's own seed noise is in
    both: slightly conservative for a model with seed noise.) RMSE and MAE average over ratings,
    not users: NaN, not estimated."""
    metrics = metric_columns(per_user)
    frames = []
    for entity, users in per_user.groupby("entity", sort=False):
        se, df = sample.standard_error(users["user"].to_numpy(), users[metrics].to_numpy(dtype=float))
        frames.append(pd.DataFrame({"entity": entity, "metric": metrics, "sampling_se": se, "sampling_df": df}))
    table = pd.concat(frames, ignore_index=True)
    table.loc[table["metric"].isin(RATING_METRICS), ["sampling_se", "sampling_df"]] = np.nan
    return table
