"""dim_region: lookup regions, regions only facts or hospitals know, their attributes."""

from __future__ import annotations

from datetime import date

import pytest
from pyspark.testing import assertDataFrameEqual

from covid_pipeline import keys
from covid_transforms import quality
from covid_transforms.cases import classify_jhu, classify_nyt, jhu_regions, nyt_regions
from covid_transforms.hospitals import classify_hospitals, hospital_regions
from covid_transforms.regions import dim_region, uid_candidates

pytestmark = pytest.mark.spark

COLUMNS = (
    "region_key bigint, level string, country_region string, province_state string, county string, fips string, "
    "state_abbr string, latitude double, longitude double, population bigint"
)


def test_dim_region(spark, staged, reference) -> None:
    day = date(2020, 4, 12)
    jhu = staged(
        "jhu_daily",
        [
            {"province_state": "Hubei", "country_region": "Mainland China", "latitude": 30.9, "longitude": 112.2,
             "report_date": day},
            {"country_region": "China", "report_date": day},  # in the lookup: the lookup's attributes
            {"fips": "36061.0", "admin2": "New York City", "province_state": "New York", "country_region": "US",
             "latitude": 40.7, "longitude": -73.9, "report_date": day},
        ],
        "s3://raw/enigma-jhu/csv/04-12-2020.csv",
    )  # fmt: skip
    nyt = staged(
        "nyt_us_county",
        [
            {"date": day, "county": "New York City", "state": "New York", "fips": None},
            {"date": day, "county": "Ada", "state": "Idaho", "fips": "16001"},
            {"date": day, "county": "Unknown", "state": "Idaho", "fips": None},
        ],
        "s3://raw/enigma-nytimes-data-in-usa/csv/us_county/us-counties.csv",
    )
    hospitals = staged(
        "hospital_beds",
        [
            {"hospital_name": "Guam Regional Medical City", "hq_state": "GU", "latitude": 13.58},
            {"hospital_name": "Hospital San Antonio", "hq_state": "PR", "county_name": "Mayagüez",
             "state_name": "Puerto Rico", "fips": "72097"},
        ],
        "s3://raw/rearc-usa-hospital-beds/definitivehc.csv",
    )  # fmt: skip
    lookups = reference["lookups"]
    regions = dim_region(
        [
            uid_candidates(reference["uid"]),
            jhu_regions(quality.accepted(classify_jhu(jhu, reference["resolver"])), reference["resolver"]),
            nyt_regions(quality.accepted(classify_nyt(nyt, reference["resolver"])), reference["resolver"]),
            hospital_regions(
                quality.accepted(classify_hospitals(hospitals, lookups, reference["resolver"])), reference["resolver"]
            ),
        ],
        lookups,
    )
    k = keys.region_key
    expected = spark.createDataFrame(
        [
            # From the lookup, whatever the facts say; state FIPS as 2 digits, territories' iso2.
            (k("China", None, None), "country", "China", None, None, None, None, None, None, 1404676330),
            (k("US", None, None), "country", "US", None, None, None, None, 40.0, -100.0, None),
            (k("US", "Idaho", None), "state", "US", "Idaho", None, "16", "ID", 44.2, -114.5, 1787065),
            (k("US", "Idaho", "Ada"), "county", "US", "Idaho", "Ada", "16001", "ID", 43.45, -116.24, 481587),
            (k("US", "New York", None), "state", "US", "New York", None, "36", "NY", None, None, 19453561),
            (k("US", "Guam", None), "state", "US", "Guam", None, "66", "GU", None, None, 164229),
            (k("US", "Puerto Rico", None), "state", "US", "Puerto Rico", None, "72", "PR", None, None, None),
            (k("US", "Puerto Rico", "Mayaguez"), "county", "US", "Puerto Rico", "Mayaguez", "72097", "PR",
             None, None, 89080),
            # A ship is no state (region_levels), though JHU reports it in the province's place.
            (k("US", "Diamond Princess", None), "ship", "US", "Diamond Princess", None, "88888", None, None,
             None, None),
            # Only in the facts / hospitals: first non-null attribute by feed priority (JHU before NYT).
            # Named as the region resolves ("Mainland China" is China), though the lookup slice lacks Hubei.
            (k("China", "Hubei", None), "state", "China", "Hubei", None, None, None, 30.9, 112.2, None),
            # The five boroughs, a city; JHU's 36061 stays here only because this lookup slice lacks Manhattan.
            (k("US", "New York", "New York City"), "city", "US", "New York", "New York City", "36061", "NY",
             40.7, -73.9, None),
            (k("US", "Idaho", "Unknown"), "unassigned", "US", "Idaho", "Unknown", None, "ID", None, None, None),
            # The hospital's "Mayagüez" is the lookup's Mayaguez (shared name resolution): no second row for 72097.
        ],
        COLUMNS,
    )  # fmt: skip
    assertDataFrameEqual(regions.select(*expected.columns), expected)
    # Flagged: the regions of the lookup, and the ones kept as a feed wrote them (unresolved).
    outside = {(r.country_region, r.province_state, r.county) for r in regions.filter("NOT in_lookup").collect()}
    assert outside == {
        ("China", "Hubei", None),
        ("US", "New York", "New York City"),
        ("US", "Idaho", "Unknown"),
    }
