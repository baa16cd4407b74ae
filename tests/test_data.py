"""Loaders, validation and dense ids (recinfluence.data) on the real copies and on purposely
broken files."""

from __future__ import annotations

import io
import re
import shutil
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recinfluence import data as data_module
from recinfluence.data import (
    MOVIELENS_RELEASES,
    Interactions,
    download_movielens,
    from_raw,
    k_core,
    load_amazon_ratings,
    load_dataset,
    load_movielens_100k,
    load_table,
)
from recinfluence.data import movielens as movielens_module
from recinfluence.data.downloads import _copy_with_progress
from recinfluence.errors import InputError
from recinfluence.settings import Dataset

from .studies import edit_first_rating

# ---------------------------------------------------------------------------------------------
# MovieLens 100K


def test_movielens_shape_and_dtypes(movielens):
    assert len(movielens.frame) == 100_000
    assert movielens.n_users == 943
    assert movielens.n_items == 1682
    assert list(movielens.frame.columns) == ["user", "item", "rating", "timestamp"]
    assert movielens.frame["user"].dtype == np.int64
    assert movielens.frame["item"].dtype == np.int64
    assert movielens.frame["rating"].dtype == np.float64
    assert movielens.frame["timestamp"].dtype == np.int64
    assert set(movielens.frame["rating"].unique()) == {1.0, 2.0, 3.0, 4.0, 5.0}


def test_movielens_dense_ids_are_raw_ids_minus_one(movielens, movielens_dir):
    raw = np.loadtxt(movielens_dir / "u.data", dtype=np.int64)
    frame = movielens.frame
    # same rows, same order, ids shifted by one
    np.testing.assert_array_equal(frame["user"].to_numpy(), raw[:, 0] - 1)
    np.testing.assert_array_equal(frame["item"].to_numpy(), raw[:, 1] - 1)
    np.testing.assert_array_equal(frame["rating"].to_numpy(), raw[:, 2].astype(float))
    np.testing.assert_array_equal(frame["timestamp"].to_numpy(), raw[:, 3])
    assert movielens.users["raw_id"].tolist() == [str(i) for i in range(1, 944)]
    assert movielens.items["raw_id"].tolist() == [str(i) for i in range(1, 1683)]
    assert list(movielens.users.index) == list(range(943))


def test_movielens_titles_are_decoded_as_latin1(movielens):
    items = movielens.items
    assert items.loc[0, "raw_id"] == "1"
    assert items.loc[0, "title"] == "Toy Story (1995)"
    # raw id 543 has an accented title in the Latin-1 file
    assert items.loc[542, "raw_id"] == "543"
    assert items.loc[542, "title"] == "Misérables, Les (1995)"
    assert (items["title"] != "").all()


def _copy_movielens(source: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    for name in ("u.data", "u.item"):
        shutil.copyfile(source / name, target / name)
    return target


def test_movielens_checksum_mismatch_names_the_file(movielens_dir, tmp_path):
    folder = _copy_movielens(movielens_dir, tmp_path / "ml-100k")
    assert len(load_movielens_100k(folder).frame) == 100_000  # the untouched copy loads
    edit_first_rating(folder / "u.data")
    with pytest.raises(InputError, match="sha256") as error:
        load_movielens_100k(folder)
    assert str(folder / "u.data") in str(error.value)


def test_movielens_missing_u_data(tmp_path):
    with pytest.raises(InputError, match="not found") as error:
        load_movielens_100k(tmp_path)
    assert "u.data" in str(error.value)


def _zip_movielens(source: Path, archive: Path, corrupt: bool = False, folder: str = "ml-100k") -> str:
    with zipfile.ZipFile(archive, "w") as bundle:
        for name in ("u.data", "u.item"):
            data = (source / name).read_bytes()
            if corrupt and name == "u.data":
                data = data[: len(data) // 2]
            bundle.writestr(f"{folder}/{name}", data)
    return archive.resolve().as_uri()


def _download_ml_100k(folder: Path, url: str) -> Path:
    return download_movielens(folder, MOVIELENS_RELEASES["movielens_100k"], url)


def test_download_movielens_from_file_url(movielens_dir, tmp_path):
    url = _zip_movielens(movielens_dir, tmp_path / "source.zip")
    cache = tmp_path / "cache"
    target = _download_ml_100k(cache, url=url)
    assert target == cache / "ml-100k"
    assert (target / "u.data").read_bytes() == (movielens_dir / "u.data").read_bytes()
    assert not (cache / "ml-100k.zip").exists()  # the archive is removed after extraction
    assert sorted(p.name for p in cache.iterdir()) == ["ml-100k"]  # no temporary left over
    data = load_movielens_100k(target)
    assert (len(data.frame), data.n_users, data.n_items) == (100_000, 943, 1682)


def test_load_dataset_downloads_into_the_cache(movielens_dir, tmp_path):
    url = _zip_movielens(movielens_dir, tmp_path / "source.zip")
    data = load_dataset(Dataset("ml", "movielens_100k", url=url), cache_dir=tmp_path / "resources")
    assert len(data.frame) == 100_000
    assert (tmp_path / "resources" / "ml-100k" / "u.data").is_file()


def test_download_movielens_corrupt_u_data(movielens_dir, tmp_path):
    url = _zip_movielens(movielens_dir, tmp_path / "source.zip", corrupt=True)
    cache = tmp_path / "cache"
    with pytest.raises(InputError, match="sha256") as error:
        _download_ml_100k(cache, url=url)
    assert "u.data" in str(error.value)
    assert not (cache / "ml-100k").exists()  # nothing that looks like a complete dataset
    assert list(cache.iterdir()) == []  # neither the archive nor a temporary folder is left


def test_download_movielens_zip_without_folder(movielens_dir, tmp_path):
    url = _zip_movielens(movielens_dir, tmp_path / "source.zip", folder="other")
    with pytest.raises(InputError, match="u.data"):
        _download_ml_100k(tmp_path / "cache", url=url)


def test_download_movielens_not_a_zip(tmp_path):
    bogus = tmp_path / "source.zip"
    bogus.write_text("this is not a zip archive\n")
    with pytest.raises(InputError, match="not a valid zip"):
        _download_ml_100k(tmp_path / "cache", url=bogus.resolve().as_uri())


def test_an_unreachable_url_fails_in_one_line_naming_the_url_the_cause_and_the_fix(tmp_path, monkeypatch):
    waits = []
    monkeypatch.setattr(time, "sleep", waits.append)
    url = (tmp_path / "nowhere" / "ml-100k.zip").as_uri()
    log = io.StringIO()
    with pytest.raises(InputError) as error:
        load_dataset(Dataset("ml", "movielens_100k", url=url), cache_dir=tmp_path / "resources")
    message = str(error.value)
    assert (
        message.startswith(f"{url}: cannot download (")
        and "after 3 tries; without a network, set datasets.ml.path to a local copy" in message
    )
    assert "\n" not in message and waits == [2.0, 4.0]  # tried again after 2 s, then 4 s
    with pytest.raises(InputError, match="after 2 tries"):
        data_module.download(url, tmp_path / "x.zip", tries=2, backoff=0.0, log=log)
    assert "try 1 of 2 failed" in log.getvalue()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resources"] and not list(
        (tmp_path / "resources").glob("*.part")
    )


def test_a_stalled_connection_times_out(tmp_path):
    import socket

    with socket.socket() as server:  # accepts connections (the backlog) and never answers
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        url = f"http://127.0.0.1:{server.getsockname()[1]}/ml-100k.zip"
        with pytest.raises(InputError, match="timed out.*after 1 tries"):
            data_module.download(url, tmp_path / "x.zip", timeout=0.5, tries=1, log=None)


def test_large_downloads_report_progress():
    class Response(io.BytesIO):
        headers = {"Content-Length": str(3 << 20)}

    log, out = io.StringIO(), io.BytesIO()
    _copy_with_progress(Response(b"x" * (3 << 20)), out, "https://example.org/f.csv", log, every=0.0)
    lines = log.getvalue().splitlines()
    assert len(out.getvalue()) == 3 << 20 and len(lines) == 3
    assert lines[-1].startswith("https://example.org/f.csv: 3.1 of 3.1 MB, ") and lines[-1].endswith("ETA 0 s")


def test_an_archive_that_would_extract_too_much_is_refused(movielens_dir, tmp_path, monkeypatch):
    url = _zip_movielens(movielens_dir, tmp_path / "source.zip")
    monkeypatch.setattr(movielens_module, "MAX_EXTRACTED_BYTES", 1000)  # read where download_movielens runs
    with pytest.raises(InputError, match="the archive would extract to .* MB, more than MovieLens 100K's"):
        _download_ml_100k(tmp_path / "cache", url=url)
    assert list((tmp_path / "cache").iterdir()) == []


def test_an_edited_titles_file_is_caught(movielens_dir, tmp_path):
    copy = tmp_path / "ml-100k"
    shutil.copytree(movielens_dir, copy)
    (copy / "u.item").write_bytes((copy / "u.item").read_bytes().replace(b"Toy Story", b"Toy Storm"))
    with pytest.raises(InputError, match="u.item: sha256 .* does not match"):
        load_movielens_100k(copy)


# ---------------------------------------------------------------------------------------------
# Amazon ratings


def _independent_k_core(pairs: list[tuple[str, str]], k: int) -> set[tuple[str, str]]:
    """Plain-Python k-core: drop pairs whose user or item has fewer than k pairs, until stable."""
    pairs = set(pairs)
    while True:
        users = Counter(u for u, _ in pairs)
        items = Counter(i for _, i in pairs)
        kept = {(u, i) for u, i in pairs if users[u] >= k and items[i] >= k}
        if kept == pairs:
            return pairs
        pairs = kept


def _raw_pairs(data: Interactions) -> list[tuple[str, str]]:
    users = data.users["raw_id"].to_numpy()[data.frame["user"].to_numpy()]
    items = data.items["raw_id"].to_numpy()[data.frame["item"].to_numpy()]
    return list(zip(users, items))


@pytest.fixture(scope="module")
def amazon_raw(amazon_csv) -> pd.DataFrame:
    return pd.read_csv(amazon_csv, dtype=str)


def test_amazon_k_core_with_header(amazon_csv, amazon_raw):
    data = load_amazon_ratings(amazon_csv, k=2)
    frame = data.frame
    assert len(frame) > 0
    assert frame["user"].value_counts().min() >= 2
    assert frame["item"].value_counts().min() >= 2
    # dense ids cover exactly the retained users and items
    assert set(frame["user"]) == set(range(data.n_users))
    assert set(frame["item"]) == set(range(data.n_items))
    # the retained pairs are exactly the 2-core of the file, by an independent computation
    expected = _independent_k_core(list(zip(amazon_raw["UserId"], amazon_raw["ItemId"])), 2)
    assert set(_raw_pairs(data)) == expected
    assert len(frame) == len(expected)
    # raw ids that look numeric but carry leading zeros are kept verbatim
    assert any(raw.startswith("0") for raw in data.items["raw_id"])
    assert frame["rating"].between(1, 5).all()


def test_amazon_without_header_gives_the_same_data(amazon_csv, tmp_path):
    lines = amazon_csv.read_text().splitlines(keepends=True)
    assert lines[0].startswith("UserId")
    headerless = tmp_path / "ratings_headerless.csv"
    headerless.write_text("".join(lines[1:]))
    with_header = load_amazon_ratings(amazon_csv, k=2)
    without_header = load_amazon_ratings(headerless, k=2)
    pd.testing.assert_frame_equal(with_header.frame, without_header.frame)
    pd.testing.assert_frame_equal(with_header.users, without_header.users)
    pd.testing.assert_frame_equal(with_header.items, without_header.items)


def test_amazon_k_core_that_leaves_nothing_raises(amazon_csv):
    with pytest.raises(InputError, match="5-core") as error:
        load_amazon_ratings(amazon_csv, k=5)
    assert str(amazon_csv) in str(error.value)


def test_amazon_user_sample_is_seeded_and_bounded(amazon_csv):
    full = load_amazon_ratings(amazon_csv, k=2, log=None)
    first = load_amazon_ratings(amazon_csv, k=2, sample_users=300, seed=7, log=None)
    again = load_amazon_ratings(amazon_csv, k=2, sample_users=300, seed=7, log=None)
    other = load_amazon_ratings(amazon_csv, k=2, sample_users=300, seed=8, log=None)
    pd.testing.assert_frame_equal(first.frame, again.frame)
    pd.testing.assert_frame_equal(first.users, again.users)
    assert 270 <= first.n_users <= 330
    assert set(first.users["raw_id"]) != set(other.users["raw_id"])
    # the sample is drawn from the k-core users and keeps the k-core property
    assert set(first.users["raw_id"]) <= set(full.users["raw_id"])
    assert first.frame["user"].value_counts().min() >= 2
    assert first.frame["item"].value_counts().min() >= 2
    assert set(_raw_pairs(first)) <= set(_raw_pairs(full))
    # a sample at least as large as the population is no sample
    log = io.StringIO()
    everyone = load_amazon_ratings(amazon_csv, k=2, sample_users=full.n_users, seed=7, log=log)
    pd.testing.assert_frame_equal(everyone.frame, full.frame)
    assert f"no sample: sample_users={full.n_users} is not below the 2-core's {full.n_users} users" in log.getvalue()


@pytest.mark.parametrize("target", [100, 300, 1000])
def test_amazon_sample_keeps_its_size_and_the_k_core(amazon_csv, target):
    full = load_amazon_ratings(amazon_csv, k=2, log=None)
    assert full.n_users > target  # a real sample, not the whole core
    for seed in (0, 1, 2):
        sample = load_amazon_ratings(amazon_csv, k=2, sample_users=target, seed=seed, log=None)
        assert 0.9 * target <= sample.n_users <= 1.1 * target
        assert sample.frame["user"].value_counts().min() >= 2
        assert sample.frame["item"].value_counts().min() >= 2
        assert set(_raw_pairs(sample)) <= set(_raw_pairs(full))


def test_amazon_samples_of_one_seed_are_nested(amazon_csv):
    smaller = load_amazon_ratings(amazon_csv, k=2, sample_users=100, seed=3, log=None)
    larger = load_amazon_ratings(amazon_csv, k=2, sample_users=300, seed=3, log=None)
    assert set(_raw_pairs(smaller)) < set(_raw_pairs(larger))


def _counts_line(users, items, ratings) -> str:
    return f"{len(set(users))} users, {len(set(items))} items, {ratings} ratings"


def test_amazon_log_reports_every_step(amazon_csv, amazon_raw):
    log = io.StringIO()
    sample = load_amazon_ratings(amazon_csv, k=2, sample_users=300, seed=7, log=log)
    full = load_amazon_ratings(amazon_csv, k=2, log=None)
    lines = log.getvalue().splitlines()
    assert lines == [
        f"{amazon_csv}: read: " + _counts_line(amazon_raw["UserId"], amazon_raw["ItemId"], len(amazon_raw)),
        f"{amazon_csv}: 2-core: " + _counts_line(full.frame["user"], full.frame["item"], len(full.frame)),
        f"{amazon_csv}: sample of 300 users (seed 7) re-cored: "
        + _counts_line(sample.frame["user"], sample.frame["item"], len(sample.frame)),
    ]


def test_amazon_log_defaults_to_stderr_and_none_is_silent(amazon_csv, capsys):
    load_amazon_ratings(amazon_csv, k=2)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 2 and "2-core: " in captured.err
    load_amazon_ratings(amazon_csv, k=2, log=None)
    assert capsys.readouterr() == ("", "")


def test_amazon_sample_that_cannot_keep_its_size_raises_one_line(amazon_csv):
    # one user's rows alone never form a 2-core: samples jump from 0 users to 2 or more
    with pytest.raises(InputError, match="cannot sample sample_users=1 within 10% from the 2-core") as error:
        load_amazon_ratings(amazon_csv, k=2, sample_users=1, log=None)
    message = str(error.value)
    assert str(amazon_csv) in message and "\n" not in message
    with pytest.raises(InputError, match="sample_users must be at least 1") as error:
        load_amazon_ratings(amazon_csv, k=2, sample_users=0, log=None)
    assert str(amazon_csv) in str(error.value)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_k_core_matches_an_independent_computation(amazon_raw, k):
    frame = amazon_raw.rename(columns={"UserId": "user", "ItemId": "item"})
    core = k_core(frame, k)
    expected = _independent_k_core(list(zip(frame["user"], frame["item"])), k)
    assert set(zip(core["user"], core["item"])) == expected
    assert len(core) == len(expected)
    assert core.index.is_monotonic_increasing  # rows keep their file order and labels


def test_k_core_on_a_built_frame():
    # u1-i1, u1-i2, u2-i1, u2-i2 form a 2-core; u3 (one row) and then i3 (left with one) drop out
    frame = pd.DataFrame({"user": ["u1", "u1", "u2", "u2", "u3", "u1"], "item": ["i1", "i2", "i1", "i2", "i3", "i3"]})
    core = k_core(frame, 2)
    assert sorted(zip(core["user"], core["item"])) == [("u1", "i1"), ("u1", "i2"), ("u2", "i1"), ("u2", "i2")]


def test_amazon_wrong_column_count(tmp_path):
    path = tmp_path / "two_columns.csv"
    path.write_text("a,b\nc,d\n")
    with pytest.raises(InputError, match="expected 4 columns") as error:
        load_amazon_ratings(path, k=1)
    assert str(path) in str(error.value)


# ---------------------------------------------------------------------------------------------
# Generic tables


@pytest.fixture
def small_table(movielens) -> pd.DataFrame:
    """A slice of MovieLens with raw ids and renamed columns."""
    sample = movielens.frame.iloc[:500]
    return pd.DataFrame(
        {
            "reviewer": movielens.users["raw_id"].to_numpy()[sample["user"]],
            "movie": movielens.items["raw_id"].to_numpy()[sample["item"]],
            "stars": sample["rating"].to_numpy(),
            "when": sample["timestamp"].to_numpy(),
        }
    )


COLUMN_MAP = {"user": "reviewer", "item": "movie", "rating": "stars", "timestamp": "when"}


def _check_table(data: Interactions, table: pd.DataFrame) -> None:
    assert len(data.frame) == len(table)
    users = data.users["raw_id"].to_numpy()[data.frame["user"]]
    items = data.items["raw_id"].to_numpy()[data.frame["item"]]
    assert list(users) == [str(u) for u in table["reviewer"]]
    assert list(items) == [str(i) for i in table["movie"]]
    np.testing.assert_array_equal(data.frame["rating"].to_numpy(), table["stars"].to_numpy(dtype=float))
    np.testing.assert_array_equal(data.frame["timestamp"].to_numpy(), table["when"].to_numpy())
    # dense ids follow the numeric order of the raw ids
    assert [int(x) for x in data.users["raw_id"]] == sorted(int(x) for x in set(table["reviewer"].astype(str)))
    assert data.n_items == table["movie"].nunique()


def test_load_table_csv_with_renamed_columns(small_table, tmp_path):
    path = tmp_path / "ratings.csv"
    small_table.to_csv(path, index=False)
    _check_table(load_table(path, COLUMN_MAP, rating_scale=(1, 5)), small_table)


def test_load_table_parquet_with_renamed_columns(small_table, tmp_path):
    path = tmp_path / "ratings.parquet"
    table = small_table.assign(reviewer=small_table["reviewer"].astype(int), movie=small_table["movie"].astype(int))
    table.to_parquet(path)
    _check_table(load_table(path, COLUMN_MAP), table)


def test_load_table_semicolon_csv_without_timestamp(small_table, tmp_path):
    path = tmp_path / "ratings.txt"
    small_table.drop(columns="when").to_csv(path, index=False, sep=";")
    data = load_table(path, {"user": "reviewer", "item": "movie", "rating": "stars", "timestamp": None}, sep=";")
    assert len(data.frame) == len(small_table)
    assert (data.frame["timestamp"] == 0).all()


def test_load_dataset_table_and_unknown_loader(small_table, tmp_path):
    path = tmp_path / "ratings.csv"
    small_table.to_csv(path, index=False)
    data = load_dataset(Dataset("t", "table", path=str(path), columns=COLUMN_MAP, rating_scale=[1, 5]))
    _check_table(data, small_table)
    with pytest.raises(InputError, match="datasets.x.loader: unknown loader"):
        load_dataset(Dataset("x", "nope"))


def test_dense_ids_numeric_order_and_round_trip(tmp_path):
    raw = pd.DataFrame({"user": ["10", "9", "100", "9"], "item": ["b", "a", "a", "c"], "rating": ["1", "2", "3", "4"]})
    data = from_raw(raw, "built")
    assert data.users["raw_id"].tolist() == ["9", "10", "100"]  # numeric, not lexicographic, order
    assert data.frame["user"].tolist() == [1, 0, 2, 0]
    assert data.items["raw_id"].tolist() == ["a", "b", "c"]
    assert data.frame["item"].tolist() == [1, 0, 0, 2]
    data.save(tmp_path / "saved")
    loaded = Interactions.load(tmp_path / "saved")
    pd.testing.assert_frame_equal(loaded.frame, data.frame)
    pd.testing.assert_frame_equal(loaded.users, data.users)
    pd.testing.assert_frame_equal(loaded.items, data.items)


# ---------------------------------------------------------------------------------------------
# Malformed input: one InputError that names the file and says what is wrong

HEADER = "reviewer,movie,stars,when\n"
GOOD = "1,10,4,100\n2,10,3,101\n"

MALFORMED = {
    "empty file": ("", "empty"),
    "header only": (HEADER, "no interactions"),
    "missing column": ("reviewer,movie,when\n1,10,100\n", "missing column"),
    "non-numeric rating": (
        HEADER + GOOD + "3,11,great,102\n",
        "non-numeric rating 'great' at data row 3 \\(line 4\\)$",
    ),
    "missing rating": (HEADER + GOOD + "3,11,,102\n", "non-numeric rating"),
    "out-of-range rating": (HEADER + GOOD + "3,11,6,102\n", "outside the rating scale"),
    "duplicate pair": (HEADER + GOOD + "1,10,5,103\n", "repeat a \\(user, item\\) pair"),
    "blank user id": (HEADER + GOOD + ",11,4,102\n", "blank user id"),
    "whitespace user id": (HEADER + GOOD + "  ,11,4,102\n", "blank user id"),
    "blank item id": (HEADER + GOOD + "3,,4,102\n", "blank item id"),
    "a row with an extra field": (
        HEADER + GOOD + "3,11,4,102,7\n",
        "cannot be read \\(Expected 4 fields in line 4, saw 5\\)",
    ),
    "non-numeric timestamp": (HEADER + GOOD + "3,11,4,yesterday\n", "timestamp 'yesterday' at data row 3"),
    "infinite timestamp": (
        HEADER + GOOD + "3,11,4,inf\n",
        "timestamp 'inf' at data row 3 \\(line 4\\) is not a finite number",
    ),
    "timestamp beyond 64 bits": (
        HEADER + GOOD + "3,11,4,1e30\n",
        "timestamp '1e30' at data row 3 \\(line 4\\) is not a finite number within the 64-bit",
    ),
    "duplicate pair up to spaces": (
        HEADER + GOOD + " 1 ,10,5,103\n",
        "repeat a \\(user, item\\) pair, e.g. user '1' item '10'",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_load_table_malformed(case, tmp_path):
    content, message = MALFORMED[case]
    path = tmp_path / "bad ratings.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as error:
        load_table(path, COLUMN_MAP, rating_scale=(1, 5))
    assert str(path) in str(error.value)


def test_load_table_well_formed_control(tmp_path):
    """The malformed cases above differ from this file by one line."""
    path = tmp_path / "ratings.csv"
    path.write_text(HEADER + GOOD + "3,11,4,102\n")
    data = load_table(path, COLUMN_MAP, rating_scale=(1, 5))
    assert (len(data.frame), data.n_users, data.n_items) == (3, 3, 2)


def test_out_of_range_rating_allowed_without_a_scale(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text(HEADER + GOOD + "3,11,6,102\n")
    assert load_table(path, COLUMN_MAP).frame["rating"].max() == 6.0


def test_a_nan_in_a_parquet_rating_is_shown_as_written(tmp_path):
    path = tmp_path / "ratings.parquet"
    pd.DataFrame({"reviewer": ["1", "2"], "movie": ["10", "10"], "stars": [4.0, np.nan], "when": [1, 2]}).to_parquet(
        path
    )
    with pytest.raises(InputError, match=r"non-numeric rating nan at data row 2$"):
        load_table(path, COLUMN_MAP)


def test_a_wrong_separator_gets_a_hint(tmp_path):
    path = tmp_path / "ratings.tsv"
    path.write_text((HEADER + GOOD).replace(",", "\t"))
    with pytest.raises(InputError, match=r"the header is one field: is sep ',' right\? \(it looks tab-separated\)"):
        load_table(path, COLUMN_MAP)
    assert len(load_table(path, COLUMN_MAP, sep="\t").frame) == 2


@pytest.mark.parametrize("loader", ["table", "amazon"])
@pytest.mark.parametrize(
    "content, message",
    [
        (b"PAR1\x15\x04\x15\x00\x00binary", "is a binary file, not a text table"),
        ("reviewer,movie,stars,when\n1,Caf\u00e9,4,1\n".encode("latin-1"), "is not UTF-8 text"),
    ],
)
def test_binary_and_non_utf8_files_are_refused_in_one_line(loader, content, message, tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as error:
        load_table(path, COLUMN_MAP) if loader == "table" else load_amazon_ratings(path, k=1)
    assert str(error.value).startswith(str(path))


@pytest.mark.parametrize("loader", ["table", "amazon", "movielens"])
def test_a_directory_as_path_says_so(loader, tmp_path):
    folder = tmp_path / "ratings.csv"
    folder.mkdir()
    (folder / "u.data").mkdir()
    with pytest.raises(InputError, match="is a directory, not a file"):
        if loader == "table":
            load_table(folder, COLUMN_MAP)
        elif loader == "amazon":
            load_amazon_ratings(folder)
        else:
            load_movielens_100k(folder)


def test_a_rating_scale_in_config_is_honoured_by_every_loader(movielens_dir, tmp_path):
    with pytest.raises(InputError, match="outside the rating scale \\[1, 4\\]"):
        load_dataset(Dataset(name="ml", loader="movielens_100k", path=str(movielens_dir), rating_scale=[1, 4]))
    path = tmp_path / "ratings.csv"
    path.write_text("user,item,rating,timestamp\nA,1,4,1\nA,2,5,1\nB,1,3,1\nB,2,4,1\n")
    with pytest.raises(InputError, match="outside the rating scale \\[1, 4\\]"):
        load_dataset(Dataset(name="amazon", loader="amazon_ratings", path=str(path), k_core=1, rating_scale=[1, 4]))
    assert len(load_dataset(Dataset(name="amazon", loader="amazon_ratings", path=str(path), k_core=1)).frame) == 4


def test_load_table_missing_file(tmp_path):
    path = tmp_path / "absent.csv"
    with pytest.raises(InputError, match="not found") as error:
        load_table(path, COLUMN_MAP)
    assert str(path) in str(error.value)


def test_load_table_unreadable_parquet(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"definitely not parquet")
    with pytest.raises(InputError, match="cannot be read") as error:
        load_table(path, COLUMN_MAP)
    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "empty"),
        ("UserId,ItemId,rating,timestamp\n", "no interactions"),
        ("UserId,ItemId,rating,timestamp\nA,1,4,1\nA,2,5,1\nB,1,x,1\nB,2,4,1\n", "non-numeric rating 'x'"),
        ("UserId,ItemId,rating,timestamp\nA,1,4,1\nA,2,5,1\nB,1,9,1\nB,2,4,1\n", "outside the rating scale"),
        ("UserId,ItemId,rating,timestamp\nA,1,4,1\nA,1,5,2\nB,1,3,1\nB,2,4,1\nA,2,4,1\n", "repeat a"),
        ("UserId,ItemId,rating,timestamp\nA,1,4,1\n,2,5,1\n", "blank user id"),  # not dropped by the k-core
    ],
)
def test_amazon_malformed(content, message, tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as error:
        load_amazon_ratings(path, k=1)
    assert str(path) in str(error.value)


def test_amazon_errors_give_the_files_row_after_the_k_core_dropped_rows_before_it(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("UserId,ItemId,rating,timestamp\nZ,9,4,1\nA,1,4,1\nA,2,5,1\nB,1,x,1\nB,2,4,1\n")
    with pytest.raises(
        InputError, match=r"non-numeric rating 'x' at data row 4 \(line 5\)$"
    ):  # Z's row, dropped by the 2-core, still counts
        load_amazon_ratings(path, k=2, log=None)


def test_amazon_missing_file(tmp_path):
    path = tmp_path / "absent.csv"
    with pytest.raises(InputError, match="not found") as error:
        load_amazon_ratings(path)
    assert str(path) in str(error.value)


def test_an_unverified_download_logs_its_sha256_and_the_key_that_pins_it(tmp_path):
    source = tmp_path / "ratings.csv"
    source.write_text("u1,i1,5,1\n")
    log = io.StringIO()
    data_module.download(
        source.as_uri(), tmp_path / "cache" / "ratings.csv", None, log=log, pin="datasets.amazon.sha256"
    )
    digest = data_module.sha256(source)
    assert log.getvalue().splitlines()[-1] == (
        f"{source.as_uri()}: sha256 {digest}, not verified (no checksum is published); to pin this copy, set "
        f"datasets.amazon.sha256: {digest}"
    )
    log = io.StringIO()  # a pinned copy is verified and says nothing more
    data_module.download(
        source.as_uri(), tmp_path / "cache" / "again.csv", digest, log=log, pin="datasets.amazon.sha256"
    )
    assert "not verified" not in log.getvalue()


# ---------------------------------------------------------------------------------------------
# MovieLens 1M and 25M: purpose-built folders and archives in GroupLens' formats (never the data)

ML_1M_RATINGS = "1::20::5::978300760\n1::10::3::978302109\n2::10::4::978301968\n10::30::1::978300275\n"
ML_1M_MOVIES = (
    "10::Misérables, Les (1995)::Drama\n20::Star Wars: Episode IV - A New Hope (1977)::Action|Sci-Fi\n"
    "30::Toy Story (1995)::Animation\n"
)
ML_25M_RATINGS = (
    "userId,movieId,rating,timestamp\n1,296,5.0,1147880044\n1,306,3.5,1147868817\n2,296,0.5,1147868828\n"
    "10,1,4.0,1147878820\n"
)
ML_25M_MOVIES = (
    'movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n296,"American President, The (1995)",Comedy\n'
    "306,Three Colors: Red (Trois couleurs: Rouge) (1994),Drama\n"
)
MOVIELENS_FILES = {
    "movielens_1m": ("ml-1m", {"ratings.dat": ML_1M_RATINGS.encode(), "movies.dat": ML_1M_MOVIES.encode("latin-1")}),
    "movielens_25m": ("ml-25m", {"ratings.csv": ML_25M_RATINGS.encode(), "movies.csv": ML_25M_MOVIES.encode()}),
}


def _movielens_folder(loader: str, parent: Path, **replaced: bytes) -> Path:
    release, files = MOVIELENS_FILES[loader]
    folder = parent / release
    folder.mkdir(parents=True)
    for name, content in {**files, **replaced}.items():
        (folder / name).write_bytes(content)
    return folder


def _movielens_archive(loader: str, path: Path) -> str:
    release, files = MOVIELENS_FILES[loader]
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr(f"{release}/README", "not read\n")
        for name, content in files.items():
            bundle.writestr(f"{release}/{name}", content)
    return path.resolve().as_uri()


def _raw_rows(data: Interactions) -> list[tuple]:
    frame = data.frame
    return list(
        zip(
            data.users["raw_id"].to_numpy()[frame["user"]],
            data.items["raw_id"].to_numpy()[frame["item"]],
            frame["rating"],
            frame["timestamp"],
        )
    )


def test_movielens_1m_reads_double_colon_lines_and_latin1_titles(tmp_path):
    data = data_module.load_movielens_1m(_movielens_folder("movielens_1m", tmp_path), log=None)
    assert _raw_rows(data) == [
        ("1", "20", 5.0, 978300760),
        ("1", "10", 3.0, 978302109),
        ("2", "10", 4.0, 978301968),
        ("10", "30", 1.0, 978300275),
    ]
    assert data.users["raw_id"].tolist() == ["1", "2", "10"]  # numeric order of the raw ids
    assert data.items.set_index("raw_id")["title"].to_dict() == {
        "10": "Misérables, Les (1995)",
        "20": "Star Wars: Episode IV - A New Hope (1977)",  # a title holding ':'
        "30": "Toy Story (1995)",
    }
    assert data.frame.dtypes.tolist() == [np.int64, np.int64, np.float64, np.int64]


def test_movielens_25m_reads_half_stars_and_quoted_titles(tmp_path):
    log = io.StringIO()
    folder = _movielens_folder("movielens_25m", tmp_path)
    data = data_module.load_movielens_25m(folder, log=log)
    assert _raw_rows(data) == [
        ("1", "296", 5.0, 1147880044),
        ("1", "306", 3.5, 1147868817),
        ("2", "296", 0.5, 1147868828),
        ("10", "1", 4.0, 1147878820),
    ]
    assert data.items.set_index("raw_id")["title"].to_dict() == {
        "1": "Toy Story (1995)",
        "296": "American President, The (1995)",
        "306": "Three Colors: Red (Trois couleurs: Rouge) (1994)",
    }
    assert log.getvalue() == f"{folder / 'ratings.csv'}: read: 3 users, 3 items, 4 ratings\n"


@pytest.mark.parametrize("loader", list(MOVIELENS_FILES))
def test_movielens_without_a_titles_file_has_no_titles(loader, tmp_path):
    folder = _movielens_folder(loader, tmp_path)
    (folder / ("movies.dat" if loader == "movielens_1m" else "movies.csv")).unlink()
    data = load_dataset(Dataset("ml", loader, path=str(folder)))
    assert len(data.frame) == 4 and "title" not in data.items.columns


@pytest.mark.parametrize("loader", list(MOVIELENS_FILES))
def test_a_local_movielens_copy_loads_without_a_network(loader, tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("a local copy must not be downloaded")

    monkeypatch.setattr(movielens_module, "download", no_network)  # the name download_movielens calls
    folder = _movielens_folder(loader, tmp_path / "data")
    data = load_dataset(Dataset("ml", loader, path=str(folder)), cache_dir=tmp_path / "resources")
    assert (len(data.frame), data.n_users, data.n_items) == (4, 3, 3)
    assert not (tmp_path / "resources").exists()


@pytest.mark.parametrize("loader", list(MOVIELENS_FILES))
def test_movielens_archive_is_downloaded_verified_and_cached(loader, tmp_path):
    release = MOVIELENS_FILES[loader][0]
    archive = tmp_path / f"{release}.zip"
    url = _movielens_archive(loader, archive)
    spec = Dataset("ml", loader, url=url, sha256=data_module.sha256(archive))  # the fake archive's own sha256
    cache = tmp_path / "resources"
    data = load_dataset(spec, cache_dir=cache)
    assert (len(data.frame), data.n_users, data.n_items) == (4, 3, 3)
    assert sorted(p.name for p in cache.iterdir()) == [release]  # no archive or temporary left
    assert sorted(p.name for p in (cache / release).iterdir()) == sorted(
        MOVIELENS_FILES[loader][1]
    )  # only what is read
    archive.unlink()  # the cached copy is read again without the source
    pd.testing.assert_frame_equal(load_dataset(spec, cache_dir=cache).frame, data.frame)


@pytest.mark.parametrize("loader", list(MOVIELENS_FILES))
def test_a_movielens_archive_that_is_not_the_published_one_is_one_line_naming_it(loader, tmp_path):
    release = MOVIELENS_FILES[loader][0]
    url = _movielens_archive(loader, tmp_path / f"{release}.zip")  # not GroupLens' bytes
    cache = tmp_path / "resources"
    with pytest.raises(InputError) as error:
        load_dataset(Dataset("ml", loader, url=url), cache_dir=cache)
    published = data_module.MOVIELENS_ARCHIVE_SHA256[release]
    message = str(error.value)
    assert message.startswith(f"{url}: downloaded sha256 ") and message.endswith(
        f"does not match the expected {published}"
    )
    assert "\n" not in message
    assert list(cache.iterdir()) == []  # neither the archive nor a dataset folder is left


def test_the_published_movielens_checksums_are_pinned():
    releases = data_module.MOVIELENS_RELEASES
    assert releases["movielens_1m"].archive_sha256 == "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20"
    assert (
        releases["movielens_25m"].archive_sha256 == "8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa"
    )
    assert releases["movielens_1m"].url.endswith("/ml-1m.zip") and releases["movielens_25m"].url.endswith("/ml-25m.zip")


def test_a_movielens_archive_without_the_ratings_file_is_refused(tmp_path):
    archive = tmp_path / "ml-1m.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("ml-1m/movies.dat", ML_1M_MOVIES.encode("latin-1"))
    with pytest.raises(InputError, match=r"the archive has no \(or an empty\) ml-1m/ratings.dat$"):
        load_dataset(
            Dataset("ml", "movielens_1m", url=archive.as_uri(), sha256=data_module.sha256(archive)),
            cache_dir=tmp_path / "cache",
        )


@pytest.mark.parametrize(
    "loader, name, content, message",
    [
        (
            "movielens_1m",
            "ratings.dat",
            "1::20::5::978300760\n1::10::x::978302109\n",
            r"non-numeric rating 'x' at data row 2 \(line 2\)$",
        ),
        (
            "movielens_1m",
            "ratings.dat",
            "1::20::5::978300760\n1::20::4::978300761\n",
            r"repeat a \(user, item\) pair, e.g. user '1' item '20'",
        ),
        (
            "movielens_1m",
            "ratings.dat",
            "1\t20\t5\t978300760\n",
            "cannot be read as UserID::MovieID::Rating::Timestamp lines",
        ),
        (
            "movielens_1m",
            "ratings.dat",
            "1::20::4.5::978300760\n1::10::0.5::978302109\n",
            r"rating 0.5 at data row 2 \(line 2\) is outside the rating scale \[1, 5\]",
        ),
        (
            "movielens_25m",
            "ratings.csv",
            "user,movie,stars,when\n1,2,3,4\n",
            "expected the header userId,movieId,rating,timestamp, found user,movie,stars,when",
        ),
        (
            "movielens_25m",
            "ratings.csv",
            "userId,movieId,rating,timestamp\n1,2,0,4\n",
            r"rating 0 at data row 1 \(line 2\) is outside the rating scale \[0.5, 5\]",
        ),
        (
            "movielens_25m",
            "ratings.csv",
            "userId,movieId,rating,timestamp\n1,2,3,4\n1,,3,5\n",
            r"1 blank item id\(s\), first at data row 2 \(line 3\)",
        ),
        ("movielens_25m", "ratings.csv", "", "file is empty"),
    ],
)
def test_malformed_movielens_files_are_one_line_naming_the_file(loader, name, content, message, tmp_path):
    folder = _movielens_folder(loader, tmp_path, **{name: content.encode()})
    with pytest.raises(InputError, match=message) as error:
        load_dataset(Dataset("ml", loader, path=str(folder)))
    assert str(error.value).startswith(str(folder / name)) and "\n" not in str(error.value)


# ---------------------------------------------------------------------------------------------
# Synthetic: a real dataset grown by a seeded Kronecker expansion


@pytest.mark.parametrize("factor", [*range(1, 40), 100, 1000])
def test_the_expansion_matrix_has_factor_ones_covering_every_row_and_column(factor):
    matrix = data_module.expansion_matrix(factor, seed=factor)
    rows, columns = matrix.shape
    assert (rows, columns) == data_module.expansion_shape(factor)
    assert rows == int(np.ceil(np.sqrt(factor)))
    assert matrix.sum() == factor and matrix.any(axis=0).all() and matrix.any(axis=1).all()
    assert rows * columns > factor or factor == 1  # an empty cell: the seed has a choice
    assert rows * (columns - 1) <= factor  # the fewest columns that do


def test_synthetic_is_the_kronecker_product_of_the_ratings_and_s(movielens):
    from scipy import sparse

    factor = 10
    expanded = data_module.expand_interactions(movielens, factor, seed=3, log=None)
    matrix = data_module.expansion_matrix(factor, seed=3)
    a, b = matrix.shape
    assert (a, b) == (4, 3)
    frame = expanded.frame
    assert len(frame) == factor * len(movielens.frame)
    assert (expanded.n_users, expanded.n_items) == (a * movielens.n_users, b * movielens.n_items)
    assert frame.dtypes.tolist() == [np.int64, np.int64, np.float64, np.int64]
    # rating and timestamp matrices equal R (x) S, computed independently by scipy
    source = movielens.frame
    for column in ("rating", "timestamp"):
        r = sparse.coo_matrix(
            (source[column].to_numpy(dtype=float), (source["user"], source["item"])),
            shape=(movielens.n_users, movielens.n_items),
        )
        expected = sparse.kron(r, sparse.csr_matrix(matrix.astype(float))).tocsr()
        expected.eliminate_zeros()  # scipy keeps the products with S's zeros as stored zeros
        got = sparse.coo_matrix(
            (frame[column].to_numpy(dtype=float), (frame["user"], frame["item"])), shape=expected.shape
        ).tocsr()
        assert got.nnz == expected.nnz == len(frame)  # no (user, item) pair twice
        assert (got != expected).nnz == 0


def test_synthetic_users_are_relabelled_copies_with_scaled_degrees(movielens):
    factor = 7
    expanded = data_module.expand_interactions(movielens, factor, seed=0, log=None)
    matrix = data_module.expansion_matrix(factor, seed=0)
    a, b = matrix.shape
    frame = expanded.frame
    # every expanded user's items are copies of exactly the original user's items
    original = movielens.frame.groupby("user")["item"].apply(frozenset)
    copied = (frame["item"] // b).groupby(frame["user"]).apply(frozenset)
    assert all(copied[user] == original[user // a] for user in copied.index)
    # per-user and per-item counts: the original's times the ones of the copy's row (column) of S
    user_counts = movielens.frame["user"].value_counts().sort_index().to_numpy()
    item_counts = movielens.frame["item"].value_counts().sort_index().to_numpy()
    np.testing.assert_array_equal(np.bincount(frame["user"]), np.outer(user_counts, matrix.sum(axis=1)).ravel())
    np.testing.assert_array_equal(np.bincount(frame["item"]), np.outer(item_counts, matrix.sum(axis=0)).ravel())
    # each copy of a rating keeps its rating and timestamp
    origin = pd.DataFrame(
        {
            "user": frame["user"] // a,
            "item": frame["item"] // b,
            "rating": frame["rating"],
            "timestamp": frame["timestamp"],
        }
    )
    merged = origin.merge(movielens.frame, on=["user", "item"], suffixes=("", "_source"), validate="many_to_one")
    assert (merged["rating"] == merged["rating_source"]).all() and (
        merged["timestamp"] == merged["timestamp_source"]
    ).all()


def test_synthetic_ids_and_titles_name_the_copy(movielens):
    expanded = data_module.expand_interactions(movielens, 4, log=None)
    a, b = data_module.expansion_shape(4)
    assert expanded.users["raw_id"].tolist()[: a + 1] == [f"1#{k}" for k in range(a)] + ["2#0"]
    assert expanded.items.loc[b + 1, ["raw_id", "title"]].tolist() == ["2#1", "GoldenEye (1995) (copy 1)"]
    assert list(expanded.users.index) == list(range(expanded.n_users))


def test_synthetic_is_seeded(movielens):
    first = data_module.expand_interactions(movielens, 10, seed=0, log=None)
    again = data_module.expand_interactions(movielens, 10, seed=0, log=None)
    other = data_module.expand_interactions(movielens, 10, seed=1, log=None)
    pd.testing.assert_frame_equal(first.frame, again.frame)
    assert not first.frame.equals(other.frame)
    assert len(other.frame) == len(first.frame)
    assert not np.array_equal(data_module.expansion_matrix(10, 0), data_module.expansion_matrix(10, 1))


def test_synthetic_grows_movielens_100k_to_10_million_ratings(movielens):
    expanded = data_module.expand_interactions(movielens, 100, log=None)
    assert len(expanded.frame) == 10_000_000
    assert (expanded.n_users, expanded.n_items) == (943 * 10, 1682 * 11)
    assert expanded.frame["user"].max() == expanded.n_users - 1 and expanded.frame["item"].max() == expanded.n_items - 1


@pytest.mark.parametrize("factor", [0, -3, 2.5, "10", True, None])
def test_a_bad_factor_is_one_line_naming_it(factor, movielens):
    with pytest.raises(
        InputError, match=f"^{re.escape(f'datasets.big: factor must be a whole number of at least 1, not {factor!r}')}$"
    ):
        data_module.expand_interactions(movielens, factor, source="datasets.big", log=None)


def test_load_dataset_expands_its_source_entry(movielens_dir, tmp_path):
    log = io.StringIO()
    spec = Dataset(
        "big", "synthetic", source={"loader": "movielens_100k", "path": str(movielens_dir)}, factor=3, expansion_seed=5
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stderr", log)
        data = load_dataset(spec, cache_dir=tmp_path)
    assert (len(data.frame), data.n_users, data.n_items) == (300_000, 943 * 2, 1682 * 2)
    assert log.getvalue().splitlines() == [
        "datasets.big: source: 943 users, 1682 items, 100000 ratings",
        "datasets.big: expanded x3 (S 2x2, seed 5): 1886 users, 3364 items, 300000 ratings",
    ]
    with pytest.raises(InputError, match=r"^datasets.big.source.loader: unknown loader 'nope'"):
        load_dataset(Dataset("big", "synthetic", source={"loader": "nope"}, factor=3))
    with pytest.raises(InputError, match=r"^datasets.big: factor must be a whole number of at least 1, not 0$"):
        load_dataset(
            Dataset("big", "synthetic", source={"loader": "movielens_100k", "path": str(movielens_dir)}, factor=0)
        )
