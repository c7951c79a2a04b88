"""dim_hospital: keys, ZIPs, county FIPS, the hospital's region, rejected rows."""

from __future__ import annotations

import pytest
from pyspark.testing import assertDataFrameEqual

from covid_pipeline import keys
from covid_transforms import quality
from covid_transforms.hospitals import classify_hospitals, dim_hospital

pytestmark = pytest.mark.spark

NEW = "s3://raw/rearc-usa-hospital-beds/definitivehc.csv"
OLD = "s3://raw/rearc-usa-hospital-beds/2020-03.csv"


def test_hospitals(spark, staged, reference) -> None:
    ada = {
        "hospital_name": "St Luke's",
        "hq_address": "190 E Bannock St",
        "hq_city": "Boise",
        "hq_state": "ID",
        "hq_zip_code": "83712",
        "county_name": "Ada",
        "state_name": "Idaho",
        "state_fips": "16",
        "cnty_fips": "1",
        "num_licensed_beds": 400,
        "num_icu_beds": 40,
        "bed_utilization": 0.5,
    }
    rows = [
        ada,
        # No state or county name (as in the export): the state from the postal code, the state's region.
        {"hospital_name": "Professional Hospital - Guaynabo", "hq_address": "Avenida Las Cumbres",
         "hq_city": "Guaynabo", "hq_state": "PR", "hq_zip_code": "969", "num_licensed_beds": 60},
        {"hospital_name": "Guam Regional Medical City", "hq_address": "133 Route 3", "hq_state": "GU",
         "hq_zip_code": "96929", "longitude": 144.8677, "latitude": 13.5798},
        # County names as the export writes them: the lookup's county all the same (shared name resolution).
        {"hospital_name": "Saint Alphonsus", "hq_address": "1055 N Curtis Rd", "hq_state": "ID",
         "hq_zip_code": "83706", "county_name": "Ada County", "state_name": "Idaho", "fips": "16001"},
        {"hospital_name": "Hospital San Antonio", "hq_address": "Calle Post", "hq_state": "PR",
         "hq_zip_code": "680", "county_name": "Mayagüez", "state_name": "Puerto Rico", "fips": "72097"},
        {"hospital_name": "Nowhere General", "hq_state": "ZZ"},
        {"hospital_name": "Bad Fips", "hq_state": "ID", "fips": "ID001"},
        {"hospital_name": "Huge", "hq_state": "ID", "num_staffed_beds": 3_000_000_000},
    ]  # fmt: skip
    new = staged("hospital_beds", rows, NEW)
    old = staged("hospital_beds", [{**ada, "hq_zip_code": "83712.0", "num_licensed_beds": 380}], OLD)
    classified = classify_hospitals(new.unionByName(old), reference["lookups"], reference["resolver"])

    reasons = {(r.hospital_name, r._source_object): r._reason for r in classified.collect()}
    st_lukes = keys.hospital_key("ID", "83712", "St Luke's", "190 E Bannock St")
    assert reasons == {
        ("St Luke's", NEW): None,
        ("St Luke's", OLD): f"duplicate key: hospital_key={st_lukes} (kept {NEW})",
        ("Professional Hospital - Guaynabo", NEW): None,
        ("Guam Regional Medical City", NEW): None,
        ("Saint Alphonsus", NEW): None,
        ("Hospital San Antonio", NEW): None,
        ("Nowhere General", NEW): "unknown state: 'ZZ'",
        ("Bad Fips", NEW): "invalid fips: 'ID001'",
        ("Huge", NEW): "out of range: num_staffed_beds=3000000000",
    }
    expected = spark.createDataFrame(
        [
            (st_lukes, "St Luke's", "ID", "83712", "16001", keys.region_key("US", "Idaho", "Ada"), 400, 40, 0.5,
             None),
            (keys.hospital_key("PR", "00969", "Professional Hospital - Guaynabo", "Avenida Las Cumbres"),
             "Professional Hospital - Guaynabo", "PR", "00969", None, keys.region_key("US", "Puerto Rico", None),
             60, None, None, None),
            (keys.hospital_key("GU", "96929", "Guam Regional Medical City", "133 Route 3"),
             "Guam Regional Medical City", "GU", "96929", None, keys.region_key("US", "Guam", None), None, None,
             None, 13.5798),
            (keys.hospital_key("ID", "83706", "Saint Alphonsus", "1055 N Curtis Rd"), "Saint Alphonsus", "ID",
             "83706", "16001", keys.region_key("US", "Idaho", "Ada"), None, None, None, None),
            (keys.hospital_key("PR", "00680", "Hospital San Antonio", "Calle Post"), "Hospital San Antonio", "PR",
             "00680", "72097", keys.region_key("US", "Puerto Rico", "Mayaguez"), None, None, None, None),
        ],
        "hospital_key bigint, name string, state_abbr string, zip string, county_fips string, region_key bigint, "
        "licensed_beds bigint, icu_beds bigint, bed_utilization double, latitude double",
    )  # fmt: skip
    actual = dim_hospital(quality.accepted(classified))
    assertDataFrameEqual(actual.select(*expected.columns), expected)
