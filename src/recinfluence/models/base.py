"""The model-agnostic contract and the training data every model receives.

A recommender needs only ``fit(train, seed)`` and ``score(users)``: a (len(users), n_items)
array of scores over the whole global item space, higher meaning more recommended. A model
that predicts ratings sets ``rating_scale`` (its clipped scores are then rating predictions,
so RMSE and MAE are reported). Nothing else is required.

To give meaningful deletion influence a model must keep the common-random-numbers property:
with the same seed, the random numbers that a retained user, item or training row receives
(initial parameters, position in the epoch order, negative samples) must not depend on which
other rows were deleted. Key them by global id (``TrainSet.n_users``/``n_items``) and by
``TrainSet.rows`` (each row's fixed position in the full training set), never by position in
the arrays a model is handed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ENTITY_KINDS = ("user", "item")


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
