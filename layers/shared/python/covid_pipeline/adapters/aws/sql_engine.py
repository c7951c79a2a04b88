"""Athena as the SqlEngine port: queries in Trino SQL, ``unload`` = Athena UNLOAD to Parquet."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

import boto3

from covid_pipeline.adapters.aws import parquet_footer
from covid_pipeline.adapters.aws.object_store import RETRY_CONFIG
from covid_pipeline.adapters.aws.polling import DEFAULT_QUERY_TIMEOUT_SECONDS, poll_until
from covid_pipeline.ports import EngineError, ObjectInfo

# Athena throttles StartQueryExecution/GetQueryExecution per account; botocore retries them
# with client-side rate limiting instead of failing the step.
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})

# One ranged GET of a file's end usually holds its whole Parquet footer; a larger one takes a second.
FOOTER_READ_BYTES = 64 * 1024
_INTEGER_TYPES = frozenset({"tinyint", "smallint", "integer", "int", "bigint"})
_FLOAT_TYPES = frozenset({"double", "float", "real"})


class UnloadStore(Protocol):
    """The part of the object store ``unload`` needs (S3ObjectStore)."""

    def delete_prefix(self, prefix_uri: str) -> int: ...
    def list(self, prefix_uri: str) -> Iterator[ObjectInfo]: ...
    def get_tail(self, uri: str, max_bytes: int) -> bytes: ...


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _convert(value: str | None, athena_type: str) -> Any:
    """Athena returns every value as text; give numbers and booleans back their type."""
    if value is None:
        return None
    if athena_type in _INTEGER_TYPES:
        return int(value)
    if athena_type in _FLOAT_TYPES:
        return float(value)
    if athena_type == "decimal":
        return Decimal(value)
    if athena_type == "boolean":
        return value.lower() == "true"
    return value


class AthenaSqlEngine:
    def __init__(
        self,
        workgroup: str,
        database: str,
        output_uri: str | None = None,
        client: Any = None,
        s3_store: UnloadStore | None = None,
        poll_interval_s: float = 1.0,
        timeout_s: float = DEFAULT_QUERY_TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.workgroup = workgroup
        self.database = database
        self.output_uri = output_uri  # None: the workgroup's enforced result location
        self._client = client
        self.s3_store = s3_store
        self.poll_interval_s = poll_interval_s
        self.timeout_s = timeout_s
        self.sleep = sleep
        self.clock = clock

    # -- execution -------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        # Lazy, so building the adapter (at Lambda cold start) makes no AWS call.
        if self._client is None:
            self._client = boto3.client("athena", config=RETRY_CONFIG)
        return self._client

    def _start(self, sql: str) -> str:
        kwargs: dict[str, Any] = {
            "QueryString": sql,
            "WorkGroup": self.workgroup,
            "QueryExecutionContext": {"Database": self.database},
        }
        if self.output_uri:
            kwargs["ResultConfiguration"] = {"OutputLocation": self.output_uri}
        return self.client.start_query_execution(**kwargs)["QueryExecutionId"]

    def _wait(self, execution_id: str) -> Mapping[str, Any]:
        """Poll until the query ends; FAILED / CANCELLED / the deadline become an EngineError."""
        execution = poll_until(
            lambda: self.client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"],
            lambda e: e.get("Status", {}).get("State") in TERMINAL,
            what=f"Athena query {execution_id}",
            state_of=lambda e: e.get("Status", {}).get("State"),
            stop=lambda: self.client.stop_query_execution(QueryExecutionId=execution_id),
            succeeded=lambda e: e.get("Status", {}).get("State") == "SUCCEEDED",
            timeout_s=self.timeout_s,
            interval_s=self.poll_interval_s,
            clock=self.clock,
            sleep=self.sleep,
        )
        status = execution.get("Status", {})
        if status.get("State") != "SUCCEEDED":
            raise EngineError(_failure_message(execution_id, status.get("State"), status))
        return execution

    def _run(self, sql: str) -> str:
        execution_id = self._start(sql)
        self._wait(execution_id)
        return execution_id

    # -- SqlEngine port ----------------------------------------------------------------------

    def query(self, query: str) -> list[tuple[Any, ...]]:
        execution_id = self._run(query)
        rows: list[tuple[Any, ...]] = []
        types: list[str] = []
        header_skipped = False
        for page in self.client.get_paginator("get_query_results").paginate(QueryExecutionId=execution_id):
            result_set = page.get("ResultSet", {})
            if not types:
                types = [
                    c.get("Type", "varchar") for c in result_set.get("ResultSetMetadata", {}).get("ColumnInfo", [])
                ]
            for row in result_set.get("Rows", []):
                if not header_skipped:  # a SELECT's first row holds the column names
                    header_skipped = True
                    continue
                rows.append(_row(row.get("Data", []), types))
        return rows

    def unload(self, query: str, destination_uri: str) -> int:
        """Write the query's rows as Snappy Parquet under ``destination_uri``; return the row count."""
        if self.s3_store is None:
            raise EngineError("AthenaSqlEngine.unload needs an s3_store to empty the destination first")
        destination = destination_uri if destination_uri.endswith("/") else destination_uri + "/"
        # UNLOAD refuses a destination that already holds objects (e.g. from a retried run).
        self.s3_store.delete_prefix(destination)
        select = query.strip().rstrip(";")
        execution_id = self._run(
            f"UNLOAD ({select}) TO {_literal(destination)} WITH (format = 'PARQUET', compression = 'SNAPPY')"
        )
        written = self._update_count(execution_id)
        if written is not None:
            return written
        # GetQueryResults' UpdateCount is documented for CTAS, INSERT INTO and UPDATE only (botocore's
        # model), not UNLOAD: without it, the row count is read from the written files' Parquet footers
        # (a few KB each) - never by running the query a second time, which would scan the input again.
        return self._rows_in_parquet(destination)

    def _rows_in_parquet(self, destination: str) -> int:
        assert self.s3_store is not None
        rows = 0
        for info in self.s3_store.list(destination):
            if info.size == 0:
                continue  # a marker object, not a data file
            tail = self.s3_store.get_tail(info.uri, FOOTER_READ_BYTES)
            needed = parquet_footer.footer_length(tail) + parquet_footer.TAIL_BYTES
            if needed > len(tail):
                tail = self.s3_store.get_tail(info.uri, needed)
            try:
                rows += parquet_footer.num_rows(tail)
            except parquet_footer.ParquetFooterError as exc:
                raise EngineError(f"cannot read the row count of {info.uri}: {exc}") from exc
        return rows

    def _update_count(self, execution_id: str) -> int | None:
        """Rows written, from GetQueryResults' UpdateCount (Athena's count for CTAS / INSERT / UNLOAD)."""
        response = self.client.get_query_results(QueryExecutionId=execution_id, MaxResults=1)
        count = response.get("UpdateCount")
        return int(count) if count is not None else None


def _row(data: Sequence[Mapping[str, str]], types: Sequence[str]) -> tuple[Any, ...]:
    return tuple(
        _convert(cell.get("VarCharValue"), types[i] if i < len(types) else "varchar") for i, cell in enumerate(data)
    )


def _failure_message(execution_id: str, state: str, status: Mapping[str, Any]) -> str:
    reason = status.get("StateChangeReason") or ""
    athena_error = status.get("AthenaError", {}).get("ErrorMessage") or ""
    details = "; ".join(part for part in (reason, athena_error) if part) or "no reason given"
    return f"Athena query {execution_id} {state}: {details}"
