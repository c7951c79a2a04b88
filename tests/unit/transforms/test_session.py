"""The transforms' session (``spark``, tests/conftest.py) evaluates a query's expressions without compiling classes
for them, where a session with Spark's defaults, the pipeline's, compiles the same query. (Not every operator has
an interpreted path: a sort still compiles 2 classes here, an aggregate 1; filters and projections,
most of the transforms' queries, compile none.)"""

from __future__ import annotations

import pytest
from pyspark.sql import types as T

from covid_pipeline.adapters.local.warm_spark import _classes_compiled

pytestmark = pytest.mark.spark

SCHEMA = T.StructType([T.StructField("n", T.LongType()), T.StructField("s", T.StringType())])


def _query(frame):  # a filter and projections: whole-stage code and expression classes when compiling
    return frame.filter("n > 1").selectExpr("upper(s) AS s", "n * 3 + length(s) AS m")


def test_the_session_evaluates_and_the_pipelines_settings_compile(spark, parquet_frame) -> None:
    frame = parquet_frame([(1, "a"), (2, "bb"), (3, "ccc")], SCHEMA)
    before = _classes_compiled(spark)
    assert sorted(tuple(r) for r in _query(frame).collect()) == [("BB", 8), ("CCC", 12)]
    assert _classes_compiled(spark) == before

    compiling = spark.newSession()  # the same JVM with the SQL settings a Clean runs with
    for name in ("spark.sql.codegen.wholeStage", "spark.sql.codegen.factoryMode"):
        compiling.conf.unset(name)
    rows = _query(compiling.read.schema(SCHEMA).parquet(*frame.inputFiles())).collect()
    assert sorted(tuple(r) for r in rows) == [("BB", 8), ("CCC", 12)]
    assert _classes_compiled(spark) > before  # the check above can see a compilation
