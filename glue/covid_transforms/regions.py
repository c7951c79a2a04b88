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
from .frames import union_by_name
from .states import StateLookups, abbr, lookup_table

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

    Built with as few DataFrame operations as the steps allow: each one re-analyses the whole plan
    (every candidate feed's validation below it) on the driver, and a day's upload spent seconds there.
    """
    everything = union_by_name(candidates)
    from_lookup = everything.filter(F.col(_PRIO) == UID_PRIORITY)
    others = everything.filter(F.col(_PRIO) != UID_PRIORITY).join(
        from_lookup.select("region_key"), on="region_key", how="left_anti"
    )
    merged = others.groupBy("region_key").agg(
        *[_first_non_null(name).alias(name) for name in REGION_ATTRIBUTES],
        F.min(_PRIO).alias(PRECEDENCE),
        F.lit(False).alias(IN_LOOKUP),
    )
    regions = from_lookup.select(
        "region_key", *REGION_ATTRIBUTES, F.lit(UID_PRIORITY).alias(PRECEDENCE), F.lit(True).alias(IN_LOOKUP)
    ).unionByName(merged)
    # The level and the unique FIPS in one step (the window reads neither the level nor its own result).
    derived = {"level": level_of(*[F.col(c) for c in REGION_NAMES]), "fips": _unique_fips()}
    leveled = regions.select(
        "region_key",
        *[derived[name].alias(name) if name in derived else F.col(name) for name in REGION_ATTRIBUTES],
        PRECEDENCE,
        IN_LOOKUP,
    )
    return _completed(leveled, lookups, county_population, country_codes)


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


def _unique_fips() -> Column:
    """Each FIPS code on one region: the lookup's (its codes are unique), else the best precedence, then key.

    A feed's code on a region the lookup does not know is a stand-in, not that region's code: JHU's
    "New York City" row carries Manhattan's 36061 (and its coordinates) for the five boroughs.
    """
    first = Window.partitionBy("fips").orderBy(F.col(IN_LOOKUP).desc(), F.col(PRECEDENCE), F.col("region_key"))
    keep = F.col("fips").isNull() | (F.row_number().over(first) == 1)
    return F.when(keep, F.col("fips"))


_ABBR_PROBE = "_probe_abbr"
_CP_FIPS, _CP_POPULATION = "_cp_fips", "_cp_population"
_CC_COUNTRY, _CC_LATITUDE, _CC_LONGITUDE = "_cc_country", "_cc_latitude", "_cc_longitude"


def _completed(
    regions: DataFrame, lookups: StateLookups, county_population: DataFrame | None, country_codes: DataFrame | None
) -> DataFrame:
    """The regions with their state abbreviation (_with_state_abbr) and what the lake's lookups fill in
    (_enriched): every probe column added in one step, each lookup joined, every value set in one last step."""
    columns = regions.columns
    probes = {_ABBR_PROBE: keys.normalise_part(F.col("province_state"))}
    joined_lookups = [(_ABBR_PROBE, lookup_table(lookups.abbr_by_name, _ABBR_PROBE, "_abbr"))]
    values = {"state_abbr": _with_state_abbr()}
    if county_population is not None:
        probes[_CP_FIPS] = F.when(F.col("level") == keys.LEVEL_COUNTY, F.col("fips"))
        joined_lookups.append((_CP_FIPS, _county_populations(county_population)))
        values["population"] = F.coalesce(F.col("population"), F.col(_CP_POPULATION))
    if country_codes is not None:
        probes[_CC_COUNTRY] = F.when(
            F.col("level") == keys.LEVEL_COUNTRY, keys.normalise_country(F.col("country_region"))
        )
        joined_lookups.append((_CC_COUNTRY, _country_coordinates(country_codes)))
        values["latitude"] = F.coalesce(F.col("latitude"), F.col(_CC_LATITUDE))
        values["longitude"] = F.coalesce(F.col("longitude"), F.col(_CC_LONGITUDE))
    # Each lookup is tiny and unique per key: broadcast, never more rows.
    probed = regions.withColumns(probes)
    for probe, table in joined_lookups:
        probed = probed.join(F.broadcast(table), on=probe, how="left")
    return probed.select(*[values[name].alias(name) if name in values else F.col(name) for name in columns])


def _county_populations(county_population: DataFrame) -> DataFrame:
    return county_population.select(F.col("fips_norm").alias(_CP_FIPS), F.col("population").alias(_CP_POPULATION))


def _country_coordinates(country_codes: DataFrame) -> DataFrame:
    """One row per country: the one written as the country's own name (not an alias), then the first name."""
    canonical = keys.normalise_part(F.col("country")) == keys.normalise_country(F.col("country"))
    best = F.min(F.struct((~canonical).alias("alias"), F.col("country"), F.col("latitude"), F.col("longitude")))
    return (
        country_codes.groupBy(keys.normalise_country(F.col("country")).alias(_CC_COUNTRY))
        .agg(best.alias("_cc"))
        .select(
            _CC_COUNTRY,
            F.col("_cc.latitude").alias(_CC_LATITUDE),
            F.col("_cc.longitude").alias(_CC_LONGITUDE),
        )
    )


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


def _with_state_abbr() -> Column:
    """US regions below the country get their state's postal abbreviation (none for a ship or an institution,
    whose province is not a state); other regions none.

    The state table (by name) first (``_abbr``, joined by _completed), else what a candidate knew (a
    territory's iso2 in the lookup, a hospital's hq_state).
    """
    applies = (keys.normalise_country(F.col("country_region")) == "us") & (F.col("level") != keys.LEVEL_COUNTRY)
    return F.when(applies, F.coalesce(F.col("_abbr"), F.col("state_abbr")))
