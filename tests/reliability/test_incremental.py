"""Incremental, idempotent, duplicate-proof, backfillable (issue #4 items 1, 2, 3, 7, 8) on the real local run."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from bench.checksums import table_checksums
from covid_pipeline.adapters.local.object_store import LocalObjectStore
from covid_pipeline.domain.manifest import read_manifest
from tests.conftest import SAMPLE
from tests.reliability.conftest import cli, last_execution, sql

pytestmark = [pytest.mark.slow, pytest.mark.spark]

HEADER = (
    "FIPS,Admin2,Province_State,Country_Region,Last_Update,Lat,Long_,Confirmed,Deaths,Recovered,Active,Combined_Key\n"
)
NEW_DAY = HEADER + (
    '45001,Abbeville,South Carolina,US,2020-04-14 23:33:31,34.22,-82.46,12,1,0,11,"Abbeville, South Carolina, US"\n'
    '22001,Acadia,Louisiana,US,2020-04-14 23:33:31,30.29,-92.41,110,6,0,104,"Acadia, Louisiana, US"\n'
    # A negative count: this row alone is quarantined, with its reason (the rest of the day loads).
    '51001,Accomack,Virginia,US,2020-04-14 23:33:31,37.76,-75.63,-5,0,0,0,"Accomack, Virginia, US"\n'
)
WAREHOUSE = "warehouse.duckdb"


def _facts(home: Path, where: str) -> list[dict]:
    return sql(
        home,
        "SELECT region_key, date_key, source, confirmed, deaths, new_confirmed, new_deaths, source_object "
        f"FROM fact_cases_daily WHERE {where} ORDER BY region_key, date_key, source",
    )


def test_an_upload_processes_only_its_object_and_the_history_stays_as_it_was(home: Path, tmp_path: Path) -> None:
    history = _facts(home, "date_key <> 20200414")
    new_file = tmp_path / "04-14-2020.csv"
    new_file.write_text(NEW_DAY)
    proc = cli("upload", str(new_file), "--dataset", "enigma-jhu", "--home", str(home))
    assert proc.returncode == 0, proc.stderr[-3000:]
    # The CLI says where in the raw zone the file went (the key its execution is named after).
    assert "s3://covid-pipeline-local-rawbucket/enigma-jhu/csv/04-14-2020.csv" in proc.stderr
    record = last_execution(home)
    assert record["status"] == "SUCCEEDED"
    output = record["output"]
    assert (output["objects"], output["skipped"]) == (1, 0)
    # The manifest: the uploaded object, plus the lookups Clean needs (read, not re-derived from history).
    manifest = read_manifest(LocalObjectStore(home), output["manifest_uri"])
    roles = {uri.rsplit("/", 1)[-1]: entry.role for uri, entry in manifest.items()}
    assert roles == {
        "04-14-2020.csv": "input",
        "UID_ISO_FIPS_LookUp_Table.csv": "reference",
        "state_fips_master.csv": "reference",
    }
    assert output["stage"]["rows"]["jhu_daily"] == 3  # Stage read that one file's 3 rows, not the history
    assert "nyt_us_county" not in output["stage"]["rows"]
    run_audit = sql(home, f"SELECT source_object FROM load_audit WHERE run_id = '{record['name']}'")
    assert sorted(a["source_object"].rsplit("/", 1)[-1] for a in run_audit) == sorted(roles)
    # History is neither re-read nor rewritten: every other fact is exactly as before.
    assert _facts(home, "date_key <> 20200414") == history
    # The new day's differences come from the previous day, which an earlier load brought.
    new = {r["confirmed"]: (r["new_confirmed"], r["new_deaths"]) for r in _facts(home, "date_key = 20200414")}
    assert new == {12: (3, 1), 110: (9, 1)}  # 04-13: Abbeville 9/0, Acadia 101/5
    rejected = sql(home, "SELECT reason FROM quarantine WHERE source_object LIKE '%04-14-2020.csv'")
    assert [r["reason"] for r in rejected] == ["negative count: confirmed=-5"]


def test_a_duplicate_event_and_a_repeated_upload_change_nothing(home: Path, tmp_path: Path) -> None:
    before = table_checksums(home / WAREHOUSE)
    executions = set((home / "executions").iterdir())
    # The very bytes already loaded by the sample run: its ETag is in load_audit.
    same = SAMPLE / "enigma-jhu" / "csv" / "04-13-2020.csv"
    proc = cli("upload", str(same), "--dataset", "enigma-jhu", "--home", str(home))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "nothing to do" in proc.stderr
    record = last_execution(home)
    assert record["status"] == "SUCCEEDED"
    assert list(record["state_durations"]) == ["Setup", "AnythingToDo?", "NothingToDo"]
    assert record["output"]["skipped"] == 1
    # The identical upload again: the deterministic execution name already exists, nothing runs.
    again = cli("upload", str(same), "--dataset", "enigma-jhu", "--home", str(home))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "already processed" in again.stderr
    assert len(set((home / "executions").iterdir()) - executions) == 1
    assert table_checksums(home / WAREHOUSE) == before


def test_reprocessing_everything_leaves_the_warehouse_identical(home: Path) -> None:
    before = table_checksums(home / WAREHOUSE)
    proc = cli("run", "--source", str(SAMPLE), "--reprocess", "--home", str(home))
    assert proc.returncode == 0, proc.stderr[-3000:]
    output = last_execution(home)["output"]
    assert output["objects"] == len([p for p in SAMPLE.rglob("*.csv")])
    assert output["skipped"] == 0
    assert table_checksums(home / WAREHOUSE) == before
    # Each object has one audit row per run that loaded it, never two in one run.
    per_run = sql(home, "SELECT run_id, source_object, count(*) AS n FROM load_audit GROUP BY ALL HAVING n > 1")
    assert per_run == []


def test_backfill_dry_run_lists_and_a_backfill_reprocesses_only_its_range(home: Path) -> None:
    nyt = "enigma-nytimes-data-in-usa"
    executions = len(list((home / "executions").iterdir()))
    day = ("--from", "2022-04-20", "--to", "2022-04-20")
    dry = cli("backfill", "--dataset", nyt, *day, "--dry-run", "--home", str(home))
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "enigma-nytimes-data-in-usa/csv/us_county/us-counties.csv" in dry.stderr
    assert "1 object(s) would be re-processed; nothing was started" in dry.stderr
    assert len(list((home / "executions").iterdir())) == executions
    bad = cli("backfill", "--dataset", nyt, "--from", "2022-04-21", "--to", "2022-04-20", "--home", str(home))
    assert bad.returncode == 2
    assert "is after" in bad.stderr
    before = table_checksums(home / WAREHOUSE)
    jhu_before = _facts(home, "source = 'jhu'")
    proc = cli("backfill", "--dataset", nyt, *day, "--home", str(home))
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = last_execution(home)
    manifest = read_manifest(LocalObjectStore(home), record["output"]["manifest_uri"])
    inputs = [e for e in manifest.values() if e.role == "input"]
    assert [(e.feed, e.date_from, e.date_to) for e in inputs] == [("nyt_us_county", "2022-04-20", "2022-04-20")]
    assert record["output"]["stage"]["rows"]["nyt_us_county"] == 3257  # the sample's one NYT day
    assert _facts(home, "source = 'jhu'") == jhu_before
    assert table_checksums(home / WAREHOUSE) == before  # same raw data: the same warehouse
    jhu = cli("backfill", "--dataset", "enigma-jhu", "--from", "2019-01-01", "--to", "2019-01-31", "--home", str(home))
    assert jhu.returncode == 2
    assert "holds no object of enigma-jhu" in jhu.stderr


def test_a_new_column_is_reported_and_carried_a_missing_one_refuses_the_object(home: Path, tmp_path: Path) -> None:
    drifted = tmp_path / "04-15-2020.csv"
    drifted.write_text(
        HEADER.rstrip("\n") + ",People_Vaccinated\n"
        "45001,Abbeville,South Carolina,US,2020-04-15 23:33:31,34.22,-82.46,13,1,0,12,"
        '"Abbeville, South Carolina, US",7\n'
    )
    missing = tmp_path / "04-16-2020.csv"
    missing.write_text("Province_State,Country_Region,Deaths\nSouth Carolina,US,1\n")
    proc = cli("upload", str(drifted), str(missing), "--dataset", "enigma-jhu", "--home", str(home))
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = last_execution(home)
    stage = record["output"]["stage"]
    assert stage["refused_objects"] == 1
    assert "04-16-2020.csv: missing required column(s): confirmed" in stage["refusals"][0]
    alert = json.loads((home / "notifications.jsonl").read_text().splitlines()[-1])
    assert "04-16-2020.csv: missing required column(s): confirmed" in alert["message"]
    # The drifted file loads; its new column is reported and kept in the staged zone as JSON.
    assert [r["confirmed"] for r in _facts(home, "date_key = 20200415")] == [13]
    jhu_unmapped = [cols for table, cols in stage["unmapped_columns"].items() if table.startswith("jhu_daily")]
    assert jhu_unmapped == [["people_vaccinated"]]
    staged = LocalObjectStore(home).path(record["output"]["staged_uri"]) / "jhu_daily"
    extra = duckdb.sql(f"SELECT _extra FROM read_parquet('{staged}/**/*.parquet') WHERE _extra IS NOT NULL").fetchall()
    assert [json.loads(x[0]) for x in extra] == [{"people_vaccinated": "7"}]
    assert sql(home, "SELECT count(*) AS n FROM fact_cases_daily WHERE date_key = 20200416")[0]["n"] == 0
