"""Shared by the reliability tests: the CLI, and a private copy of the session's sample home.

sample_home (tests/conftest.py) is the bundled sample loaded once per session; each test that
changes the warehouse works on its own copy of it (a copy of a few MB is much cheaper than another
Spark run).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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


@pytest.fixture
def home(sample_home: Path, tmp_path: Path) -> Path:
    """A private copy of the loaded sample home."""
    copy = tmp_path / "home"
    shutil.copytree(sample_home, copy)
    return copy
