"""Fuzzing (Hypothesis): no config and no data file ends in anything but a validated object or
one InputError that names a key or a file.

Generated configs mutate the small study's config at every schema key (and every built-in
model parameter) with values of every JSON type, out-of-range numbers, NaN and infinities,
unknown keys and odd strings; generated rating files are random bytes, truncated or mixed-type
CSV, unicode and whitespace ids, duplicates, huge ids and numbers. The example budget is the
profile's: ``ci`` (default, seconds) or ``long`` (``pytest tests/test_fuzz.py -s
--hypothesis-profile long``: 20,000 examples each); ``-s`` prints what was tried.
"""

from __future__ import annotations

import copy
import math
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recinfluence.data import from_raw, load_amazon_ratings, load_table
from recinfluence.errors import InputError
from recinfluence.registry import MODELS
from recinfluence.settings import SCHEMA, Settings

from .studies import SMALL_CONFIG

BASE = yaml.safe_load(SMALL_CONFIG.read_text())
SCHEMA_TREE = yaml.safe_load(SCHEMA.read_text())
BASE["models"] |= {name: {"class": name, "params": {}} for name in MODELS if name not in BASE["models"]}


def _key_paths(node: dict, prefix=()) -> list[tuple]:
    """Every key path of the schema's properties (model parameters through their definitions)."""
    paths = []
    for key, child in node.get("properties", {}).items():
        paths.append((*prefix, key))
        paths += _key_paths(child, (*prefix, key))
    return paths


KEY_PATHS = _key_paths(SCHEMA_TREE)
KEY_PATHS += [("datasets", "ml-100k", key) for key in SCHEMA_TREE["definitions"]["dataset"]["properties"]]
for model in MODELS:
    KEY_PATHS += [
        ("models", model, "params", key) for key in SCHEMA_TREE["definitions"][f"{model}_params"]["properties"]
    ]
    KEY_PATHS += [("models", model, "limit", kind) for kind in ("user", "item")]
KEY_PATHS += [("models", "ncf", "class"), ("estimators", "exact", "seeds"), ("influence", "limit", "user")]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["map", "cuda", "auto", "user", "item", "exact", "svd", "a:b", "os:getcwd", "", " ", "1e400"]),
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


def _set(config: dict, path: tuple, value) -> None:
    node = config
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


def _delete(config: dict, path: tuple) -> None:
    node = config
    for key in path[:-1]:
        node = node.get(key)
        if not isinstance(node, dict):
            return
    node.pop(path[-1], None)


mutations = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.sampled_from(KEY_PATHS), values),
        st.tuples(st.just("delete"), st.sampled_from(KEY_PATHS), st.none()),
        st.tuples(
            st.just("set"),
            st.tuples(st.sampled_from(["", "models", "influence", "estimators"]), st.text(min_size=1, max_size=8)),
            values,
        ),
    ),
    min_size=1,
    max_size=4,
)

OUTCOMES: dict[str, Counter] = {"config": Counter(), "data": Counter()}
MESSAGES: dict[str, set] = {"config": set(), "data": set()}


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    for what in ("config", "data"):
        counts = OUTCOMES[what]
        print(
            f"\nfuzz {what}: {sum(counts.values())} examples, {counts['valid']} valid, {counts['InputError']} "
            f"InputError ({len(MESSAGES[what])} distinct messages), {counts['other']} other exceptions",
            file=sys.stderr,
        )


def _record(what: str, run):
    """(result, None) or (None, the InputError); any other exception fails the example."""
    try:
        result = run()
    except InputError as error:
        OUTCOMES[what]["InputError"] += 1
        message = str(error)
        MESSAGES[what].add(message.splitlines()[0] if what == "data" else message)
        assert message.strip(), "an empty error message"
        return None, error
    except Exception:
        OUTCOMES[what]["other"] += 1
        raise
    OUTCOMES[what]["valid"] += 1
    return result, None


def _check_interactions(data) -> None:
    """What a loaded dataset promises: dense ids, finite ratings, one row per (user, item)."""
    frame = data.frame
    assert frame["user"].between(0, data.n_users - 1).all() and frame["item"].between(0, data.n_items - 1).all()
    assert frame["rating"].map(math.isfinite).all()
    assert not frame.duplicated(["user", "item"]).any()


@given(mutations)
def test_any_config_is_validated_or_refused_with_an_error_naming_its_key(changes):
    config = copy.deepcopy(BASE)
    for action, path, value in changes:
        path = tuple(part for part in path if part != "")
        if not path:
            continue
        _set(config, path, value) if action == "set" else _delete(config, path)
    _, error = _record("config", lambda: Settings.from_config(config, "fuzz.yaml"))
    if error is not None:
        lines = str(error).splitlines()
        assert lines[0].startswith("fuzz.yaml: ") or lines[0].startswith("models."), lines[0]
        assert all(": " in line for line in lines), lines  # every problem names its key


ids = st.one_of(
    st.integers(-5, 10**30).map(str),
    st.text(max_size=6),
    st.sampled_from([" 1", "1 ", "1", "01", "\u00e9", "a,b", '"', "nan"]),
)
numbers = st.one_of(
    st.integers(-10, 10).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "4", "4.5", "five", "1e30", "-inf", "NaN"]),
)
rows = st.lists(st.tuples(ids, ids, numbers, numbers), max_size=12)


@st.composite
def rating_files(draw) -> bytes:
    kind = draw(st.sampled_from(["csv", "csv", "csv", "bytes", "truncated"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    header = draw(st.sampled_from(["user,item,rating,timestamp\n", "", "user,item\n", "user;item;rating;timestamp\n"]))
    body = "".join(",".join(row) + "\n" for row in draw(rows))
    text = (header + body).encode(draw(st.sampled_from(["utf-8", "utf-8", "latin-1"])), errors="replace")
    return text[: draw(st.integers(0, len(text)))] if kind == "truncated" else text


COLUMNS = {"user": "user", "item": "item", "rating": "rating", "timestamp": "timestamp"}


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(rating_files(), st.sampled_from(["table", "amazon"]), st.sampled_from([None, (1, 5)]))
def test_any_rating_file_is_loaded_or_refused_with_an_error_naming_the_file(content, loader, rating_scale):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ratings.csv"
        path.write_bytes(content)
        run = (
            (lambda: load_table(path, COLUMNS, rating_scale))
            if loader == "table"
            else (lambda: load_amazon_ratings(path, k=1, log=None))
        )
        data, error = _record("data", run)
        if error is not None:
            assert str(error).startswith(str(path)), str(error)
        else:
            _check_interactions(data)


@given(
    st.lists(
        st.tuples(
            st.one_of(ids, st.none(), st.floats()),
            st.one_of(ids, st.integers()),
            st.one_of(numbers, st.floats(), st.none()),
            st.one_of(numbers, st.floats()),
        ),
        max_size=10,
    )
)
def test_any_table_in_memory_is_validated_or_refused_naming_its_source(records):
    import pandas as pd

    raw = pd.DataFrame(records, columns=["user", "item", "rating", "timestamp"])
    data, error = _record("data", lambda: from_raw(raw, "frame"))
    if error is not None:
        assert str(error).startswith("frame: "), str(error)
    else:
        _check_interactions(data)
