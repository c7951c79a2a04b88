"""load_audit: one row per source object of the run - what was read, loaded and rejected.

An object counts when the manifest lists it (even if Stage produced no row from
it: an empty file still shows up, with zero rows) or when staged rows come from
it. Every staged row is accepted or quarantined exactly once, so
rows_loaded = rows_read - rows_rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from covid_pipeline import feeds

from . import keys
from .frames import union_by_name

MANIFEST_SCHEMA = T.StructType(
    [
        T.StructField("uri", T.StringType()),
        T.StructField("dataset", T.StringType()),
        T.StructField("feed", T.StringType()),
        T.StructField("size", T.LongType()),
        T.StructField("etag", T.StringType()),
    ]
)
UNKNOWN_DATASET = "unknown"


def staged_counts(classified: Mapping[str, DataFrame]) -> DataFrame:
    """Staged rows per source object (and the feed they were staged for)."""
    per_feed = [
        df.select(
            F.lit(name).alias("feed"),
            F.coalesce(F.col(feeds.SOURCE_OBJECT), F.lit("")).alias("source_object"),
        )
        for name, df in sorted(classified.items())
    ]
    return (
        union_by_name(per_feed)
        .groupBy("source_object")
        .agg(F.count(F.lit(1)).alias("rows_read"), F.min("feed").alias("staged_feed"))
    )


def manifest_objects(manifest: DataFrame) -> DataFrame:
    """One manifest entry per URI (a repeated URI keeps its greatest entry, deterministically)."""
    entry = F.max(F.struct(*[F.col(c) for c in ("dataset", "feed", "etag", "size")]))
    return (
        manifest.filter(keys.blank_to_null(F.col("uri")).isNotNull())
        .groupBy(F.col("uri").alias("source_object"))
        .agg(entry.alias("_m"))
        .select(
            "source_object",
            keys.blank_to_null(F.col("_m.dataset")).alias("manifest_dataset"),
            F.col("_m.feed").alias("manifest_feed"),
            F.col("_m.etag").alias("source_etag"),
            F.col("_m.size").alias("source_size"),
        )
    )


def dataset_of_feed(feed: Column) -> Column:
    """The data lake dataset of a feed name (null for an unknown name)."""
    result: Column | None = None
    for name, spec in sorted(feeds.FEEDS.items()):
        result = F.when(feed == name, spec.dataset) if result is None else result.when(feed == name, spec.dataset)
    return result if result is not None else F.lit(None).cast("string")


def dataset_of_uri(uri: Column) -> Column:
    """The dataset whose name is a folder of the object's URI (raw objects live under it)."""
    result = F.lit(None).cast("string")
    for dataset in reversed(feeds.DATASETS):
        result = F.when(uri.contains(f"/{dataset}/"), dataset).otherwise(result)
    return result


def load_audit(
    classified: Mapping[str, DataFrame],
    quarantine: DataFrame,
    manifest: DataFrame,
    run_id: str,
    started_at: datetime,
) -> DataFrame:
    """Join staged counts, quarantine counts and the manifest into one row per source object.

    ``classified`` maps feed name -> the feed's staged rows (classified or not: only
    ``_source_object`` is read); ``quarantine`` has the schema.QUARANTINE columns.
    """
    rejected = quarantine.groupBy("source_object").agg(F.count(F.lit(1)).alias("rows_rejected"))
    objects = staged_counts(classified).join(manifest_objects(manifest), on="source_object", how="full_outer")
    read = F.coalesce(F.col("rows_read"), F.lit(0)).cast("bigint")
    rejected_count = F.coalesce(F.col("rows_rejected"), F.lit(0)).cast("bigint")
    dataset = F.coalesce(
        F.col("manifest_dataset"),
        dataset_of_feed(F.col("staged_feed")),
        dataset_of_feed(F.col("manifest_feed")),
        dataset_of_uri(F.col("source_object")),
        F.lit(UNKNOWN_DATASET),
    )
    return objects.join(rejected, on="source_object", how="left").select(
        F.lit(run_id).alias("run_id"),
        "source_object",
        dataset.alias("dataset"),
        "source_etag",
        "source_size",
        read.alias("rows_read"),
        (read - rejected_count).alias("rows_loaded"),
        rejected_count.alias("rows_rejected"),
        F.lit(started_at).cast("timestamp").alias("started_at"),
        F.lit(None).cast("timestamp").alias("finished_at"),
    )
