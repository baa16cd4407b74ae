"""Shared fixtures: where the real test data lives, and small views of it built once per session.

The data sets are never copied into the repository. They are read from the folder named by the
environment variable ``RECINFLUENCE_DATA`` (default: ``shared/data`` two levels above the
repository root). A missing folder or file fails the test with a message saying what to set;
nothing is skipped silently.
"""

from __future__ import annotations

import os

# Under pytest-xdist each worker runs one test at a time on a core of its own: one thread each for
# BLAS, OpenMP (torch) and numba, else the workers' thread pools oversubscribe the cores and spin.
# Set before numpy or torch is first imported, which this file is the first to do.
if "PYTEST_XDIST_WORKER" in os.environ:
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(variable, "1")

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from recinfluence.data import load_movielens_100k
from recinfluence.models import TrainSet
from recinfluence.split import split_interactions

# Example budgets of the fuzz tests (tests/test_fuzz.py): "ci" by default, seconds; "long" with
# `--hypothesis-profile long` (Hypothesis applies that option after this file is read).
settings.register_profile("ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.fail(
            f"test data not found: {what} expected at {path}. Set RECINFLUENCE_DATA to the folder "
            f"holding ml-100k/ and amazon-electronics/ (default {DEFAULT_DATA}).",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder holding ``ml-100k/`` and ``amazon-electronics/``."""
    return _require(Path(os.environ.get("RECINFLUENCE_DATA", DEFAULT_DATA)), "the test data folder")


@pytest.fixture(scope="session")
def movielens_dir(data_dir) -> Path:
    folder = _require(data_dir / "ml-100k", "MovieLens 100K folder")
    _require(folder / "u.data", "MovieLens 100K u.data")
    _require(folder / "u.item", "MovieLens 100K u.item")
    return folder


@pytest.fixture(scope="session")
def amazon_csv(data_dir) -> Path:
    return _require(data_dir / "amazon-electronics" / "ratings_Electronics_head50k.csv", "Amazon Electronics head file")


@pytest.fixture(scope="session")
def movielens(movielens_dir):
    """MovieLens 100K as :class:`recinfluence.data.Interactions` (read once; do not mutate)."""
    return load_movielens_100k(movielens_dir)


@pytest.fixture(scope="session")
def movielens_split(movielens):
    """The paper's seeded 75/25 split of MovieLens 100K."""
    return split_interactions(len(movielens.frame), test_fraction=0.25, seed=0, protocol="paper")


@pytest.fixture(scope="session")
def movielens_train(movielens, movielens_split) -> TrainSet:
    """The training rows of :func:`movielens_split` over the global id space."""
    return TrainSet.from_frame(movielens.frame.iloc[movielens_split.train], movielens.n_users, movielens.n_items)


# The modules that take longest (each runs Snakemake studies; measured with --durations), in
# that order: started first, so that under pytest-xdist (`-n auto --dist loadscope`, one module a
# worker) no long module is left to run alone at the end. xdist (3.6 on) then puts the modules
# with the most tests first and keeps this order among the rest; forcing this order alone
# (`--no-loadscope-reorder`) was slower in a CI run here (17:21 against 15:49: all three studies
# at once on two cores).
LONGEST_FIRST = ("test_workflow.py", "test_slurm.py", "test_reliability.py", "test_planted_workflow.py")


def pytest_collection_modifyitems(items):
    order = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: order.get(item.path.name, len(order)))
