"""load_audit: one row per source object from the manifest or the staged rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pyspark.testing import assertDataFrameEqual

from covid_transforms.audit import MANIFEST_SCHEMA, load_audit

pytestmark = pytest.mark.spark

JHU_A = "s3://raw/enigma-jhu/csv/04-12-2020.csv"
JHU_EMPTY = "s3://raw/enigma-jhu/csv/04-13-2020.csv"
NYT = "s3://raw/enigma-nytimes-data-in-usa/csv/us_county/us-counties.csv"
STARTED = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_load_audit_counts_read_loaded_rejected(spark, staged) -> None:
    staged_rows = {
        "jhu_daily": staged("jhu_daily", [{}, {}, {}], JHU_A),
        # Staged but missing from the manifest: dataset from the feed, no etag/size.
        "nyt_us_county": staged("nyt_us_county", [{}], NYT),
    }
    quarantine = spark.createDataFrame(
        [("a", "r", "jhu_daily", JHU_A, "negative count: deaths=-1", "{}")],
        "row_id string, run_id string, feed string, source_object string, reason string, record string",
    )
    manifest = spark.createDataFrame(
        [
            (JHU_A, "enigma-jhu", "jhu_daily", 10, "e1"),
            (JHU_A, "enigma-jhu", "jhu_daily", 10, "e1"),  # listed twice: one row
            (JHU_EMPTY, None, "jhu_daily", 0, "e0"),  # no staged row: zero counts; dataset from the feed
        ],
        MANIFEST_SCHEMA,
    )
    expected = spark.createDataFrame(
        [
            ("r", JHU_A, "enigma-jhu", "e1", 10, 3, 2, 1, STARTED, None),
            ("r", JHU_EMPTY, "enigma-jhu", "e0", 0, 0, 0, 0, STARTED, None),
            ("r", NYT, "enigma-nytimes-data-in-usa", None, None, 1, 1, 0, STARTED, None),
        ],
        "run_id string, source_object string, dataset string, source_etag string, source_size bigint, "
        "rows_read bigint, rows_loaded bigint, rows_rejected bigint, started_at timestamp, finished_at timestamp",
    )
    assertDataFrameEqual(load_audit(staged_rows, quarantine, manifest, "r", STARTED), expected)
