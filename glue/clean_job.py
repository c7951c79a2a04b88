"""Clean job: staged Parquet -> curated star schema + quarantine (Glue 5.0 or local PySpark).

The same script runs on AWS Glue (arguments through awsglue's getResolvedOptions)
and locally (argparse, same ``--name value`` arguments; master and configuration
from PYSPARK_SUBMIT_ARGS). All the logic lives in covid_transforms; this file only
reads, calls build_star, writes and reports.

Prints one JSON line on stdout: {"tables": {table: rows}, "rejected": {reason prefix: rows}}.
(The regions no lookup knows are reported by Load, from the warehouse, on both clouds.)
Exits 2 with a one-line message on a bad argument.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from covid_pipeline import feeds, schema
from covid_transforms.audit import MANIFEST_SCHEMA
from covid_transforms.contract import staged_schema
from covid_transforms.quality import reason_prefix
from covid_transforms.star import build_star

APP_NAME = "covid-pipeline-clean"
ARGUMENTS: tuple[str, ...] = (
    "JOB_NAME",
    "run_id",
    "staged_uri",
    "curated_uri",
    "quarantine_uri",
    "manifest_uri",
    "started_at",
)
# run_id names a folder of the quarantine: no separators, nothing Hadoop paths reject (':').
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=-]*")
EXIT_BAD_ARGUMENT = 2
# Tables written at once after the first (see write_tables).
CONCURRENT_WRITES = 3


class BadArgumentError(Exception):
    """An argument is missing or malformed."""


@dataclass(frozen=True)
class JobArgs:
    job_name: str
    run_id: str
    staged_uri: str
    curated_uri: str
    quarantine_uri: str
    manifest_uri: str
    started_at: datetime


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting (one-line errors)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise BadArgumentError(message)


def _resolve_options(argv: Sequence[str]) -> dict[str, str]:
    """Raw option values: awsglue's resolver on Glue, argparse elsewhere (same names)."""
    try:
        from awsglue.utils import getResolvedOptions  # only on Glue
    except ImportError:
        parser = _Parser(prog="clean_job", add_help=False)
        for name in ARGUMENTS:
            parser.add_argument(f"--{name}", required=True)
        known, _ = parser.parse_known_args(list(argv[1:]))  # Glue-style extras are ignored
        return vars(known)
    try:
        return getResolvedOptions(list(argv), list(ARGUMENTS))
    except Exception as error:  # GlueArgumentError, SystemExit-free by design
        raise BadArgumentError(str(error)) from error


def parse_started_at(text: str) -> datetime:
    """ISO-8601 instant, as UTC (a value without offset is taken as UTC)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadArgumentError(f"--started_at is not ISO-8601: {text!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_args(argv: Sequence[str]) -> JobArgs:
    """Parse and check the job's arguments (``argv`` as sys.argv, program name first)."""
    raw = _resolve_options(argv)
    for name in ARGUMENTS:
        if not (raw.get(name) or "").strip():
            raise BadArgumentError(f"--{name} is empty")
    if not _RUN_ID.fullmatch(raw["run_id"]):
        raise BadArgumentError(f"--run_id must match {_RUN_ID.pattern} (it names a folder): {raw['run_id']!r}")
    return JobArgs(
        job_name=raw["JOB_NAME"],
        run_id=raw["run_id"],
        staged_uri=raw["staged_uri"],
        curated_uri=raw["curated_uri"],
        quarantine_uri=raw["quarantine_uri"],
        manifest_uri=raw["manifest_uri"],
        started_at=parse_started_at(raw["started_at"]),
    )


def child(uri: str, name: str) -> str:
    """``<uri>/<name>/``, whatever the scheme (s3://, file://, a plain path)."""
    return f"{uri.rstrip('/')}/{name}/"


def _is_missing_path(error: AnalysisException) -> bool:
    return error.getErrorClass() == "PATH_NOT_FOUND" or "Path does not exist" in str(error)


def read_staged(spark: SparkSession, staged_uri: str) -> dict[str, DataFrame]:
    """Each feed's staged Parquet (any depth below ``<staged_uri>/<feed>/``); a feed without a folder is left out.

    The schema is given, not inferred: an empty folder then reads as an empty frame,
    and every file is read with the contract's types. build_star builds no plan for a
    feed left out unless a table needs it (then as an empty frame).
    """
    frames: dict[str, DataFrame] = {}
    for name, feed in feeds.FEEDS.items():
        reader = spark.read.schema(staged_schema(feed)).option("recursiveFileLookup", "true")
        try:
            frames[name] = reader.parquet(child(staged_uri, name))
        except AnalysisException as error:
            if not _is_missing_path(error):
                raise
    return frames


def read_manifest(spark: SparkSession, manifest_uri: str) -> DataFrame:
    """The run's manifest (JSON Lines: uri, dataset, feed, size, etag)."""
    try:
        return spark.read.schema(MANIFEST_SCHEMA).json(manifest_uri)
    except AnalysisException as error:
        if _is_missing_path(error):
            raise BadArgumentError(f"--manifest_uri does not exist: {manifest_uri}") from None
        raise


def output_uri(args: JobArgs, table: str) -> str:
    """Where a table goes: quarantine under its run, every other table under curated."""
    if table == schema.QUARANTINE.name:
        return child(args.quarantine_uri, args.run_id)
    return child(args.curated_uri, table)


def write_tables(spark: SparkSession, tables: dict[str, DataFrame], args: JobArgs) -> dict[str, int]:
    """Write every table (only its file columns: the warehouse fills load-time ones) and count its rows.

    The rows are counted as they are written (an Observation, as Spark's own documentation of
    Observation shows: "Observe row count ... while writing it"), not read back: a read-back cost
    each table a schema-inference job, a listing and a count job. The first table (dim_date, which
    reads every case and testing row) is written alone: it builds the cached classified frames. The
    others then read only those caches and are written by concurrent threads: each alone leaves cores
    idle (query planning, small stages), together they keep them busy.
    """
    first, *others = schema.TABLES

    def write(name: str) -> tuple[str, int]:
        uri = output_uri(args, name)
        context = spark.sparkContext
        # Labels the Spark jobs (Spark UI, event log) so time can be attributed per table.
        context.setJobDescription(f"write {name}")
        columns = [c.name for c in schema.TABLES[name].file_columns]
        rows = Observation(f"rows of {name}")
        observed = tables[name].select(*columns).observe(rows, F.count(F.lit(1)).alias("rows"))
        observed.write.mode("overwrite").parquet(uri)
        context.setJobDescription(None)
        return name, int(rows.get["rows"])

    counts = dict([write(first)])
    with ThreadPoolExecutor(max_workers=CONCURRENT_WRITES) as pool:
        counts |= dict(pool.map(write, others))
    return {name: counts[name] for name in schema.TABLES}


def rejected_by_reason(spark: SparkSession, args: JobArgs) -> dict[str, int]:
    """Quarantined rows per reason prefix, from the written quarantine (a handful of rows collected)."""
    quarantine = spark.read.parquet(output_uri(args, schema.QUARANTINE.name))
    rows = quarantine.groupBy(reason_prefix(F.col("reason")).alias("prefix")).count().collect()
    return {row["prefix"]: row["count"] for row in sorted(rows, key=lambda r: r["prefix"])}


def run(spark: SparkSession, args: JobArgs) -> dict[str, dict[str, int]]:
    """Read, transform, write; return the summary printed by main."""
    # Both settings make the output independent of where the job runs: instants in UTC,
    # and Parquet timestamps as INT64 microseconds (Spark's default INT96 is legacy).
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    staged = read_staged(spark, args.staged_uri)
    manifest = read_manifest(spark, args.manifest_uri)
    tables = build_star(staged, manifest, args.run_id, args.started_at)
    counts = write_tables(spark, tables, args)
    return {"tables": counts, "rejected": rejected_by_reason(spark, args)}


def main(argv: Sequence[str] | None = None, spark: SparkSession | None = None) -> int:
    """Entry point: parse, run, print the summary line; 2 on a bad argument.

    ``spark``: a session to run on (the local warm driver, adapters/local/warm_spark.py); Glue and a cold
    local run pass none and get the process's own.
    """
    try:
        args = parse_args(sys.argv if argv is None else argv)
        spark = spark or SparkSession.builder.appName(APP_NAME).getOrCreate()
        summary = run(spark, args)
    except BadArgumentError as error:
        print(f"clean_job: bad argument: {error}", file=sys.stderr)
        return EXIT_BAD_ARGUMENT
    print(json.dumps(summary, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
