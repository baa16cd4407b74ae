"""Planted data (recinfluence.data.inject) on the real MovieLens 100K: fake users of each attack
type, corrupted ratings, the labels kept apart, and the real users' split left as it was."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import yaml

from recinfluence.data import COLUMNS, inject, no_planted, planted_rows
from recinfluence.data.inject import ATTACK_DEFAULTS, ATTACKS, CORRUPT_DEFAULTS, CORRUPTIONS, DEFAULTS
from recinfluence.errors import InputError
from recinfluence.models import TrainSet
from recinfluence.settings import SCHEMA, Settings
from recinfluence.split import split_interactions

from .studies import SMALL_CONFIG, run_snakemake, write_config

SPLIT = {"test_fraction": 0.25, "valid_fraction": 0.1, "split_seed": 0}
PROTOCOLS = ("paper", "heldout")


def planted(data, **spec):
    return inject(data, spec, **SPLIT, log=None)


@pytest.fixture(scope="module")
def attacks(movielens):
    """Each attack type with the defaults (3% fake users, 5% filler, 10 selected, one target)."""
    return {kind: planted(movielens, attack={"type": kind}) for kind in ATTACKS}


@pytest.fixture(scope="module")
def real_splits(movielens):
    n = len(movielens.frame)
    return {p: split_interactions(n, SPLIT["test_fraction"], 0, p, SPLIT["valid_fraction"]) for p in PROTOCOLS}


def fake_rows(data, table) -> pd.DataFrame:
    fakes = table.loc[table["planted"] != "corrupt", "entity"]
    return data.frame[data.frame["user"].isin(fakes)]


def test_same_inputs_same_output_bit_for_bit(movielens):
    spec = {"seed": 3, "attack": {"type": "average"}, "corrupt": {"share": 0.05}}
    (a, table_a), (b, table_b) = planted(movielens, **spec), planted(movielens, **spec)
    pd.testing.assert_frame_equal(a.frame, b.frame, check_exact=True)
    pd.testing.assert_frame_equal(a.users, b.users)
    pd.testing.assert_frame_equal(table_a, table_b)
    c, table_c = planted(movielens, **{**spec, "seed": 4})
    assert not a.frame.equals(c.frame) and not table_a.equals(table_c)
    # corruption leaves an attack as it was; a larger share keeps the first fake users
    alone, _ = planted(movielens, seed=3, attack={"type": "average"})
    pd.testing.assert_frame_equal(fake_rows(a, table_a), fake_rows(alone, table_a), check_exact=True)
    more, more_table = planted(movielens, seed=3, attack={"type": "average", "share": 0.06})
    first = more.frame[more.frame["user"].isin(table_a.loc[table_a["planted"] != "corrupt", "entity"])]
    pd.testing.assert_frame_equal(first, fake_rows(alone, table_a), check_exact=True)


def test_the_data_carries_no_label(movielens, attacks):
    data, table = planted(movielens, attack={"type": "segment"}, corrupt={"share": 0.05})
    assert tuple(data.frame.columns) == COLUMNS
    assert data.frame.dtypes.astype(str).tolist() == ["int64", "int64", "float64", "int64"]
    assert list(data.users.columns) == ["raw_id"] and data.items is movielens.items
    split = split_interactions(len(data.frame), 0.25, 0, "paper", n_planted=planted_rows(data.frame, table))
    train = TrainSet.from_frame(data.frame.iloc[split.train], data.n_users, data.n_items)
    # what a model sees: ids, ratings and row positions, nothing that tells planted from real
    arrays = {f.name for f in dataclasses.fields(train) if isinstance(getattr(train, f.name), np.ndarray)}
    assert arrays == {"users", "items", "ratings", "rows", "catalog"}
    np.testing.assert_array_equal(train.rows, np.arange(len(split.train)))
    assert set(table.columns) == {"kind", "entity", "planted", "target", "rows"}


@pytest.mark.parametrize("kind", ["random", "segment", "corrupt"])
def test_the_real_users_split_is_the_same_with_or_without_planted_users(movielens, attacks, real_splits, kind):
    data, table = planted(movielens, corrupt={"share": 0.05}) if kind == "corrupt" else attacks[kind]
    n_real, n = len(movielens.frame), len(data.frame)
    n_planted = planted_rows(data.frame, table)
    assert n_planted == (0 if kind == "corrupt" else int(table["rows"].sum())) and n - n_real == n_planted
    for protocol in PROTOCOLS:
        split, real = split_interactions(n, 0.25, 0, protocol, 0.1, n_planted=n_planted), real_splits[protocol]
        np.testing.assert_array_equal(split.valid, real.valid)
        np.testing.assert_array_equal(split.test, real.test)
        np.testing.assert_array_equal(split.train[split.train < n_real], real.train)
        # fake users have training rows only: all of theirs, and no other
        np.testing.assert_array_equal(split.train[split.train >= n_real], np.arange(n_real, n))
        fakes = np.flatnonzero(data.frame["user"].to_numpy() >= movielens.n_users)
        np.testing.assert_array_equal(fakes, np.arange(n_real, n))
    assert real_splits["heldout"].train.size < real_splits["paper"].train.size
    assert np.isin(real_splits["heldout"].train, real_splits["paper"].train).all()


def test_the_split_refuses_planted_rows_that_leave_nothing():
    with pytest.raises(InputError, match="leave no real row"):
        split_interactions(10, n_planted=10)
    with pytest.raises(InputError, match="whole number"):
        split_interactions(10, n_planted=-1)


def test_fake_users_are_appended_with_new_ids_and_one_target_each(movielens, attacks):
    frame, n_users = movielens.frame, movielens.n_users
    counts = frame["item"].value_counts()
    for kind, (data, table) in attacks.items():
        assert len(table) == 28 and (table["planted"] == kind).all() and (table["kind"] == "user").all()  # 3% of 943
        np.testing.assert_array_equal(table["entity"], np.arange(n_users, n_users + 28))
        assert data.users["raw_id"].iloc[n_users:].tolist() == [f"planted-{k}" for k in range(28)]
        pd.testing.assert_frame_equal(data.frame.iloc[: len(frame)], frame)  # the real rows untouched
        fake = data.frame.iloc[len(frame) :]
        assert (fake["timestamp"] == frame["timestamp"].max() + 1).all()
        assert not fake.duplicated(["user", "item"]).any()
        np.testing.assert_array_equal(fake.groupby("user").size().to_numpy(), table["rows"].to_numpy())
        target = table["target"].iloc[0]
        assert (table["target"] == target).all() and 10 <= counts[target] <= 50
        on_target = fake[fake["item"] == target]
        assert len(on_target) == 28 and (on_target["rating"] == 5).all()
        assert set(fake["rating"]) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    # targets: drawn by the seed
    _, other = planted(movielens, seed=1, attack={"type": "random", "targets": 3})
    assert other["target"].nunique() == 3 and set(other["target"].value_counts()) == {10, 9}


def test_each_attack_has_its_profile(movielens, attacks):
    frame, n_items = movielens.frame, movielens.n_items
    filler = round(0.05 * n_items)  # 84
    item_mean = frame.groupby("item")["rating"].mean()
    popular = frame["item"].value_counts().sort_index().sort_values(ascending=False, kind="stable").index[:10]
    deviation = {}
    for kind, (data, table) in attacks.items():
        target = table["target"].iloc[0]
        fake = data.frame.iloc[len(frame) :]
        others = fake[fake["item"] != target]
        deviation[kind] = (others["rating"] - others["item"].map(item_mean)).abs().mean()
        if kind in ("random", "average"):
            assert (table["rows"] == 1 + filler).all()
            assert others["rating"].nunique() > 2  # drawn, not constant
            continue
        assert (table["rows"] == 1 + 10 + filler).all()
        at_top = others[others["rating"] == 5].groupby("user")["item"].apply(frozenset)
        selected = frozenset.intersection(*at_top)
        assert len(selected) == 10  # the selected set is in every profile, at the top
        if kind == "bandwagon":
            assert selected == frozenset(popular)
            assert others[~others["item"].isin(selected)]["rating"].nunique() > 2
        else:  # segment: the items most co-rated with the target, filler at the bottom
            raters = frame.loc[frame["item"] == target, "user"]
            co = frame[frame["user"].isin(raters) & (frame["item"] != target)]["item"].value_counts()
            ranked = pd.DataFrame({"co": co, "popularity": frame["item"].value_counts()[co.index]})
            ranked = ranked.rename_axis("item").reset_index()
            top = ranked.sort_values(["co", "popularity", "item"], ascending=[False, False, True])["item"][:10]
            assert selected == frozenset(top)
            assert (others[~others["item"].isin(selected)]["rating"] == 1).all()
    # average: filler rated near each item's mean; random: near the global mean
    assert deviation["average"] < 0.8 * deviation["random"]


@pytest.mark.parametrize("mode", ["random", "flip"])
def test_corruption_changes_only_training_rows_of_whole_users_up_to_the_share(movielens, real_splits, mode):
    data, table = planted(movielens, seed=2, corrupt={"share": 0.05, "mode": mode})
    frame = movielens.frame
    assert len(data.frame) == len(frame) and data.n_users == movielens.n_users
    assert (table["planted"] == "corrupt").all() and (table["target"] == -1).all()
    users, train = frame["user"].to_numpy(), real_splits["heldout"].train  # trains under both protocols
    corrupted = train[np.isin(users[train], table["entity"])]  # every training row of the corrupted users
    per_user = np.bincount(users[corrupted], minlength=movielens.n_users)
    np.testing.assert_array_equal(per_user[table["entity"]], table["rows"])
    changed = np.flatnonzero(data.frame["rating"].to_numpy() != frame["rating"].to_numpy())
    assert np.isin(changed, corrupted).all()  # nothing else: validation and test stay true
    for protocol in PROTOCOLS:
        assert np.isin(corrupted, real_splits[protocol].train).all()
    rows = int(table["rows"].sum())
    assert rows >= 0.05 * len(train) > rows - table["rows"].max()  # whole users until the share
    new, old = data.frame["rating"].to_numpy()[corrupted], frame["rating"].to_numpy()[corrupted]
    if mode == "flip":
        np.testing.assert_array_equal(new, 6 - old)
    else:
        np.testing.assert_array_equal(changed, corrupted)
        assert set(new) <= {1.0, 2.0, 3.0, 4.0, 5.0} and len(set(new)) == 5
    assert planted_rows(data.frame, table) == 0  # corrupted users are real


def test_nothing_planted_is_the_empty_table(movielens, attacks, tmp_path):
    empty = no_planted()
    assert empty.empty and list(empty.columns) == ["kind", "entity", "planted", "target", "rows"]
    assert (empty.dtypes == attacks["random"][1].dtypes).all()
    assert planted_rows(movielens.frame, empty) == 0
    empty.to_parquet(tmp_path / "planted.parquet")
    assert planted_rows(movielens.frame, pd.read_parquet(tmp_path / "planted.parquet")) == 0


def test_bad_specs_name_the_key(movielens):
    cases = [
        ({"attack": {"type": "average", "share": 0.0001}}, "inject.attack.share: 0.0001 of 943 users is no fake user"),
        ({"attack": {"type": "sybil"}}, "inject.attack.type: 'sybil' is not one of"),
        ({"corrupt": {"mode": "swap"}}, "inject.corrupt.mode: 'swap'"),
        ({"seed": 1}, "inject: nothing to plant"),
        ({"attack": {"type": "random", "targets": 10_000}}, "inject.attack.targets: 10000 targets"),
        ({"attack": {"type": "segment", "filler": 0.999}}, "inject.attack: a profile of 1 target, 10 selected"),
    ]
    for spec, message in cases:
        with pytest.raises(InputError, match=f"^{message}"):
            inject(movielens, spec, **SPLIT, log=None, source="inject")


def test_the_log_says_what_was_planted(movielens, capsys):
    inject(movielens, {"attack": {"type": "bandwagon"}, "corrupt": {}}, **SPLIT, source="datasets.ml.inject")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("datasets.ml.inject: corrupted (random) all ")
    assert lines[1].startswith(
        "datasets.ml.inject: 28 fake users (bandwagon attack, share 0.03), 2660 rows, 95 per profile; "
    )
    assert "target item(s): " in lines[1]


def test_the_schema_reads_a_valid_block_with_its_defaults_and_names_a_bad_key():
    config = yaml.safe_load(SMALL_CONFIG.read_text())
    config["datasets"]["ml-100k"]["inject"] = {"attack": {"type": "segment", "share": 0.05}}
    spec = Settings.from_config(config).datasets["ml-100k"]
    assert spec.inject == {
        "seed": 0,
        "attack": {"type": "segment", "share": 0.05, "filler": 0.05, "selected": 10, "targets": 1},
    }
    assert Settings.from_params(Settings.from_config(config).to_params()).datasets["ml-100k"] == spec
    # the schema's defaults are the module's
    block = yaml.safe_load(SCHEMA.read_text())["definitions"]["dataset"]["properties"]["inject"]["properties"]
    for name, defaults in (("attack", ATTACK_DEFAULTS), ("corrupt", CORRUPT_DEFAULTS)):
        assert {
            key: value["default"] for key, value in block[name]["properties"].items() if "default" in value
        } == defaults
    assert block["seed"]["default"] == DEFAULTS["seed"]
    assert block["attack"]["properties"]["type"]["enum"] == list(ATTACKS)
    assert block["corrupt"]["properties"]["mode"]["enum"] == list(CORRUPTIONS)
    bad = {
        "a": {"loader": "movielens_100k", "inject": {"attack": {"type": "sybil"}}},
        "b": {"loader": "movielens_100k", "inject": {"corrupt": {"share": 1.5, "rate": 1}}},
        "c": {"loader": "movielens_100k", "inject": {"seed": 1}},
        "d": {"loader": "synthetic", "source": {"loader": "movielens_100k", "inject": {"corrupt": {}}}, "factor": 2},
    }
    config["datasets"] = bad
    with pytest.raises(InputError) as error:
        Settings.from_config(config, "study.yaml")
    lines = str(error.value).splitlines()
    assert lines[0] == "study.yaml: 5 problems"
    assert lines[1].startswith("  datasets.a.inject.attack.type: 'sybil' is not one of ['random', 'average'")
    assert lines[2] == "  datasets.b.inject.corrupt.share: 1.5 is greater than or equal to the maximum of 1"
    assert lines[3] == "  datasets.b.inject.corrupt: Additional properties are not allowed ('rate' was unexpected)"
    assert lines[4] == "  datasets.c.inject: 'attack' is a required property"
    assert lines[5] == "  datasets.d.source: 'inject' should not be valid under {'const': 'inject'}"


@pytest.mark.workflow
def test_the_workflow_writes_the_labels_apart_and_splits_the_planted_users_into_training(tmp_path, movielens_dir):
    datasets = {
        "ml-100k": {
            "loader": "movielens_100k",
            "path": str(movielens_dir),
            "inject": {"attack": {"type": "average"}, "corrupt": {"share": 0.05}},
        }
    }
    write_config(tmp_path, movielens_dir, datasets=datasets)
    run_snakemake(tmp_path, "--cores", "2", *(f"results/ml-100k/{p}/split.parquet" for p in PROTOCOLS))
    folder = tmp_path / "results" / "ml-100k"
    frame = pd.read_parquet(folder / "data" / "interactions.parquet")
    table = pd.read_parquet(folder / "data" / "planted.parquet")
    assert tuple(frame.columns) == COLUMNS and len(table) == 28 + (table["planted"] == "corrupt").sum()
    for protocol in PROTOCOLS:
        parts = pd.read_parquet(folder / protocol / "split.parquet")
        fake = parts["row"] >= len(frame) - planted_rows(frame, table)
        assert (parts.loc[fake, "part"] == "train").all() and fake.sum() == 28 * 85
    log = (tmp_path / "logs" / "ml-100k" / "prepare_dataset.log").read_text()
    assert "28 fake users (average attack" in log and "corrupted (random)" in log
