"""dim_hospital: US hospitals and their bed capacity (Definitive Healthcare), one row per hospital_key.

hospital_key = keys.hospital_key(state_abbr, zip, name, address) with the ZIP
zero-padded to 5 (the export lost leading zeros: 969 is 00969). A hospital's
region is its county ("US", state name, county name); the state name comes from
the row, else from its postal code (state table, then JHU's territories), and
without a county the hospital belongs to its state's region.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from covid_pipeline import feeds

from . import keys, quality
from .regions import HOSPITAL_PRIORITY, region_candidates
from .states import StateLookups, abbr, lookup

US = "US"
# Staged bigint bed counts that land in contract int columns.
BED_COLUMNS: dict[str, str] = {
    "num_licensed_beds": "licensed_beds",
    "num_staffed_beds": "staffed_beds",
    "num_icu_beds": "icu_beds",
    "adult_icu_beds": "adult_icu_beds",
    "pedi_icu_beds": "pediatric_icu_beds",
}


def county_fips(fips: Column, state_fips: Column, county_part: Column) -> Column:
    """The 5-digit county FIPS: the row's FIPS, else its state and county parts when both are digits."""
    from_parts = F.when(
        keys.fips_text(state_fips).rlike(r"^[0-9]{1,2}\z") & keys.fips_text(county_part).rlike(r"^[0-9]{1,3}\z"),
        F.concat(F.lpad(keys.fips_text(state_fips), 2, "0"), F.lpad(keys.fips_text(county_part), 3, "0")),
    )
    return F.coalesce(keys.fips_for_level(fips, keys.LEVEL_COUNTY), from_parts)


def classify_hospitals(staged: DataFrame, lookups: StateLookups) -> DataFrame:
    """Validate hospital rows: FIPS, a resolvable state, beds that fit an int, one row per key."""
    by_abbr = lookup(staged, lookups.name_by_abbr, abbr(F.col("hq_state")), "_state_by_abbr")
    derived = (
        by_abbr.withColumn(
            "resolved_state", F.coalesce(keys.blank_to_null(F.col("state_name")), F.col("_state_by_abbr"))
        )
        .drop("_state_by_abbr")
        .withColumn("zip5", keys.zip5(F.col("hq_zip_code")))
        .withColumn("county_fips", county_fips(F.col("fips"), F.col("state_fips"), F.col("cnty_fips")))
        .withColumn(
            "hospital_key",
            keys.hospital_key(F.col("hq_state"), F.col("zip5"), F.col("hospital_name"), F.col("hq_address")),
        )
        .withColumn("region_key", keys.region_key(F.lit(US), F.col("resolved_state"), F.col("county_name")))
        .withColumn("region_level", keys.region_level(F.col("resolved_state"), F.col("county_name")))
    )
    return quality.classify(
        derived,
        feeds.HOSPITAL_BEDS,
        checks=[
            quality.invalid_fips("fips"),
            quality.unknown_state(F.col("resolved_state"), F.col("hq_state")),
            *[quality.out_of_int_range(name) for name in BED_COLUMNS],
        ],
        key=[("hospital_key", F.col("hospital_key"))],
    )


def dim_hospital(hospitals_accepted: DataFrame) -> DataFrame:
    """The accepted hospital rows in the dimension's shape."""
    return hospitals_accepted.select(
        "hospital_key",
        keys.strip(F.col("hospital_name")).alias("name"),
        F.col("hospital_type").alias("type"),
        F.col("hq_address").alias("address"),
        F.col("hq_city").alias("city"),
        abbr(F.col("hq_state")).alias("state_abbr"),
        F.col("zip5").alias("zip"),
        "county_fips",
        "region_key",
        *[F.col(staged).alias(curated) for staged, curated in BED_COLUMNS.items()],
        "bed_utilization",
        "avg_ventilator_usage",
        "latitude",
        "longitude",
    )


def hospital_regions(hospitals_accepted: DataFrame) -> DataFrame:
    """dim_region candidates of hospitals: the county (or state) name, county FIPS, postal code.

    A hospital's coordinates are its own, not its county's: not offered.
    """
    return region_candidates(
        hospitals_accepted,
        HOSPITAL_PRIORITY,
        country=F.lit(US),
        state=F.col("resolved_state"),
        county=F.col("county_name"),
        fips=F.when(F.col("region_level") == keys.LEVEL_COUNTY, F.col("county_fips")),
        state_abbr=abbr(F.col("hq_state")),
    )
