"""The one place where a model is fitted on a training set, scored and evaluated.

Baselines, the noise-floor seeds, every estimator and pruning go through :class:`Retrainer`,
so they fit, score and compare in the same way. A deletion is compared with the baseline of the
same seed (common random numbers, docs/method.md "The protocol"), signed so that positive = helped:

    influence = metric(trained on all of train) - metric(trained without the deleted rows)

(for RMSE and MAE, where lower is better, the sign is flipped). Comparison ``exclude`` (the
default): deleting user u compares both models on every evaluation user except u; deleting item
i compares both on the catalog without i. ``naive`` compares both on the full evaluation set.

How the deletion variants are trained is chosen once per model, from its capabilities
(:mod:`recinfluence.models.base`), best first:

1. :class:`Derived`: ``deletion_variants(train, kind, deletions)`` on the *fitted* baseline,
   the variants derived without refitting (a closed form; see docs/extending.md "Your own model");
2. :class:`Batched`: ``fit_many(trains, seed)``, ``variants_per_batch`` deletions trained in
   one pass, with the baseline as the first variant of every batch, so that it shares every
   floating-point operation with the variants it is compared with;
3. :class:`Refitted`: a loop of ``fit(train, seed)``, against the baseline fitted once per seed
   (and kept).

An approximate estimator passes an ``approximation`` instead (docs/method.md "Approximate influence",
:class:`Approximated`): it derives every variant from the fitted baseline, and may name the model
the variants are compared with (a warm start compares with the baseline continued just as long).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, fields, replace
from typing import Callable, NamedTuple

import numpy as np
import pandas as pd

from .data import Interactions
from .metrics import DEFAULT_MEMORY_MB, EvalSet, SparseEvalSet, aggregate, evaluate, metric_columns
from .models.base import (
    ENTITY_KINDS,
    ChangesFewUsers,
    DerivesDeletions,
    FitsMany,
    TrainSet,
    is_deterministic,
    rating_scale,
)
from .progress import Progress
from .registry import lower_is_better
from .split import Split
from .stats import UserSample, sample_users

COMPARISONS = ("exclude", "naive")


@dataclass(frozen=True)
class Experiment:
    """What every fit and evaluation of one study shares: the training rows and one evaluation
    split (the one influence is measured on, or the test split for pruning), and ``sample``, the
    stratified sample of its users it is evaluated on (None: every user)."""

    train: TrainSet
    evalset: SparseEvalSet
    k: int = 10
    sample: UserSample | None = None

    @classmethod
    def build(
        cls,
        data: Interactions,
        split: Split,
        part: str = "evaluation",
        k: int = 10,
        relevance_threshold: float = 4.0,
        memory_mb: float = DEFAULT_MEMORY_MB,
        users: float | None = None,
        seed: int = 0,
    ):
        """``part`` is ``evaluation`` (where influence is measured) or ``test``. Rating
        predictions are clipped to the dataset's observed rating range. An evaluation holds
        about ``memory_mb`` of scores and flags at once (users are evaluated in blocks).
        ``users`` (None: every user of the part) evaluates a sample of them, stratified by their
        training rows and drawn with ``seed`` (:func:`recinfluence.stats.sample_users`): an integer
        >= 1 that many, a number in (0, 1) that share. Baseline and deletions, every seed, are
        evaluated on the same sample (common random numbers), and the parts of one split share
        their sampled users where their strata allow."""
        eval_rows = split.evaluation if part == "evaluation" else getattr(split, part)
        rating_scale = (float(data.frame["rating"].min()), float(data.frame["rating"].max()))
        train = TrainSet.from_frame(data.frame.iloc[split.train], data.n_users, data.n_items, rating_scale)
        seen_rows = np.setdiff1d(np.arange(len(data.frame)), eval_rows)  # every interaction outside the evaluated split
        eval_users = data.frame["user"].to_numpy()[eval_rows]
        population = np.unique(eval_users)
        sample = sample_users(population, rows_per_entity(train, "user")[population], users, seed)
        if sample is not None:  # only the sampled users' rows are evaluated; what they have seen is unchanged
            eval_rows = eval_rows[np.isin(eval_users, sample.users)]
        evalset = SparseEvalSet.build(data.frame, seen_rows, eval_rows, data.n_items, relevance_threshold, memory_mb)
        return cls(train=train, evalset=evalset, k=k, sample=sample)

    @classmethod
    def load(cls, data_folder, split_file, protocol: str, evaluation, part: str = "evaluation") -> "Experiment":
        """The experiment of one workflow step, from the files the data and split rules wrote;
        ``evaluation`` is a :class:`recinfluence.settings.Evaluation`."""
        data = Interactions.load(data_folder)
        split = Split.from_frame(pd.read_parquet(split_file), protocol)
        return cls.build(
            data,
            split,
            part,
            evaluation.k,
            evaluation.relevance_threshold,
            evaluation.memory_mb,
            evaluation.users,
            evaluation.seed,
        )

    def score(self, model) -> np.ndarray:
        """Every evaluation user's scores over the whole catalog (users x items, in one array)."""
        return model.score(self.evalset.users)

    def keeps_scores(self) -> bool:
        """Whether the scores of every evaluation user fit the memory of one block (then a
        baseline's are kept; else each evaluation scores its blocks anew)."""
        return len(self.evalset.blocks()) == 1

    def evaluate(self, model, scores=None, excluded_items=()) -> pd.DataFrame:
        """Per-user metrics of a fitted ``model`` (from ``scores`` when already computed; else
        the model scores a block of users at a time)."""
        return evaluate(
            model.score if scores is None else scores, self.evalset, self.k, rating_scale(model), excluded_items
        )


class Comparison(NamedTuple):
    """One deletion against its baseline, on the same users and catalog."""

    baseline: pd.Series  # aggregate metrics of the baseline
    without: pd.Series  # aggregate metrics of the model trained without the deleted rows
    per_user: pd.DataFrame  # per evaluation user: the influence on each metric
    seconds: float  # wall time of the retrain plus its evaluation


def compare(
    baseline: pd.DataFrame, variant: pd.DataFrame, excluded_users=()
) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
    """Aggregate both per-user tables over the same users; return (baseline aggregate,
    variant aggregate, per-user influence), signed so that positive = helped."""
    keep = ~baseline["user"].isin(np.atleast_1d(excluded_users)).to_numpy()
    baseline, variant = baseline.loc[keep], variant.loc[keep]
    metrics = metric_columns(baseline)
    sign = np.array([-1.0 if lower_is_better(m) else 1.0 for m in metrics])
    per_user = (baseline[metrics].to_numpy() - variant[metrics].to_numpy()) * sign + 0.0  # + 0.0: no -0.0
    per_user = pd.DataFrame(per_user, columns=metrics)
    per_user.insert(0, "user", baseline["user"].to_numpy())
    return aggregate(baseline), aggregate(variant), per_user


class _Baseline(NamedTuple):
    model: object
    scores: np.ndarray | None  # None: too large to keep (Experiment.keeps_scores)
    per_user: pd.DataFrame


class Refitted:
    """Each variant fitted from scratch, against the baseline of the seed (fitted once, kept)."""

    def variants(self, retrainer: "Retrainer", kind, chunk, trains, seed, derivable):
        """(the baseline to compare with, an iterator of the variants trained on ``trains``);
        ``derivable``: the trains are the deletions of ``chunk``'s entities themselves."""
        return retrainer.baseline(seed), (retrainer.fit(seed, train) for train in trains)


class Derived(Refitted):
    """Variants derived from the fitted baseline (``deletion_variants``); other training sets
    (a size-matched control's) are refitted."""

    def variants(self, retrainer, kind, chunk, trains, seed, derivable):
        if not derivable:
            return super().variants(retrainer, kind, chunk, trains, seed, derivable)
        baseline = retrainer.baseline(seed)
        return baseline, iter(baseline.model.deletion_variants(retrainer.train, kind, chunk))


class Batched:
    """A batch of variants trained in one pass (``fit_many``), the baseline as its first
    variant, so that it is trained with the same arithmetic as the variants."""

    def variants(self, retrainer, kind, chunk, trains, seed, derivable):
        baseline_model, *models = retrainer.make_model().fit_many([retrainer.train, *trains], seed)
        return retrainer.evaluated(baseline_model), iter(models)


@dataclass(frozen=True)
class Approximated:
    """Variants derived by an approximate estimator from the fitted baseline, compared with the
    model it names (its ``reference``; None: the baseline)."""

    approximation: object

    def variants(self, retrainer, kind, chunk, trains, seed, derivable):
        baseline = retrainer.baseline(seed).model
        return retrainer.reference(seed, self.approximation), iter(
            self.approximation.variants(baseline, retrainer.train, trains)
        )


class Retrainer:
    """Fits, scores and evaluates one model (``make_model`` builds a fresh one) on one
    :class:`Experiment`. The baseline of each seed is fitted once and kept, except for a
    batched model, whose baseline trains inside every batch (see the module docstring)."""

    def __init__(self, make_model: Callable, experiment: Experiment, variants_per_batch: int = 16, log=sys.stderr):
        self.make_model, self.experiment, self.log = make_model, experiment, log
        model = make_model()
        # How the deletion variants are trained, and how many one training pass covers (the
        # unit of work of exact deletion): chosen once, from what the model offers.
        if isinstance(model, DerivesDeletions):
            self.source, self.variants_per_batch = Derived(), 1
        elif isinstance(model, FitsMany):
            self.source, self.variants_per_batch = Batched(), variants_per_batch
        else:
            self.source, self.variants_per_batch = Refitted(), 1
        self.deterministic = is_deterministic(model)
        self._fitted = None  # a deterministic model's one fit on the whole training set
        self._baselines: dict[int | None, _Baseline] = {}
        self._references: dict[tuple, _Baseline] = {}

    @property
    def train(self) -> TrainSet:
        return self.experiment.train

    @property
    def batched(self) -> bool:
        return isinstance(self.source, Batched)

    def fit(self, seed: int, train: TrainSet | None = None):
        """A model fitted on ``train`` (default: the whole training set) with ``seed``."""
        return self.make_model().fit(self.train if train is None else train, seed)

    def fitted(self, seed: int):
        """The model fitted on the whole training set with ``seed``. A deterministic model's
        first fit stands for every seed (another would give the same model)."""
        if not self.deterministic:
            return self.fit(seed)
        if self._fitted is None:
            self._fitted = self.fit(seed)
        return self._fitted

    def baseline(self, seed: int) -> _Baseline:
        """The model fitted on the whole training set with ``seed``, its scores and its per-user
        metrics (fitted on first use, then kept; one for every seed of a deterministic model)."""
        key = None if self.deterministic else seed
        if key not in self._baselines:
            self._baselines[key] = self.evaluated(self.fitted(seed))
        return self._baselines[key]

    def evaluated(self, model) -> _Baseline:
        """A fitted ``model`` with its per-user metrics, and its scores where they are kept."""
        scores = self.experiment.score(model) if self.experiment.keeps_scores() else None
        return _Baseline(model, scores, self.experiment.evaluate(model, scores))

    def reference(self, seed: int, approximation) -> _Baseline:
        """What ``approximation``'s variants of ``seed`` are compared with (kept per seed)."""
        key = (seed, approximation.reference_key)
        if key not in self._references:
            model = approximation.reference(self.baseline(seed).model, self.train)
            self._references[key] = self.baseline(seed) if model is None else self.evaluated(model)
        return self._references[key]

    def deletions(
        self, kind: str, deletions, seed: int, comparison: str = "exclude", trains=None, approximation=None
    ) -> list[Comparison]:
        """Retrain without each deletion (one id, or an array of ids, of ``kind``) and compare
        with the baseline of the same ``seed``. Batches of a batched model are consecutive
        blocks of ``deletions``, so pass whole blocks (work units) to keep numbers independent
        of how the work is cut.

        ``trains``, when given, are the training sets of the variants instead (one per deletion,
        e.g. without as many random rows as the entity has): each is still compared on the users
        and catalog that deleting its entity would leave (the size-matched control).

        ``approximation``, when given, has ``reference(model, train)`` (the model to compare
        with, None: the baseline) and ``variants(model, train, trains)`` (a model per training
        set), both from the fitted baseline ``model``; nothing is retrained."""
        if kind not in ENTITY_KINDS:
            raise ValueError(f"entity kind must be one of {ENTITY_KINDS}, not {kind!r}")
        if comparison not in COMPARISONS:
            raise ValueError(f"comparison must be one of {COMPARISONS}, not {comparison!r}")
        deletions = [np.atleast_1d(np.asarray(ids, dtype=np.int64)) for ids in deletions]
        if trains is None:
            trains = [None] * len(deletions)
        elif len(trains) != len(deletions):
            raise ValueError(f"{len(trains)} training sets for {len(deletions)} deletions")
        source = self.source if approximation is None else Approximated(approximation)
        # one line per call of one deletion would repeat the estimator's own progress lines
        results, progress = (
            [],
            Progress(
                len(deletions), f"{kind} deletions retrained (seed {seed})", self.log if len(deletions) > 1 else None
            ),
        )
        block = self.variants_per_batch if self.batched else max(len(deletions), 1)
        for first in range(0, len(deletions), block):
            chunk, given = deletions[first : first + block], trains[first : first + block]
            chunk_started = time.perf_counter()
            chunk_trains = [
                self.train.without(kind, ids) if train is None else train for ids, train in zip(chunk, given)
            ]
            baseline, variants = source.variants(
                self, kind, chunk, chunk_trains, seed, all(train is None for train in given)
            )
            chunk_results = []
            for ids in chunk:
                retrain_started = time.perf_counter()
                model = next(variants)
                excluded_items = ids if kind == "item" and comparison == "exclude" else []
                excluded_users = ids if kind == "user" and comparison == "exclude" else []
                base = (
                    self.experiment.evaluate(baseline.model, baseline.scores, excluded_items)
                    if len(excluded_items)
                    else baseline.per_user
                )
                variant = evaluate_variant(self.experiment, model, base, excluded_items)
                chunk_results.append(
                    Comparison(*compare(base, variant, excluded_users), time.perf_counter() - retrain_started)
                )
                progress.step()
            if self.batched:  # a batch's training time is shared by its variants
                shared = (time.perf_counter() - chunk_started - sum(r.seconds for r in chunk_results)) / len(chunk)
                chunk_results = [r._replace(seconds=r.seconds + shared) for r in chunk_results]
            results += chunk_results
        return results


def evaluate_variant(experiment: Experiment, model, base: pd.DataFrame, excluded_items=()) -> pd.DataFrame:
    """Per-user metrics of a deletion variant ``model`` on the catalog without ``excluded_items``.
    An item deletion's variant that knows which users it changes (:class:`ChangesFewUsers`,
    compared without its deleted items) is evaluated on those users only: the others score every
    item left as the baseline does, so their rows are those of ``base``, the baseline evaluated
    on the same catalog, to the bit."""
    if not (len(excluded_items) and isinstance(model, ChangesFewUsers)):
        return experiment.evaluate(model, excluded_items=excluded_items)
    rows = np.flatnonzero(model.changed_users(experiment.evalset.users))
    if not len(rows):
        return base
    of_changed = replace(experiment, evalset=select_users(experiment.evalset, rows))
    changed = of_changed.evaluate(model, excluded_items=excluded_items).set_axis(base.index[rows])
    return pd.concat([base.drop(index=base.index[rows]), changed]).sort_index()


def select_users(evalset: SparseEvalSet | EvalSet, rows: np.ndarray) -> SparseEvalSet | EvalSet:
    """The evaluation set of the users at positions ``rows`` (ascending) of ``evalset``."""
    if isinstance(evalset, EvalSet):  # every field holds one row per user
        return replace(evalset, **{field.name: getattr(evalset, field.name)[rows] for field in fields(evalset)})
    position = np.full(len(evalset), -1)
    position[rows] = np.arange(len(rows))
    kept = position[evalset.pair_rows] >= 0
    pairs = {  # every pair_* field holds one value per evaluation pair
        field.name: getattr(evalset, field.name)[kept] for field in fields(evalset) if field.name.startswith("pair_")
    }
    pairs["pair_rows"] = position[pairs["pair_rows"]]
    return replace(evalset, users=evalset.users[rows], seen=evalset.seen[rows], **pairs)


def seed_baselines(
    make_model: Callable, experiments: dict[str, Experiment], seeds
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit the full model once per seed and evaluate it on every experiment's split (all must
    share the training rows). Returns the aggregates (part, seed, metric, value) and the
    per-user metrics (part, seed, user, ...)."""
    first = next(iter(experiments.values()))
    for experiment in experiments.values():
        if not (
            np.array_equal(experiment.train.users, first.train.users)
            and np.array_equal(experiment.train.items, first.train.items)
        ):
            raise ValueError("every experiment must share the training rows")
    retrainer = Retrainer(make_model, first, log=None)
    values, per_user = [], []
    for seed in np.atleast_1d(seeds):
        seed = int(seed)
        model = retrainer.fitted(seed)
        for part, experiment in experiments.items():
            table = experiment.evaluate(model)
            values += [(part, seed, metric, value) for metric, value in aggregate(table).items()]
            per_user.append(table.assign(part=part, seed=seed)[["part", "seed", *table.columns]])
    return pd.DataFrame(values, columns=["part", "seed", "metric", "value"]), pd.concat(per_user, ignore_index=True)


ENTITY_SAMPLES = ("first", "random")


def entity_list(
    train: TrainSet, kind: str, limit: int | None = None, sample: str = "first", seed: int = 0
) -> np.ndarray:
    """Entities of ``kind`` to delete, in id order: every id of the global id space, or
    ``limit`` of them, the first ``limit`` (``sample="first"``) or drawn uniformly at random
    without replacement from a generator seeded with ``seed`` (``"random"``; the same draw in
    every shard job). Ids number users and items in their raw ids' order, so the first ones are
    rarely a sample of anything: the synthetic loader numbers a grown user's copies one after
    another."""
    if sample not in ENTITY_SAMPLES:
        raise ValueError(f"sample must be one of {', '.join(ENTITY_SAMPLES)}, not {sample!r}")
    n = train.n_users if kind == "user" else train.n_items
    if limit is None or limit >= n:
        return np.arange(n, dtype=np.int64)
    if sample == "first":
        return np.arange(limit, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False)).astype(np.int64)


def rows_per_entity(train: TrainSet, kind: str) -> np.ndarray:
    """Training rows of every user (or item), indexed by global id."""
    return np.bincount(
        train.users if kind == "user" else train.items, minlength=train.n_users if kind == "user" else train.n_items
    )
