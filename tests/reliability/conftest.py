"""Shared by the reliability tests: the CLI, and a home with the bundled sample loaded once per session.

Each test that changes the warehouse works on its own copy of that home (a copy of
a few MB is much cheaper than another Spark run).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SAMPLE

CLI = str(Path(sys.executable).parent / "covid-pipeline")


def cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, check=False, timeout=timeout)


def sql(home: Path, query: str) -> list[dict[str, Any]]:
    proc = cli("sql", query, "--home", str(home), "--format", "json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def last_execution(home: Path) -> dict[str, Any]:
    records = [json.loads(p.read_text()) for p in (home / "executions").glob("*/execution.json")]
    return max(records, key=lambda r: r["started_at"])


@pytest.fixture(scope="session")
def sample_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home where `covid-pipeline run` loaded the bundled sample (do not modify: copy it)."""
    home = tmp_path_factory.mktemp("sample") / "home"
    proc = cli("run", "--source", str(SAMPLE), "--home", str(home))
    assert proc.returncode == 0, proc.stderr[-3000:]
    # What the user saw, for the tests of what the CLI prints (beside the home: copies leave it out).
    (home.parent / "run.stdout").write_text(proc.stdout)
    (home.parent / "run.stderr").write_text(proc.stderr)
    return home


@pytest.fixture
def home(sample_home: Path, tmp_path: Path) -> Path:
    """A private copy of the loaded sample home."""
    copy = tmp_path / "home"
    shutil.copytree(sample_home, copy)
    return copy
