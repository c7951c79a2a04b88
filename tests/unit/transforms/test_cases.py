"""fact_cases_daily from JHU and NYT rows."""

from __future__ import annotations

from datetime import date

import pytest
from pyspark.testing import assertDataFrameEqual

from covid_pipeline import keys
from covid_transforms import quality
from covid_transforms.cases import classify_jhu, classify_nyt, fact_cases_daily

pytestmark = pytest.mark.spark

JHU_A = "s3://raw/enigma-jhu/csv/04-12-2020.csv"
JHU_B = "s3://raw/enigma-jhu/csv/04-14-2020.csv"
NYT = "s3://raw/enigma-nytimes-data-in-usa/csv/us_county/us-counties.csv"


def test_jhu_and_nyt_rows_become_daily_facts(spark, staged) -> None:
    ada = {"fips": "16001", "admin2": "Ada", "province_state": "Idaho", "country_region": "US"}
    hubei = {"province_state": "Hubei", "country_region": "Mainland China"}
    jhu = staged(
        "jhu_daily",
        [
            # last_update is a day older than the report: the report date is the fact's day.
            {**ada, "last_update": "2020-04-11 23:00", "confirmed": 500, "deaths": 5, "recovered": 0,
             "active": 495, "report_date": date(2020, 4, 12)},
            {**hubei, "confirmed": 10, "deaths": None, "report_date": date(2020, 4, 12)},
        ],
        source_object=JHU_A,
    ).unionByName(
        staged(
            "jhu_daily",
            [
                # Two days later (04-13 missing): the difference is to the previous available day.
                {**ada, "confirmed": 530, "deaths": 7, "recovered": 1, "active": 522,
                 "report_date": date(2020, 4, 14)},
                {**hubei, "province_state": "hubei ", "country_region": "China", "confirmed": 12, "deaths": 2,
                 "report_date": date(2020, 4, 14)},
            ],
            source_object=JHU_B,
        )
    )  # fmt: skip
    nyt = staged(
        "nyt_us_county",
        [
            {"date": date(2020, 4, 12), "county": "Ada", "state": "Idaho", "fips": "16001", "cases": 480,
             "deaths": 4},
            {"date": date(2020, 4, 12), "county": "New York City", "state": "New York", "fips": None,
             "cases": 100, "deaths": 10},
            {"date": date(2020, 4, 13), "county": "New York City", "state": "New York", "fips": None,
             "cases": 90, "deaths": 12},
        ],
        source_object=NYT,
    )  # fmt: skip
    # Every row is valid (NYT's New York City has no FIPS, Hubei no deaths): all become facts.
    jhu_c, nyt_c = classify_jhu(jhu), classify_nyt(nyt)
    ada_key = keys.region_key("US", "Idaho", "Ada")
    hubei_key = keys.region_key("China", "Hubei", None)
    nyc_key = keys.region_key("US", "New York", "New York City")
    expected = spark.createDataFrame(
        [
            (ada_key, 20200412, "jhu", 500, 5, 0, 495, JHU_A),
            (ada_key, 20200414, "jhu", 530, 7, 1, 522, JHU_B),
            (hubei_key, 20200412, "jhu", 10, None, None, None, JHU_A),
            (hubei_key, 20200414, "jhu", 12, 2, None, None, JHU_B),
            (ada_key, 20200412, "nyt", 480, 4, None, None, NYT),
            (nyc_key, 20200412, "nyt", 100, 10, None, None, NYT),
            # A falling cumulative count is kept as reported (the warehouse derives a negative difference).
            (nyc_key, 20200413, "nyt", 90, 12, None, None, NYT),
        ],
        "region_key bigint, date_key int, source string, confirmed bigint, deaths bigint, recovered bigint, "
        "active bigint, source_object string",
    )
    actual = fact_cases_daily(quality.accepted(jhu_c), quality.accepted(nyt_c))
    assertDataFrameEqual(actual.select(*expected.columns), expected)


def test_same_county_twice_in_one_report_is_quarantined(staged) -> None:
    row = {"admin2": "Ada", "province_state": "Idaho", "country_region": "US", "report_date": date(2020, 4, 12)}
    jhu = staged("jhu_daily", [{**row, "confirmed": 1}, {**row, "admin2": "ADA", "confirmed": 2}], JHU_A)
    classified = classify_jhu(jhu)
    assert quality.accepted(classified).count() == 1
    (reason,) = [r[0] for r in classified.select(quality.REASON).collect() if r[0]]
    assert reason.startswith("duplicate key: region_key=")
    assert reason.endswith(f", date_key=20200412, source=jhu (kept {JHU_A})")
