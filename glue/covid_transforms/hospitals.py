"""dim_hospital: US hospitals and their bed capacity (Definitive Healthcare), one row per hospital_key.

hospital_key = keys.hospital_key(state_abbr, zip, name, address) with the ZIP
zero-padded to 5 (the export lost leading zeros: 969 is 00969). A hospital's
region is its county ("US", state name, county name); the state name comes from
the row, else from its postal code (state table, then JHU's territories), and
without a county the hospital belongs to its state's region. The names go through
the shared resolution (names.resolved_names, as JHU's and NYT's do), so a county
written ``Fairfax County`` or ``Mayagüez`` is the lookup's ``Fairfax`` / ``Mayaguez``:
one region per county, not a second row beside the lookup's.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from covid_pipeline import feeds
from covid_pipeline.region_names import RegionResolver

from . import keys, quality
from .names import (
    AS_WRITTEN,
    RESOLVED_COUNTRY,
    RESOLVED_COUNTY,
    RESOLVED_STATE,
    NameSource,
    resolved_names,
    with_names,
    with_resolved_names,
)
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


def with_state(staged: DataFrame, lookups: StateLookups) -> DataFrame:
    """``staged`` with ``resolved_state``: the row's state name, else its postal code's."""
    by_abbr = lookup(staged, lookups.name_by_abbr, abbr(F.col("hq_state")), "_state_by_abbr")
    state = F.coalesce(keys.blank_to_null(F.col("state_name")), F.col("_state_by_abbr"))
    return by_abbr.withColumn("resolved_state", state).drop("_state_by_abbr")


def hospital_names(with_states: DataFrame) -> NameSource:
    """The names a hospital frame's rows (with_state) are written with: the US, the state, the county."""
    return with_states, F.lit(US), F.col("resolved_state"), F.col("county_name")


def classify_hospitals(staged: DataFrame, lookups: StateLookups, names: RegionResolver | DataFrame) -> DataFrame:
    """Validate hospital rows: FIPS, a resolvable state, beds that fit an int, one row per key.

    The region (region_key, region_level) is the one the names mean. ``names``: the run's mapping of
    resolved names (names.resolved_names, covering hospital_names of these rows), or a resolver.
    """
    with_states = with_state(staged, lookups)
    _, country, state, county = hospital_names(with_states)
    named = with_resolved_names(with_states, names, country, state, county, keep_names=False).drop(AS_WRITTEN)
    derived = (
        named.withColumn("zip5", keys.zip5(F.col("hq_zip_code")))
        .withColumn("county_fips", county_fips(F.col("fips"), F.col("state_fips"), F.col("cnty_fips")))
        .withColumn(
            "hospital_key",
            keys.hospital_key(F.col("hq_state"), F.col("zip5"), F.col("hospital_name"), F.col("hq_address")),
        )
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


def hospital_regions(hospitals_accepted: DataFrame, names: RegionResolver | DataFrame) -> DataFrame:
    """dim_region candidates of hospitals: the resolved county (or state) names, county FIPS, postal code.

    A hospital's coordinates are its own, not its county's: not offered.
    """
    if isinstance(names, RegionResolver):
        names = resolved_names(names, [hospital_names(hospitals_accepted)])
    return region_candidates(
        with_names(hospitals_accepted, names),
        HOSPITAL_PRIORITY,
        country=F.col(RESOLVED_COUNTRY),
        state=F.col(RESOLVED_STATE),
        county=F.col(RESOLVED_COUNTY),
        fips=F.when(F.col("region_level") == keys.LEVEL_COUNTY, F.col("county_fips")),
        state_abbr=abbr(F.col("hq_state")),
    )
