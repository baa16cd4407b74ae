"""Atomic file output: write to a temporary name beside the target, then rename.

A job killed mid-write leaves a stray temporary file, never a truncated output that looks
complete to Snakemake or to a reader."""

from __future__ import annotations

import json
import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import pandas as pd


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fresh unique name that the writer creates itself, so the output gets the usual
    # permissions (umask), not the owner-only mode of a mkstemp file. The extension is kept
    # for writers that look at it.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet(frame: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp)


def write_csv(frame: pd.DataFrame, path: str | Path, **kwargs) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, **kwargs)


def write_text(text: str, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(obj, path: str | Path) -> None:
    write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", path)
