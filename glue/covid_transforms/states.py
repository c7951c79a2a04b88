"""US state lookups (name <-> postal abbreviation <-> FIPS) from the state_fips and uid_lookup feeds.

state_fips covers the 50 states, DC and Puerto Rico; JHU's uid_lookup adds the other
territories (its state-level US rows carry the territory's ISO code - GU, VI, AS, MP
- in iso2, and every state's FIPS). Every lookup holds one row per key, chosen
deterministically, so a left join with it never multiplies rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from covid_pipeline import feeds

from . import keys, quality

_LOOKUP_KEY = "_lookup_key"
_LOOKUP_VALUE = "_lookup_value"


def classify_state_abv(staged: DataFrame) -> DataFrame:
    """Validate the lake's state table (names and postal abbreviations)."""
    return quality.classify(staged, feeds.STATE_ABV, key=[("state_abbr", abbr(F.col("state_abbr")))])


def classify_state_fips(staged: DataFrame) -> DataFrame:
    """Validate the state table: a state is identified by its postal abbreviation."""
    return quality.classify(
        staged,
        feeds.STATE_FIPS,
        checks=[quality.invalid_fips("fips")],
        key=[("state_abbr", abbr(F.col("state_abbr")))],
    )


def abbr(col: Column) -> Column:
    """A postal abbreviation as compared: stripped, upper-case."""
    return F.upper(keys.strip(col))


@dataclass(frozen=True)
class StateLookups:
    """Small lookup frames (broadcast in joins), each with columns _lookup_key, _lookup_value.

    * ``name_by_fips``: 2-digit state FIPS -> state name (uid_lookup state-level US rows);
    * ``name_by_abbr``: postal abbreviation -> state name (state_fips, then uid_lookup iso2);
    * ``abbr_by_name``: normalised state name -> postal abbreviation (same sources).
    """

    name_by_fips: DataFrame
    name_by_abbr: DataFrame
    abbr_by_name: DataFrame


def build_state_lookups(
    state_fips: DataFrame, uid_states: DataFrame, state_abv: DataFrame | None = None
) -> StateLookups:
    """Lookups from accepted state_fips rows, accepted uid_lookup rows and (optionally) the lake's state_abv rows.

    ``uid_states`` is uid_lookup as classified by regions.classify_uid_lookup (it
    carries ``region_level`` and ``fips_norm``); only its state-level US rows are used.
    The project's own state table comes first, then the lookup's territories, then the
    lake's table (it only fills what the others lack).
    """
    us_states = uid_states.filter(
        (keys.normalise_country(F.col("country_region")) == "us") & (F.col("region_level") == keys.LEVEL_STATE)
    )
    # Territories only: US states have iso2 'US', which is no state abbreviation.
    territories = us_states.filter(abbr(F.col("iso2")).isNotNull() & (abbr(F.col("iso2")) != "US"))

    name_by_fips = _one_per_key(us_states.select(F.col("fips_norm"), F.lit(0), F.col("province_state")))
    by_abbr = state_fips.select(abbr(F.col("state_abbr")), F.lit(0), F.col("state_name")).unionAll(
        territories.select(abbr(F.col("iso2")), F.lit(1), F.col("province_state"))
    )
    by_name = state_fips.select(keys.normalise_part(F.col("state_name")), F.lit(0), abbr(F.col("state_abbr"))).unionAll(
        territories.select(keys.normalise_part(F.col("province_state")), F.lit(1), abbr(F.col("iso2")))
    )
    if state_abv is not None:
        by_abbr = by_abbr.unionAll(state_abv.select(abbr(F.col("state_abbr")), F.lit(2), F.col("state_name")))
        by_name = by_name.unionAll(
            state_abv.select(keys.normalise_part(F.col("state_name")), F.lit(2), abbr(F.col("state_abbr")))
        )
    name_by_abbr = _one_per_key(by_abbr)
    abbr_by_name = _one_per_key(by_name)
    return StateLookups(name_by_fips, name_by_abbr, abbr_by_name)


def _one_per_key(rows: DataFrame) -> DataFrame:
    """(key, priority, value) rows, by position -> one value per key: lowest priority, then smallest value."""
    rows = rows.toDF(_LOOKUP_KEY, "_prio", "_v")
    best = F.min(F.struct(F.col("_prio"), F.col("_v")))
    return (
        rows.filter(F.col(_LOOKUP_KEY).isNotNull() & F.col("_v").isNotNull())
        .groupBy(_LOOKUP_KEY)
        .agg(best["_v"].alias(_LOOKUP_VALUE))
    )


def lookup(df: DataFrame, table: DataFrame, key: Column, out: str) -> DataFrame:
    """Left-join a lookup on ``key``, adding its value as column ``out`` (null when not found).

    The lookup is tiny and unique per key: broadcast, no shuffle, never more rows.
    """
    probe = f"_probe_{out}"
    right = F.broadcast(lookup_table(table, probe, out))
    return df.withColumn(probe, key).join(right, on=probe, how="left").drop(probe)


def lookup_table(table: DataFrame, key: str, value: str) -> DataFrame:
    """A lookup (StateLookups) with its key and value columns named ``key`` and ``value``, to join on ``key``."""
    return table.select(F.col(_LOOKUP_KEY).alias(key), F.col(_LOOKUP_VALUE).alias(value))
