"""write_tables counts each table's rows as it writes them: one Spark job per table, no read-back.

Counting jobs (not time) keeps this deterministic: reading each written table back to count it cost
every table a schema-inference job and a count job on top of its write.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import types as T

from covid_pipeline.schema import TABLES
from covid_transforms.contract import spark_type
from glue.clean_job import JobArgs, write_tables

pytestmark = pytest.mark.spark


def test_write_tables_runs_one_job_per_table_and_counts_the_rows_written(spark, tmp_path: Path) -> None:
    args = JobArgs("clean", "r1", "unused", str(tmp_path / "curated"), str(tmp_path / "quarantine"), "unused",
                   datetime(2020, 1, 1, tzinfo=UTC))  # fmt: skip
    tables = {}
    for number, (name, table) in enumerate(TABLES.items()):
        schema = T.StructType([T.StructField(c.name, spark_type(c.type)) for c in table.file_columns])
        # number rows per table (0 for the first): a count mixed up between tables or threads shows
        tables[name] = spark.createDataFrame([tuple([None] * len(schema.fields))] * number, schema).coalesce(1)
    tracker = spark.sparkContext.statusTracker()
    before = set(tracker.getJobIdsForGroup(None))

    counts = write_tables(spark, tables, args)

    jobs = set(tracker.getJobIdsForGroup(None)) - before
    assert counts == {name: number for number, name in enumerate(TABLES)}
    assert len(jobs) == len(TABLES), sorted(jobs)
    written = spark.read.parquet(str(tmp_path / "curated" / "load_audit"))
    assert written.count() == list(TABLES).index("load_audit")
