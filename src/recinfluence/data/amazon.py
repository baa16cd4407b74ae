"""Amazon ratings-only CSVs: a k-core filter, then optionally a seeded sample of users that
keeps the k-core property."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from ..errors import InputError
from .downloads import download
from .interactions import (
    _STDERR,
    COLUMNS,
    Interactions,
    _distinct,
    _parser_message,
    _progress,
    _require_file,
    _require_text,
    from_raw,
)

AMAZON_ELECTRONICS_URL = "https://snap.stanford.edu/data/amazon/productGraph/categoryFiles/ratings_Electronics.csv"


def k_core(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    """Keep the largest subset in which every user and every item has at least ``k`` rows.

    A blank (NaN) id counts as one id of its own rather than vanishing here, so that
    validation still sees and reports it."""
    keep = _k_core_rows(_codes(frame["user"]), _codes(frame["item"]), k)
    return frame if len(keep) == len(frame) else frame.iloc[keep]


def _codes(values: pd.Series) -> np.ndarray:
    """Integer codes 0..n-1 numbering the ids in sorted order, NaN included as an id."""
    return pd.factorize(values, sort=True, use_na_sentinel=False)[0]


def _k_core_rows(users: np.ndarray, items: np.ndarray, k: int) -> np.ndarray:
    """Positions of the rows in the k-core of the (user code, item code) pairs, ascending."""
    rows = np.arange(len(users))
    # Peel rounds on ever shorter arrays: each round costs two bincounts over the rows still in.
    while True:
        keep = (np.bincount(users)[users] >= k) & (np.bincount(items)[items] >= k)
        if keep.all():
            return rows
        rows, users, items = rows[keep], users[keep], items[keep]


def _sample_rows(
    users: np.ndarray, items: np.ndarray, k: int, sample_users: int, seed: int
) -> tuple[np.ndarray, int, int]:
    """Rows of the k-core of a seeded sample of users whose core keeps about ``sample_users``.

    ``users`` and ``items`` are codes of rows that already form a k-core, users numbered in
    raw-id order. Users join in a seeded random order; the k-core of a prefix of that order
    only grows with the prefix (the core of a subset lies in the core of the superset), so a
    binary search finds the shortest prefix whose core keeps at least ``sample_users`` users.
    That prefix or the one a user shorter, whichever keeps a count closer to the target, is
    the sample. Returns its rows and the user counts kept by those two prefixes."""
    n_users = users.max() + 1
    turn = np.random.default_rng(seed).permutation(n_users)[users]  # each row's user's turn to join

    def core_of_prefix(length: int) -> tuple[np.ndarray, int]:
        rows = np.flatnonzero(turn < length)
        rows = rows[_k_core_rows(users[rows], items[rows], k)]
        return rows, _distinct(users[rows])

    shorter, longer = 0, n_users  # the core of all users is the input itself: it keeps them all
    while longer - shorter > 1:
        middle = (shorter + longer) // 2
        if core_of_prefix(middle)[1] >= sample_users:
            longer = middle
        else:
            shorter = middle
    below_rows, below = core_of_prefix(longer - 1)
    at_rows, at = core_of_prefix(longer)
    rows = below_rows if sample_users - below < at - sample_users else at_rows
    return rows, below, at


def read_ratings_csv(path: str | Path, columns=COLUMNS) -> tuple[pd.DataFrame, int]:
    """A ratings CSV with or without a header line; ``columns`` names the fields in file order.
    Returns the table and the line of the file its first row is on (2 after a header, else 1)."""
    path = Path(path)
    _require_file(path)
    _require_text(path)
    columns = list(columns)
    try:
        first = pd.read_csv(path, header=None, nrows=1, dtype=str)
        if first.shape[1] != len(columns):
            raise InputError(f"{path}: expected {len(columns)} columns ({', '.join(columns)}), found {first.shape[1]}")
        # A header line is recognised by a rating field that is not a number.
        has_header = pd.isna(pd.to_numeric(first.iloc[0, columns.index("rating")], errors="coerce"))
        table = pd.read_csv(
            path,
            header=None,
            skiprows=1 if has_header else 0,
            names=columns,
            dtype={"user": str, "item": str, "rating": str},
        )
        return table, 2 if has_header else 1
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        if isinstance(error, InputError):
            raise
        raise InputError(
            f"{path}: cannot be read as a CSV of {len(columns)} columns ({_parser_message(error)})"
        ) from None


def load_amazon_ratings(
    path: str | Path,
    columns=COLUMNS,
    k: int = 5,
    sample_users: int | None = None,
    seed: int = 0,
    log: TextIO | None = _STDERR,  # type: ignore[assignment]
    rating_scale=(1, 5),
) -> Interactions:
    """Amazon ratings-only CSV: k-core filter, then optionally a seeded sample of users.

    The sample keeps the k-core property and ends within 10% of ``sample_users`` users (see
    :func:`_sample_rows`); it is reproducible for a seed, and a larger ``sample_users`` with
    the same seed gives a superset. Where no such sample exists (adding one user to the sample
    pulls in so many others that the count jumps past the 10% band) an :class:`InputError`
    says so. A k-core with no more than ``sample_users`` users has nothing to sample: all of
    it is kept, with a note in the log, since a smaller dataset than asked is then the data's
    size, not a broken promise.

    ``log`` (default ``sys.stderr``; None for silence) gets one line per step with the
    users, items and ratings left: as read, after the k-core, after the sample."""
    log = sys.stderr if log is _STDERR else log
    source = str(path)
    if sample_users is not None and sample_users < 1:
        raise InputError(f"{source}: sample_users must be at least 1, not {sample_users}")
    raw, first_line = read_ratings_csv(path, columns)
    if raw.empty:
        raise InputError(f"{source}: no interactions (the file is empty)")
    users, items = _codes(raw["user"]), _codes(raw["item"])
    _progress(log, source, "read", users, items)
    rows = _k_core_rows(users, items, k)
    _progress(log, source, f"{k}-core", users[rows], items[rows])
    if len(rows) == 0:
        raise InputError(f"{source}: no interactions left after the {k}-core filter")
    if sample_users is not None:
        core_users = _distinct(users[rows])
        if core_users <= sample_users:
            note = f"no sample: sample_users={sample_users} is not below the {k}-core's {core_users} users, all kept"
            _progress(log, source, note, users[rows], items[rows])
        else:
            # Renumber the core's users 0..n-1 (still in raw-id order) so the sample depends
            # only on the core, not on the users the filter dropped.
            core_user_codes = np.unique(users[rows], return_inverse=True)[1]
            sampled, below, at = _sample_rows(core_user_codes, items[rows], k, sample_users, seed)
            rows = rows[sampled]
            kept = _distinct(users[rows])
            if 10 * abs(kept - sample_users) > sample_users:
                raise InputError(
                    f"{source}: cannot sample sample_users={sample_users} within 10% from the {k}-core with "
                    f"seed {seed}: one more user takes the re-cored sample from {below} to {at} users; "
                    "try another sample_users or seed"
                )
            _progress(log, source, f"sample of {sample_users} users (seed {seed}) re-cored", users[rows], items[rows])
    return from_raw(
        raw.iloc[rows], source, rating_scale=rating_scale, first_line=first_line
    )  # the file's row numbers kept for messages


def from_spec(spec, cache_dir: str | Path) -> Interactions:
    """Load an ``amazon_ratings`` entry of ``datasets`` (a :class:`recinfluence.settings.Dataset`):
    its ``path``, else ``ratings_Electronics.csv`` in ``cache_dir``, downloaded there first when
    absent (verified against ``sha256`` if given, else logged with the key that would pin it)."""
    path = spec.path
    if not path:
        path = Path(cache_dir) / "ratings_Electronics.csv"
        if not path.is_file():
            key = f"datasets.{spec.name}"
            download(spec.url or AMAZON_ELECTRONICS_URL, path, spec.sha256, instead=f"{key}.path", pin=f"{key}.sha256")
    return load_amazon_ratings(
        path,
        columns=spec.columns or COLUMNS,
        k=spec.k_core or 5,
        sample_users=spec.sample_users,
        seed=spec.sample_seed or 0,
        rating_scale=spec.scale(),
    )
