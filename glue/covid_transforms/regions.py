"""dim_region: every region of JHU's UID lookup, plus every region a fact or a hospital refers to.

Each feed contributes *candidate* rows (one per accepted row, with the attributes
it knows). A region found in uid_lookup takes that lookup row's attributes
(``in_lookup`` true); any other region - kept as a feed wrote it, unresolved - takes,
attribute by attribute, the first non-null value in a fixed order (feed priority,
then the later source object, then the record text), so the result does not depend
on partitioning. Each region then gets its level (covid_pipeline.region_levels: ships,
Recovered, Unassigned... are not states or counties) and FIPS codes are made unique: a
code the lookup gives one region is no other region's (JHU writes Manhattan's 36061 on
its "New York City" row, the five boroughs), and of other regions sharing one, the
best precedence keeps it. The lake's own lookups then fill what is still missing: a
county's population (CountyPopulation, by FIPS), a country's coordinates (countrycode).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from covid_pipeline import feeds, region_levels

from . import keys, quality
from .states import StateLookups, abbr, lookup

# Candidate priority: the lookup first, then the feeds whose names are most curated. Stored as the
# dimension row's ``precedence`` (the best of its candidates'), so a later load's attributes replace
# known ones only when they come from a feed of higher priority (schema.DIM_REGION.precedence).
UID_PRIORITY = 0
JHU_PRIORITY = 1
ENIGMA_PRIORITY = 2
NYT_PRIORITY = 3
CTP_PRIORITY = 4
HOSPITAL_PRIORITY = 5

REGION_ATTRIBUTES: tuple[str, ...] = (
    "level",
    "country_region",
    "province_state",
    "county",
    "fips",
    "state_abbr",
    "latitude",
    "longitude",
    "population",
)
_PRIO = "_prio"
IN_LOOKUP = "in_lookup"
PRECEDENCE = "precedence"


def classify_uid_lookup(staged: DataFrame) -> DataFrame:
    """Validate JHU's lookup, one row per region (its natural key is the region's names)."""
    derived = keys.with_region(staged, F.col("country_region"), F.col("province_state"), F.col("admin2"))
    return quality.classify(
        derived,
        feeds.UID_LOOKUP,
        checks=[quality.invalid_fips("fips")],
        key=[("region_key", F.col("region_key"))],
    )


def classify_county_population(staged: DataFrame) -> DataFrame:
    """Validate the lake's county populations: one row per 5-digit county FIPS."""
    return quality.classify(
        staged.withColumn("fips_norm", keys.fips_for_level(F.col("fips"), keys.LEVEL_COUNTY)),
        feeds.COUNTY_POPULATION,
        checks=[quality.invalid_fips("fips")],
        key=[("fips", F.col("fips_norm"))],
    )


def classify_country_codes(staged: DataFrame) -> DataFrame:
    """Validate the lake's country codes: one row per country name as written (normalised).

    The file writes some countries twice (``Viet Nam`` and ``Vietnam``): both are good rows;
    dim_region uses one per country (see _enriched).
    """
    return quality.classify(staged, feeds.COUNTRY_CODES, key=[("country", keys.normalise_part(F.col("country")))])


def region_candidates(
    df: DataFrame,
    priority: int,
    *,
    country: Column,
    state: Column,
    county: Column,
    fips: Column | None = None,
    state_abbr: Column | None = None,
    latitude: Column | None = None,
    longitude: Column | None = None,
    population: Column | None = None,
) -> DataFrame:
    """Candidate dim_region rows from accepted rows of a classified feed.

    ``df`` carries the ``region_key`` and ``region_level`` its classifier computed
    from the same (country, state, county); names are stored stripped (blank ->
    null); ``fips`` must already be the level's code (keys.fips_for_level).
    """

    def attr(col: Column | None, type_: str) -> Column:
        return (F.lit(None) if col is None else col).cast(type_)

    return df.select(
        F.col("region_key"),
        F.col("region_level").alias("level"),
        keys.blank_to_null(country).alias("country_region"),
        keys.blank_to_null(state).alias("province_state"),
        keys.blank_to_null(county).alias("county"),
        attr(fips, "string").alias("fips"),
        attr(state_abbr, "string").alias("state_abbr"),
        attr(latitude, "double").alias("latitude"),
        attr(longitude, "double").alias("longitude"),
        attr(population, "bigint").alias("population"),
        F.lit(priority).alias(_PRIO),
        F.col(feeds.SOURCE_OBJECT),
        F.col(quality.RECORD),
    )


def uid_candidates(uid_accepted: DataFrame) -> DataFrame:
    """Candidates from the lookup: names, FIPS, coordinates, population; territories' iso2."""
    is_us = keys.normalise_country(F.col("country_region")) == "us"
    territory_code = F.when(is_us & (abbr(F.col("iso2")) != "US"), abbr(F.col("iso2")))
    return region_candidates(
        uid_accepted,
        UID_PRIORITY,
        country=F.col("country_region"),
        state=F.col("province_state"),
        county=F.col("admin2"),
        fips=F.col("fips_norm"),
        state_abbr=territory_code,
        latitude=F.col("latitude"),
        longitude=F.col("longitude"),
        population=F.col("population"),
    )


def dim_region(
    candidates: Sequence[DataFrame],
    lookups: StateLookups,
    county_population: DataFrame | None = None,
    country_codes: DataFrame | None = None,
) -> DataFrame:
    """One row per region_key over all candidates (see the module docstring).

    ``county_population`` and ``country_codes``: the accepted rows of the lake's lookups, if any.
    """
    everything = reduce(DataFrame.unionByName, candidates)
    from_lookup = everything.filter(F.col(_PRIO) == UID_PRIORITY)
    others = everything.filter(F.col(_PRIO) != UID_PRIORITY).join(
        from_lookup.select("region_key"), on="region_key", how="left_anti"
    )
    merged = others.groupBy("region_key").agg(
        *[_first_non_null(name).alias(name) for name in REGION_ATTRIBUTES], F.min(_PRIO).alias(PRECEDENCE)
    )
    regions = (
        from_lookup.select("region_key", *REGION_ATTRIBUTES)
        .withColumn(PRECEDENCE, F.lit(UID_PRIORITY))
        .withColumn(IN_LOOKUP, F.lit(True))
        .unionByName(merged.withColumn(IN_LOOKUP, F.lit(False)))
    )
    regions = _unique_fips(regions.withColumn("level", level_of(*[F.col(c) for c in REGION_NAMES])))
    return _enriched(_with_state_abbr(regions, lookups), county_population, country_codes)


REGION_NAMES = ("country_region", "province_state", "county")


def level_of(country: Column, province: Column, county: Column) -> Column:
    """region_levels.level_of: the first rule of reference/region_levels.csv that matches, else the depth."""
    parts = [keys.normalise_part(c) for c in (country, province, county)]
    level: Column | None = None
    for rule in region_levels.rules():
        match = reduce(
            Column.__and__,
            [part.rlike(region_levels.pattern_regex(p)) for part, p in zip(parts, rule.patterns, strict=True)],
        )
        level = F.when(match, F.lit(rule.level)) if level is None else level.when(match, F.lit(rule.level))
    depth = keys.region_level(province, county)
    return depth if level is None else level.otherwise(depth)


def _unique_fips(regions: DataFrame) -> DataFrame:
    """Each FIPS code on one region: the lookup's (its codes are unique), else the best precedence, then key.

    A feed's code on a region the lookup does not know is a stand-in, not that region's code: JHU's
    "New York City" row carries Manhattan's 36061 (and its coordinates) for the five boroughs.
    """
    first = Window.partitionBy("fips").orderBy(F.col(IN_LOOKUP).desc(), F.col(PRECEDENCE), F.col("region_key"))
    keep = F.col("fips").isNull() | (F.row_number().over(first) == 1)
    return regions.withColumn("fips", F.when(keep, F.col("fips")))


def _enriched(regions: DataFrame, county_population: DataFrame | None, country_codes: DataFrame | None) -> DataFrame:
    """Fill a county's missing population and a country's missing coordinates from the lake's lookups."""
    if county_population is not None:
        population = F.broadcast(
            county_population.select(F.col("fips_norm").alias("_cp_fips"), F.col("population").alias("_cp_population"))
        )
        is_county = F.col("level") == keys.LEVEL_COUNTY
        regions = (
            regions.withColumn("_cp_fips", F.when(is_county, F.col("fips")))
            .join(population, on="_cp_fips", how="left")
            .withColumn("population", F.coalesce(F.col("population"), F.col("_cp_population")))
            .drop("_cp_fips", "_cp_population")
        )
    if country_codes is not None:
        # One row per country: the one written as the country's own name (not an alias), then the first name.
        canonical = keys.normalise_part(F.col("country")) == keys.normalise_country(F.col("country"))
        best = F.min(F.struct((~canonical).alias("alias"), F.col("country"), F.col("latitude"), F.col("longitude")))
        codes = F.broadcast(
            country_codes.groupBy(keys.normalise_country(F.col("country")).alias("_cc_country"))
            .agg(best.alias("_cc"))
            .select(
                "_cc_country",
                F.col("_cc.latitude").alias("_cc_latitude"),
                F.col("_cc.longitude").alias("_cc_longitude"),
            )
        )
        is_country = F.col("level") == keys.LEVEL_COUNTRY
        regions = (
            regions.withColumn("_cc_country", F.when(is_country, keys.normalise_country(F.col("country_region"))))
            .join(codes, on="_cc_country", how="left")
            .withColumn("latitude", F.coalesce(F.col("latitude"), F.col("_cc_latitude")))
            .withColumn("longitude", F.coalesce(F.col("longitude"), F.col("_cc_longitude")))
            .drop("_cc_country", "_cc_latitude", "_cc_longitude")
        )
    return regions


def _first_non_null(name: str) -> Column:
    """The attribute's first non-null value by priority, then later source object, then record.

    max() over structs compares field by field; the negated priority makes the
    lowest priority win, and null structs (attribute missing) are ignored.
    """
    ordered = F.struct(
        (-F.col(_PRIO)).alias("p"),
        F.col(feeds.SOURCE_OBJECT).alias("s"),
        F.col(quality.RECORD).alias("r"),
        F.col(name).alias("v"),
    )
    return F.max(F.when(F.col(name).isNotNull(), ordered))["v"]


def _with_state_abbr(regions: DataFrame, lookups: StateLookups) -> DataFrame:
    """US regions below the country get their state's postal abbreviation (none for a ship or an institution,
    whose province is not a state); other regions none.

    The state table (by name) first, else what a candidate knew (a territory's
    iso2 in the lookup, a hospital's hq_state).
    """
    resolved = lookup(regions, lookups.abbr_by_name, keys.normalise_part(F.col("province_state")), "_abbr")
    applies = (keys.normalise_country(F.col("country_region")) == "us") & (F.col("level") != keys.LEVEL_COUNTRY)
    state_abbr = F.when(applies, F.coalesce(F.col("_abbr"), F.col("state_abbr")))
    return resolved.withColumn("state_abbr", state_abbr).drop("_abbr")
