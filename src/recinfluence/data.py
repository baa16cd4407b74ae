"""Interaction data: loaders, validation and dense integer ids.

Every loader returns an :class:`Interactions`: a table of (user, item, rating, timestamp) whose
user and item ids are dense integers over the whole dataset, fixed before any split, plus the
tables that map them back to raw ids (and item titles where the dataset has them). Models size
their parameters by this global id space, and a deletion removes rows, never ids.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .io import write_parquet

MOVIELENS_100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
MOVIELENS_100K_SHA256 = {"u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"}
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


def from_raw(raw: pd.DataFrame, source: str, rating_scale=None, titles=None) -> Interactions:
    """Validate a table with raw user/item ids and give it dense ids.

    Raw ids are sorted before numbering, so the same data always gets the same ids.
    Duplicate (user, item) rows are rejected: which rating is right is the data owner's call.
    """
    missing = [c for c in ("user", "item", "rating") if c not in raw.columns]
    if missing:
        raise InputError(f"{source}: missing column(s) {', '.join(missing)}")
    if raw.empty:
        raise InputError(f"{source}: no interactions (the file is empty)")
    for column in ("user", "item"):
        values = raw[column]
        blank = values.isna() | (values.astype(str).str.strip() == "")
        if blank.any():
            row = int(np.flatnonzero(blank.to_numpy())[0])
            raise InputError(f"{source}: {blank.sum()} blank {column} id(s), first at data row {row + 1}")
    ratings = pd.to_numeric(raw["rating"], errors="coerce")
    bad = ratings.isna() | ~np.isfinite(ratings)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"{source}: non-numeric rating {raw['rating'].iloc[row]!r} at data row {row + 1}"
        )
    if rating_scale is not None:
        low, high = rating_scale
        out = (ratings < low) | (ratings > high)
        if out.any():
            row = int(np.flatnonzero(out.to_numpy())[0])
            raise InputError(
                f"{source}: rating {ratings.iloc[row]} at data row {row + 1} is outside "
                f"the rating scale [{low}, {high}]"
            )
    duplicated = raw.duplicated(subset=["user", "item"], keep=False)
    if duplicated.any():
        first = raw.loc[duplicated].iloc[0]
        raise InputError(
            f"{source}: {int(duplicated.sum())} rows repeat a (user, item) pair, e.g. "
            f"user {first['user']!r} item {first['item']!r}; keep one rating per pair"
        )
    if "timestamp" in raw.columns:
        timestamps = pd.to_numeric(raw["timestamp"], errors="coerce")
        if timestamps.isna().any():
            raise InputError(f"{source}: non-numeric or missing timestamp values")
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


def _dense_ids(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Number raw ids 0..n-1 in sorted order (numeric order when every id is a plain integer)."""
    values = values.astype(str).str.strip()
    plain_integers = values.str.fullmatch(r"[1-9][0-9]*|0").all()
    key = values.astype("int64") if plain_integers else values
    codes, uniques = pd.factorize(key, sort=True)
    return codes.astype("int64"), np.asarray(uniques).astype(str)


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
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")


def download(url: str, dest: str | Path, expected_sha256: str | None = None) -> Path:
    """Download ``url`` to ``dest`` through a temporary name, verifying the sha256 if given."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False, suffix=".part") as tmp:
        partial = Path(tmp.name)
    try:
        with urllib.request.urlopen(url) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out)
        if expected_sha256:
            actual = sha256(partial)
            if actual != expected_sha256:
                raise InputError(
                    f"{url}: downloaded sha256 {actual} does not match the expected {expected_sha256}"
                )
        partial.replace(dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest


def download_movielens_100k(folder: str | Path, url: str = MOVIELENS_100K_URL, archive_sha256: str | None = None) -> Path:
    """Fetch the GroupLens archive into ``folder`` (checking the archive's sha256 if given) and
    verify ``u.data`` against its published sha256."""
    folder = Path(folder)
    archive = download(url, folder / "ml-100k.zip", archive_sha256)
    try:
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            try:
                with zipfile.ZipFile(archive) as bundle:
                    bundle.extractall(tmp)
            except zipfile.BadZipFile as error:
                raise InputError(f"{url}: not a valid zip archive ({error})") from None
            extracted = Path(tmp) / "ml-100k"
            for name, expected in MOVIELENS_100K_SHA256.items():
                member = extracted / name
                if not member.is_file() or member.stat().st_size == 0:
                    raise InputError(f"{url}: the archive has no (or an empty) ml-100k/{name}")
                actual = sha256(member)
                if actual != expected:
                    raise InputError(f"{url}: ml-100k/{name} in the archive has sha256 {actual}, not the published {expected}")
            target = folder / "ml-100k"
            shutil.rmtree(target, ignore_errors=True)
            extracted.replace(target)
    finally:
        archive.unlink(missing_ok=True)  # kept neither on success (extracted) nor on failure
    return target


def load_movielens_100k(folder: str | Path) -> Interactions:
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
        item_table = pd.read_csv(
            item_file, sep="|", header=None, encoding="latin-1", usecols=[0, 1], dtype=str
        )
        titles = dict(zip(item_table[0], item_table[1]))
    return from_raw(raw, str(ratings_file), rating_scale=(1, 5), titles=titles)


def k_core(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    """Keep the largest subset in which every user and every item has at least ``k`` rows."""
    while True:
        user_counts = frame["user"].map(frame["user"].value_counts())
        item_counts = frame["item"].map(frame["item"].value_counts())
        keep = (user_counts >= k) & (item_counts >= k)
        if keep.all():
            return frame
        frame = frame.loc[keep]


def read_ratings_csv(path: str | Path, columns=COLUMNS) -> pd.DataFrame:
    """A ratings CSV with or without a header line; ``columns`` names the fields in file order."""
    path = Path(path)
    _require_file(path)
    columns = list(columns)
    first = pd.read_csv(path, header=None, nrows=1, dtype=str)
    if first.shape[1] != len(columns):
        raise InputError(f"{path}: expected {len(columns)} columns ({', '.join(columns)}), found {first.shape[1]}")
    # A header line is recognised by a rating field that is not a number.
    has_header = pd.isna(pd.to_numeric(first.iloc[0, columns.index("rating")], errors="coerce"))
    return pd.read_csv(
        path, header=None, skiprows=1 if has_header else 0, names=columns, dtype={"user": str, "item": str, "rating": str}
    )


def load_amazon_ratings(
    path: str | Path,
    columns=COLUMNS,
    k: int = 5,
    sample_users: int | None = None,
    seed: int = 0,
) -> Interactions:
    """Amazon ratings-only CSV: k-core filter, then an optional seeded sample of users
    (followed by another k-core pass so that the sample keeps the k-core property)."""
    raw = read_ratings_csv(path, columns)
    source = str(path)
    if raw.empty:
        raise InputError(f"{source}: no interactions (the file is empty)")
    frame = k_core(raw, k)
    if sample_users is not None and frame["user"].nunique() > sample_users:
        users = np.sort(frame["user"].unique())
        chosen = np.random.default_rng(seed).choice(users, size=sample_users, replace=False)
        frame = k_core(frame.loc[frame["user"].isin(chosen)], k)
    if frame.empty:
        raise InputError(f"{source}: no interactions left after the {k}-core filter")
    return from_raw(frame.reset_index(drop=True), source, rating_scale=(1, 5))


def load_table(path: str | Path, columns: dict, rating_scale=None, sep: str = ",") -> Interactions:
    """Any CSV or Parquet file; ``columns`` maps user/item/rating[/timestamp] to the file's names."""
    path = Path(path)
    _require_file(path)
    try:
        table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, sep=sep, dtype=str)
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise InputError(f"{path}: cannot be read ({error})") from None
    wanted = {role: name for role, name in columns.items() if name}
    missing = [name for name in wanted.values() if name not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, table.columns))}")
    raw = table[list(wanted.values())].rename(columns={name: role for role, name in wanted.items()})
    return from_raw(raw, str(path), rating_scale=rating_scale)


def load_dataset(spec: dict, cache_dir: str | Path = "resources") -> Interactions:
    """Load a dataset described by one entry of the workflow config's ``datasets``."""
    loader = spec["loader"]
    if loader == "movielens_100k":
        folder = spec.get("path") or Path(cache_dir) / "ml-100k"
        if not spec.get("path") and not (Path(folder) / "u.data").is_file():
            download_movielens_100k(cache_dir, spec.get("url", MOVIELENS_100K_URL), spec.get("sha256"))
        return load_movielens_100k(folder)
    if loader == "amazon_ratings":
        path = spec.get("path")
        if not path:
            path = Path(cache_dir) / "ratings_Electronics.csv"
            if not path.is_file():
                download(spec.get("url", AMAZON_ELECTRONICS_URL), path, spec.get("sha256"))
        return load_amazon_ratings(
            path,
            columns=spec.get("columns", COLUMNS),
            k=spec.get("k_core", 5),
            sample_users=spec.get("sample_users"),
            seed=spec.get("sample_seed", 0),
        )
    if loader == "table":
        return load_table(spec["path"], spec["columns"], spec.get("rating_scale"), spec.get("sep", ","))
    raise InputError(f"datasets.loader: unknown loader {loader!r} (movielens_100k, amazon_ratings, table)")
