"""fact_testing_daily: COVID Tracking Project testing per US state and day, and for the whole US per day.

CTP names a state by postal code and FIPS only. The state's name (hence its
region_key, the same as JHU's and NYT's state) comes from the FIPS via JHU's
lookup, else from the postal code via the state table; a row neither resolves
is quarantined as an unknown state rather than keyed on a guess. The US-level
feeds (us_daily, us-total-latest) are the country region ``US``; where both give
a day, the daily series wins (feeds.Feed.precedence).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from covid_pipeline import feeds

from . import keys, quality
from .cases import by_precedence
from .regions import CTP_PRIORITY, region_candidates
from .states import StateLookups, abbr, lookup

US = "US"
TESTING_MEASURES: tuple[str, ...] = (
    "positive",
    "negative",
    "pending",
    "total_test_results",
    "hospitalized_currently",
    "hospitalized_cumulative",
    "in_icu_currently",
    "on_ventilator_currently",
    "recovered",
    "death",
    "positive_increase",
    "negative_increase",
)
# Staged names (CTP's) that the fact names otherwise: ``deaths`` as in fact_cases_daily.
FACT_NAMES: dict[str, str] = {"death": "deaths"}


def classify_ctp(staged: DataFrame, lookups: StateLookups) -> DataFrame:
    """Validate CTP rows; grain (state region_key, date_key); the later snapshot wins a duplicate."""
    with_fips = staged.withColumn("fips_norm", keys.fips_for_level(F.col("fips"), keys.LEVEL_STATE))
    by_fips = lookup(with_fips, lookups.name_by_fips, F.col("fips_norm"), "_state_by_fips")
    by_abbr = lookup(by_fips, lookups.name_by_abbr, abbr(F.col("state")), "_state_by_abbr")
    derived = (
        by_abbr.withColumn("resolved_state", F.coalesce(F.col("_state_by_fips"), F.col("_state_by_abbr")))
        .drop("_state_by_fips", "_state_by_abbr")
        .withColumn("region_key", keys.region_key(F.lit(US), F.col("resolved_state"), F.lit(None)))
        .withColumn("region_level", F.lit(keys.LEVEL_STATE))
        .withColumn("date_key", keys.date_key(F.col("date")))
    )
    return quality.classify(
        derived,
        feeds.CTP_STATES_DAILY,
        checks=[
            quality.invalid_fips("fips"),
            quality.unknown_state(F.col("resolved_state"), F.col("state")),
        ],
        key=[("region_key", F.col("region_key")), ("date_key", F.col("date_key"))],
    )


def classify_ctp_us(staged: DataFrame, feed: feeds.Feed) -> DataFrame:
    """Validate CTP's US-level rows (us_daily, us-total-latest): the country region US, one row per day."""
    derived = (
        staged.withColumn("region_key", keys.region_key(F.lit(US), F.lit(None), F.lit(None)))
        .withColumn("region_level", F.lit(keys.LEVEL_COUNTRY))
        .withColumn("date_key", keys.date_key(F.col("date")))
    )
    return quality.classify(derived, feed, key=[("region_key", F.col("region_key")), ("date_key", F.col("date_key"))])


def _fact_rows(accepted: DataFrame, feed: feeds.Feed) -> DataFrame:
    return accepted.select(
        "region_key",
        "date_key",
        F.lit(feed.name).alias("feed"),
        F.lit(feed.precedence).alias("precedence"),
        *[F.col(name).alias(FACT_NAMES.get(name, name)) for name in TESTING_MEASURES],
        F.col(feeds.SOURCE_OBJECT).alias("source_object"),
    )


def fact_testing_daily(
    ctp_accepted: DataFrame | None,
    us_daily_accepted: DataFrame | None = None,
    us_latest_accepted: DataFrame | None = None,
) -> DataFrame:
    """The accepted CTP rows in the fact's shape (measures as staged, ``death`` as ``deaths``), one per key.

    A feed given as None has no rows (at least one must be given).
    """
    given = [
        (ctp_accepted, feeds.CTP_STATES_DAILY),
        (us_daily_accepted, feeds.CTP_US_DAILY),
        (us_latest_accepted, feeds.CTP_US_LATEST),
    ]
    parts = [(_fact_rows(df, feed), feed, "ctp") for df, feed in given if df is not None]
    return by_precedence(parts, ["region_key", "date_key"])


def ctp_us_regions(us_accepted: DataFrame) -> DataFrame:
    """dim_region candidates of CTP's US-level rows: the country US."""
    null = F.lit(None).cast("string")
    return region_candidates(us_accepted, CTP_PRIORITY, country=F.lit(US), state=null, county=null)


def ctp_regions(ctp_accepted: DataFrame) -> DataFrame:
    """dim_region candidates of CTP rows: the resolved state and its 2-digit FIPS."""
    return region_candidates(
        ctp_accepted,
        CTP_PRIORITY,
        country=F.lit(US),
        state=F.col("resolved_state"),
        county=F.lit(None).cast("string"),
        fips=F.col("fips_norm"),
        state_abbr=abbr(F.col("state")),
    )
