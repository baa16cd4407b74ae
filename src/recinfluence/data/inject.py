"""Planted data: fake users (shilling attacks) and corrupted ratings, with the ground truth kept
apart from the data.

:func:`inject` returns the data as models see it (the four columns user, item, rating,
timestamp, nothing more) and the ``planted`` table, the labels: which users are fake (and what
item each pushes) and which real users had their training ratings corrupted. Detection is judged
against that table; no model and no estimator ever reads it.

Attack models as in Lam & Riedl (2004, "Shilling recommender systems for fun and profit") and
Mobasher et al. (2007, "Toward trustworthy recommender systems"). Each fake profile rates its
target item at the top of the scale, plus

- ``random``: filler items rated N(global mean, global sd);
- ``average``: filler items rated N(item mean, item sd);
- ``bandwagon``: the ``selected`` most popular items at the top, and random filler;
- ``segment``: the ``selected`` items most co-rated with the target at the top, filler at the bottom.

Fake users get dense ids after the real ones (raw id ``planted-<k>``) and their rows come after
every real row, so the split keeps them in training and leaves the real users' split as it is
(:func:`recinfluence.split.split_interactions` with ``n_planted``). Corruption changes only rows
that train under both protocols (the held-out protocol's training rows, a subset of the paper's),
so validation and test stay true.

Every draw is keyed by the seed and an id: the targets by (seed, 0), fake user k's profile by
(seed, 1, k), the corruption by (seed, 2); adding corruption leaves an attack as it was, and a
larger share adds fake users without changing the first ones.
"""

from __future__ import annotations

import sys
from typing import TextIO

import numpy as np
import pandas as pd

from ..errors import InputError
from ..split import split_interactions
from .interactions import _STDERR, COLUMNS, Interactions

ATTACKS = ("random", "average", "bandwagon", "segment")
CORRUPTIONS = ("random", "flip")
# The defaults of config.schema.yaml's `inject` block (tests/test_inject.py checks they agree).
DEFAULTS = {"seed": 0}
ATTACK_DEFAULTS = {"share": 0.03, "filler": 0.05, "selected": 10, "targets": 1}
CORRUPT_DEFAULTS = {"share": 0.05, "mode": "random"}
TARGET_RATINGS = (10, 50)  # a target item has between these many ratings (inclusive) in the real data
PLANTED_DTYPES = {"kind": object, "entity": "int64", "planted": object, "target": "int64", "rows": "int64"}


def no_planted() -> pd.DataFrame:
    """The ``planted`` table with nothing in it (its columns and dtypes)."""
    return pd.DataFrame({column: pd.Series([], dtype=dtype) for column, dtype in PLANTED_DTYPES.items()})


def planted_rows(frame: pd.DataFrame, planted: pd.DataFrame) -> int:
    """The number of rows of fake users in ``frame`` (corrupted users are real: not counted).
    They must be its last rows, as :func:`inject` leaves them; that number is the split's
    ``n_planted``."""
    fake = planted.loc[(planted["kind"] == "user") & (planted["planted"] != "corrupt"), "entity"].to_numpy()
    mask = np.isin(frame["user"].to_numpy(), fake)
    n = int(mask.sum())
    if not mask[len(mask) - n :].all():
        raise InputError(f"the {n} rows of the {len(fake)} planted users are not the last rows of the interactions")
    return n


def inject(
    data: Interactions,
    spec: dict,
    test_fraction: float,
    valid_fraction: float,
    split_seed: int,
    *,
    source: str = "inject",
    log: TextIO | None = _STDERR,  # type: ignore[assignment]
) -> tuple[Interactions, pd.DataFrame]:
    """Plant fake users and/or corrupt ratings in ``data`` as ``spec`` says (the ``inject`` block
    of a dataset entry: ``seed``, and ``attack`` and/or ``corrupt``; keys left out take the
    schema's defaults). The split settings (``test_fraction``, ``valid_fraction``,
    ``split_seed``) say which real rows train under both protocols: only those are corrupted.

    Returns the new data (same columns and dtypes; fake users' rows appended after the real ones,
    timestamp the latest + 1) and the ``planted`` table: ``kind`` ("user"), ``entity`` (user
    id), ``planted`` (the attack type or "corrupt"), ``target`` (the pushed item, -1 for none)
    and ``rows`` (training rows planted or corrupted), ordered by entity. Same inputs, same
    output, bit for bit. Messages name the key under ``source`` (``<source>.attack.share``)."""
    log = sys.stderr if log is _STDERR else log
    spec = _checked(spec, source)
    seed = spec["seed"]
    frame = data.frame
    values = np.unique(frame["rating"].to_numpy(dtype=np.float64))  # the observed ratings, sorted
    parts, planted = [frame[list(COLUMNS)].copy()], []
    users = data.users
    if spec["corrupt"] is not None:
        train = split_interactions(len(frame), test_fraction, split_seed, "heldout", valid_fraction).train
        ratings, corrupted = _corrupt(frame, train, values, data.n_users, spec["corrupt"], seed)
        parts[0]["rating"] = ratings
        planted.append(corrupted)
        _report(log, source, corrupted, len(train), spec["corrupt"])
    if spec["attack"] is not None:
        fake, fakes = _attack(data, values, spec["attack"], seed, source)
        parts.append(fake)
        planted.append(fakes)
        users = pd.concat(
            [users, pd.DataFrame({"raw_id": [f"planted-{k}" for k in range(len(fakes))]})], ignore_index=True
        )
        users.index.name = "id"
        _report_attack(log, source, fakes, fake, data.items, spec["attack"])
    table = pd.concat(planted, ignore_index=True).astype(PLANTED_DTYPES)
    table = table.sort_values("entity", ignore_index=True)
    out = pd.concat(parts, ignore_index=True).astype({"user": "int64", "item": "int64", "rating": "float64"})
    out["timestamp"] = out["timestamp"].astype("int64")
    return Interactions(frame=out, users=users, items=data.items), table


def _checked(spec: dict, source: str) -> dict:
    """``spec`` with its defaults, or an :class:`InputError` naming the first bad key."""
    if not isinstance(spec, dict):
        raise InputError(f"{source}: not a mapping ({spec!r})")
    unknown = sorted(set(spec) - {"seed", "attack", "corrupt"})
    if unknown:
        raise InputError(f"{source}: unknown key(s) {', '.join(unknown)} (seed, attack, corrupt)")
    if spec.get("attack") is None and spec.get("corrupt") is None:
        raise InputError(f"{source}: nothing to plant; give attack and/or corrupt")
    out = {**DEFAULTS, "attack": None, "corrupt": None, **spec}
    if isinstance(out["seed"], bool) or not isinstance(out["seed"], (int, np.integer)) or out["seed"] < 0:
        raise InputError(f"{source}.seed: {out['seed']!r} is not a whole number >= 0")
    if out["attack"] is not None:
        attack = out["attack"] = {**ATTACK_DEFAULTS, **out["attack"]}
        key = f"{source}.attack"
        _known(attack, {"type", *ATTACK_DEFAULTS}, key)
        if attack.get("type") not in ATTACKS:
            raise InputError(f"{key}.type: {attack.get('type')!r} is not one of {', '.join(ATTACKS)}")
        _number(attack["share"], f"{key}.share", 0, 1, low_open=True)
        _number(attack["filler"], f"{key}.filler", 0, 1, high_open=True)
        _whole(attack["selected"], f"{key}.selected")
        _whole(attack["targets"], f"{key}.targets")
    if out["corrupt"] is not None:
        corrupt = out["corrupt"] = {**CORRUPT_DEFAULTS, **out["corrupt"]}
        key = f"{source}.corrupt"
        _known(corrupt, set(CORRUPT_DEFAULTS), key)
        _number(corrupt["share"], f"{key}.share", 0, 1, low_open=True, high_open=True)
        if corrupt["mode"] not in CORRUPTIONS:
            raise InputError(f"{key}.mode: {corrupt['mode']!r} is not one of {', '.join(CORRUPTIONS)}")
    return out


def _known(block: dict, keys: set, key: str) -> None:
    unknown = sorted(set(block) - keys)
    if unknown:
        raise InputError(f"{key}: unknown key(s) {', '.join(unknown)} ({', '.join(sorted(keys))})")


def _number(value, key: str, low: float, high: float, low_open=False, high_open=False) -> None:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and (low < value if low_open else low <= value) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise InputError(f"{key}: {value!r} is not in {interval}")


def _whole(value, key: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{key}: {value!r} is not a whole number >= 1")


def _nearest(values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each of ``x`` as the nearest of the sorted ``values`` (clipped to their range; a tie goes up)."""
    x = np.clip(x, values[0], values[-1])
    upper = np.clip(np.searchsorted(values, x), 1, len(values) - 1) if len(values) > 1 else np.zeros(len(x), int)
    lower = np.maximum(upper - 1, 0)
    return np.where(x - values[lower] < values[upper] - x, values[lower], values[upper])


def _attack(data: Interactions, values: np.ndarray, attack: dict, seed: int, source: str):
    """The fake users' rows (after the real ones) and their lines of the planted table."""
    frame, n_users, n_items = data.frame, data.n_users, data.n_items
    key = f"{source}.attack"
    kind, share = attack["type"], attack["share"]
    n_fake = int(round(share * n_users))
    if n_fake == 0:
        raise InputError(
            f"{key}.share: {share} of {n_users} users is no fake user (round(share x users) = 0); "
            f"give at least {0.5 / n_users:.2g}"
        )
    users = frame["user"].to_numpy(dtype=np.int64)
    items = frame["item"].to_numpy(dtype=np.int64)
    ratings = frame["rating"].to_numpy(dtype=np.float64)
    counts = np.bincount(items, minlength=n_items)
    low, high = values[0], values[-1]

    lo, hi = TARGET_RATINGS
    candidates = np.flatnonzero((counts >= lo) & (counts <= hi))
    if len(candidates) == 0:  # the least popular half
        candidates = np.sort(np.lexsort((np.arange(n_items), counts))[: max(1, n_items // 2)])
    n_targets = int(attack["targets"])
    if n_targets > len(candidates):
        raise InputError(
            f"{key}.targets: {n_targets} targets, but only {len(candidates)} items can be one "
            f"(between {lo} and {hi} ratings, else the least popular half)"
        )
    targets = np.sort(np.random.default_rng([seed, 0]).choice(candidates, n_targets, replace=False))

    n_filler = int(round(attack["filler"] * n_items))
    n_selected = int(attack["selected"]) if kind in ("bandwagon", "segment") else 0
    if 1 + n_selected + n_filler > n_items:
        raise InputError(
            f"{key}: a profile of 1 target, {n_selected} selected and {n_filler} filler items is more than the "
            f"{n_items} items"
        )
    popularity = np.lexsort((np.arange(n_items), -counts))  # most rated first, ties by id
    selected = {}
    for target in targets:
        if kind == "bandwagon":
            selected[target] = popularity[popularity != target][:n_selected]
        elif kind == "segment":  # the items most co-rated with the target (ties: more popular, then smaller id)
            raters = np.zeros(n_users, dtype=bool)
            raters[users[items == target]] = True
            co = np.bincount(items[raters[users]], minlength=n_items)
            co[target] = -1
            selected[target] = np.lexsort((np.arange(n_items), -counts, -co))[:n_selected]
        else:
            selected[target] = np.zeros(0, dtype=np.int64)

    sums = np.bincount(items, weights=ratings, minlength=n_items)
    squares = np.bincount(items, weights=ratings**2, minlength=n_items)
    safe = np.maximum(counts, 1)
    item_mean = np.where(counts > 0, sums / safe, ratings.mean())
    item_sd = np.sqrt(np.maximum(np.where(counts > 0, squares / safe - item_mean**2, ratings.var()), 0))
    top = float(high)
    timestamp = int(frame["timestamp"].max()) + 1
    rows, lines = [], []
    for k in range(n_fake):
        target = targets[k % n_targets]
        chosen = selected[target]
        rng = np.random.default_rng([seed, 1, k])
        pool = np.ones(n_items, dtype=bool)
        pool[chosen] = pool[target] = False
        filler = np.sort(rng.choice(np.flatnonzero(pool), n_filler, replace=False))
        if kind == "average":
            filler_ratings = _nearest(values, rng.normal(item_mean[filler], item_sd[filler]))
        elif kind == "segment":
            filler_ratings = np.full(n_filler, float(low))
        else:  # random, bandwagon
            filler_ratings = _nearest(values, rng.normal(ratings.mean(), ratings.std(), n_filler))
        profile = np.concatenate([[target], chosen, filler])
        scores = np.concatenate([[top], np.full(len(chosen), top), filler_ratings])
        order = np.argsort(profile, kind="stable")
        rows.append(
            pd.DataFrame(
                {
                    "user": np.full(len(profile), n_users + k, dtype=np.int64),
                    "item": profile[order].astype(np.int64),
                    "rating": scores[order].astype(np.float64),
                    "timestamp": np.full(len(profile), timestamp, dtype=np.int64),
                }
            )
        )
        lines.append(("user", n_users + k, kind, int(target), len(profile)))
    return pd.concat(rows, ignore_index=True), pd.DataFrame(lines, columns=list(PLANTED_DTYPES))


def _corrupt(frame: pd.DataFrame, train: np.ndarray, values: np.ndarray, n_users: int, corrupt: dict, seed: int):
    """The ratings with whole users' training rows corrupted, users in a seeded order until the
    rows reach ``share`` of ``train``, and the corrupted users' lines of the planted table."""
    users = frame["user"].to_numpy(dtype=np.int64)
    ratings = frame["rating"].to_numpy(dtype=np.float64).copy()
    per_user = np.bincount(users[train], minlength=n_users)
    rng = np.random.default_rng([seed, 2])
    order = rng.permutation(n_users)
    order = order[per_user[order] > 0]
    reached = np.cumsum(per_user[order])
    chosen = order[: int(np.searchsorted(reached, corrupt["share"] * len(train), side="left")) + 1]
    is_chosen = np.zeros(n_users, dtype=bool)
    is_chosen[chosen] = True
    rows = train[is_chosen[users[train]]]  # sorted: train is
    original = ratings[rows]
    if corrupt["mode"] == "flip":
        ratings[rows] = values[0] + values[-1] - original
    elif len(values) > 1:  # uniform over the observed values other than the original
        draw = rng.integers(0, len(values) - 1, size=len(rows))
        draw += draw >= np.searchsorted(values, original)
        ratings[rows] = values[draw]
    chosen = np.sort(chosen)
    lines = pd.DataFrame(
        {
            "kind": "user",
            "entity": chosen.astype(np.int64),
            "planted": "corrupt",
            "target": np.full(len(chosen), -1, dtype=np.int64),
            "rows": per_user[chosen].astype(np.int64),
        }
    )
    return ratings, lines


def _report(log, source: str, corrupted: pd.DataFrame, n_train: int, corrupt: dict) -> None:
    if log is not None:
        rows = int(corrupted["rows"].sum())
        print(
            f"{source}: corrupted ({corrupt['mode']}) all {rows} training ratings of {len(corrupted)} real users: "
            f"{rows / n_train:.2%} of the {n_train} rows that train under both protocols (share {corrupt['share']})",
            file=log,
            flush=True,
        )


def _report_attack(log, source: str, fakes: pd.DataFrame, rows: pd.DataFrame, items: pd.DataFrame, attack) -> None:
    if log is not None:
        low, high = fakes["rows"].min(), fakes["rows"].max()
        sizes = f"{low}" if low == high else f"{low}-{high}"
        targets = ", ".join(
            f"{target} ({items['raw_id'].iloc[target]}"
            + (f", {items['title'].iloc[target]}" if "title" in items.columns else "")
            + f"; {int((fakes['target'] == target).sum())} fake users)"
            for target in sorted(fakes["target"].unique())
        )
        print(
            f"{source}: {len(fakes)} fake users ({attack['type']} attack, share {attack['share']}), "
            f"{len(rows)} rows, {sizes} per profile; target item(s): {targets}",
            file=log,
            flush=True,
        )
