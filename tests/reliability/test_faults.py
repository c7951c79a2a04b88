"""Faults (issue #4 item 6): transient failures are retried; a lasting one fails clearly, alerts, changes nothing.

The executions run in-process on the local runner (the template's state machine,
the real handlers, Spark for Clean); the faults are injected at the Lambda invoke
boundary and inside the warehouse load's transaction, where they happen on AWS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.checksums import table_checksums
from covid_pipeline.adapters.local import warehouse as local_warehouse
from covid_pipeline.adapters.local.catalog import LocalCatalog
from covid_pipeline.adapters.local.object_store import LocalObjectStore
from covid_pipeline.ports import CrawlerBusy
from covid_pipeline.runner.asl import TaskFailed
from covid_pipeline.runner.integrations import LocalIntegrations
from covid_pipeline.runner.local import LocalPipeline
from tests.reliability.conftest import sql

NEW_DAY = (
    "FIPS,Admin2,Province_State,Country_Region,Last_Update,Lat,Long_,Confirmed,Deaths,Recovered,Active,Combined_Key\n"
    '45001,Abbeville,South Carolina,US,2020-04-14 23:33:31,34.22,-82.46,12,1,0,11,"Abbeville, South Carolina, US"\n'
)
KEY = "enigma-jhu/csv/04-14-2020.csv"


def _upload(pipeline: LocalPipeline) -> dict[str, Any]:
    """Put the new day into the raw zone; the execution input the trigger would send for it."""
    path = pipeline.home / "s3" / "covid-pipeline-local-rawbucket" / KEY
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(NEW_DAY)
    return {"objects": [{"key": KEY, "etag": ""}]}


def test_a_crawler_lock_left_by_a_killed_process_is_released(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    catalog = LocalCatalog(store, tmp_path, {"raw": ("db", "s3://raw/")})
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock = tmp_path / "catalog" / "_crawlers" / "raw.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(dead.stdout.strip())
    assert catalog.crawler_state("raw").state == "READY"  # the dead crawl is not "running"
    lock.write_text(dead.stdout.strip())
    assert catalog.start_crawler("raw") == "STARTED"
    assert not lock.exists()
    # A live holder (this process) is respected: CrawlerBusy, retried by the state machine.
    lock.write_text(str(os.getpid()))
    with pytest.raises(CrawlerBusy):
        catalog.start_crawler("raw")
    assert catalog.crawler_state("raw").state == "RUNNING"


@pytest.mark.slow
@pytest.mark.spark
def test_a_lasting_failure_alerts_and_changes_nothing_then_a_rerun_completes_through_a_transient_one(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = LocalPipeline(home)
    request = _upload(pipeline)
    before = table_checksums(home / "warehouse.duckdb")

    # 1. The load breaks in the middle of its transaction (after the dimensions were merged).
    # The facts' write breaks, whether the batch is merged or (matching no loaded row) inserted.
    def broken(real: Callable[[Any, str], str]) -> Callable[[Any, str], str]:
        def write(table: Any, staging: str) -> str:
            if table.name == "fact_cases_daily":
                return "MERGE INTO no_such_table USING x ON (1 = 1) WHEN MATCHED THEN DELETE"
            return real(table, staging)

        return write

    with monkeypatch.context() as mp:
        mp.setattr(local_warehouse, "merge_sql", broken(local_warehouse.merge_sql))
        mp.setattr(local_warehouse, "insert_sql", broken(local_warehouse.insert_sql))
        failed = pipeline.execute(request, name="fault-lasting")
    assert failed.status == "FAILED"
    assert failed.failed_state == "Load"
    assert "rolled back" in failed.reason
    alert = json.loads((home / "notifications.jsonl").read_text().splitlines()[-1])
    assert alert["subject"] == "covid-pipeline run FAILED"
    assert "rolled back" in alert["message"]
    # Nothing of the failed run is in the warehouse: not its dimensions, not its audit row.
    assert table_checksums(home / "warehouse.duckdb") == before

    # 2. Re-run (a new execution, as from the console): the Load Lambda fails once transiently.
    real_invoke = LocalIntegrations.invoke_lambda
    failures = {"Load": 1}

    def flaky_invoke(self: LocalIntegrations, parameters: dict[str, Any]) -> dict[str, Any]:
        if parameters.get("FunctionName", "").endswith("LoadFunction") and failures["Load"]:
            failures["Load"] -= 1
            raise TaskFailed("Lambda.ServiceException", "Service unavailable (injected)")
        return real_invoke(self, parameters)

    monkeypatch.setattr(LocalIntegrations, "invoke_lambda", flaky_invoke)
    rerun = pipeline.execute(request, name="fault-rerun")
    assert rerun.status == "SUCCEEDED", rerun.reason
    history = [json.loads(x) for x in (home / "executions" / "fault-rerun" / "history.jsonl").read_text().splitlines()]
    retries = [e for e in history if e["type"] == "TaskRetry"]
    assert [(e["state"], e["details"]["error"]) for e in retries] == [("Load", "Lambda.ServiceException")]
    assert retries[0]["details"]["delay_seconds"] > 0  # backoff, not a hot loop
    rows = sql(home, "SELECT confirmed, new_confirmed FROM fact_cases_daily WHERE date_key = 20200414")
    assert rows == [{"confirmed": 12, "new_confirmed": 3}]
    # The rerun loaded each object once: one audit row per object for the successful run only.
    audit = sql(
        home, "SELECT run_id, count(*) AS n FROM load_audit WHERE source_object LIKE '%04-14-2020.csv' GROUP BY 1"
    )
    assert audit == [{"run_id": "fault-rerun", "n": 1}]
