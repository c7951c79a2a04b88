"""glue/clean_job.py refuses bad arguments with one line and exit 2, before any Spark session starts.

Apart from tests/integration/test_clean_job.py (a real job run, marked slow): these runs take
a second each, so `make test-fast` runs them too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from covid_pipeline.adapters.local.job_runner import spark_env
from tests.integration.test_clean_job import JOB, STARTED_AT

SUBMIT_ARGS = "--master local[2] --conf spark.sql.shuffle.partitions=4 --conf spark.ui.enabled=false pyspark-shell"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"run_id": None}, "the following arguments are required: --run_id"),
        ({"started_at": "yesterday"}, "--started_at is not ISO-8601: 'yesterday'"),
        ({"run_id": "a/b"}, "--run_id must match"),
    ],
)
def test_a_bad_argument_exits_2_with_one_line(tmp_path: Path, change: dict[str, str | None], message: str) -> None:
    """Arguments are checked before any Spark session starts: these runs take a second."""
    args = {
        "JOB_NAME": "j",
        "run_id": "r1",
        "staged_uri": str(tmp_path / "staged"),
        "curated_uri": str(tmp_path / "curated"),
        "quarantine_uri": str(tmp_path / "quarantine"),
        "manifest_uri": str(tmp_path / "manifest.jsonl"),
        "started_at": STARTED_AT,
    } | change
    command = [sys.executable, str(JOB)]
    command += [part for name, value in args.items() if value is not None for part in (f"--{name}", value)]
    env = spark_env(SUBMIT_ARGS)
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("clean_job:")]
    assert len(errors) == 1, result.stderr
    assert message in errors[0]
    assert result.stdout == ""
