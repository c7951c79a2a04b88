"""build_star leaves feeds without staged files out of its plans, and the tables stay the same."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pyspark.sql import DataFrame
from pyspark.testing import assertDataFrameEqual

from covid_pipeline import feeds
from covid_pipeline.schema import TABLES
from covid_transforms.audit import MANIFEST_SCHEMA
from covid_transforms.star import build_star, feeds_to_build

pytestmark = pytest.mark.spark

STARTED = datetime(2024, 1, 1, tzinfo=UTC)
DAY = "s3://raw/enigma-jhu/csv/04-13-2020.csv"
CTP_DAY = "s3://raw/rearc-covid-19-testing-data/csv/states_daily/states_daily.csv"
LOOKUPS = {"uid_lookup", "state_fips", "state_abv", "county_population", "country_codes"}


def test_a_days_upload_builds_its_feed_and_the_lookups_names_resolve_through() -> None:
    built = feeds_to_build(dict.fromkeys(["jhu_daily", *LOOKUPS]))  # type: ignore[arg-type]
    # No testing or hospital feed has files: their tables are empty frames of the contract, no feed's plan.
    assert built == {"jhu_daily", *LOOKUPS}
    assert feeds_to_build({}) == {"uid_lookup", "state_fips", "state_abv"}
    assert feeds_to_build(dict.fromkeys(feeds.FEEDS)) == set(feeds.FEEDS)  # type: ignore[arg-type]


def columns(df: DataFrame) -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in df.schema.fields]


def assert_same_tables(lean: dict[str, DataFrame], full: dict[str, DataFrame]) -> None:
    """Same columns, types and rows. Not nullability: a table lean builds as an empty frame of the contract
    has every column nullable, where a plan marks its literals (feed, precedence) not null; no row differs,
    and Load reads such an empty file as no rows (test_empty_table_write.py)."""
    assert lean.keys() == full.keys()
    for name, table in full.items():
        assert columns(lean[name]) == columns(table), name
        assertDataFrameEqual(lean[name], table)


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


def test_tables_equal_those_built_with_every_feed_given_empty(parquet_frame, staged, day_upload) -> None:
    manifest = parquet_frame([(DAY, "enigma-jhu", "jhu_daily", 1, "etag")], MANIFEST_SCHEMA)
    every_feed = {name: staged(name, []) for name in feeds.FEEDS} | day_upload
    lean = build_star(day_upload, manifest, "run-1", STARTED)
    full = build_star(every_feed, manifest, "run-1", STARTED)
    assert_same_tables(lean, full)
    assert lean["fact_cases_daily"].count() == 3  # the tables are not empty: the comparison says something
    assert lean["quarantine"].count() == 1


@pytest.fixture(scope="module")
def testing_upload(staged, reference) -> dict[str, DataFrame]:
    """One CTP file (a state twice: one row is a duplicate) and the lookups: no case feed, no hospitals."""
    rows = [
        {"date": date(2020, 4, 13), "state": "ID", "positive": 1210, "total_test_results": 12000},
        {"date": date(2020, 4, 13), "state": "ID", "positive": 1211, "total_test_results": 12001},
        {"date": date(2020, 4, 13), "state": "NY", "positive": 195031, "total_test_results": 500000},
    ]
    return {
        "ctp_states_daily": staged("ctp_states_daily", rows, CTP_DAY),
        "uid_lookup": reference["uid_staged"],
        "state_fips": reference["state_fips_staged"],
    }


def test_a_testing_upload_plans_no_case_feed_and_its_case_table_is_empty(parquet_frame, testing_upload) -> None:
    manifest = parquet_frame([(CTP_DAY, "rearc-covid-19-testing-data", "ctp_states_daily", 1, "e")], MANIFEST_SCHEMA)
    tables = build_star(testing_upload, manifest, "run-1", STARTED)
    # Cheaper than comparing with every feed given empty (that plan is the slow part): the rows themselves.
    testing = tables["fact_testing_daily"].collect()
    assert sorted((r.date_key, r.positive, r.feed) for r in testing) == [
        (20200413, 1210, "ctp_states_daily"),  # Idaho's first row: the second is a duplicate
        (20200413, 195031, "ctp_states_daily"),
    ]
    assert tables["fact_cases_daily"].count() == 0
    assert tables["dim_hospital"].count() == 0
    for name in ("fact_cases_daily", "dim_hospital"):  # the contract's columns, as a planned empty table has
        assert columns(tables[name]) == [(c.name, c.type) for c in TABLES[name].columns], name
    assert [r.date_key for r in tables["dim_date"].collect()] == [20200413]
    assert [r.reason.split(":")[0] for r in tables["quarantine"].collect()] == ["duplicate key"]
    assert {r.source_object: r.rows_loaded for r in tables["load_audit"].collect()}[CTP_DAY] == 2
