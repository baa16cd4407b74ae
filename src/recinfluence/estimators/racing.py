"""Exact deletion with adaptive seeds, for decisions (racing): more seeds only where the choice
of the k least and k most influential entities is still in doubt.

Pruning needs two sets, not every value precise. The race starts every entity with
``start_seeds`` seeds (seed, seed + 1, ...: the seeds of exact deletion, so an entity's numbers
after r seeds are exact deletion's with R = r), then repeats: rank the entities by their mean
influence on ``metric``; the boundary of the k least is the midpoint between the k-th and the
(k+1)-th lowest mean, that of the k most likewise at the top; an entity is in doubt while its
95% t interval over its seeds contains a boundary; every entity in doubt gets its next seed (on an
evaluation sample of users the reported interval also covers the sampling error, the doubt does
not: more seeds cannot reduce it). It stops when no entity is in doubt (the sets separate), when
every entity in doubt has ``max_seeds``, or when the next round would exceed ``budget`` retrains.

The result is exact deletion's tables (``samples`` differs between entities: the seeds each got)
and :attr:`report` says what the race spent: the retrains used against a uniform design that
gives every entity the seeds of the most-raced one (the least a uniform R needs to separate the
same entities), and whether the sets separated. A race is sequential: all entities are one work
unit (one shard job); it is meant for models whose retrain is cheap (SVD).
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from ..registry import metric_column
from ..stats import mean_confidence_interval
from .base import Partial
from .exact import ExactDeletion, over_seeds


class Racing(ExactDeletion):
    name = "racing"

    def __init__(
        self,
        seed: int = 0,
        k: int = 10,
        metric: str = "map",
        start_seeds: int = 2,
        max_seeds: int = 36,
        budget: int | None = None,
    ):
        if not 2 <= start_seeds <= max_seeds:
            raise ValueError(f"racing needs 2 <= start_seeds <= max_seeds, not {start_seeds} and {max_seeds}")
        super().__init__(seed, max_seeds)
        self.k, self.metric, self.start_seeds, self.budget = k, metric, start_seeds, budget
        self.report: dict = {}

    def work_units(self, retrainer, entities) -> list[np.ndarray]:
        entities = np.asarray(entities, dtype=np.int64)
        return [entities] if len(entities) else []

    def run(self, retrainer, kind: str, unit: np.ndarray, comparison: str = "exclude", log=sys.stderr) -> Partial:
        metric = metric_column(self.metric, retrainer.experiment.k)
        unit = np.asarray(unit, dtype=np.int64)
        seeds_of = dict.fromkeys(unit.tolist(), 0)  # seeds retrained so far, per entity
        partials, retrains = [], 0
        in_doubt = unit
        while len(in_doubt):
            # the next seed of each entity in doubt (the first round: start_seeds for everyone)
            rounds = self.start_seeds if retrains == 0 else 1
            if self.budget is not None and retrains + rounds * len(in_doubt) > self.budget:
                break
            for _ in range(rounds):
                for seed_index in sorted({seeds_of[e] for e in in_doubt.tolist()}):
                    group = np.array([e for e in in_doubt.tolist() if seeds_of[e] == seed_index], dtype=np.int64)
                    partials.append(self.run_seed(retrainer, kind, group, self.seeds[seed_index], comparison))
                    for entity in group.tolist():
                        seeds_of[entity] += 1
                retrains += len(in_doubt)
            values = Partial.concat(partials).rows.query("metric == @metric")
            in_doubt = np.array(
                [e for e in doubtful(values, self.k).tolist() if seeds_of[e] < len(self.seeds)], dtype=np.int64
            )
        values = Partial.concat(partials).rows.query("metric == @metric")
        used = np.array(list(seeds_of.values()))
        self.report = {
            "kind": kind,
            "metric": metric,
            "k": self.k,
            "entities": len(unit),
            "retrains": retrains,
            "uniform_retrains": int(used.max(initial=0)) * len(unit),
            "max_seeds_used": int(used.max(initial=0)),
            "separated": len(doubtful(values, self.k)) == 0 if len(values) else False,
        }
        if log is not None:
            print(
                f"race ({kind}s, {metric}, k = {self.k}): "
                f"{'separated' if self.report['separated'] else 'not separated'} after {retrains} retrains; a uniform "
                f"R = {self.report['max_seeds_used']} would take {self.report['uniform_retrains']}",
                file=log,
            )
        return over_seeds(partials)


def doubtful(rows: pd.DataFrame, k: int) -> np.ndarray:
    """Entities (of one metric's per-seed ``rows``) whose 95% t interval of the mean influence
    contains the boundary of the k least or of the k most influential (an entity with one seed
    is always in doubt)."""
    grouped = rows.groupby("entity")["influence"]
    table = pd.DataFrame({"mean": grouped.mean(), "sd": grouped.std(ddof=1), "n": grouped.size()})
    table["low"], table["high"] = mean_confidence_interval(table["mean"], table["sd"], table["n"])
    if len(table) <= k:  # every entity is in both sets: nothing to separate
        return np.array([], dtype=np.int64)
    means = np.sort(table["mean"].to_numpy())
    boundaries = [(means[k - 1] + means[k]) / 2, (means[-k] + means[-k - 1]) / 2]
    doubt = np.zeros(len(table), dtype=bool)
    for boundary in boundaries:
        doubt |= ~((table["high"] < boundary) | (table["low"] > boundary)).to_numpy()  # NaN interval: in doubt
    return table.index.to_numpy()[doubt]
