"""The same figures locally and on AWS, and nothing on the user's terminal that is not for them.

The handlers print EMF records and structured logs to stdout, as in Lambda; the local runner
keeps the logs per function and the EMF records in ``<home>/logs/metrics.jsonl``. Checked on the
session's run of the bundled sample (sample_home): no run of its own.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

from tests.reliability.conftest import cli, last_execution
from tests.reliability.emf import assert_figures_match_the_warehouse, metric_records

pytestmark = [pytest.mark.slow, pytest.mark.spark]

# What would be noise on the terminal: warnings, interpreter shutdown errors, tracebacks, Spark/Java
# log lines, and the handlers' own JSON logs or EMF records.
NOISE = re.compile(
    r"Warning|Exception ignored|Traceback|\bWARN\b|\bERROR\b|log4j|py4j|SLF4J|^\d\d/\d\d/\d\d \d\d:\d\d:\d\d|"
    r'^\{"(level|_aws)"'
)


def noise(text: str) -> list[str]:
    return [line for line in text.splitlines() if NOISE.search(line)]


def test_a_run_prints_nothing_but_the_clis_own_lines(sample_home: Path) -> None:
    stderr = (sample_home.parent / "run.stderr").read_text()
    assert "SUCCEEDED" in stderr
    assert noise(stderr) == []
    assert (sample_home.parent / "run.stdout").read_text() == ""


def test_a_failed_upload_prints_nothing_but_the_clis_own_lines(home: Path, tmp_path: Path) -> None:
    # No feed takes it: Setup fails (Powertools then had no metric to flush and warned on stderr).
    stray = tmp_path / "notes.csv"
    stray.write_text("a,b\n1,2\n")
    proc = cli("upload", str(stray), "--dataset", "enigma-jhu", "--prefix", "notes/", "--home", str(home))
    assert proc.returncode != 0, proc.stderr[-2000:]
    assert noise(proc.stderr) == []
    assert proc.stdout == ""


def test_metrics_per_dataset_equal_load_audit_and_quarantine(sample_home: Path) -> None:
    # The sample rejects no row; the hostile-input run checks nonzero RowsRejected the same way.
    assert assert_figures_match_the_warehouse(sample_home, last_execution(sample_home)["name"]) == 0


def test_every_step_publishes_its_duration_and_outcome(sample_home: Path) -> None:
    steps = defaultdict(set)
    for record in metric_records(sample_home):
        if "dataset" not in record and "step" in record:
            steps[record["step"]] |= {m["Name"] for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    for step in ("Setup", "Crawl", "Stage", "Load"):
        assert steps[step] == {"StepDuration", f"{step}Succeeded"}, step


def test_function_logs_carry_the_execution_and_the_objects_they_process(sample_home: Path) -> None:
    run_id = last_execution(sample_home)["name"]
    logs = sample_home / "executions" / run_id / "logs"
    stage = [json.loads(line) for line in (logs / "StageFunction.log").read_text().splitlines()]
    assert stage
    assert {r["correlation_id"] for r in stage} == {run_id}
    staged = [key for r in stage if r["message"] == "staging" for key in r["objects"]]
    assert any(key.endswith("enigma-jhu/csv/04-13-2020.csv") for key in staged)
    setup = [json.loads(line) for line in (logs / "SetupFunction.log").read_text().splitlines()]
    listed = next(r for r in setup if r["message"] == "objects to process")
    assert listed["correlation_id"] == run_id
    assert listed["count"] == len(listed["objects"]) > 0
    # EMF records are not in the logs: they are in the metrics file.
    assert not any("_aws" in r for r in stage + setup)
