"""MovieLens loaders (100K, 1M, 25M) from a GroupLens folder, and the download of GroupLens'
archives into the cache with their published checksums."""

from __future__ import annotations

import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pandas as pd

from ..errors import InputError
from .downloads import _check_sha256, download, sha256
from .interactions import (
    _STDERR,
    COLUMNS,
    Interactions,
    _parser_message,
    _progress,
    _require_file,
    _require_text,
    from_raw,
)

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
    "movielens_100k": MovieLensRelease(
        "ml-100k", "MovieLens 100K", MOVIELENS_100K_URL, None, MOVIELENS_100K_SHA256, "u.data"
    ),
    "movielens_1m": MovieLensRelease(
        "ml-1m",
        "MovieLens 1M",
        MOVIELENS_1M_URL,
        MOVIELENS_ARCHIVE_SHA256["ml-1m"],
        {"ratings.dat": None, "movies.dat": None},
        "ratings.dat",
    ),
    "movielens_25m": MovieLensRelease(
        "ml-25m",
        "MovieLens 25M",
        MOVIELENS_25M_URL,
        MOVIELENS_ARCHIVE_SHA256["ml-25m"],
        {"ratings.csv": None, "movies.csv": None},
        "ratings.csv",
        MAX_EXTRACTED_BYTES_25M,
    ),
}


def download_movielens(
    folder: str | Path,
    release: MovieLensRelease,
    url: str | None = None,
    archive_sha256: str | None = None,
    instead: str = "the dataset's path",
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
                    wanted = [
                        f"{release.folder}/{name}" for name in release.members if f"{release.folder}/{name}" in present
                    ]
                    size = sum(bundle.getinfo(name).file_size for name in wanted)
                    if size > limit:
                        raise InputError(
                            f"{url}: the archive would extract to {size / 1e6:.0f} MB, more than {release.title}'s "
                            f"(limit {limit / 1e6:.0f} MB)"
                        )
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
                    raise InputError(
                        f"{url}: {release.folder}/{name} in the archive has sha256 {actual}, not the published "
                        f"{expected}"
                    )
            target = folder / release.folder
            shutil.rmtree(target, ignore_errors=True)
            extracted.replace(target)
    finally:
        archive.unlink(missing_ok=True)  # kept neither on success (extracted) nor on failure
    return target


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
        item_table = pd.read_csv(item_file, sep="|", header=None, encoding="latin-1", usecols=[0, 1], dtype=str)
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
        raise InputError(
            f"{ratings_file}: cannot be read as UserID::MovieID::Rating::Timestamp lines ({_parser_message(error)})"
        ) from None
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
        raise InputError(
            f"{ratings_file}: expected the header {','.join(header)}, found {','.join(map(str, raw.columns))}"
        )
    raw.columns = list(COLUMNS)
    titles = _movielens_titles(
        folder / "movies.csv", lambda path: pd.read_csv(path, usecols=["movieId", "title"], dtype=str)
    )
    return _read_movielens(raw, ratings_file, rating_scale, titles, first_line=2, log=log)


def _double_colon_titles(path: Path) -> pd.DataFrame:
    """``MovieID::Title::Genres`` lines as a table of movieId and title (a title may hold ':')."""
    rows = [line.split("::", 1) for line in path.read_text(encoding="latin-1").splitlines() if line.strip()]
    return pd.DataFrame(
        {
            "movieId": [row[0] for row in rows],
            "title": [row[1].rsplit("::", 1)[0] if len(row) > 1 else "" for row in rows],
        }
    )


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


def from_spec(spec, cache_dir: str | Path) -> Interactions:
    """Load a ``movielens_100k``, ``movielens_1m`` or ``movielens_25m`` entry of ``datasets`` (a
    :class:`recinfluence.settings.Dataset`): its ``path``, else the copy in ``cache_dir``,
    downloaded and extracted there first when it lacks the ratings file."""
    release = MOVIELENS_RELEASES[spec.loader]
    folder = spec.path or Path(cache_dir) / release.folder
    if not spec.path and not (Path(folder) / release.ratings).is_file():
        archive_sha256 = spec.sha256 or release.archive_sha256
        download_movielens(cache_dir, release, spec.url, archive_sha256, instead=f"datasets.{spec.name}.path")
    loaders = {
        "movielens_100k": load_movielens_100k,
        "movielens_1m": load_movielens_1m,
        "movielens_25m": load_movielens_25m,
    }
    return loaders[spec.loader](folder, spec.scale())
