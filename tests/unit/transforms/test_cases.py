"""fact_cases_daily from JHU and NYT rows."""

from __future__ import annotations

from datetime import date

import pytest
from pyspark.testing import assertDataFrameEqual

from covid_pipeline import feeds, keys
from covid_pipeline.reference_data import reference_csv
from covid_pipeline.region_names import Region, RegionResolver
from covid_transforms import quality
from covid_transforms.cases import classify_jhu, classify_nyt, fact_cases_daily

pytestmark = pytest.mark.spark

JHU_A = "s3://raw/enigma-jhu/csv/04-12-2020.csv"
JHU_B = "s3://raw/enigma-jhu/csv/04-14-2020.csv"
NYT = "s3://raw/enigma-nytimes-data-in-usa/csv/us_county/us-counties.csv"


@pytest.fixture(scope="module")
def lookup_resolver() -> RegionResolver:
    """A resolver over the UID lookup the project ships (every real region)."""
    uid = [
        Region(r["Country_Region"], r["Province_State"], r["Admin2"])
        for r in reference_csv("UID_ISO_FIPS_LookUp_Table.csv")
    ]
    codes = {r["state_abbr"]: r["state_name"] for r in reference_csv("state_fips_master.csv")}
    return RegionResolver(uid, codes)


def _no_nyt(staged, resolver: RegionResolver):  # type: ignore[no-untyped-def]
    return quality.accepted(classify_nyt(staged("nyt_us_county", []), resolver))


def test_jhu_and_nyt_rows_become_daily_facts(spark, staged, reference) -> None:
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
    jhu_c, nyt_c = classify_jhu(jhu, reference["resolver"]), classify_nyt(nyt, reference["resolver"])
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


def test_same_county_twice_in_one_report_is_quarantined(staged, reference) -> None:
    row = {"admin2": "Ada", "province_state": "Idaho", "country_region": "US", "report_date": date(2020, 4, 12)}
    jhu = staged("jhu_daily", [{**row, "confirmed": 1}, {**row, "admin2": "ADA", "confirmed": 2}], JHU_A)
    classified = classify_jhu(jhu, reference["resolver"])
    assert quality.accepted(classified).count() == 1
    (reason,) = [r[0] for r in classified.select(quality.REASON).collect() if r[0]]
    assert reason == (
        f"duplicate key: region_key={keys.region_key('US', 'Idaho', 'Ada')} (country_region=us, "
        "province_state=idaho, county=ada), date_key=20200412, source=jhu "
        f"(kept {JHU_A})"
    )


def test_places_below_the_state_carry_it(staged, lookup_resolver) -> None:
    """Early 2020: a place named in Province/State is a region below its real state (a county where it names one)."""
    day = {"report_date": date(2020, 3, 8)}
    jhu = staged(
        "jhu_daily",
        [
            {"province_state": "Toronto, ON", "country_region": "Canada", "confirmed": 4, "deaths": 0, **day},
            {"province_state": " Montreal, QC", "country_region": "Canada", "confirmed": 1, "deaths": 0, **day},
            {"province_state": "King County, WA", "country_region": "US", "confirmed": 83, "deaths": 17, **day},
            {"province_state": "Seattle, WA", "country_region": "US", "confirmed": 1, "deaths": 0, **day},
            {"province_state": "Lackland, TX (From Diamond Princess)", "country_region": "US", "confirmed": 2,
             "deaths": 0, **day},
            {"province_state": "Travis, CA (From Diamond Princess)", "country_region": "US", "confirmed": 5,
             "deaths": 0, **day},
        ],
        source_object="s3://raw/enigma-jhu/csv/03-08-2020.csv",
    )  # fmt: skip
    classified = classify_jhu(jhu, lookup_resolver)
    assert classified.filter(quality.REASON + " IS NOT NULL").count() == 0
    facts = {
        r.region_key: (r.confirmed, r.deaths)
        for r in fact_cases_daily(quality.accepted(classified), _no_nyt(staged, lookup_resolver)).collect()
    }
    assert facts == {
        keys.region_key("Canada", "Ontario", "Toronto"): (4, 0),
        keys.region_key("Canada", "Quebec", "Montreal"): (1, 0),
        keys.region_key("US", "Washington", "King"): (83, 17),
        keys.region_key("US", "Washington", "Seattle"): (1, 0),
        keys.region_key("US", "Diamond Princess", "Lackland, TX"): (2, 0),
        keys.region_key("US", "Diamond Princess", "Travis, CA"): (5, 0),
    }


def test_a_region_written_twice_in_one_report_keeps_the_row_named_as_the_lookup_names_it(
    staged, lookup_resolver
) -> None:
    """Real rows of 2020-03-12 and 2020-03-21: a renamed region's stale row beside the new one."""
    jhu = staged(
        "jhu_daily",
        [
            {"province_state": "Hebei", "country_region": "China", "last_update": "2020-03-12T05:33:02",
             "confirmed": 318, "deaths": 6, "report_date": date(2020, 3, 12)},
            {"province_state": "Hebei", "country_region": "Mainland China", "last_update": "2020-03-11T02:18:29",
             "confirmed": 0, "deaths": 0, "report_date": date(2020, 3, 12)},
            {"country_region": "Cabo Verde", "last_update": "2020-03-21T15:13:46", "confirmed": 3, "deaths": 0,
             "report_date": date(2020, 3, 21)},
            {"country_region": "Cape Verde", "last_update": "2020-03-21T23:43:02", "confirmed": 1, "deaths": 0,
             "report_date": date(2020, 3, 21)},
        ],
        source_object="s3://raw/enigma-jhu/csv/reports.csv",
    )  # fmt: skip
    classified = classify_jhu(jhu, lookup_resolver)
    kept = sorted((r.country_region, r.confirmed) for r in quality.accepted(classified).collect())
    assert kept == [("Cabo Verde", 3), ("China", 318)]
    reasons = sorted(r[0] for r in classified.select(quality.REASON).collect() if r[0])
    assert reasons == sorted(
        [
            f"duplicate key: region_key={keys.region_key('Cabo Verde', None, None)} (country_region=cape verde, "
            "province_state=, county=), date_key=20200321, source=jhu "
            "(kept s3://raw/enigma-jhu/csv/reports.csv)",
            f"duplicate key: region_key={keys.region_key('China', 'Hebei', None)} (country_region=mainland china, "
            "province_state=hebei, county=), date_key=20200312, source=jhu "
            "(kept s3://raw/enigma-jhu/csv/reports.csv)",
        ]
    )


def test_the_last_report_of_the_day_wins_in_enigmas_history(staged, lookup_resolver) -> None:
    guizhou = {"province_state": "Guizhou", "country_region": "China", "report_date": date(2020, 1, 31)}
    enigma = staged(
        "enigma_jhu",
        [
            {**guizhou, "last_update": "2020-01-31T15:20:00", "confirmed": 29, "deaths": 0},
            {**guizhou, "last_update": "2020-01-31T23:59:00", "confirmed": 29, "deaths": None, "recovered": 2},
            {**guizhou, "last_update": "2020-01-31T08:00:00", "confirmed": 21, "deaths": 0},
        ],
        source_object="s3://raw/enigma-jhu/csv/Enigma-JHU.csv.gz",
    )
    classified = classify_jhu(enigma, lookup_resolver, feeds.ENIGMA_JHU)
    kept = quality.accepted(classified).collect()
    assert [(r.last_update, r.recovered) for r in kept] == [("2020-01-31T23:59:00", 2)]
    reasons = sorted(r[0] for r in classified.select(quality.REASON).collect() if r[0])
    assert len(reasons) == 2
    assert all(r.endswith("(kept the report of last_update=2020-01-31T23:59:00)") for r in reasons)


def test_a_csse_daily_report_wins_over_enigmas_row_of_the_same_region_and_day(spark, staged, lookup_resolver) -> None:
    hubei = {"province_state": "Hubei", "report_date": date(2020, 2, 1)}
    daily = staged("jhu_daily", [{**hubei, "country_region": "Mainland China", "confirmed": 7153, "deaths": 249}],
                   source_object="s3://raw/enigma-jhu/csv/02-01-2020.csv")  # fmt: skip
    enigma = staged(
        "enigma_jhu",
        [
            {**hubei, "country_region": "China", "last_update": "2020-02-01T11:53:00", "confirmed": 7153,
             "deaths": 250},
            {**hubei, "country_region": "China", "last_update": "2020-02-02T11:53:00", "confirmed": 9074,
             "deaths": 294, "report_date": date(2020, 2, 2)},
        ],
        source_object="s3://raw/enigma-jhu/csv/Enigma-JHU.csv.gz",
    )  # fmt: skip
    ok_daily = quality.accepted(classify_jhu(daily, lookup_resolver))
    ok_enigma = quality.accepted(classify_jhu(enigma, lookup_resolver, feeds.ENIGMA_JHU))
    none = _no_nyt(staged, lookup_resolver)
    facts = sorted(
        (r.date_key, r.feed, r.precedence, r.deaths) for r in fact_cases_daily(ok_daily, none, ok_enigma).collect()
    )
    assert facts == [(20200201, "jhu_daily", 0, 249), (20200202, "enigma_jhu", 1, 294)]
