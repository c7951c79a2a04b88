"""dim_date: one row per calendar day that a fact refers to."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from .frames import union_by_name


def dim_date(*facts: DataFrame) -> DataFrame:
    """The distinct date_keys of the given facts, with their calendar attributes.

    The date is rebuilt from the yyyymmdd key, so the dimension holds exactly the
    keys the facts use. Spark's dayofweek is 1 = Sunday; ISO wants Monday = 1 ..
    Sunday = 7. weekofyear is already the ISO week (weeks start on Monday, week 1
    holds the year's first Thursday).
    """
    keys = union_by_name([f.select("date_key") for f in facts]).distinct()
    date = F.to_date(F.col("date_key").cast("string"), "yyyyMMdd")
    iso_day_of_week = (F.dayofweek(date) + 5) % 7 + 1
    return keys.select(
        F.col("date_key").cast("int").alias("date_key"),
        date.alias("date"),
        F.year(date).alias("year"),
        F.quarter(date).alias("quarter"),
        F.month(date).alias("month"),
        F.dayofmonth(date).alias("day"),
        iso_day_of_week.alias("day_of_week"),
        F.weekofyear(date).alias("week_of_year"),
        (iso_day_of_week >= 6).alias("is_weekend"),
    )
