"""Helpers for tests that run the Snakemake workflow on a small study in a temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SMALL_CONFIG = REPO / "tests" / "workflow" / "config.yaml"


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir), *args]


def snakemake_env() -> dict:
    """The environment for Snakemake and the scripts it starts: this interpreter's folder first."""
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


def run_snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 1200) -> subprocess.CompletedProcess:
    result = subprocess.run(
        snakemake_command(workdir, *args), capture_output=True, text=True, env=snakemake_env(), timeout=timeout
    )
    if check and result.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


def write_config(folder: Path, movielens_dir: Path, **overrides) -> dict:
    """Write the small test config into ``folder`` (pointing at the real MovieLens copy).
    ``overrides`` set top-level keys (``k=0``) or one level down (``influence__shards=3``)."""
    config = yaml.safe_load(SMALL_CONFIG.read_text())
    config["datasets"]["ml-100k"]["path"] = str(movielens_dir)
    for key, value in overrides.items():
        section, _, name = key.partition("__")
        if name:
            config[section][name] = value
        else:
            config[section] = value
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return config


def edit_first_rating(path: Path) -> None:
    """Change the rating on the first line of a MovieLens ``u.data`` (same length, still a
    valid file, but no longer the published checksum)."""
    lines = path.read_bytes().split(b"\n")
    fields = lines[0].split(b"\t")
    fields[2] = b"5" if fields[2] != b"5" else b"4"
    lines[0] = b"\t".join(fields)
    path.write_bytes(b"\n".join(lines))
