"""The code style is checked, not hoped for: ruff's lint rules and its formatter, with the line
limit set in pyproject.toml, over the package, the tests, the benchmarks and the workflow scripts."""

from __future__ import annotations

import subprocess
import sys

from .studies import REPO

CHECKED = ["src", "tests", "benchmarks", "workflow/scripts"]


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args, *CHECKED], cwd=REPO, capture_output=True, text=True)


def test_ruff_finds_nothing():
    result = ruff("check", "--no-cache", "--output-format", "concise")
    assert result.returncode == 0, result.stdout[-4000:]


def test_the_code_is_formatted():
    result = ruff("format", "--check", "--no-cache")
    assert result.returncode == 0, f"run `ruff format {' '.join(CHECKED)}`:\n{result.stdout[-4000:]}"
