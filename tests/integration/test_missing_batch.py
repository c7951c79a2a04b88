"""A run whose batch is missing is refused by Load, naming the table and its prefix (Redshift's COPY fails too)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from covid_pipeline.adapters.local.object_store import LocalObjectStore
from covid_pipeline.adapters.local.warehouse import DuckDbWarehouse
from covid_pipeline.ports import BatchMissing, EngineError, TableLoad
from tests.helpers import write_table_parquet

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "covid-pipeline")
DATE = {"date_key": 20200412, "date": "2020-04-12", "year": 2020, "quarter": 2, "month": 4, "day": 12,
        "day_of_week": 7, "week_of_year": 15, "is_weekend": True}  # fmt: skip


def test_a_table_prefix_without_parquet_refuses_the_whole_load(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "store")
    warehouse = DuckDbWarehouse(tmp_path / "warehouse.duckdb", store)
    write_table_parquet(store.path("s3://lake/r1/dim_date/"), "dim_date", [DATE])
    (store.path("s3://lake/r1/dim_region/") / "_SUCCESS").parent.mkdir(parents=True)
    (store.path("s3://lake/r1/dim_region/") / "_SUCCESS").write_text("")  # a folder, but no Parquet
    loads = [TableLoad("dim_date", "s3://lake/r1/dim_date/"), TableLoad("dim_region", "s3://lake/r1/dim_region/")]

    with pytest.raises(
        BatchMissing, match=r"run r1: no Parquet file for table dim_region under s3://lake/r1/dim_region/"
    ):
        warehouse.load("r1", loads)
    # Nothing loaded, not even the table that had its file.
    with pytest.raises(EngineError, match="no warehouse yet"):
        warehouse.query("SELECT count(*) FROM dim_date")
    assert warehouse.load("r1", loads[:1]).rows_merged == {"dim_date": 1}


def test_invoking_load_on_a_run_that_was_never_cleaned_fails_naming_the_table(tmp_path: Path) -> None:
    event = tmp_path / "load.json"
    run = "run-20200101T000000Z-00000000"
    event.write_text(json.dumps({
        "run_id": run,
        "curated_uri": f"s3://covid-pipeline-local-lakebucket/curated/{run}/",
        "quarantine_uri": "s3://covid-pipeline-local-lakebucket/quarantine/",
    }))  # fmt: skip
    proc = subprocess.run(
        [CLI, "invoke", "LoadFunction", "--event", str(event), "--home", str(tmp_path / "home")],
        capture_output=True, text=True, check=False, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    error = json.loads(proc.stdout)
    assert error["errorType"] == "BatchMissing"
    assert (
        f"no Parquet file for table dim_date under s3://covid-pipeline-local-lakebucket/curated/{run}/dim_date/"
        in (error["errorMessage"])
    )
