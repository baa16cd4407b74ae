"""How reliable is each estimator's ranking, and at what cost? (docs/results.md "Reliability of the rankings")

Computes, for one dataset and model of a study config, the influence of every user and item by
exact deletion (R seeds), by the size-matched random-rows control (the same seeds) and by Data
Banzhaf (M subsets), saving every seed and every chunk of subsets as it finishes, so that an
interrupted run resumes and a larger R or M reuses what is there. Then tabulates, for every
R and M of the grids (prefixes of what was computed) and every utility: split-half reliability
with its bootstrap interval, CPU-seconds, the projected wall time on 8 cores, and how many
entities are detectable, above the noise floor and different from random rows (paired over the
control seeds there are, `control_seeds`).

    python benchmarks/reliability.py configs/reliability-ml100k.yaml --run exact:user:16 banzhaf:user:8000
    python benchmarks/reliability.py configs/reliability-ml100k.yaml --table --prune exact:16 exact:16:auc \
banzhaf:8000 --race 10 50

Relative dataset paths are resolved from --directory (default runs/<config name>, where the
config's own instructions run the workflow). Writes results/benchmarks/reliability/ (pieces and
reliability.csv / reliability.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from recinfluence.analysis import (
    flag_significance,
    noise_floor,
    split_half_reliability,
    summarise_pruning,
    versus_control,
)
from recinfluence.compose import load_settings, make_model
from recinfluence.data import load_dataset
from recinfluence.estimators import build_estimator
from recinfluence.estimators.banzhaf import BLOCK
from recinfluence.estimators.base import Partial
from recinfluence.estimators.racing import Racing
from recinfluence.io import write_csv, write_parquet, write_text
from recinfluence.pruning import prune_and_retrain
from recinfluence.registry import metric_column
from recinfluence.retrain import Experiment, Retrainer, entity_list, seed_baselines
from recinfluence.settings import Settings
from recinfluence.split import split_interactions

CORES = 8
CHUNK = 25  # Banzhaf work units (of 8 subsets) per saved piece
UTILITIES = ("map@10", "auc", "rmse")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    parser.add_argument(
        "--run",
        nargs="*",
        default=[],
        metavar="ESTIMATOR:KIND:COUNT",
        help="compute (or extend to) COUNT seeds (exact, random_rows) or subsets (banzhaf)",
    )
    parser.add_argument(
        "--reverse",
        action="store_true",
        help="compute seeds last first (a second process then meets the first halfway)",
    )
    parser.add_argument("--table", action="store_true", help="tabulate what has been computed")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[1, 4, 16, 36], help="R grid of the table (exact deletion)"
    )
    parser.add_argument(
        "--subsets", type=int, nargs="+", default=[500, 2000, 8000], help="M grid of the table (Data Banzhaf)"
    )
    parser.add_argument(
        "--prune",
        nargs="*",
        default=[],
        metavar="ESTIMATOR:COUNT[:METRIC]",
        help=(
            "prune users by that estimator's ranking (by METRIC, default the config's) at COUNT seeds/subsets (test "
            "split, prune.sizes, prune.random_draws, the noise seeds)"
        ),
    )
    parser.add_argument(
        "--race",
        type=int,
        nargs="*",
        default=[],
        metavar="K",
        help="replay a race for the K least / most users on the exact deletions computed",
    )
    args = parser.parse_args()
    settings, model, data, split, experiment, out = load_study(args)
    evaluation = settings.evaluation
    for job in args.run:
        name, kind, count = job.split(":")
        retrainer = Retrainer(make_model(model), experiment, settings.influence.variants_per_batch)
        if name == "banzhaf":
            run_banzhaf(settings, name, retrainer, kind, int(count), out)
        else:
            run_seeds(
                settings,
                name,
                retrainer,
                kind,
                int(count),
                out,
                args.reverse,
                limit=args.limit or settings.limit(kind, model.name),
            )
    if args.table:
        floor = noise_floor(
            seed_baselines(make_model(model), {"evaluation": experiment}, settings.noise_seeds())[0],
            settings.noise.quantile,
        )[0]
        limits = {kind: args.limit or settings.limit(kind, model.name) for kind in ("user", "item")}
        table = tabulate(settings, out, floor, args.seeds, args.subsets, limits)
        write_csv(table, out / "reliability.csv", index=False)
        write_text(table.to_markdown(index=False, floatfmt=".3f") + "\n", out / "reliability.md")
        print(table.to_markdown(index=False, floatfmt=".3f"))
    if args.prune:
        test = Experiment.build(data, split, "test", evaluation.k, evaluation.relevance_threshold)
        table = pd.concat([prune(settings, model, test, out, *job.split(":")) for job in args.prune], ignore_index=True)
        write_csv(table, out / "pruning.csv", index=False)
        print(table.to_markdown(index=False, floatfmt=".3f"))
    if args.race:
        table = pd.DataFrame([race(out, k, metric, settings.seed) for k in args.race for metric in UTILITIES[:2]])
        write_csv(table, out / "racing.csv", index=False)
        print(table.to_markdown(index=False, floatfmt=".3f"))


def add_study_arguments(parser: argparse.ArgumentParser) -> None:
    """Which study, dataset, model and protocol: the arguments this script shares with
    ``benchmarks/fidelity.py``."""
    parser.add_argument("config", help="a study config (configs/reliability-ml100k.yaml)")
    parser.add_argument("--directory", help="where the config's relative paths start (default runs/<config name>)")
    parser.add_argument("--dataset", help="default: the config's first")
    parser.add_argument("--model", help="default: the config's first")
    parser.add_argument("--protocol", default="heldout")
    parser.add_argument(
        "--limit",
        type=int,
        help=(
            "exact deletion and its approximations: only the first LIMIT entities (default: the model's limit in the "
            "config)"
        ),
    )
    parser.add_argument("--out", default="results/benchmarks/reliability")


def load_study(args):
    """(settings, model entry, data, split, influence experiment, pieces folder) of ``args``."""
    settings = load_settings(args.config)
    directory = Path(args.directory or Path("runs") / Path(args.config).stem)
    directory.mkdir(parents=True, exist_ok=True)  # relative paths pass through it, as in the workflow
    dataset = settings.datasets[args.dataset or next(iter(settings.datasets))]
    model = settings.models[args.model or next(iter(settings.models))]
    if dataset.path and not Path(dataset.path).is_absolute():
        dataset = type(dataset).from_params({**dataset.to_params(), "path": str(directory / dataset.path)})
    data = load_dataset(dataset, directory / "resources" / dataset.name)
    split = split_interactions(
        len(data.frame), settings.split.test_fraction, settings.split.seed, args.protocol, settings.split.valid_fraction
    )
    evaluation = settings.evaluation
    experiment = Experiment.build(data, split, "evaluation", evaluation.k, evaluation.relevance_threshold)
    return settings, model, data, split, experiment, Path(args.out) / dataset.name / args.protocol / model.name


def run_seeds(
    settings: Settings,
    name: str,
    retrainer: Retrainer,
    kind: str,
    seeds: int,
    out: Path,
    reverse: bool = False,
    params: dict | None = None,
    label: str | None = None,
    limit: int | None = None,
) -> None:
    """One piece per seed (exact deletion, its random-rows control, or an approximation of it
    with ``params``, saved as ``label``), the first ``limit`` entities of ``kind`` (None:
    all). A piece already there is kept and extended with the entities it lacks (a deletion's
    numbers do not depend on what else shares its batch), so raising ``limit`` resumes."""
    wanted = entity_list(retrainer.train, kind, limit)
    order = range(settings.seed, settings.seed + seeds)
    for seed in reversed(order) if reverse else order:
        path = out / f"{label or name}_{kind}_seed{seed}.parquet"
        done = pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=["entity"])
        entities = wanted[~np.isin(wanted, done["entity"].to_numpy(dtype=np.int64))]
        if len(entities) == 0:
            continue
        started = time.process_time()
        estimator = build_estimator(name, {**(params or {}), "seeds": 1}, seed)
        rows = estimator.run_units(retrainer, kind, estimator.work_units(retrainer, entities), settings.comparison).rows
        rows = rows.assign(cpu_seconds=(time.process_time() - started) / len(rows))
        write_parquet(pd.concat([done, rows], ignore_index=True) if len(done) else rows, path)
        print(
            f"{label or name} {kind} seed {seed}: {len(entities)} entities, {time.process_time() - started:.0f} CPU-s",
            file=sys.stderr,
        )


def run_banzhaf(settings: Settings, name: str, retrainer: Retrainer, kind: str, subsets: int, out: Path) -> None:
    """Pieces of ``CHUNK`` work units (blocks of subsets), their sufficient statistics saved."""
    estimator = build_estimator(name, {"subsets": subsets}, settings.seed)
    units = estimator.work_units(retrainer, entity_list(retrainer.train, kind))
    for first in range(0, len(units), CHUNK):
        chunk = units[first : first + CHUNK]
        path = out / f"{name}_{kind}_subsets{int(chunk[0][0])}-{int(chunk[-1][-1])}.parquet"
        if path.exists():
            continue
        started = time.process_time()
        partial = estimator.run_units(retrainer, kind, chunk, settings.comparison)
        write_parquet(partial.rows.assign(cpu_seconds=(time.process_time() - started) / len(partial.rows)), path)


def tabulate(settings: Settings, out: Path, floor: pd.DataFrame, seed_grid, subset_grid, limits: dict) -> pd.DataFrame:
    """The reliability table over the first ``limits[kind]`` entities of each kind (None: all;
    Data Banzhaf values every entity at once, and its CPU-seconds are those of all its retrains)."""
    rows = []
    for kind in ("user", "item"):
        exact, control = (_first(_seeds(out, name, kind), limits[kind]) for name in ("exact", "random_rows"))
        for count in seed_grid:
            available = sorted(exact["seed"].unique()) if len(exact) else []
            if len(available) < max(count, 2):
                continue
            chosen = exact[exact["seed"].isin(available[:count])]
            result = build_estimator("exact", {"seeds": count}, settings.seed).reduce(
                kind, [Partial(chosen.drop(columns="cpu_seconds"), pd.DataFrame(), pd.DataFrame())]
            )
            # R = 1: a single seed's ranking is as reliable as two seeds agree with each other
            halves = exact[exact["seed"].isin(available[:2])] if count == 1 else chosen
            paired = control[control["seed"].isin(available[:count])] if len(control) else control
            rows += _rows(
                settings,
                kind,
                "exact",
                count,
                result.influence,
                halves,
                chosen["cpu_seconds"].sum(),
                floor,
                chosen,
                paired,
                count == 1,
            )
        banzhaf = _pieces(out, f"banzhaf_{kind}_subsets")
        for count in subset_grid:
            blocks = -(-count // BLOCK)
            chosen = banzhaf[banzhaf["block"] < blocks * BLOCK] if len(banzhaf) else banzhaf
            if len(chosen) == 0 or chosen["block"].nunique() < blocks:
                continue
            result = build_estimator("banzhaf", {"subsets": count}, settings.seed).reduce(
                kind, [Partial(chosen.drop(columns="cpu_seconds"), pd.DataFrame(), pd.DataFrame())]
            )
            influence, by_seed = (_first(table, limits[kind]) for table in (result.influence, result.by_seed))
            rows += _rows(
                settings,
                kind,
                "banzhaf",
                count,
                influence,
                by_seed,
                chosen["cpu_seconds"].sum(),
                floor,
                None,
                None,
                False,
            )
    return pd.DataFrame(rows)


def _first(table: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    """The rows of the first ``limit`` entities (ids 0, ..., limit - 1; None: all)."""
    return table if limit is None or len(table) == 0 else table[table["entity"] < limit]


def influence_at(settings: Settings, out: Path, estimator: str, kind: str, count: int) -> pd.DataFrame:
    """The influence table of ``estimator`` with ``count`` seeds (or subsets), from the pieces."""
    if estimator == "banzhaf":
        chosen = _pieces(out, f"banzhaf_{kind}_subsets")
        chosen = chosen[chosen["block"] < -(-count // BLOCK) * BLOCK]
    else:
        chosen = _seeds(out, estimator, kind)
        chosen = chosen[chosen["seed"] < settings.seed + count]
    if len(chosen) == 0:
        raise SystemExit(f"{out}: no {estimator} pieces for {kind}s; run --run {estimator}:{kind}:{count} first")
    partial = Partial(chosen.drop(columns="cpu_seconds"), pd.DataFrame(), pd.DataFrame())
    return (
        build_estimator(estimator, {"subsets": count} if estimator == "banzhaf" else {"seeds": count}, settings.seed)
        .reduce(kind, [partial])
        .influence
    )


def prune(
    settings: Settings, model, test: Experiment, out: Path, estimator: str, count: str, ranked_by: str | None = None
) -> pd.DataFrame:
    """Prune-and-retrain of users by ``estimator``'s ranking on ``ranked_by`` (default: the
    config's metric), judged on the test split."""
    ranked_by = metric_column(ranked_by, settings.evaluation.k) if ranked_by else settings.metric
    influence = influence_at(settings, out, estimator, "user", int(count))
    retrainer = Retrainer(make_model(model), test, settings.influence.variants_per_batch)
    table = prune_and_retrain(
        retrainer,
        influence,
        "user",
        ranked_by,
        settings.prune.sizes,
        settings.prune.random_draws,
        settings.noise_seeds(),
    )
    summary = summarise_pruning(table, [])
    summary = summary[summary["metric"].isin(UTILITIES)]
    summary.insert(0, "ranked_by", ranked_by)
    summary.insert(0, "samples", int(count))
    summary.insert(0, "estimator", estimator)
    return summary.drop(columns=["same_seed_mean", "fresh_seed_mean"])


class Replay(Racing):
    """A race over exact deletions already computed (racing's numbers after r seeds are exact
    deletion's with R = r): what it would have retrained, without retraining."""

    def __init__(self, rows: pd.DataFrame, **kwargs):
        super().__init__(**kwargs)
        self.rows = rows.set_index(["entity", "seed"]).sort_index()

    def run_seed(self, retrainer, kind, unit, seed, comparison="exclude"):
        rows = self.rows.loc[[(int(entity), seed) for entity in unit]].reset_index()
        return Partial(
            rows, pd.DataFrame(columns=["entity", "user"]), pd.DataFrame({"kind": kind, "entity": unit, "seconds": 0.0})
        )


def race(out: Path, k: int, metric: str, seed: int) -> dict:
    rows = _seeds(out, "exact", "user").query("metric == @metric")
    seeds = rows["seed"].nunique()

    class Stub:  # the replay retrains nothing: only the cut-off K of the metric names is read
        class experiment:
            k = int(metric.split("@")[1]) if "@" in metric else 10

    replay = Replay(rows, seed=seed, k=k, metric=metric.split("@")[0], start_seeds=2, max_seeds=seeds)
    replay.run(Stub, "user", np.sort(rows["entity"].unique()), log=None)
    return {**replay.report, "seeds_available": seeds}


def _rows(
    settings, kind, estimator, count, influence, by_seed, cpu_seconds, floor, exact_by_seed, control_by_seed, single
):
    flagged = flag_significance(influence, floor, "evaluation", settings.report.fdr)
    if exact_by_seed is not None and control_by_seed is not None and len(control_by_seed):
        differs = versus_control(exact_by_seed, control_by_seed, settings.report.fdr).groupby("metric")["differs"].sum()
    else:
        differs = pd.Series(dtype=float)
    rows = []
    for metric in UTILITIES:
        if metric not in set(influence["metric"]):
            continue
        reliability = split_half_reliability(by_seed, metric, count)
        if single:  # the two seeds' own correlation, no Spearman-Brown step
            low, high = (
                _spearman_brown_inverse(reliability["reliability_low"]),
                _spearman_brown_inverse(reliability["reliability_high"]),
            )
            reliability = pd.Series(
                {
                    **reliability.to_dict(),
                    "reliability": max(reliability["split_half"], 0.0),
                    "reliability_low": low,
                    "reliability_high": high,
                }
            )
        mine = flagged[flagged["metric"] == metric]
        rows.append(
            {
                "kind": kind,
                "estimator": estimator,
                "samples": count,
                "utility": metric,
                "entities": len(mine),
                "reliability": reliability["reliability"],
                "reliability_low": reliability["reliability_low"],
                "reliability_high": reliability["reliability_high"],
                "samples_to_0.9": split_half_reliability(by_seed, metric, count, target=0.9)["samples_to_target"]
                if not single
                else np.nan,
                "cpu_seconds": cpu_seconds,
                "wall_hours_8_cores": cpu_seconds / CORES / 3600,
                "detectable": int(mine["detectable"].sum()),
                "above_noise": int(mine["above_noise"].sum()),
                "differs_from_random_rows": int(differs.get(metric, 0)) if len(differs) else np.nan,
                "control_seeds": control_by_seed["seed"].nunique()
                if control_by_seed is not None and len(control_by_seed)
                else 0,
            }
        )
    return rows


def _spearman_brown_inverse(r2: float) -> float:
    """One replicate's reliability from that of two (the bootstrap interval of the split half)."""
    return r2 / (2 - r2) if np.isfinite(r2) else np.nan


def _seeds(out: Path, name: str, kind: str) -> pd.DataFrame:
    return _pieces(out, f"{name}_{kind}_seed")


def _pieces(out: Path, prefix: str) -> pd.DataFrame:
    paths = sorted(out.glob(f"{prefix}*.parquet"))
    return pd.concat([pd.read_parquet(path) for path in paths], ignore_index=True) if paths else pd.DataFrame()


if __name__ == "__main__":
    torch.set_num_threads(1)  # CPU-seconds per retrain, as one single-threaded shard job spends them
    main()
