"""``covid-pipeline invoke`` runs each function with each sample event of events/, as `sam local invoke` would.

The events describe one execution, ``run-20261128T120000Z-0a1b2c3d``: its Stage and Load
events read that run's manifest and curated batch. The home is what Step Functions leaves
after that execution (one local run of the bundled sample under that name); the functions
are then invoked in the state machine's order, each through the CLI.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from covid_pipeline.runner.local import LocalPipeline
from tests.conftest import SAMPLE, SAMPLE_RUN_ID
from tests.helpers import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.spark]

CLI = str(Path(sys.executable).parent / "covid-pipeline")
EVENTS = ROOT / "events"
RUN_ID = SAMPLE_RUN_ID  # read from events/setup-full-run.json

# Each event file and the function it is for, in the state machine's order (later events need the
# state earlier ones leave, as in an execution).
FUNCTION_EVENTS = {
    "setup-full-run.json": "SetupFunction",
    "crawl-start.json": "CrawlFunction",
    "crawl-poll.json": "CrawlFunction",
    "stage.json": "StageFunction",
    "load.json": "LoadFunction",
    "setup-upload.json": "SetupFunction",
    "trigger-sqs-batch.json": "TriggerFunction",
}
# Events that are no function's input, and what they are.
OTHER_EVENTS = {
    "execution-full-run.json": "the state machine's input (aws stepfunctions start-execution)",
    "s3-object-created.json": "the EventBridge event inside each trigger message and setup-upload's request",
}


def invoke(home: Path, function: str, event: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "invoke", function, "--event", str(event), "--home", str(home)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.fixture(scope="module")
def home(sample_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home where execution RUN_ID ran over the bundled sample (the state the events refer to): a copy of
    the session's run of the sample, which takes that name (the functions invoked below change the home)."""
    home = tmp_path_factory.mktemp("invoke") / "home"
    shutil.copytree(sample_home, home)
    record = LocalPipeline(home, ROOT).record(RUN_ID)
    assert record is not None
    assert record.status == "SUCCEEDED", record.reason
    return home


@pytest.fixture(scope="module")
def results(home: Path) -> dict[str, dict[str, Any]]:
    """Each event's printed result, invoked in order through the CLI."""
    out = {}
    for name, function in FUNCTION_EVENTS.items():
        proc = invoke(home, function, EVENTS / name)
        assert proc.returncode == 0, f"{name}: {proc.stdout[-2000:]} {proc.stderr[-2000:]}"
        assert proc.stderr.splitlines() == [f"logs: {home.resolve() / 'logs' / f'{function}.log'}"], proc.stderr
        out[name] = json.loads(proc.stdout)
    return out


def test_every_event_file_says_what_it_is_for() -> None:
    assert {p.name for p in EVENTS.glob("*.json")} == set(FUNCTION_EVENTS) | set(OTHER_EVENTS)


def test_setup_full_run_copies_the_bundled_lake_as_its_source(results: dict[str, dict[str, Any]], home: Path) -> None:
    result = results["setup-full-run.json"]
    assert (result["run_id"], result["trigger"]) == (RUN_ID, "source")
    # SourceUri is the bundled lake locally: its enigma-jhu and static-datasets objects are new to the home.
    folders = [ROOT / "data" / "lake" / dataset for dataset in ("enigma-jhu", "static-datasets")]
    lake = [path for folder in folders for path in folder.rglob("*") if path.is_file()]
    assert result["copied"] == len(lake) > 0
    # The sample's JHU reports were loaded by the run: skipped; the lake's copies are this run's inputs.
    assert result["skipped"] == len(list((SAMPLE / "enigma-jhu").rglob("*.csv")))
    assert result["objects"] == len(lake)
    assert result["needs_crawl"] is True
    assert result["manifest_uri"].endswith(f"/work/{RUN_ID}/manifest.jsonl")


def test_crawl_start_then_poll_sees_the_crawl_done(results: dict[str, dict[str, Any]]) -> None:
    start = results["crawl-start.json"]
    assert (start["crawler"], start["state"], start["done"]) == ("covid-pipeline-local-raw", "RUNNING", False)
    poll = results["crawl-poll.json"]
    assert (poll["done"], poll["last_status"], poll["polls"]) == (True, "SUCCEEDED", 1)


def test_stage_stages_the_runs_manifest(results: dict[str, dict[str, Any]], home: Path) -> None:
    result = results["stage.json"]
    assert result["refused_objects"] == 0, result["refusals"]
    staged = home / "s3" / "covid-pipeline-local-lakebucket" / "staged" / RUN_ID
    con = duckdb.connect()
    for feed, rows in result["rows"].items():
        files = str(staged / feed / "**" / "*.parquet")
        assert con.execute(f"SELECT count(*) FROM read_parquet('{files}')").fetchone()[0] == rows > 0, feed
    # The manifest's inputs are the lake's objects Setup copied (the sample's reports were skipped).
    assert {"enigma_jhu", "state_abv", "county_population", "country_codes"} <= set(result["rows"])
    assert "jhu_daily" not in result["rows"]


def test_load_merges_the_runs_batch_again_and_changes_nothing(results: dict[str, dict[str, Any]], home: Path) -> None:
    result = results["load.json"]
    assert result["run_id"] == RUN_ID
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    for table, total in result["rows_total"].items():
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == total, table
    assert result["rows_merged"]["fact_cases_daily"] > 0
    # The execution loaded this batch already: merged again, no row is new.
    assert all(counts.get("new", 0) == 0 for counts in result["changes"].values()), result["changes"]


def test_setup_upload_skips_the_object_the_run_loaded(results: dict[str, dict[str, Any]]) -> None:
    result = results["setup-upload.json"]
    assert (result["trigger"], result["objects"], result["skipped"]) == ("upload", 0, 1)


def test_trigger_starts_one_execution_for_two_deliveries(results: dict[str, dict[str, Any]], home: Path) -> None:
    result = results["trigger-sqs-batch.json"]
    assert (result["status"], result["objects"], result["duplicate_events"]) == ("STARTED", 1, 1)
    # Locally the execution ran in the invocation: the object was loaded already, so nothing to do.
    record = json.loads((home / "executions" / result["execution_name"] / "execution.json").read_text())
    assert record["status"] == "SUCCEEDED"
    assert record["output"]["objects"] == 0


def test_a_function_error_prints_lambdas_error_json_and_nothing_else(home: Path, results: Any) -> None:
    proc = invoke(home, "stagefunction", EVENTS / "crawl-start.json")  # any case; not a Stage event
    assert proc.returncode == 1
    error = json.loads(proc.stdout)
    assert error["errorType"] == "ValidationError"
    assert "manifest_uri" in error["errorMessage"]
    # Only the CLI's line: no Powertools "No application metrics to publish" warning.
    assert proc.stderr.splitlines() == [f"logs: {home.resolve() / 'logs' / 'StageFunction.log'}"], proc.stderr


def test_an_unknown_function_lists_the_template_functions(tmp_path: Path) -> None:
    proc = invoke(tmp_path, "NoSuchFunction", EVENTS / "crawl-start.json")
    assert proc.returncode == 2
    assert "no function 'NoSuchFunction'" in proc.stderr
    for function in ("SetupFunction", "CrawlFunction", "StageFunction", "LoadFunction", "TriggerFunction"):
        assert function in proc.stderr
