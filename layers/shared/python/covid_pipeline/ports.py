"""Ports: the small interfaces domain logic talks to. Adapters implement them per environment.

Domain code imports only this module (and the contract modules), never boto3,
DuckDB or Spark. Locations are always ``s3://bucket/key`` URIs, also locally,
where the object-store adapter maps them onto a directory tree.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class PipelineError(Exception):
    """A failure with a message meant for the operator (no stack trace needed)."""


class ObjectNotFound(PipelineError):
    pass


class CrawlerBusy(PipelineError):
    """The crawler is already running; retry later (never treat as a finished crawl)."""


class EngineError(PipelineError):
    """A SQL engine, Spark job or warehouse reported a failure; the message carries its reason."""


class WarehouseBusy(EngineError):
    """Another load holds the warehouse (a lock, a serialization conflict): nothing was changed; retry later."""


@dataclass(frozen=True)
class ObjectInfo:
    uri: str
    size: int
    etag: str
    # Set on a copy the pipeline made (Setup's source copies): the ETag of the object it was copied
    # from, kept in the copy's metadata. None for an upload, and wherever the store cannot tell (list).
    source_etag: str | None = None


@dataclass(frozen=True)
class CrawlState:
    state: str  # READY | RUNNING | STOPPING
    last_status: str | None = None  # SUCCEEDED | FAILED | CANCELLED
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.state == "READY"


@dataclass(frozen=True)
class CatalogColumn:
    name: str  # as the SQL engine sees it
    type: str  # as inferred (informational; Stage casts by the feed contract)


@dataclass(frozen=True)
class CatalogTable:
    database: str
    name: str
    location: str  # s3:// prefix
    columns: tuple[CatalogColumn, ...]
    objects: tuple[str, ...]  # the raw object URIs the table covers
    parameters: Mapping[str, str] = field(default_factory=dict)


class ObjectStore(Protocol):
    def ensure_bucket(self, uri: str) -> None: ...
    def list(self, prefix_uri: str) -> Iterator[ObjectInfo]: ...
    def head(self, uri: str) -> ObjectInfo | None: ...
    def get_bytes(self, uri: str, max_bytes: int | None = None) -> bytes: ...
    def put_bytes(self, uri: str, data: bytes) -> ObjectInfo: ...
    def copy(self, source_uri: str, dest_uri: str) -> ObjectInfo: ...
    def delete_prefix(self, prefix_uri: str) -> int: ...


class Catalog(Protocol):
    """Glue Data Catalog + crawler (AWS) or file-based catalog + schema inference (local)."""

    def start_crawler(self, name: str) -> str: ...  # "STARTED" | "ALREADY_RUNNING"
    def crawler_state(self, name: str) -> CrawlState: ...
    def tables(self, database: str) -> list[CatalogTable]: ...
    # After a crawl: make each raw table read as Stage reads (every column text, the trailing overflow
    # column of a CSV table, see staging_sql; a malformed JSON line not failing the query); names those changed.
    def prepare_raw_tables(self, database: str) -> list[str]: ...


class SqlEngine(Protocol):
    """Athena (AWS) or DuckDB (local). Queries are written in Athena's (Trino) dialect."""

    def unload(self, query: str, destination_uri: str) -> int: ...  # rows written as Parquet
    def query(self, query: str) -> list[tuple[Any, ...]]: ...


@dataclass(frozen=True)
class TableLoad:
    table: str  # schema.TABLES name
    location: str  # s3:// prefix holding its Parquet files


class BatchMissing(EngineError):
    """A table's prefix holds no Parquet file: the run's batch is missing, nothing was loaded.

    Clean writes at least one Parquet file per table, an empty table included (Spark writes a
    schema-only part file), so an empty prefix is a run that was never cleaned or a wrong run id,
    not an empty table. Redshift refuses it as well: COPY from a prefix matching no object fails
    ("The specified S3 prefix '...' does not exist"), see warehouse adapters.
    """

    def __init__(self, run_id: str, load: TableLoad) -> None:
        super().__init__(
            f"load of run {run_id}: no Parquet file for table {load.table} under {load.location}; "
            "Clean writes one per table, even for an empty table, so this run's batch is missing "
            "(a wrong run id, or Clean did not finish for it); nothing was loaded"
        )
        self.table = load.table
        self.location = load.location


@dataclass(frozen=True)
class LoadResult:
    rows_merged: Mapping[str, int]  # table -> rows in the staged batch
    rows_total: Mapping[str, int]  # table -> rows in the target after the load
    # table -> {"new", "changed", "unchanged", "superseded"}: what the batch's rows did (merge_rules)
    changes: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


class Warehouse(Protocol):
    """Redshift via the Data API (AWS) or a DuckDB file (local)."""

    def load(self, run_id: str, loads: Sequence[TableLoad]) -> LoadResult: ...
    def query(self, sql: str) -> list[tuple[Any, ...]]: ...
    def loaded_etags(self, uris: Sequence[str]) -> dict[str, set[str]]:
        """uri -> the ETags of it that load_audit records as loaded (empty before the first load)."""
        ...


class Notifier(Protocol):
    def publish(self, subject: str, message: str) -> str: ...


# Executions.start answers: a new execution, or one of that name existed (a duplicate delivery).
STARTED = "STARTED"
ALREADY_EXISTS = "ALREADY_EXISTS"


class Executions(Protocol):
    """Step Functions (AWS) or the local runner: start an execution under a given name."""

    def start(self, name: str, execution_input: dict[str, Any]) -> str: ...  # STARTED | ALREADY_EXISTS
    # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED (Step Functions' execution statuses)
    def status(self, name: str) -> str: ...
