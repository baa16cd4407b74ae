"""Interaction data: the table every loader returns, its validation and dense integer ids.

Every loader returns an :class:`Interactions`: a table of (user, item, rating, timestamp) whose
user and item ids are dense integers over the whole dataset, fixed before any split, plus the
tables that map them back to raw ids (and item titles where the dataset has them). Models size
their parameters by this global id space, and a deletion removes rows, never ids.

Also the helpers the loaders share: the checks that a file is there and is text, pandas' parser
errors in one line, and the progress lines a loader logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import write_parquet

_STDERR = object()  # stands for sys.stderr as it is at call time: cli.log_to and pytest swap it
COLUMNS = ("user", "item", "rating", "timestamp")


@dataclass(frozen=True)
class Interactions:
    """Ratings with dense ids. ``frame`` has columns user, item (int64), rating (float64),
    timestamp (int64); ``users`` and ``items`` are indexed by dense id and hold ``raw_id``
    (and ``title`` for items where known)."""

    frame: pd.DataFrame
    users: pd.DataFrame
    items: pd.DataFrame

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        write_parquet(self.frame, folder / "interactions.parquet")
        write_parquet(self.users, folder / "users.parquet")
        write_parquet(self.items, folder / "items.parquet")

    @classmethod
    def load(cls, folder: str | Path) -> "Interactions":
        folder = Path(folder)
        return cls(
            frame=pd.read_parquet(folder / "interactions.parquet"),
            users=pd.read_parquet(folder / "users.parquet"),
            items=pd.read_parquet(folder / "items.parquet"),
        )


def from_raw(
    raw: pd.DataFrame, source: str, rating_scale=None, titles=None, first_line: int | None = None
) -> Interactions:
    """Validate a table with raw user/item ids and give it dense ids.

    Raw ids are sorted before numbering, so the same data always gets the same ids.
    Duplicate (user, item) rows are rejected: which rating is right is the data owner's call.
    """

    def data_row(position: int) -> str:
        """The row of the file (from 1, after any header): ``raw``'s index label when a loader
        kept the file's row numbers (the Amazon k-core keeps a subset), else the position; with
        the line of the text file when ``first_line`` (the line of data row 1) is known."""
        row = int(raw.index[position]) + 1 if pd.api.types.is_integer_dtype(raw.index) else position + 1
        return f"{row} (line {row - 1 + first_line})" if first_line is not None else str(row)

    missing = [c for c in ("user", "item", "rating") if c not in raw.columns]
    if missing:
        raise InputError(f"{source}: missing column(s) {', '.join(missing)}")
    if raw.empty:
        raise InputError(f"{source}: no interactions (the file is empty)")
    texts = [column for column in ("user", "item") if not _plain_integers(raw[column])]  # integer ids: nothing to strip
    for column in texts:
        values = raw[column]
        blank = values.isna() | (values.astype(str).str.strip() == "")
        if blank.any():
            row = int(np.flatnonzero(blank.to_numpy())[0])
            raise InputError(f"{source}: {blank.sum()} blank {column} id(s), first at data row {data_row(row)}")
    # ids as training sees them (" 1" is user "1"), so the duplicate check below sees them too
    raw = raw.assign(**{column: raw[column].astype(str).str.strip() for column in texts})
    ratings = pd.to_numeric(raw["rating"], errors="coerce")
    bad = ratings.isna() | ~np.isfinite(ratings)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{source}: non-numeric rating {_shown(raw['rating'].iloc[row])} at data row {data_row(row)}")
    if rating_scale is not None:
        low, high = rating_scale
        out = (ratings < low) | (ratings > high)
        if out.any():
            row = int(np.flatnonzero(out.to_numpy())[0])
            raise InputError(
                f"{source}: rating {ratings.iloc[row]} at data row {data_row(row)} is outside "
                f"the rating scale [{low}, {high}]"
            )
    duplicated = raw.duplicated(subset=["user", "item"], keep=False)
    if duplicated.any():
        first = raw.loc[duplicated].iloc[0]
        raise InputError(
            f"{source}: {int(duplicated.sum())} rows repeat a (user, item) pair, e.g. "
            f"user {str(first['user'])!r} item {str(first['item'])!r}; keep one rating per pair"
        )
    if "timestamp" in raw.columns:
        timestamps = pd.to_numeric(raw["timestamp"], errors="coerce").astype("float64")
        bad = timestamps.isna() | ~np.isfinite(timestamps) | (timestamps.abs() >= 2.0**63)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"{source}: timestamp {_shown(raw['timestamp'].iloc[row])} at data row {data_row(row)} is not a finite "
                "number within the 64-bit integer range"
            )
        timestamps = timestamps.astype("int64")
    else:
        timestamps = pd.Series(0, index=raw.index, dtype="int64")

    user_ids, user_raw = _dense_ids(raw["user"])
    item_ids, item_raw = _dense_ids(raw["item"])
    frame = pd.DataFrame(
        {
            "user": user_ids.astype("int64"),
            "item": item_ids.astype("int64"),
            "rating": ratings.to_numpy(dtype="float64"),
            "timestamp": timestamps.to_numpy(),
        }
    )
    users = pd.DataFrame({"raw_id": user_raw})
    items = pd.DataFrame({"raw_id": item_raw})
    if titles is not None:
        items["title"] = items["raw_id"].map(titles).fillna("")
    users.index.name = items.index.name = "id"
    return Interactions(frame=frame, users=users, items=items)


def _shown(value) -> str:
    """A raw field as the user wrote it: 'abc', nan, inf (not np.float64(nan))."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _plain_integers(values: pd.Series) -> bool:
    """Ids of a numpy integer dtype (which holds no missing value), none negative: their text
    has no blank, space or leading zero. (Pandas' nullable Int64 may hold a blank: not these.)"""
    return isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu" and (values.empty or values.min() >= 0)


def _dense_ids(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Number raw ids 0..n-1 in sorted order (numeric order when every id is a plain integer)."""
    if _plain_integers(values):  # the numbering the text of these ids gets below, without the text
        uniques, codes = np.unique(values.to_numpy(), return_inverse=True)
        return codes.astype("int64").ravel(), uniques.astype(str)
    values = values.astype(str).str.strip()
    if not values.str.fullmatch(r"[1-9][0-9]*|0").all():
        codes, uniques = pd.factorize(values, sort=True)
        return codes.astype("int64"), np.asarray(uniques).astype(str)
    # plain integers without leading zeros: numeric order is (length, text) order, which also
    # holds for ids beyond 64 bits
    codes, uniques = pd.factorize(values)
    uniques = np.asarray(uniques).astype(str)
    order = np.lexsort((uniques, np.char.str_len(uniques)))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes], uniques[order]


def _require_file(path: Path) -> None:
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a file")
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if not path.is_file():
        raise InputError(f"{path}: is not a regular file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")


def _require_text(path: Path) -> None:
    """Refuse a binary file (a NUL byte in its first 64 KiB) or one that is not UTF-8 there."""
    sample = 1 << 16
    with open(path, "rb") as handle:
        head = handle.read(sample)
    if b"\0" in head:
        raise InputError(
            f"{path}: is a binary file, not a text table (a Parquet file needs the table loader and a .parquet name)"
        )
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if len(head) < sample or error.start < len(head) - 3:  # not merely a character cut at the end of the sample
            raise InputError(f"{path}: is not UTF-8 text (byte {error.start}); save it as UTF-8") from None


def _parser_message(error: Exception) -> str:
    """pandas' parser error, one line, without its prefix ("Expected 4 fields in line 13, saw 5")."""
    return " ".join(str(error).replace("Error tokenizing data. C error: ", "").split())


def _distinct(codes: np.ndarray) -> int:
    return int(np.count_nonzero(np.bincount(codes)))


def _progress(log: TextIO | None, source: str, step: str, users: np.ndarray, items: np.ndarray) -> None:
    if log is not None:
        print(
            f"{source}: {step}: {_distinct(users)} users, {_distinct(items)} items, {len(users)} ratings",
            file=log,
            flush=True,
        )
