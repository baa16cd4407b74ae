"""Interaction data: loaders, validation and dense integer ids.

Every loader returns an :class:`Interactions`: a table of (user, item, rating, timestamp) whose
user and item ids are dense integers over the whole dataset, fixed before any split, plus the
tables that map them back to raw ids (and item titles where the dataset has them). Models size
their parameters by this global id space, and a deletion removes rows, never ids.
"""

from __future__ import annotations

import hashlib
import http.client
import math
import shutil
import sys
import tempfile
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from .errors import InputError
from .io import write_parquet

MOVIELENS_100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
MOVIELENS_100K_SHA256 = {
    "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
    "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
}
MOVIELENS_1M_URL = "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
MOVIELENS_25M_URL = "https://files.grouplens.org/datasets/movielens/ml-25m.zip"
# sha256 of the GroupLens archives as TensorFlow Datasets pins them (tensorflow/datasets,
# tensorflow_datasets/url_checksums/movielens.txt: ml-1m.zip 5,917,549 bytes, ml-25m.zip
# 261,978,986 bytes); several unrelated public projects pin the same two values, and those that
# say so found their download's md5 equal to the one GroupLens publishes (ml-1m.zip
# c4d9eecfca2ab87c1945afe126590906, ml-25m.zip 6b51fb2759a8657d3bfcbfc42b592ada). The same file's
# ml-100k.zip entry (50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229) cannot be
# checked against our u.data sha256 directly (that one is of the extracted file, not of the zip),
# but public projects that pin both pair it with exactly our u.data and u.item sha256. We could not
# download the archives to recompute them. GroupLens publishes no sha256 of the files inside the
# 1M and 25M archives, so a local copy of those (a dataset's `path`) is read unverified.
MOVIELENS_ARCHIVE_SHA256 = {
    "ml-1m": "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
    "ml-25m": "8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
}
MAX_EXTRACTED_BYTES = 200 * 1024**2  # the ml-100k archive holds about 16 MB, ml-1m's files 25 MB
MAX_EXTRACTED_BYTES_25M = 2 * 1024**3  # ml-25m's ratings.csv and movies.csv: about 680 MB
_STDERR = object()  # stands for sys.stderr as it is at call time: cli.log_to and pytest swap it
AMAZON_ELECTRONICS_URL = (
    "https://snap.stanford.edu/data/amazon/productGraph/categoryFiles/ratings_Electronics.csv"
)
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


def from_raw(raw: pd.DataFrame, source: str, rating_scale=None, titles=None, first_line: int | None = None) -> Interactions:
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
                f"{source}: timestamp {_shown(raw['timestamp'].iloc[row])} at data row {data_row(row)} is not a finite number within "
                "the 64-bit integer range"
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


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_sha256(path: Path, expected: str) -> None:
    actual = sha256(path)
    if actual != expected:
        raise InputError(f"{path}: sha256 {actual} does not match the expected {expected}")


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
        raise InputError(f"{path}: is a binary file, not a text table (a Parquet file needs the table loader and a .parquet name)")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if len(head) < sample or error.start < len(head) - 3:  # not merely a character cut at the end of the sample
            raise InputError(f"{path}: is not UTF-8 text (byte {error.start}); save it as UTF-8") from None


def download(
    url: str,
    dest: str | Path,
    expected_sha256: str | None = None,
    timeout: float = 60.0,
    tries: int = 3,
    backoff: float = 2.0,
    instead: str = "the dataset's path",
    log: TextIO | None = _STDERR,  # type: ignore[assignment]
    pin: str | None = None,
) -> Path:
    """Download ``url`` to ``dest`` through a temporary name, verifying the sha256 if given (if
    not and nothing checks the file later, ``pin`` names the config key that would pin it, and
    ``log`` gets the file's sha256 with that key). A
    connection that fails or stalls for ``timeout`` seconds is tried again, ``tries`` times in
    all (waiting ``backoff``, then twice as long, ...); then one :class:`InputError` names the URL,
    the cause and the way out (set ``instead`` to a local copy). Progress goes to ``log``."""
    log = sys.stderr if log is _STDERR else log
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False, suffix=".part") as tmp:
        partial = Path(tmp.name)
    try:
        for attempt in range(1, tries + 1):
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
                    _copy_with_progress(response, out, url, log)
                break
            except (OSError, http.client.HTTPException) as error:  # URLError, HTTPError and timeouts are OSErrors
                cause = getattr(error, "reason", None) or error
                if attempt == tries:
                    raise InputError(f"{url}: cannot download ({cause}) after {tries} tries; without a network, set {instead} to a local copy") from None
                if log is not None:
                    print(f"{url}: try {attempt} of {tries} failed ({cause}); again in {backoff * 2 ** (attempt - 1):.0f} s", file=log, flush=True)
                time.sleep(backoff * 2 ** (attempt - 1))
        actual = sha256(partial) if expected_sha256 or pin else None
        if expected_sha256 and actual != expected_sha256:
            raise InputError(f"{url}: downloaded sha256 {actual} does not match the expected {expected_sha256}")
        if not expected_sha256 and pin and log is not None:
            print(f"{url}: sha256 {actual}, not verified (no checksum is published); to pin this copy, set {pin}: {actual}", file=log, flush=True)
        partial.replace(dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest


def _copy_with_progress(response, out, url: str, log, every: float = 10.0) -> None:
    """Copy in 1 MiB blocks; every ``every`` seconds, and at the end of a large file, a line with
    the megabytes done, the rate and the ETA (when the server gives the length)."""
    total = int(response.headers.get("Content-Length") or 0) if getattr(response, "headers", None) else 0
    done, started, printed = 0, time.perf_counter(), time.perf_counter()
    for block in iter(lambda: response.read(1 << 20), b""):
        out.write(block)
        done += len(block)
        now = time.perf_counter()
        if log is not None and now - printed >= every:
            printed = now
            rate = done / max(now - started, 1e-9)
            eta = f", ETA {(total - done) / rate:.0f} s" if total else ""
            of = f" of {total / 1e6:.1f}" if total else ""
            print(f"{url}: {done / 1e6:.1f}{of} MB, {rate / 1e6:.1f} MB/s{eta}", file=log, flush=True)


@dataclass(frozen=True)
class MovieLensRelease:
    """One GroupLens archive: its top folder (also the cache folder), its name for messages, the
    files a loader reads (each with its published sha256, or None where the archive's own sha256
    is the only check), the file that marks a complete copy, and the largest size they may
    extract to (None: :data:`MAX_EXTRACTED_BYTES`, read at call time)."""

    folder: str
    title: str
    url: str
    archive_sha256: str | None
    members: dict
    ratings: str
    max_bytes: int | None = None


MOVIELENS_RELEASES = {
    "movielens_100k": MovieLensRelease("ml-100k", "MovieLens 100K", MOVIELENS_100K_URL, None, MOVIELENS_100K_SHA256, "u.data"),
    "movielens_1m": MovieLensRelease(
        "ml-1m", "MovieLens 1M", MOVIELENS_1M_URL, MOVIELENS_ARCHIVE_SHA256["ml-1m"], {"ratings.dat": None, "movies.dat": None}, "ratings.dat"
    ),
    "movielens_25m": MovieLensRelease(
        "ml-25m", "MovieLens 25M", MOVIELENS_25M_URL, MOVIELENS_ARCHIVE_SHA256["ml-25m"], {"ratings.csv": None, "movies.csv": None}, "ratings.csv",
        MAX_EXTRACTED_BYTES_25M,
    ),
}


def download_movielens(
    folder: str | Path, release: MovieLensRelease, url: str | None = None, archive_sha256: str | None = None, instead: str = "the dataset's path"
) -> Path:
    """Fetch a GroupLens archive into ``folder`` (checking the archive's sha256 if given), extract
    the files the loader reads into ``folder/<release.folder>`` and verify those with a
    published sha256. Returns that folder; neither the archive nor a partial folder is left."""
    folder, url = Path(folder), url or release.url
    archive = download(url, folder / f"{release.folder}.zip", archive_sha256, instead=instead)
    limit = release.max_bytes or MAX_EXTRACTED_BYTES
    try:
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            try:
                with zipfile.ZipFile(archive) as bundle:
                    present = set(bundle.namelist())
                    wanted = [f"{release.folder}/{name}" for name in release.members if f"{release.folder}/{name}" in present]
                    size = sum(bundle.getinfo(name).file_size for name in wanted)
                    if size > limit:
                        raise InputError(f"{url}: the archive would extract to {size / 1e6:.0f} MB, more than {release.title}'s (limit {limit / 1e6:.0f} MB)")
                    for name in wanted:
                        bundle.extract(name, tmp)
            except zipfile.BadZipFile as error:
                raise InputError(f"{url}: not a valid zip archive ({error})") from None
            extracted = Path(tmp) / release.folder
            for name, expected in release.members.items():
                member = extracted / name
                if not member.is_file() or member.stat().st_size == 0:
                    raise InputError(f"{url}: the archive has no (or an empty) {release.folder}/{name}")
                if expected is not None and (actual := sha256(member)) != expected:
                    raise InputError(f"{url}: {release.folder}/{name} in the archive has sha256 {actual}, not the published {expected}")
            target = folder / release.folder
            shutil.rmtree(target, ignore_errors=True)
            extracted.replace(target)
    finally:
        archive.unlink(missing_ok=True)  # kept neither on success (extracted) nor on failure
    return target


def download_movielens_100k(folder: str | Path, url: str = MOVIELENS_100K_URL, archive_sha256: str | None = None, instead: str = "the dataset's path") -> Path:
    """Fetch the GroupLens archive into ``folder`` (checking the archive's sha256 if given) and
    verify ``u.data`` and ``u.item`` against their published sha256."""
    return download_movielens(folder, MOVIELENS_RELEASES["movielens_100k"], url, archive_sha256, instead)


def load_movielens_100k(folder: str | Path, rating_scale=(1, 5)) -> Interactions:
    """MovieLens 100K from a GroupLens folder (``u.data``, ``u.item``); ``u.data`` is checked
    against the published sha256 so that a truncated or edited copy is caught."""
    folder = Path(folder)
    ratings_file = folder / "u.data"
    _require_file(ratings_file)
    _check_sha256(ratings_file, MOVIELENS_100K_SHA256["u.data"])
    raw = pd.read_csv(ratings_file, sep="\t", header=None, names=list(COLUMNS), dtype=str)
    titles = None
    item_file = folder / "u.item"
    if item_file.is_file():
        _check_sha256(item_file, MOVIELENS_100K_SHA256["u.item"])
        item_table = pd.read_csv(
            item_file, sep="|", header=None, encoding="latin-1", usecols=[0, 1], dtype=str
        )
        titles = dict(zip(item_table[0], item_table[1]))
    return from_raw(raw, str(ratings_file), rating_scale=rating_scale, titles=titles, first_line=1)


def load_movielens_1m(folder: str | Path, rating_scale=(1, 5), log: TextIO | None = _STDERR) -> Interactions:  # type: ignore[assignment]
    """MovieLens 1M from a GroupLens folder: ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``)
    and, where present, the titles of ``movies.dat`` (``MovieID::Title::Genres``, Latin-1).
    GroupLens publishes no sha256 of these files: a download is verified by the archive's."""
    folder = Path(folder)
    ratings_file = folder / "ratings.dat"
    _require_file(ratings_file)
    _require_text(ratings_file)
    try:  # "::" read as ":" with empty fields between (the C parser takes one-character separators)
        raw = pd.read_csv(ratings_file, sep=":", header=None, usecols=[0, 2, 4, 6])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        raise InputError(f"{ratings_file}: cannot be read as UserID::MovieID::Rating::Timestamp lines ({_parser_message(error)})") from None
    raw.columns = list(COLUMNS)
    titles = _movielens_titles(folder / "movies.dat", _double_colon_titles)
    return _read_movielens(raw, ratings_file, rating_scale, titles, first_line=1, log=log)


def load_movielens_25m(folder: str | Path, rating_scale=(0.5, 5), log: TextIO | None = _STDERR) -> Interactions:  # type: ignore[assignment]
    """MovieLens 25M from a GroupLens folder: ``ratings.csv`` (header userId,movieId,rating,timestamp;
    half stars from 0.5 to 5) and, where present, the titles of ``movies.csv``. GroupLens publishes
    no sha256 of these files: a download is verified by the archive's."""
    folder = Path(folder)
    ratings_file = folder / "ratings.csv"
    _require_file(ratings_file)
    _require_text(ratings_file)
    header = ["userId", "movieId", "rating", "timestamp"]
    try:  # ids parsed as integers: 25M ids as Python strings would take gigabytes
        raw = pd.read_csv(ratings_file)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        raise InputError(f"{ratings_file}: cannot be read as a CSV ({_parser_message(error)})") from None
    if list(raw.columns) != header:
        raise InputError(f"{ratings_file}: expected the header {','.join(header)}, found {','.join(map(str, raw.columns))}")
    raw.columns = list(COLUMNS)
    titles = _movielens_titles(folder / "movies.csv", lambda path: pd.read_csv(path, usecols=["movieId", "title"], dtype=str))
    return _read_movielens(raw, ratings_file, rating_scale, titles, first_line=2, log=log)


def _double_colon_titles(path: Path) -> pd.DataFrame:
    """``MovieID::Title::Genres`` lines as a table of movieId and title (a title may hold ':')."""
    rows = [line.split("::", 1) for line in path.read_text(encoding="latin-1").splitlines() if line.strip()]
    return pd.DataFrame({"movieId": [row[0] for row in rows], "title": [row[1].rsplit("::", 1)[0] if len(row) > 1 else "" for row in rows]})


def _movielens_titles(path: Path, read) -> dict | None:
    """Titles by raw movie id from a MovieLens movies file read by ``read`` (None without one)."""
    if not path.is_file():
        return None
    try:
        table = read(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        raise InputError(f"{path}: cannot be read as a movies table ({_parser_message(error)})") from None
    return dict(zip(table["movieId"].astype(str).str.strip(), table["title"].fillna("")))


def _read_movielens(raw: pd.DataFrame, ratings_file: Path, rating_scale, titles, first_line: int, log) -> Interactions:
    log = sys.stderr if log is _STDERR else log
    data = from_raw(raw, str(ratings_file), rating_scale=rating_scale, titles=titles, first_line=first_line)
    _progress(log, str(ratings_file), "read", data.frame["user"].to_numpy(), data.frame["item"].to_numpy())
    return data


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


def _sample_rows(users: np.ndarray, items: np.ndarray, k: int, sample_users: int, seed: int) -> tuple[np.ndarray, int, int]:
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
            path, header=None, skiprows=1 if has_header else 0, names=columns, dtype={"user": str, "item": str, "rating": str}
        )
        return table, 2 if has_header else 1
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        if isinstance(error, InputError):
            raise
        raise InputError(f"{path}: cannot be read as a CSV of {len(columns)} columns ({_parser_message(error)})") from None


def _parser_message(error: Exception) -> str:
    """pandas' parser error, one line, without its prefix ("Expected 4 fields in line 13, saw 5")."""
    return " ".join(str(error).replace("Error tokenizing data. C error: ", "").split())


def _distinct(codes: np.ndarray) -> int:
    return int(np.count_nonzero(np.bincount(codes)))


def _progress(log: TextIO | None, source: str, step: str, users: np.ndarray, items: np.ndarray) -> None:
    if log is not None:
        print(f"{source}: {step}: {_distinct(users)} users, {_distinct(items)} items, {len(users)} ratings", file=log, flush=True)




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
    return from_raw(raw.iloc[rows], source, rating_scale=rating_scale, first_line=first_line)  # the file's row numbers kept for messages


def load_table(path: str | Path, columns: dict, rating_scale=None, sep: str = ",") -> Interactions:
    """Any CSV or Parquet file; ``columns`` maps user/item/rating[/timestamp] to the file's names."""
    path = Path(path)
    _require_file(path)
    if path.suffix != ".parquet":
        _require_text(path)
    try:
        table = pd.read_parquet(path) if path.suffix == ".parquet" else _read_table_csv(path, sep)
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise InputError(f"{path}: cannot be read ({_parser_message(error)})") from None
    wanted = {role: name for role, name in columns.items() if name}
    missing = [name for name in wanted.values() if name not in table.columns]
    if missing:
        hint = ""
        if table.shape[1] == 1:  # one field per line: the separator is probably not the file's
            found = [name for name, mark in (("tab", "\t"), ("';'", ";"), ("'|'", "|"), ("','", ",")) if mark in str(table.columns[0]) and mark != sep]
            hint = f"; the header is one field: is sep {sep!r} right?" + (f" (it looks {found[0]}-separated)" if found else "")
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, table.columns))}{hint}")
    raw = table[list(wanted.values())].rename(columns={name: role for role, name in wanted.items()})
    return from_raw(raw, str(path), rating_scale=rating_scale, first_line=None if path.suffix == ".parquet" else 2)


def _read_table_csv(path: Path, sep: str) -> pd.DataFrame:
    """A CSV with a header line, every field a string. Read without a header first, so that a
    row with more fields than the header is an error naming its line (pandas would otherwise
    take the extra leading fields as an index and shift every column of the table)."""
    cells = pd.read_csv(path, sep=sep, header=None, dtype=str)
    table = cells.iloc[1:].reset_index(drop=True)
    table.columns = [str(name) for name in cells.iloc[0]]
    return table


def expansion_shape(factor: int) -> tuple[int, int]:
    """The (rows, columns) of the expansion matrix S for ``factor``: rows = ceil(sqrt(factor)),
    columns the fewest with rows x columns > factor (1 x 1 for factor 1). One cell more than
    ``factor`` at least stays empty, so the seed always chooses among several S."""
    if factor == 1:
        return 1, 1
    rows = math.isqrt(factor - 1) + 1
    return rows, factor // rows + 1


def expansion_matrix(factor: int, seed: int = 0) -> np.ndarray:
    """The seeded binary matrix S of :func:`expand_interactions`, of shape
    :func:`expansion_shape` with ``factor`` ones and at least one in every row and column: the
    rows and columns in a seeded order are paired off along a diagonal (max(rows, columns)
    ones), then the other ones fall on cells drawn uniformly from the rest."""
    rows, columns = expansion_shape(factor)
    rng = np.random.default_rng(seed)
    row_order, column_order = rng.permutation(rows), rng.permutation(columns)
    diagonal = np.arange(max(rows, columns))
    matrix = np.zeros((rows, columns), dtype=bool)
    matrix[row_order[diagonal % rows], column_order[diagonal % columns]] = True
    free = np.flatnonzero(~matrix.ravel())
    matrix.ravel()[rng.choice(free, factor - len(diagonal), replace=False)] = True
    return matrix


def expand_interactions(
    data: Interactions,
    factor: int,
    seed: int = 0,
    source: str = "synthetic",
    log: TextIO | None = _STDERR,  # type: ignore[assignment]
) -> Interactions:
    """Grow ``data`` ``factor`` times by a Kronecker expansion in the spirit of Belletti et al.
    (2019, "Scalable realistic recommendation datasets through fractal expansions"): R x S,
    with R the (user, item) incidence of ``data`` and S the seeded binary matrix of
    :func:`expansion_matrix` (a x b, ``factor`` ones, every row and column holding one).

    Each rating (u, i, rating, timestamp) and each one-cell (r, c) of S give the rating
    (u * a + r, i * b + c, rating, timestamp): ``factor`` times the ratings, a times the users,
    b times the items. User copy (u, r) rates the copies (i, c), c in row r of S, of exactly the
    items u rates, so its count is u's times the ones of row r (item copies likewise with the
    columns): the count distributions keep their shape, scaled by S's row and column sums.
    Raw ids are ``<raw id>#<copy>``, titles ``<title> (copy <c>)``. Rows come in the source's
    order, the copies of one rating together. Vectorised, and no copy of the result is made:
    growing MovieLens 100K to 10M ratings takes a fraction of a second and the result's 320 MB."""
    log = sys.stderr if log is _STDERR else log
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise InputError(f"{source}: factor must be a whole number of at least 1, not {factor!r}")
    factor = int(factor)
    frame = data.frame
    _progress(log, source, "source", frame["user"].to_numpy(), frame["item"].to_numpy())
    matrix = expansion_matrix(factor, seed)
    a, b = matrix.shape
    copy_rows, copy_columns = np.nonzero(matrix)  # row-major: the ones of S in a fixed order
    expanded = pd.DataFrame(
        {
            "user": np.add.outer(frame["user"].to_numpy(dtype=np.int64) * a, copy_rows).ravel(),
            "item": np.add.outer(frame["item"].to_numpy(dtype=np.int64) * b, copy_columns).ravel(),
            "rating": np.repeat(frame["rating"].to_numpy(dtype=np.float64), factor),
            "timestamp": np.repeat(frame["timestamp"].to_numpy(dtype=np.int64), factor),
        },
        copy=False,  # the four new arrays are the frame's: no second copy of 10M rows
    )
    result = Interactions(frame=expanded, users=_copies(data.users, a), items=_copies(data.items, b))
    _progress(log, source, f"expanded x{factor} (S {a}x{b}, seed {seed})", expanded["user"].to_numpy(), expanded["item"].to_numpy())
    return result


def _copies(table: pd.DataFrame, copies: int) -> pd.DataFrame:
    """The id table of ``copies`` copies of each id, copy k of id j at j * copies + k."""
    copy = np.tile(np.arange(copies).astype(str), len(table))
    out = pd.DataFrame({"raw_id": np.repeat(table["raw_id"].to_numpy().astype(str), copies).astype(object) + "#" + copy})
    if "title" in table.columns:
        titles = np.repeat(table["title"].to_numpy().astype(str), copies).astype(object)
        out["title"] = np.where(titles != "", titles + " (copy " + copy + ")", "")
    out.index.name = "id"
    return out


def load_dataset(spec, cache_dir: str | Path = "resources") -> Interactions:
    """Load the dataset one entry of ``datasets`` describes (a
    :class:`recinfluence.settings.Dataset`; a key left out is ``None``: the loader's default).
    A ``synthetic`` entry loads its ``source`` entry (downloads go to the same ``cache_dir``)
    and expands it."""
    if spec.loader in MOVIELENS_RELEASES:
        release = MOVIELENS_RELEASES[spec.loader]
        folder = spec.path or Path(cache_dir) / release.folder
        if not spec.path and not (Path(folder) / release.ratings).is_file():
            download_movielens(cache_dir, release, spec.url, spec.sha256 or release.archive_sha256, instead=f"datasets.{spec.name}.path")
        return MOVIELENS_LOADERS[spec.loader](folder, spec.scale())
    if spec.loader == "amazon_ratings":
        path = spec.path
        if not path:
            path = Path(cache_dir) / "ratings_Electronics.csv"
            if not path.is_file():
                download(spec.url or AMAZON_ELECTRONICS_URL, path, spec.sha256, instead=f"datasets.{spec.name}.path", pin=f"datasets.{spec.name}.sha256")
        return load_amazon_ratings(
            path,
            columns=spec.columns or COLUMNS,
            k=spec.k_core or 5,
            sample_users=spec.sample_users,
            seed=spec.sample_seed or 0,
            rating_scale=spec.scale(),
        )
    if spec.loader == "table":
        return load_table(spec.path, spec.columns, spec.rating_scale, spec.sep or ",")
    if spec.loader == "synthetic":
        source = spec.source_spec()
        return expand_interactions(load_dataset(source, cache_dir), spec.factor, spec.expansion_seed or 0, source=f"datasets.{spec.name}")
    known = ", ".join([*MOVIELENS_RELEASES, "amazon_ratings", "table", "synthetic"])
    raise InputError(f"datasets.{spec.name}.loader: unknown loader {spec.loader!r} ({known})")


MOVIELENS_LOADERS = {"movielens_100k": load_movielens_100k, "movielens_1m": load_movielens_1m, "movielens_25m": load_movielens_25m}
