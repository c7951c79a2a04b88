"""fact_testing_daily from CTP rows: state resolution, unknown states, later snapshots win."""

from __future__ import annotations

from datetime import date

import pytest
from pyspark.testing import assertDataFrameEqual

from covid_pipeline import keys
from covid_transforms import quality
from covid_transforms.testing import classify_ctp, fact_testing_daily

pytestmark = pytest.mark.spark

APRIL = "s3://raw/rearc-covid-19-testing-data/csv/states_daily/states_daily_4pm_et.2020-04-08.csv"
NOVEMBER = "s3://raw/rearc-covid-19-testing-data/csv/states_daily/states_daily_4pm_et.2020-11-10.csv"
DAY = date(2020, 4, 8)


def test_states_resolve_by_fips_then_abbreviation(spark, staged, reference) -> None:
    rows = [
        {"date": DAY, "state": "ID", "fips": "16", "positive": 1},  # by FIPS ('00016' in the lookup)
        {"date": DAY, "state": "GU", "fips": "66", "positive": 2},  # a territory only the lookup knows
        {"date": DAY, "state": " ny", "fips": None, "positive": 3},  # no FIPS: by abbreviation
        {"date": DAY, "state": "DC", "fips": "11", "positive": 4},  # FIPS unknown to the lookup: abbreviation
        {"date": DAY, "state": "ZZ", "fips": None, "positive": 5},
        {"date": DAY, "state": "ID", "fips": "1x", "positive": 6},
        {"date": DAY, "state": "AS", "fips": "60", "positive": None, "positive_increase": -1},  # blank kept
    ]
    april = staged("ctp_states_daily", rows, APRIL)
    # The same state-day again in a later snapshot: the later one wins.
    november = staged("ctp_states_daily", [{"date": DAY, "state": "ID", "fips": "16", "positive": 10}], NOVEMBER)
    classified = classify_ctp(april.unionByName(november), reference["lookups"])

    reasons = {r.positive: r._reason for r in classified.select("positive", quality.REASON).collect()}
    idaho = keys.region_key("US", "Idaho", None)
    assert reasons == {
        10: None,
        1: f"duplicate key: region_key={idaho}, date_key=20200408 (kept {NOVEMBER})",
        2: None,
        3: None,
        4: None,
        5: "unknown state: 'ZZ'",
        6: "invalid fips: '1x'",
        None: "unknown state: 'AS'",  # American Samoa is in neither lookup of this test
    }
    expected = spark.createDataFrame(
        [
            (idaho, 20200408, 10, NOVEMBER),
            (keys.region_key("US", "Guam", None), 20200408, 2, APRIL),
            (keys.region_key("US", "New York", None), 20200408, 3, APRIL),
            (keys.region_key("US", "District of Columbia", None), 20200408, 4, APRIL),
        ],
        "region_key bigint, date_key int, positive bigint, source_object string",
    )
    fact = fact_testing_daily(quality.accepted(classified))
    assertDataFrameEqual(fact.select(*expected.columns), expected)
