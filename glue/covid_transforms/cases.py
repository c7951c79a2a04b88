"""fact_cases_daily: cumulative cases per region, day and source, from JHU daily reports and NYT counties.

Grain (region_key, date_key, source). JHU's day is ``report_date`` (from the file
name), never ``last_update``: a report dated 04-12 may carry an older update stamp
for a region that did not change, and it is still that region's 04-12 value.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from covid_pipeline import feeds

from . import keys, quality
from .regions import JHU_PRIORITY, NYT_PRIORITY, region_candidates

SOURCE_JHU = "jhu"
SOURCE_NYT = "nyt"
US = "US"


def classify_jhu(staged: DataFrame) -> DataFrame:
    """Validate JHU rows; region = (country_region, province_state, admin2), day = report_date."""
    derived = keys.with_region(staged, F.col("country_region"), F.col("province_state"), F.col("admin2")).withColumn(
        "date_key", keys.date_key(F.col("report_date"))
    )
    return quality.classify(
        derived,
        feeds.JHU_DAILY,
        checks=[quality.invalid_fips("fips")],
        key=_grain(SOURCE_JHU),
    )


def classify_nyt(staged: DataFrame) -> DataFrame:
    """Validate NYT rows; region = ('US', state, county).

    NYT leaves ``fips`` empty for "New York City", "Unknown" and merged areas: such
    rows are valid and keep their county name (the key is built from names).
    """
    derived = keys.with_region(staged, F.lit(US), F.col("state"), F.col("county")).withColumn(
        "date_key", keys.date_key(F.col("date"))
    )
    return quality.classify(
        derived,
        feeds.NYT_US_COUNTY,
        checks=[quality.invalid_fips("fips")],
        key=_grain(SOURCE_NYT),
    )


def _grain(source: str) -> list[tuple[str, Column]]:
    return [("region_key", F.col("region_key")), ("date_key", F.col("date_key")), ("source", F.lit(source))]


def fact_cases_daily(jhu_accepted: DataFrame, nyt_accepted: DataFrame) -> DataFrame:
    """Both sources' accepted rows, one per (region_key, date_key, source).

    new_confirmed/new_deaths are not computed here: the previous day of a series may
    be in an earlier load, so the warehouse derives them after each merge
    (schema.FACT_CASES_DAILY.day_over_day, covid_pipeline.day_over_day).
    """
    null_bigint = F.lit(None).cast("bigint")
    jhu = jhu_accepted.select(
        "region_key",
        "date_key",
        F.lit(SOURCE_JHU).alias("source"),
        "confirmed",
        "deaths",
        "recovered",
        "active",
        F.col(feeds.SOURCE_OBJECT).alias("source_object"),
    )
    nyt = nyt_accepted.select(
        "region_key",
        "date_key",
        F.lit(SOURCE_NYT).alias("source"),
        F.col("cases").alias("confirmed"),
        "deaths",
        null_bigint.alias("recovered"),
        null_bigint.alias("active"),
        F.col(feeds.SOURCE_OBJECT).alias("source_object"),
    )
    return jhu.unionByName(nyt)


def jhu_regions(jhu_accepted: DataFrame) -> DataFrame:
    """dim_region candidates of JHU rows (names, FIPS, coordinates)."""
    return region_candidates(
        jhu_accepted,
        JHU_PRIORITY,
        country=F.col("country_region"),
        state=F.col("province_state"),
        county=F.col("admin2"),
        fips=F.col("fips_norm"),
        latitude=F.col("latitude"),
        longitude=F.col("longitude"),
    )


def nyt_regions(nyt_accepted: DataFrame) -> DataFrame:
    """dim_region candidates of NYT rows (names, county FIPS)."""
    return region_candidates(
        nyt_accepted,
        NYT_PRIORITY,
        country=F.lit(US),
        state=F.col("state"),
        county=F.col("county"),
        fips=F.col("fips_norm"),
    )
