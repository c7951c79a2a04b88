"""The local runner on the real definition: a failing execution is recorded, alerted and reported in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from covid_pipeline.cli import main
from covid_pipeline.runner.local import LocalPipeline


@pytest.fixture
def empty_source(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    (source / "enigma-jhu" / "csv").mkdir(parents=True)
    (source / "enigma-jhu" / "csv" / "README.txt").write_text("not a report")
    return source


def test_failed_execution_keeps_history_and_alerts(tmp_path: Path, empty_source: Path) -> None:
    pipeline = LocalPipeline(tmp_path / "home")
    record = pipeline.execute({"source_uri": empty_source.as_uri() + "/"}, name="run-fails")
    assert record.status == "FAILED"
    assert record.failed_state == "Setup"  # where the error arose, not the Fail state
    assert record.error == "PipelineError"
    assert "holds no object of a known dataset" in record.reason
    folder = tmp_path / "home" / "executions" / "run-fails"
    events = [json.loads(line) for line in (folder / "history.jsonl").read_text().splitlines()]
    entered = [e["state"] for e in events if e["type"] == "StateEntered"]
    assert entered == ["Setup", "NotifyFailure", "Failed"]
    alerts = [json.loads(x) for x in (tmp_path / "home" / "notifications.jsonl").read_text().splitlines()]
    assert alerts[-1]["subject"] == "covid-pipeline run FAILED"
    assert "holds no object of a known dataset" in alerts[-1]["message"]
    assert "Traceback" in (folder / "logs" / "SetupFunction.log").read_text()  # the stack trace is in the log only
    assert [r.name for r in pipeline.executions()] == ["run-fails"]


def test_execution_names_are_unique(tmp_path: Path, empty_source: Path) -> None:
    pipeline = LocalPipeline(tmp_path / "home")
    pipeline.execute({"source_uri": empty_source.as_uri() + "/"}, name="same")
    with pytest.raises(Exception, match="ExecutionAlreadyExists"):
        pipeline.execute({"source_uri": empty_source.as_uri() + "/"}, name="same")


def test_cli_exit_code_and_one_line_reason(
    tmp_path: Path, empty_source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--source", str(empty_source), "--home", str(tmp_path / "home")]) == 1
    err = capsys.readouterr().err
    failure = [line for line in err.splitlines() if "FAILED" in line]
    assert len(failure) == 1
    assert "in state Setup" in failure[0]
    assert "holds no object of a known dataset" in failure[0]
    assert "Traceback" not in err
    assert main(["status", "--home", str(tmp_path / "home")]) == 0
    assert "FAILED" in capsys.readouterr().out
