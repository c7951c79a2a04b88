"""A local function's stdout is split as CloudWatch Logs splits a Lambda log stream: logs, and EMF records."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from covid_pipeline.observability import MetricUnit, logger, metrics, publish_dataset_metrics
from covid_pipeline.runner.function_output import METRICS_FILE, function_output


def test_emf_records_go_to_the_metrics_file_and_logs_to_the_log(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "StageFunction.log"
    with function_output(log, tmp_path) as out, contextlib.redirect_stdout(out):  # type: ignore[type-var]
        logger.info("staging", extra={"objects": ["s3://raw/enigma-jhu/csv/04-13-2020.csv"]})
        metrics.add_metric(name="StageSucceeded", unit=MetricUnit.Count, value=1)
        metrics.flush_metrics()  # print(): the record and its newline in two writes
        publish_dataset_metrics("Stage", "enigma-jhu", "run-1", {"StepDuration": (1.5, MetricUnit.Seconds)})
        print('{"_aws_not": 1} and a last line without newline', end="")
    logs = log.read_text().splitlines()
    assert [json.loads(logs[0])["objects"], logs[1]] == [
        ["s3://raw/enigma-jhu/csv/04-13-2020.csv"],
        '{"_aws_not": 1} and a last line without newline',
    ]
    records = [json.loads(line) for line in (tmp_path / METRICS_FILE).read_text().splitlines()]
    assert [r.get("StageSucceeded") for r in records] == [[1.0], None]
    assert (records[1]["dataset"], records[1]["step"], records[1]["run_id"]) == ("enigma-jhu", "Stage", "run-1")
    assert records[1]["StepDuration"] == [1.5]
