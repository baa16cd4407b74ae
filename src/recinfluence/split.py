"""Seeded train / validation / test split of interactions.

The split assigns each interaction row to one part. Ids are not touched: a user whose rows all
land in the evaluation parts keeps its id (and its model parameters) with no training data, and
is reported in :func:`coverage`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import InputError

PROTOCOLS = ("paper", "heldout")


@dataclass(frozen=True)
class Split:
    """Row indices of the interaction frame for each part (``valid`` is empty under the paper
    protocol). ``evaluation`` is the part on which influence is measured; pruning is always
    judged on ``test``."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    protocol: str

    @property
    def evaluation(self) -> np.ndarray:
        return self.valid if self.protocol == "heldout" else self.test

    def to_frame(self) -> pd.DataFrame:
        parts = [("train", self.train), ("valid", self.valid), ("test", self.test)]
        frame = pd.DataFrame(
            {
                "row": np.concatenate([rows for _, rows in parts]),
                "part": np.concatenate([[name] * len(rows) for name, rows in parts]),
            }
        )
        return frame.sort_values("row", ignore_index=True)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, protocol: str) -> "Split":
        rows = {
            name: np.sort(frame.loc[frame["part"] == name, "row"].to_numpy()) for name in ("train", "valid", "test")
        }
        return cls(protocol=protocol, **rows)


def split_interactions(
    n_rows: int,
    test_fraction: float = 0.25,
    seed: int = 0,
    protocol: str = "paper",
    valid_fraction: float = 0.1,
    n_planted: int = 0,
) -> Split:
    """Random split of ``n_rows`` interactions. ``test_fraction`` of all rows go to test; under
    the held-out protocol ``valid_fraction`` of the remaining rows go to validation.

    The last ``n_planted`` rows (planted fake users', :func:`recinfluence.data.inject`) always
    train and take no part in the draw: the other rows are split exactly as
    ``split_interactions(n_rows - n_planted, ...)`` splits them, so the real users' split is the
    same with or without planted ones. The same seed draws the same permutation under both
    protocols, so the held-out protocol's training rows are a subset of the paper's."""
    if n_planted < 0:
        raise InputError(f"split: {n_planted!r} planted rows is not a whole number >= 0")
    if n_planted:
        if n_planted >= n_rows:
            raise InputError(f"split: {n_planted} planted rows of {n_rows} leave no real row to split")
        real = split_interactions(n_rows - n_planted, test_fraction, seed, protocol, valid_fraction)
        planted = np.arange(n_rows - n_planted, n_rows, dtype=real.train.dtype)
        return Split(train=np.concatenate([real.train, planted]), valid=real.valid, test=real.test, protocol=protocol)
    if protocol not in PROTOCOLS:
        raise InputError(f"split.protocol: unknown protocol {protocol!r} (one of {', '.join(PROTOCOLS)})")
    for key, value in (("split.test_fraction", test_fraction), ("split.valid_fraction", valid_fraction)):
        if not 0 < value < 1:
            raise InputError(f"{key}: {value} is not in (0, 1)")
    n_test = int(round(test_fraction * n_rows))
    n_valid = int(round(valid_fraction * (n_rows - n_test))) if protocol == "heldout" else 0
    if n_test == 0 or n_rows - n_test - n_valid == 0:
        raise InputError(f"split: {n_rows} interactions are too few for a test fraction of {test_fraction}")
    if protocol == "heldout" and n_valid == 0:
        raise InputError(
            f"split: {n_rows} interactions are too few for a validation fraction of {valid_fraction} (heldout protocol)"
        )
    order = np.random.default_rng(seed).permutation(n_rows)
    return Split(
        test=np.sort(order[:n_test]),
        valid=np.sort(order[n_test : n_test + n_valid]),
        train=np.sort(order[n_test + n_valid :]),
        protocol=protocol,
    )


def check_evaluable(frame: pd.DataFrame, split: Split, k: int, relevance_threshold: float) -> None:
    """Refuse, with the reason, data too small for the study: fewer than two users or items, a
    cut-off K above the number of items, or an evaluated split (validation under ``heldout``,
    test) without one relevant rating (every ranking metric would be NaN)."""
    n_users, n_items = frame["user"].nunique(), frame["item"].nunique()
    if n_users < 2 or n_items < 2:
        raise InputError(f"{n_users} user(s) and {n_items} item(s): deletion diagnostics need at least two of each")
    if k > n_items:
        raise InputError(f"k: {k} is more than the {n_items} items of the dataset (a top-{k} list cannot be filled)")
    parts = {**({"validation": split.valid} if split.protocol == "heldout" else {}), "test": split.test}
    for name, rows in parts.items():
        if not (frame["rating"].to_numpy()[rows] >= relevance_threshold).any():
            raise InputError(
                f"the {name} split has no rating >= relevance_threshold {relevance_threshold} ({len(rows)} ratings): "
                "every ranking metric would be undefined; lower relevance_threshold or use more data"
            )


def coverage(frame: pd.DataFrame, split: Split) -> dict:
    """Users and items with no training interaction: they keep their ids but the model knows
    nothing of them, so their recommendations come from initial parameters alone."""
    train = frame.iloc[split.train]
    users_without = np.setdiff1d(frame["user"].unique(), train["user"].unique())
    items_without = np.setdiff1d(frame["item"].unique(), train["item"].unique())
    return {
        "train_rows": int(len(split.train)),
        "valid_rows": int(len(split.valid)),
        "test_rows": int(len(split.test)),
        "users_without_training": users_without.tolist(),
        "items_without_training": items_without.tolist(),
    }
