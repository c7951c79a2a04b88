"""`covid-pipeline rerun NAME` on the local home: a new execution with the recorded input (runner.local's
ExecutionRecord keeps it); the pipeline itself is not run here (cli._execute is what any command runs)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from covid_pipeline import cli
from covid_pipeline.runner.local import ExecutionRecord

REQUEST = {"objects": [{"key": "enigma-jhu/csv/01-02-2021.csv", "etag": "abc"}], "bucket": "raw"}


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[Path, dict[str, Any], str]]:
    record = ExecutionRecord(name="upload-x", status="FAILED", started_at=1.0, stopped_at=2.0, input=REQUEST)
    folder = tmp_path / "home" / "executions" / "upload-x"
    folder.mkdir(parents=True)
    (folder / "execution.json").write_text(json.dumps(asdict(record)))
    calls: list[tuple[Path, dict[str, Any], str]] = []
    monkeypatch.setattr(cli, "_execute", lambda home, request, name=None: calls.append((home, request, name)) or 0)
    return calls


def test_rerun_starts_a_new_execution_with_the_recorded_input(started, tmp_path, capsys) -> None:
    assert cli.main(["--home", str(tmp_path / "home"), "rerun", "upload-x"]) == 0
    ((home, request, name),) = started
    assert home == tmp_path / "home"
    assert request == REQUEST
    assert name.startswith("rerun-")
    assert "re-running upload-x (FAILED): a new execution with its input" in capsys.readouterr().err


def test_rerun_reprocess_loads_again(started, tmp_path) -> None:
    assert cli.main(["--home", str(tmp_path / "home"), "rerun", "upload-x", "--reprocess"]) == 0
    assert started[0][1] == {**REQUEST, "reprocess": True}


def test_rerun_of_an_unknown_name(started, tmp_path, capsys) -> None:
    assert cli.main(["--home", str(tmp_path / "home"), "rerun", "nope"]) == 2
    assert "no execution nope in" in capsys.readouterr().err
    assert started == []


def test_no_wait_goes_with_a_stack(started, tmp_path, capsys) -> None:
    assert cli.main(["--home", str(tmp_path / "home"), "rerun", "upload-x", "--no-wait"]) == 2
    assert "--no-wait goes with --stack NAME" in capsys.readouterr().err
    assert started == []
