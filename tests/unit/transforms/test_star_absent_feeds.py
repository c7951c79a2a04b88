"""build_star leaves feeds without staged files out of its plans, and the tables stay the same."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pyspark.sql import DataFrame
from pyspark.testing import assertDataFrameEqual

from covid_pipeline import feeds
from covid_transforms.audit import MANIFEST_SCHEMA
from covid_transforms.star import build_star, feeds_to_build

pytestmark = pytest.mark.spark

STARTED = datetime(2024, 1, 1, tzinfo=UTC)
DAY = "s3://raw/enigma-jhu/csv/04-13-2020.csv"
LOOKUPS = {"uid_lookup", "state_fips", "state_abv", "county_population", "country_codes"}


def test_a_days_upload_builds_its_feed_and_what_the_tables_need() -> None:
    built = feeds_to_build(dict.fromkeys(["jhu_daily", *LOOKUPS]))  # type: ignore[arg-type]
    # No testing feed has files: the first stands in (empty), so fact_testing_daily keeps its shape.
    assert built == {"jhu_daily", *LOOKUPS, "ctp_states_daily", "hospital_beds"}
    assert feeds_to_build({}) == {
        "jhu_daily",
        "ctp_states_daily",
        "hospital_beds",
        "uid_lookup",
        "state_fips",
        "state_abv",
    }
    assert feeds_to_build(dict.fromkeys(feeds.FEEDS)) == set(feeds.FEEDS)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def day_upload(staged, reference) -> dict[str, DataFrame]:
    """One JHU report (a lookup county, a county only the report knows, a duplicate) and the lookups."""
    rows = [
        {"admin2": "Ada", "province_state": "Idaho", "country_region": "US", "confirmed": 5},
        {"admin2": "Boise", "province_state": "Idaho", "country_region": "US", "fips": "16015", "confirmed": 2},
        {"admin2": "Boise", "province_state": "Idaho", "country_region": "US", "fips": "16015", "confirmed": 3},
        {"province_state": "Hebei", "country_region": "China", "confirmed": 318, "latitude": 39.5},
    ]
    report = [row | {"report_date": date(2020, 4, 13)} for row in rows]
    return {
        "jhu_daily": staged("jhu_daily", report, DAY),
        "uid_lookup": reference["uid_staged"],
        "state_fips": reference["state_fips_staged"],
    }


def test_tables_equal_those_built_with_every_feed_given_empty(spark, staged, day_upload) -> None:
    manifest = spark.createDataFrame([(DAY, "enigma-jhu", "jhu_daily", 1, "etag")], MANIFEST_SCHEMA)
    every_feed = {name: staged(name, []) for name in feeds.FEEDS} | day_upload
    lean = build_star(day_upload, manifest, "run-1", STARTED)
    full = build_star(every_feed, manifest, "run-1", STARTED)
    for name, table in full.items():
        assert lean[name].schema == table.schema, name
        assertDataFrameEqual(lean[name], table)
    assert lean["fact_cases_daily"].count() == 3  # the tables are not empty: the comparison says something
    assert lean["quarantine"].count() == 1
