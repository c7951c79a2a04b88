"""The Spark expression of dim_region's level equals region_levels.level_of on every real region."""

from __future__ import annotations

from pyspark.sql import functions as F

from covid_pipeline.region_levels import level_of
from covid_transforms.regions import level_of as spark_level_of

from ..test_region_levels import real_regions


def test_spark_level_equals_python_on_every_real_region(spark) -> None:
    rows = sorted(real_regions(), key=str)
    df = spark.createDataFrame(rows, "country string, province string, county string")
    got = df.select("*", spark_level_of(F.col("country"), F.col("province"), F.col("county")).alias("level"))
    mismatches = [(r.country, r.province, r.county, r.level) for r in got.collect() if r.level != level_of(*r[:3])]
    assert mismatches == []
    assert len(rows) > 4000
