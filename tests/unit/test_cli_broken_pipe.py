"""A reader that stops early (`covid-pipeline sql ... | head`) gets no traceback and no shutdown noise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

CLI = str(Path(sys.executable).parent / "covid-pipeline")


def test_a_closed_pipe_ends_the_cli_quietly(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    duckdb.connect(str(tmp_path / "home" / "warehouse.duckdb")).close()  # an empty warehouse
    query = "SELECT * FROM range(500000)"  # far more than a pipe buffer holds
    proc = subprocess.Popen(
        [CLI, "sql", query, "--format", "csv", "--home", str(tmp_path / "home")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    assert proc.stdout.readline() == "range\n"
    proc.stdout.close()  # what `head -1` does after its line
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == 141
    assert stderr == ""
