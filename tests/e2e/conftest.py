"""The bundled data lake sample run once per test session: test_lake_run.py checks the warehouse it built,
test_report.py the report drawn from it. Neither changes that home (tests that run more copy it first)."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, made_once

CLI = str(Path(sys.executable).parent / "covid-pipeline")
LAKE = ROOT / "data" / "lake"
ENIGMA = "enigma-jhu/csv/Enigma-JHU.csv"
NYT_STATES = "enigma-nytimes-data-in-usa/csv/us_states/us_states.csv"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, check=False, timeout=900)


def run(source: Path, home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    proc = cli("run", "--source", str(source), "--home", str(home), *extra)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SUCCEEDED" in proc.stderr
    return proc


@pytest.fixture(scope="session")
def lake_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data/lake in the lake's own layout: Enigma's file gzip-compressed, NYT's states under archived/."""

    def make(folder: Path) -> None:
        source = folder / "lake"
        shutil.copytree(LAKE, source, ignore=shutil.ignore_patterns("SOURCES.md"))
        enigma = source / ENIGMA
        enigma.with_name(enigma.name + ".gz").write_bytes(gzip.compress(enigma.read_bytes(), mtime=0))
        enigma.unlink()
        archived = source / "archived" / NYT_STATES
        archived.parent.mkdir(parents=True)
        (source / NYT_STATES).rename(archived)

    return made_once(tmp_path_factory, "lake", make) / "lake"


@pytest.fixture(scope="session")
def lake_home(lake_source: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The home of one `covid-pipeline run` over lake_source, and what the run printed (stderr)."""

    def make(folder: Path) -> None:
        (folder / "run.stderr").write_text(run(lake_source, folder / "home").stderr)

    folder = made_once(tmp_path_factory, "lake-home", make)
    return folder / "home", (folder / "run.stderr").read_text()
