"""A PNG named .csv in a source folder (issue #12): `covid-pipeline run` refuses it by name with its reason and
loads the rest; later runs skip it with a note instead of failing the crawl; `refused` lists it and `--clear`
makes the next run read it again. The CLI runs as a subprocess, its output captured: not a terminal, as in CI,
so its progress is a line per state as it starts.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SAMPLE
from tests.reliability.conftest import cli, sql

pytestmark = [pytest.mark.slow, pytest.mark.spark]

FOLDER = "enigma-nytimes-data-in-usa/csv/us_county/"
PNG_KEY = FOLDER + "chart.csv"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"
REASON = "not UTF-8 text: byte 0x89 at offset 0"


@dataclass
class Runs:
    home: Path
    source: Path
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]

    @property
    def raw_png(self) -> Path:
        return next((self.home / "s3").glob(f"*/{PNG_KEY}"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("refused")
    source, home = root / "source", root / "home"
    (source / FOLDER).mkdir(parents=True)
    shutil.copy(SAMPLE / FOLDER / "us-counties.csv", source / FOLDER)
    (source / PNG_KEY).write_bytes(PNG)
    first = cli("run", "--source", str(source), "--home", str(home))
    second = cli("run", "--source", str(source), "--home", str(home))
    return Runs(home, source, first, second)


def test_the_run_refuses_the_png_by_name_and_loads_the_rest(runs: Runs) -> None:
    assert runs.first.returncode == 0, runs.first.stderr[-3000:]
    assert f"refused {PNG_KEY}: {REASON}" in runs.first.stderr
    audited = sql(runs.home, "SELECT source_object FROM load_audit")
    assert [r["source_object"].rsplit("/", 1)[-1] for r in audited if FOLDER in r["source_object"]] == [
        "us-counties.csv"
    ]
    assert runs.raw_png.read_bytes() == PNG  # the raw zone keeps what was delivered


def test_progress_off_a_terminal_says_when_each_state_starts_and_shows_each_state_once(runs: Runs) -> None:
    lines = [line.strip() for line in runs.first.stderr.splitlines()]
    started = [line.split()[1] for line in lines if line.startswith("▶ ")]
    finished = [line.split()[1] for line in lines if line.startswith(("✓ ", "✗ "))]
    assert started[:1] == ["Setup"]
    assert "Clean" in started
    assert started == finished  # each state started once is shown ended once, in the same order
    assert lines.index("▶ Clean started") < next(i for i, line in enumerate(lines) if line.startswith("✓ Clean"))
    assert "time per state" not in runs.first.stderr  # the progress lines gave each state's time


def test_a_later_run_skips_the_refused_version_with_a_note(runs: Runs) -> None:
    assert runs.second.returncode == 0, runs.second.stderr[-3000:]
    assert "CrawlerFailed" not in runs.second.stderr
    assert "nothing to do" in runs.second.stderr
    note = [line for line in runs.second.stderr.splitlines() if PNG_KEY in line]
    assert len(note) == 1
    assert note[0].endswith(f"unchanged since (skipped): {REASON}")


def test_refused_lists_it_and_clear_makes_the_next_run_read_it_again(runs: Runs) -> None:
    listed = cli("refused", "--home", str(runs.home))
    assert listed.returncode == 0
    assert f"{PNG_KEY}\n" in listed.stderr
    assert REASON in listed.stderr
    cleared = cli("--home", str(runs.home), "refused", "--clear", PNG_KEY)
    assert cleared.returncode == 0, cleared.stderr
    again = cli("run", "--source", str(runs.source), "--home", str(runs.home))
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"refused {PNG_KEY}: {REASON}" in again.stderr  # read again (and refused again: still a PNG)
    assert runs.raw_png.read_bytes() == PNG
