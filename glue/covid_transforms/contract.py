"""Spark schemas derived from the contract: staged feeds (feeds.py) and curated tables (schema.py).

Nothing here knows about a particular feed or table; every module selects and
casts through these helpers so the Spark types can never drift from the contract.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from covid_pipeline import feeds, schema

SPARK_TYPES: dict[str, T.DataType] = {
    "int": T.IntegerType(),
    "bigint": T.LongType(),
    "double": T.DoubleType(),
    "string": T.StringType(),
    "date": T.DateType(),
    "boolean": T.BooleanType(),
    "timestamp": T.TimestampType(),
}

# Provenance columns Stage appends to every staged row, after the feed's own columns.
PROVENANCE_COLUMNS: tuple[str, ...] = (feeds.SOURCE_OBJECT, feeds.CAST_ERRORS)


def spark_type(logical: str) -> T.DataType:
    """The Spark type of a logical contract type (schema.LOGICAL_TYPES or feeds.STAGED_TYPES)."""
    try:
        return SPARK_TYPES[logical]
    except KeyError:
        raise ValueError(f"no Spark type for logical type {logical!r}") from None


def staged_columns(feed: feeds.Feed) -> tuple[str, ...]:
    """Column names of a staged feed, in order: the feed's columns, then the provenance columns."""
    return (*(c.name for c in feed.columns), *PROVENANCE_COLUMNS)


def staged_schema(feed: feeds.Feed) -> T.StructType:
    """The Spark schema of a feed's staged Parquet (every column nullable: validation decides)."""
    fields = [T.StructField(c.name, spark_type(c.type), True) for c in feed.columns]
    fields += [T.StructField(name, T.StringType(), True) for name in PROVENANCE_COLUMNS]
    return T.StructType(fields)


def empty_staged(spark: SparkSession, feed: feeds.Feed) -> DataFrame:
    """An empty staged DataFrame of a feed: a run may have no file of that feed at all."""
    return spark.createDataFrame([], staged_schema(feed))


def empty_table(spark: SparkSession, table: schema.Table) -> DataFrame:
    """An empty DataFrame of a table's contract columns: the table of a run that staged none of its feeds."""
    fields = [T.StructField(c.name, spark_type(c.type), True) for c in table.columns]
    return spark.createDataFrame([], T.StructType(fields))


def conform_staged(df: DataFrame, feed: feeds.Feed) -> DataFrame:
    """Select a staged DataFrame's columns in contract order and types.

    A column absent from the input becomes null (Stage may legitimately leave out a
    column no file of the run provided); columns the contract does not know are dropped.
    """
    return select_typed(df, [(f.name, f.dataType) for f in staged_schema(feed).fields])


def conform(df: DataFrame, table: schema.Table) -> DataFrame:
    """Select and cast exactly the table's contract columns, in contract order.

    Only the columns the warehouse fills may be missing (they become typed nulls);
    any other missing column is a bug in a transform, so it fails loudly here.
    """
    current = {f.name: f.dataType for f in df.schema.fields}  # once: each schema is a round trip to the JVM
    unexpected = [c.name for c in table.columns if c.name not in current and c.name not in table.warehouse_columns]
    if unexpected:
        raise ValueError(f"{table.name}: transform does not produce {unexpected}")
    return _select_typed(df, current, [(c.name, spark_type(c.type)) for c in table.columns])


def select_typed(df: DataFrame, columns: list[tuple[str, T.DataType]]) -> DataFrame:
    """``df`` reduced to ``columns`` (name, type), in order: missing ones null, others cast if needed.

    Casts go by type name and only where the type differs: each Column operation is
    a round trip to the JVM, and plans are built many times in tests.
    """
    return _select_typed(df, {f.name: f.dataType for f in df.schema.fields}, columns)


def _select_typed(df: DataFrame, current: dict[str, T.DataType], columns: list[tuple[str, T.DataType]]) -> DataFrame:
    """select_typed, given ``df``'s column types (name -> type)."""
    selected = []
    for name, data_type in columns:
        if name not in current:
            selected.append(F.lit(None).cast(data_type.simpleString()).alias(name))
        elif current[name] == data_type:
            selected.append(F.col(name))
        else:
            selected.append(F.col(name).cast(data_type.simpleString()).alias(name))
    return df.select(*selected)
