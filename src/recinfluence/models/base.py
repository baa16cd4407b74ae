"""The model-agnostic contract and the training data every model receives.

A recommender needs only ``fit(train, seed)`` and ``score(users)`` (:class:`Recommender`): a
(len(users), n_items) array of scores over the whole global item space, higher meaning more
recommended. A model that predicts ratings sets ``rating_scale`` (its clipped scores are then
rating predictions, so RMSE and MAE are reported). Nothing else is required.

A model may offer more (:data:`CAPABILITIES`, by method name): deletion variants derived from
the fitted model without refitting, many variants trained in one pass, a warm start, influence
function variants. Each is a :class:`typing.Protocol` below; the retrainer and the approximate
estimators use what :func:`model_capabilities` finds, and the registry declares the built-ins'
(a test keeps the two equal). Two more protocols are not among them: a derived item deletion
that names the users it changes (:class:`ChangesFewUsers`), and a model's estimate of its peak
memory (:class:`EstimatesMemory`).

A model whose ``fit`` does not use its seed says so with a class attribute ``deterministic =
True`` (EASE, item-kNN): the retrainer then fits it once for every seed, since another fit would
give the same model (its noise floor is zero either way).

To give meaningful deletion influence a model must keep the common-random-numbers property:
with the same seed, the random numbers that a retained user, item or training row receives
(initial parameters, position in the epoch order, negative samples) must not depend on which
other rows were deleted. Key them by global id (``TrainSet.n_users``/``n_items``) and by
``TrainSet.rows`` (each row's fixed position in the full training set), never by position in
the arrays a model is handed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from ..registry import CAPABILITIES, ENTITY_KINDS

__all__ = [
    "CAPABILITIES",
    "CAPABILITY_PROTOCOLS",
    "ENTITY_KINDS",
    "DataSize",
    "MemoryNeed",
    "Recommender",
    "TrainSet",
    "is_deterministic",
    "model_capabilities",
    "rating_scale",
]


@dataclass(frozen=True)
class TrainSet:
    """Training rows in a fixed order, over the global id space.

    ``rows`` holds each row's position in the full training set, so a deletion variant can
    still key its random numbers by row. ``catalog`` marks the training catalog: the items
    with at least one row in the *full* training set, less deleted items. Deleting a user
    never changes it (not even for an item only that user rated), so the negatives of the
    other rows do not move; a deleted item leaves it."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    rows: np.ndarray
    n_users: int
    n_items: int
    n_full_rows: int
    rating_scale: tuple[float, float] = (1.0, 5.0)
    catalog: np.ndarray | None = None

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, n_users: int, n_items: int, rating_scale=(1.0, 5.0)) -> "TrainSet":
        return cls(
            users=frame["user"].to_numpy(dtype=np.int64),
            items=frame["item"].to_numpy(dtype=np.int64),
            ratings=frame["rating"].to_numpy(dtype=np.float64),
            rows=np.arange(len(frame), dtype=np.int64),
            n_users=n_users,
            n_items=n_items,
            n_full_rows=len(frame),
            rating_scale=tuple(rating_scale),
            catalog=np.bincount(frame["item"].to_numpy(dtype=np.int64), minlength=n_items) > 0,
        )

    @property
    def item_catalog(self) -> np.ndarray:
        """Boolean mask over item ids (from the rows at hand when ``catalog`` was not given)."""
        if self.catalog is not None:
            return self.catalog
        return np.bincount(self.items, minlength=self.n_items) > 0

    def __len__(self) -> int:
        return len(self.users)

    def matrix(self, values=None, dtype=np.float64):
        """The user x item matrix of these rows over the global id space (scipy CSR, sorted
        indices): ``values`` per row, or 1 for every row (a pair given twice is still one
        interaction)."""
        import scipy.sparse as sp  # here: planning the workflow imports this module without scipy

        data = np.ones(len(self), dtype=dtype) if values is None else np.asarray(values, dtype=dtype)
        matrix = sp.csr_matrix((data, (self.users, self.items)), shape=(self.n_users, self.n_items))
        if values is None:
            matrix.data[:] = 1
        matrix.sort_indices()
        return matrix

    def keep(self, mask: np.ndarray, deleted_items=()) -> "TrainSet":
        """The rows where ``mask`` is true, in the same relative order; ids are unchanged.
        ``deleted_items`` leave the catalog; nothing else does."""
        catalog = self.item_catalog.copy()
        catalog[np.asarray(deleted_items, dtype=np.int64)] = False
        return TrainSet(
            users=self.users[mask],
            items=self.items[mask],
            ratings=self.ratings[mask],
            rows=self.rows[mask],
            n_users=self.n_users,
            n_items=self.n_items,
            n_full_rows=self.n_full_rows,
            rating_scale=self.rating_scale,
            catalog=catalog,
        )

    def without(self, kind: str, ids) -> "TrainSet":
        """Delete every training row of the given users or items."""
        ids = np.atleast_1d(np.asarray(ids, dtype=np.int64))
        column = self.users if kind == "user" else self.items
        return self.keep(~np.isin(column, ids), deleted_items=ids if kind == "item" else ())


@runtime_checkable
class Recommender(Protocol):
    """The contract: fitted on a training set with a seed (returns itself), then scores users."""

    def fit(self, train: TrainSet, seed: int) -> "Recommender": ...

    def score(self, users: np.ndarray) -> np.ndarray: ...


def is_deterministic(model) -> bool:
    """Whether ``model`` declares that its fit ignores the seed (``deterministic = True``)."""
    return getattr(model, "deterministic", False) is True


@runtime_checkable
class DerivesDeletions(Protocol):
    """Deletion variants derived from the *fitted* model without refitting (a closed form),
    one per array of deleted ids of ``kind``, in order."""

    def deletion_variants(self, train: TrainSet, kind: str, deletions: list[np.ndarray]) -> Iterator[Recommender]: ...


@runtime_checkable
class ChangesFewUsers(Protocol):
    """A variant of :class:`DerivesDeletions` deleting items that knows whose scores it changes:
    ``changed_users(users)`` is a boolean mask over ``users``, False only where the user scores
    every item but the deleted ones exactly as the baseline does. An item deletion compared
    without its items (``comparison: exclude``) is then evaluated on the changed users only.
    A capability of the variant, not of the model class."""

    def changed_users(self, users: np.ndarray) -> np.ndarray: ...


class DataSize(NamedTuple):
    """What a model's memory grows with: the users and items of the id space, the ratings, and
    the ratings of the busiest user."""

    users: int
    items: int
    ratings: int
    busiest_user: int

    @classmethod
    def of(cls, users: np.ndarray, n_users: int, n_items: int) -> "DataSize":
        """The size of the ratings whose user ids are ``users``, over ``n_users`` x ``n_items``."""
        return cls(n_users, n_items, len(users), int(np.bincount(users, minlength=1).max()))


class MemoryNeed(NamedTuple):
    """A model's estimated peak memory in bytes, what takes it, and what would need less."""

    bytes: int
    what: str
    instead: str | None = None


@runtime_checkable
class EstimatesMemory(Protocol):
    """The peak memory of a job that fits this (unfitted) model on data of ``size``, scores it
    and derives or refits its deletion variants, beyond what every job holds (the data, the
    evaluation blocks): checked against ``resources.memory_mb`` before any training job
    (:func:`recinfluence.compose.check_memory`)."""

    def memory_needed(self, size: DataSize) -> MemoryNeed: ...


@runtime_checkable
class FitsMany(Protocol):
    """Several deletion variants of one training set trained in one pass; each variant's numbers
    are those of its own ``fit``, whichever variants share the pass."""

    def fit_many(self, trains: list[TrainSet], seed: int) -> list[Recommender]: ...


@runtime_checkable
class WarmStarts(Protocol):
    """The fitted model trained ``epochs`` more epochs on ``train``."""

    def warm_start(self, train: TrainSet, epochs: int) -> Recommender: ...


@runtime_checkable
class WarmStartsMany(Protocol):
    """:class:`WarmStarts` of several training sets in one pass."""

    def warm_start_many(self, trains: list[TrainSet], epochs: int) -> list[Recommender]: ...


@runtime_checkable
class InfluenceVariants(Protocol):
    """For each of ``trains`` (rows of ``train``, the set the model was fitted on), the fitted
    model moved by the influence function of the rows it lost; ``options`` are the model's own
    (the registry lists which)."""

    def influence_variants(self, train: TrainSet, trains: list[TrainSet], **options) -> Iterator[Recommender]: ...


CAPABILITY_PROTOCOLS = {
    "deletion_variants": DerivesDeletions,
    "fit_many": FitsMany,
    "warm_start": WarmStarts,
    "warm_start_many": WarmStartsMany,
    "influence_variants": InfluenceVariants,
}


def model_capabilities(model) -> set[str]:
    """The optional capabilities (:data:`CAPABILITIES`) that ``model`` (or its class) has."""
    conforms = issubclass if isinstance(model, type) else isinstance
    return {name for name, protocol in CAPABILITY_PROTOCOLS.items() if conforms(model, protocol)}


def rating_scale(model) -> tuple | None:
    """The (lowest, highest) rating a model predicts, or None for a model that only ranks."""
    return getattr(model, "rating_scale", None)
