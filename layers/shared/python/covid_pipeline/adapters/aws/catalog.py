"""Glue Data Catalog + crawler as the Catalog port.

The crawler infers the tables; this adapter reads them back in the shape Stage
needs: columns as Athena sees them, the raw objects each table covers and the feed
those objects belong to (``parameters["feed"]``), which the local catalog writes
itself and Glue cannot know.

After each crawl it also prepares the raw tables (prepare_raw_tables): every column
``string`` (Stage types values itself), malformed JSON lines no longer fail the query, and one
trailing string column appended to every CSV table and named in the table's
``overflow_column`` parameter (staging_sql.OVERFLOW_PARAMETER): OpenCSVSerDe maps fields
by position, so a row's field past the header's last one lands there instead of being
dropped, and Stage quarantines the row as malformed. A crawl rewrites the columns
(UPDATE_IN_DATABASE), so tables are read back with the parameter only while the column
it names is still the last one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import boto3
from botocore.exceptions import ClientError

from covid_pipeline.adapters.aws.object_store import RETRY_CONFIG, S3ObjectStore, error_code, error_message
from covid_pipeline.domain.staging_sql import OVERFLOW_PARAMETER
from covid_pipeline.feeds import feed_for_key
from covid_pipeline.headers import overflow_name
from covid_pipeline.ports import CatalogColumn, CatalogTable, CrawlerBusy, CrawlState, PipelineError
from covid_pipeline.uris import split_s3


def _glue_error(exc: ClientError, what: str) -> PipelineError:
    return PipelineError(f"{what}: {error_code(exc)}: {error_message(exc)}")


# The keys of a GetTables entry that UpdateTable's TableInput accepts (the rest are read-only).
_TABLE_INPUT_KEYS = (
    "Name", "Description", "Owner", "LastAccessTime", "LastAnalyzedTime", "Retention", "StorageDescriptor",
    "PartitionKeys", "ViewOriginalText", "ViewExpandedText", "TableType", "Parameters", "TargetTable",
    "ViewDefinition",
)  # fmt: skip


def _has_overflow(table: Mapping[str, Any]) -> bool:
    """Whether the table's last column is the one its overflow_column parameter names."""
    name = (table.get("Parameters") or {}).get(OVERFLOW_PARAMETER)
    columns = (table.get("StorageDescriptor") or {}).get("Columns") or []
    return bool(name) and bool(columns) and columns[-1].get("Name") == name


# OpenX JsonSerDe (what Glue's JSON classifier sets): a malformed line is skipped, not an error.
MALFORMED_JSON_PARAMETER = "ignore.malformed.json"


def _prepared(table: Mapping[str, Any]) -> dict[str, Any] | None:
    """The TableInput that makes a raw table read as Stage reads it (see prepare_raw_tables); None if it does."""
    sd = table.get("StorageDescriptor") or {}
    params = table.get("Parameters") or {}
    classification = params.get("classification", "").lower()
    if classification not in ("csv", "json") or table.get("PartitionKeys") or not sd.get("Columns"):
        return None
    overflow = params.get(OVERFLOW_PARAMETER) if _has_overflow(table) else None
    header = [c for c in sd["Columns"] if c.get("Name") != overflow]
    columns = [{**c, "Type": "string"} for c in header]
    new_params, serde = dict(params), dict(sd.get("SerdeInfo") or {})
    if classification == "csv":
        name = overflow or overflow_name([c["Name"] for c in header])
        columns.append({"Name": name, "Type": "string"})
        new_params[OVERFLOW_PARAMETER] = name
    else:
        serde["Parameters"] = {**(serde.get("Parameters") or {}), MALFORMED_JSON_PARAMETER: "true"}
    new_sd = {**sd, "Columns": columns, **({"SerdeInfo": serde} if serde else {})}
    if new_sd == sd and new_params == params:
        return None
    table_input = {k: table[k] for k in _TABLE_INPUT_KEYS if k in table}
    return {**table_input, "StorageDescriptor": new_sd, "Parameters": new_params}


def _columns(table: Mapping[str, Any]) -> tuple[CatalogColumn, ...]:
    """Data columns then partition keys: the order Athena exposes them in."""
    sd = table.get("StorageDescriptor") or {}
    cols = [*sd.get("Columns", []), *table.get("PartitionKeys", [])]
    return tuple(CatalogColumn(c["Name"], c.get("Type", "string")) for c in cols)


class GlueCatalog:
    """The Catalog port on AWS Glue. Clients are injectable for tests; by default made on first use."""

    def __init__(self, glue_client: Any | None = None, s3: S3ObjectStore | None = None) -> None:
        self._glue = glue_client
        self.s3 = s3 if s3 is not None else S3ObjectStore()

    @property
    def glue(self) -> Any:
        if self._glue is None:
            self._glue = boto3.client("glue", config=RETRY_CONFIG)
        return self._glue

    def start_crawler(self, name: str) -> str:
        try:
            self.glue.start_crawler(Name=name)
        except ClientError as exc:
            if error_code(exc) == "CrawlerRunningException":
                # Callers wait and retry; a running crawl must never be mistaken for a finished one.
                raise CrawlerBusy(f"crawler {name} is already running: {error_message(exc)}") from exc
            if error_code(exc) == "EntityNotFoundException":
                raise PipelineError(f"no crawler named {name!r}: {error_message(exc)}") from exc
            raise _glue_error(exc, f"cannot start crawler {name}") from exc
        return "STARTED"

    def crawler_state(self, name: str) -> CrawlState:
        try:
            crawler = self.glue.get_crawler(Name=name)["Crawler"]
        except ClientError as exc:
            raise _glue_error(exc, f"cannot read crawler {name}") from exc
        last = crawler.get("LastCrawl") or {}
        return CrawlState(crawler["State"], last.get("Status"), last.get("ErrorMessage"))

    def tables(self, database: str) -> list[CatalogTable]:
        """The database's tables that cover objects of exactly one feed (others are skipped)."""
        out = []
        for table in self._glue_tables(database):
            mapped = self._to_catalog_table(database, table)
            if mapped is not None:
                out.append(mapped)
        return out

    def prepare_raw_tables(self, database: str) -> list[str]:
        """Make each unpartitioned CSV or JSON table of ``database`` read as Stage reads; the names of those changed.

        * every column is ``string``: Stage types each value itself (TRY_CAST, a failed cast
          reported and quarantined); a crawler's ``bigint`` column would turn a bad value into
          a silent NULL, or a ``1.0`` count into none;
        * a CSV table gets the trailing overflow column (module docstring);
        * a JSON Lines table's SerDe gets ``ignore.malformed.json``: a line that is not JSON no
          longer fails the query for every object (Athena, "OpenX JSON SerDe", optional
          properties: "lets you skip malformed JSON syntax"). Whether the line vanishes or reads
          as a row of NULLs (which Stage would quarantine), as SerDe users report
          (rcongiu/Hive-JSON-Serde#235), is not verified on AWS: such a line may be dropped
          without a quarantine row there. Keys match columns whatever their case
          (``case.insensitive``, true by default, same page).

        Partitioned tables are left alone: each partition keeps the columns it was
        crawled with, so a column changed in the table alone would not be read.
        """
        changed = []
        for table in self._glue_tables(database):
            table_input = _prepared(table)
            if table_input is None:
                continue
            try:
                self.glue.update_table(DatabaseName=database, TableInput=table_input, SkipArchive=True)
            except ClientError as exc:
                raise _glue_error(exc, f"cannot prepare {database}.{table['Name']} for Stage") from exc
            changed.append(table["Name"])
        return changed

    # -- internals ---------------------------------------------------------
    def _glue_tables(self, database: str) -> Iterable[Mapping[str, Any]]:
        try:
            for page in self.glue.get_paginator("get_tables").paginate(DatabaseName=database):
                yield from page.get("TableList", [])
        except ClientError as exc:
            # Unlike the local catalog (whose folder appears on the first crawl) a missing
            # Glue database means the stack is not deployed: say so instead of returning [].
            raise _glue_error(exc, f"cannot list tables of Glue database {database}") from exc

    def _to_catalog_table(self, database: str, table: Mapping[str, Any]) -> CatalogTable | None:
        location = (table.get("StorageDescriptor") or {}).get("Location") or ""
        if not location.startswith("s3://"):
            return None  # views and non-S3 tables cover no raw objects
        objects, feeds = self._objects_by_feed(location)
        if len(feeds) != 1:
            return None  # no feed, or a location mixing feeds: Stage could not map it safely
        return CatalogTable(
            database=database,
            name=table["Name"],
            location=location,
            columns=_columns(table),
            objects=tuple(objects),
            parameters=self._parameters(table) | {"feed": feeds.pop()},
        )

    @staticmethod
    def _parameters(table: Mapping[str, Any]) -> dict[str, str]:
        """The table's parameters, without an overflow_column whose column a crawl has since removed."""
        params = dict(table.get("Parameters") or {})
        if not _has_overflow(table):
            params.pop(OVERFLOW_PARAMETER, None)
        return params

    def _objects_by_feed(self, location: str) -> tuple[list[str], set[str]]:
        """The objects under ``location`` that belong to a feed, and the set of those feeds."""
        bucket, _ = split_s3(location)
        root = f"s3://{bucket}/"
        objects: list[str] = []
        feeds: set[str] = set()
        for info in self.s3.list(location):
            feed = feed_for_key(info.uri[len(root) :])
            if feed is not None:
                objects.append(info.uri)
                feeds.add(feed.name)
        return objects, feeds
