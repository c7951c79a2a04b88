"""Clean writes a Parquet file for an empty table (so Load can tell an empty table from a missing batch)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import types as T

from covid_pipeline.adapters.local.object_store import LocalObjectStore
from covid_pipeline.adapters.local.warehouse import DuckDbWarehouse
from covid_pipeline.domain.load import table_loads
from covid_pipeline.domain.models import LoadInput
from covid_pipeline.schema import TABLES
from covid_transforms.contract import spark_type
from glue.clean_job import JobArgs, write_tables

pytestmark = pytest.mark.spark

RUN = "r1"


def test_every_empty_table_is_written_as_a_parquet_file_that_loads_as_no_rows(spark, tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "store")
    curated, quarantine = f"s3://lake/curated/{RUN}/", "s3://lake/quarantine/"
    args = JobArgs("clean", RUN, "unused", str(store.path(curated)), str(store.path(quarantine)), "unused",
                   datetime(2020, 1, 1, tzinfo=UTC))  # fmt: skip
    empty = {
        name: spark.createDataFrame(
            [], T.StructType([T.StructField(c.name, spark_type(c.type)) for c in table.file_columns])
        )
        for name, table in TABLES.items()
    }

    assert write_tables(spark, empty, args) == dict.fromkeys(TABLES, 0)
    loads = table_loads(LoadInput(run_id=RUN, curated_uri=curated, quarantine_uri=quarantine))
    for load in loads:  # Spark writes a schema-only part file for an empty frame: the prefix is not empty
        assert list(store.path(load.location).glob("*.parquet")), load
    result = DuckDbWarehouse(tmp_path / "warehouse.duckdb", store).load(RUN, loads)
    assert result.rows_merged == dict.fromkeys(TABLES, 0)
