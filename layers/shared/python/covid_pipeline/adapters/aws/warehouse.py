"""Redshift (Serverless or provisioned) through the Redshift Data API.

The load mirrors the local DuckDB one: a single ``batch_execute_statement`` - which the
Data API runs as ONE transaction - stages each table's Parquet with COPY, MERGEs it on the
contract key, and finally runs the foreign-key checks, written so that an orphan makes its
statement fail and the whole batch roll back.

The Data API takes at most 40 statements per batch (``BatchExecuteStatement.Sqls`` is
``{"min": 1, "max": 40}`` in botocore's service model; botocore checks only the minimum, the
service refuses the rest). So the load batch holds no more than it must: the tables are
created (``CREATE TABLE IF NOT EXISTS``, harmless outside the load's transaction) by a batch
of their own first, the staging tables are ``TEMP`` tables, which end with the batch's
session instead of needing a DROP each, and one statement checks every foreign key. Before
each MERGE, merge_rules' statements drop superseded and unchanged rows from the batch and
count the matched ones (each statement's ResultRows is a count of the load's summary). With
all 7 tables that is 1 + 7 x 4 (stage, COPY, matched, MERGE) + 2 superseded + 5 unchanged
+ 1 day-over-day + 1 = 38 statements (tests/integration/aws/test_data_api_limits.py); a batch
over the model's maximum is refused here, before anything runs.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import boto3

from covid_pipeline.adapters.aws import redshift_sql as rs
from covid_pipeline.adapters.aws.object_store import RETRY_CONFIG
from covid_pipeline.adapters.aws.polling import DEFAULT_QUERY_TIMEOUT_SECONDS, poll_until
from covid_pipeline.day_over_day import day_over_day_sql
from covid_pipeline.merge_rules import matched_touch_sql, superseded_sql, unchanged_sql
from covid_pipeline.ports import BatchMissing, EngineError, LoadResult, ObjectStore, TableLoad, WarehouseBusy
from covid_pipeline.schema import FOREIGN_KEYS, TABLES

log = logging.getLogger(__name__)

# Throttling (and other transient errors) are retried by botocore itself, with client-side
# rate limiting: a load polls describe_statement for minutes and must not die on a 429.
TERMINAL = frozenset({"FINISHED", "FAILED", "ABORTED"})
LOADED_ETAGS_CHUNK = 200


@dataclass(frozen=True)
class _Step:
    """What one SQL of the batch does, so a failed sub-statement can be explained."""

    kind: str  # setup | ddl | stage | copy | superseded | unchanged | changed | merge | derive | fk
    table: str = ""
    detail: str = ""


class RedshiftDataApiWarehouse:
    """The Warehouse port on Redshift. Give ``workgroup_name`` (Serverless) or ``cluster_identifier`` + ``db_user``."""

    def __init__(
        self,
        *,
        database: str,
        iam_role_arn: str,
        workgroup_name: str | None = None,
        cluster_identifier: str | None = None,
        db_user: str | None = None,
        secret_arn: str | None = None,
        client: Any = None,
        store: ObjectStore | None = None,
        poll_interval_s: float = 1.0,
        timeout_s: float = DEFAULT_QUERY_TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if bool(workgroup_name) == bool(cluster_identifier):
            raise ValueError("give exactly one of workgroup_name (Serverless) or cluster_identifier")
        if cluster_identifier and not (db_user or secret_arn):
            raise ValueError("a provisioned cluster needs db_user (temporary credentials) or secret_arn")
        self.database = database
        self.iam_role_arn = iam_role_arn
        self.workgroup_name = workgroup_name
        self.cluster_identifier = cluster_identifier
        self.db_user = db_user
        self.secret_arn = secret_arn
        self._client = client
        self.store = store  # optional: lets the load refuse a missing batch by name before any statement runs
        self.poll_interval_s = poll_interval_s
        self.timeout_s = timeout_s
        self.sleep = sleep
        self.clock = clock

    # -- connection / polling ---------------------------------------------------------------

    @property
    def client(self) -> Any:
        # Lazy, so building the adapter (at Lambda cold start) makes no AWS call.
        if self._client is None:
            self._client = boto3.client("redshift-data", config=RETRY_CONFIG)
        return self._client

    def _target(self) -> dict[str, str]:
        """The Data API's connection parameters for this workgroup or cluster."""
        params = {"Database": self.database}
        if self.workgroup_name:
            params["WorkgroupName"] = self.workgroup_name
        else:
            params["ClusterIdentifier"] = self.cluster_identifier or ""
            if self.db_user and not self.secret_arn:
                params["DbUser"] = self.db_user
        if self.secret_arn:
            params["SecretArn"] = self.secret_arn
        return params

    def _wait(self, statement_id: str) -> dict[str, Any]:
        """Poll until the statement is FINISHED, FAILED or ABORTED; cancel it and raise past the deadline."""
        return poll_until(
            lambda: self.client.describe_statement(Id=statement_id),
            lambda desc: desc.get("Status") in TERMINAL,
            what=f"Redshift statement {statement_id}",
            state_of=lambda desc: desc.get("Status"),
            stop=lambda: self.client.cancel_statement(Id=statement_id),
            stopped="cancelled",
            succeeded=lambda desc: desc.get("Status") == "FINISHED",
            timeout_s=self.timeout_s,
            interval_s=self.poll_interval_s,
            clock=self.clock,
            sleep=self.sleep,
        )

    def _execute(self, sql: str) -> dict[str, Any]:
        started = self.client.execute_statement(Sql=sql, WithEvent=False, **self._target())
        desc = self._wait(started["Id"])
        if desc["Status"] != "FINISHED":
            raise EngineError(f"Redshift statement {started['Id']} {desc['Status']}: {desc.get('Error', '')}")
        return desc

    def _results(self, statement_id: str) -> list[tuple[Any, ...]]:
        return self._results_with_columns(statement_id)[1]

    def _results_with_columns(self, statement_id: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        names: list[str] = []
        types: list[str] = []
        rows: list[tuple[Any, ...]] = []
        kwargs: dict[str, str] = {"Id": statement_id}
        while True:
            page = self.client.get_statement_result(**kwargs)
            if page.get("ColumnMetadata") and not names:
                names = [str(c.get("name", "")) for c in page["ColumnMetadata"]]
                types = [str(c.get("typeName", "")) for c in page["ColumnMetadata"]]
            rows.extend(
                tuple(_typed_value(f, types[i] if i < len(types) else "") for i, f in enumerate(record))
                for record in page.get("Records", [])
            )
            token = page.get("NextToken")
            if not token:
                return names, rows
            kwargs["NextToken"] = token

    # -- Warehouse port -----------------------------------------------------------------------

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        desc = self._execute(sql)
        if not desc.get("HasResultSet"):
            return []
        return self._results(desc["Id"])

    def query_with_columns(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and rows, a DATE as a ``date`` (what the local DuckDB warehouse answers too)."""
        desc = self._execute(sql)
        if not desc.get("HasResultSet"):
            return [], []
        return self._results_with_columns(desc["Id"])

    def loaded_etags(self, uris: Sequence[str]) -> dict[str, set[str]]:
        loaded: dict[str, set[str]] = {}
        # Chunks keep each statement far below the Data API's 100 KB SQL limit.
        for start in range(0, len(uris), LOADED_ETAGS_CHUNK):
            try:
                rows = self.query(rs.loaded_etags_sql(uris[start : start + LOADED_ETAGS_CHUNK]))
            except EngineError as exc:
                if rs.is_missing_relation(str(exc)):
                    return {}  # no load yet: the tables are created by the first load
                raise
            for uri, etag in rows:
                loaded.setdefault(str(uri), set()).add(str(etag))
        return loaded

    def load(self, run_id: str, loads: Sequence[TableLoad]) -> LoadResult:
        for load in loads:
            if not self._has_files(load):
                raise BatchMissing(run_id, load)
        self._ensure_tables(run_id)
        sqls, steps = self._batch(loads)
        desc = self._run_batch(sqls, f"{run_id}-load")
        if desc["Status"] != "FINISHED":
            message = self._failure_message(run_id, desc, steps)
            if rs.is_serialization_conflict(message):
                # Another load committed first; the batch rolled back whole, so a retry is safe.
                raise WarehouseBusy(message)
            raise EngineError(message)
        merged = _rows_merged(desc.get("SubStatements", []), steps)
        changes = _changes(desc.get("SubStatements", []), steps, merged)
        return LoadResult(
            rows_merged={load.table: merged.get(load.table, 0) for load in loads},
            rows_total=self._totals(),
            changes=changes,
        )

    # -- load internals --------------------------------------------------------------------

    def _max_batch(self) -> int:
        """The service model's maximum number of statements per BatchExecuteStatement (40)."""
        shape = self.client.meta.service_model.operation_model("BatchExecuteStatement").input_shape
        return int(shape.members["Sqls"].metadata["max"])

    def _run_batch(self, sqls: list[str], name: str) -> dict[str, Any]:
        """Start one batch (one transaction) and wait for it; refuse one the service would refuse."""
        limit = self._max_batch()
        if len(sqls) > limit:
            raise EngineError(f"batch {name} has {len(sqls)} statements; the Data API allows at most {limit}")
        started = self.client.batch_execute_statement(
            Sqls=sqls, StatementName=name[:500], WithEvent=False, **self._target()
        )
        return self._wait(started["Id"])

    def _ensure_tables(self, run_id: str) -> None:
        """CREATE TABLE IF NOT EXISTS for every contract table, in a batch of its own."""
        sqls = [rs.statement_timeout_sql(self.timeout_s), *(rs.create_table_sql(t) for t in TABLES.values())]
        desc = self._run_batch(sqls, f"{run_id}-ddl")
        if desc["Status"] != "FINISHED":
            failed = _failed_sub_statement(desc.get("SubStatements", []))
            error = (failed[1].get("Error") if failed else None) or desc.get("Error") or "no error message"
            raise EngineError(f"creating the warehouse tables for run {run_id} {desc['Status']}: {error}")

    def _has_files(self, load: TableLoad) -> bool:
        """False for a prefix without Parquet: a missing batch (ports.BatchMissing). COPY would fail on it too,
        "The specified S3 prefix '...' does not exist" ("COPY will terminate if no files are found":
        https://docs.aws.amazon.com/redshift/latest/dg/loading-data-files-using-manifest.html); checked here
        first so the error names the table and no statement runs. Without a store, COPY's own error says it."""
        if load.table not in TABLES:
            raise EngineError(f"unknown warehouse table {load.table!r}")
        if self.store is None:
            return True
        return any(o.uri.endswith(".parquet") for o in self.store.list(load.location))

    def _batch(self, loads: Sequence[TableLoad]) -> tuple[list[str], list[_Step]]:
        batch: list[tuple[str, _Step]] = [(rs.statement_timeout_sql(self.timeout_s), _Step("setup"))]
        for load in loads:
            table = TABLES[load.table]
            staging = f"stage_{table.name}"
            batch += [
                (rs.staging_table_sql(table, staging), _Step("stage", table.name)),
                (rs.copy_sql(staging, table, load.location, self.iam_role_arn), _Step("copy", table.name)),
            ]
            # The rows the MERGE may write (merge_rules): each statement's rows affected is a count of the summary.
            for kind, sql in (
                ("superseded", superseded_sql(table, staging, rs.quote)),
                ("unchanged", unchanged_sql(table, staging, rs.quote)),
                ("changed", matched_touch_sql(table, staging, rs.quote)),
            ):
                if sql:
                    batch.append((sql, _Step(kind, table.name)))
            batch.append((rs.merge_sql(table, staging), _Step("merge", table.name)))
            # No DROP: a TEMP staging table ends with the batch's session.
            if derive := day_over_day_sql(table, staging, rs.quote):
                batch.append((derive, _Step("derive", table.name)))
        batch.append((rs.orphans_check_sql(FOREIGN_KEYS), _Step("fk", detail="foreign key violation")))
        return [sql for sql, _ in batch], [step for _, step in batch]

    def _failure_message(self, run_id: str, desc: Mapping[str, Any], steps: Sequence[_Step]) -> str:
        status, error = desc["Status"], desc.get("Error") or "no error message"
        failed = _failed_sub_statement(desc.get("SubStatements", []))
        head = f"warehouse load of run {run_id} {status} and was rolled back (statement {desc['Id']})"
        if failed is None:
            return f"{head}: {error}"
        index, sub = failed
        step = steps[index] if index < len(steps) else _Step("unknown")
        error = sub.get("Error") or error
        if step.kind == "fk":
            return f"{head}: {step.detail} ({error})"
        if step.kind == "copy":
            return f"{head}: COPY into {step.table} failed: {error}; {self._load_errors(sub.get('RedshiftQueryId'))}"
        return f"{head}: {step.kind} of {step.table or 'session'} failed: {error}"

    def _load_errors(self, query_id: int | None) -> str:
        """The row-level COPY errors, so the operator does not have to go and query them."""
        try:
            rows = self.query(rs.load_errors_sql(query_id))
        except EngineError as exc:
            return f"could not read sys_load_error_detail: {exc}"
        if not rows:
            return "sys_load_error_detail has no row for it"
        return "; ".join(
            f"{_strip(file)} line {line} column {_strip(column)}: {_strip(message)}"
            for file, line, column, message in rows
        )

    def _totals(self) -> dict[str, int]:
        rows = self.query(rs.counts_sql(list(TABLES)))
        return {str(name): int(n) for name, n in rows}


def _strip(value: Any) -> str:
    # sys_load_error_detail pads CHAR columns with blanks.
    return str(value).strip() if value is not None else "?"


def _field_value(field: Mapping[str, Any]) -> Any:
    """One typed Data API field as a Python value."""
    if field.get("isNull"):
        return None
    for key in ("longValue", "doubleValue", "booleanValue", "stringValue", "blobValue"):
        if key in field:
            return field[key]
    return None


def _typed_value(field: Mapping[str, Any], type_name: str) -> Any:
    """A field by its column's ColumnMetadata typeName: the Field union has no date member, so Redshift sends
    a DATE as a stringValue 'YYYY-MM-DD' (Data API reference, "Field")."""
    value = _field_value(field)
    if type_name == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    return value


_SUB_INDEX = re.compile(r":(\d+)$")


def _sub_index(sub: Mapping[str, Any], position: int) -> int:
    """0-based index of a sub-statement in the batch (its Id ends in ':<1-based n>')."""
    match = _SUB_INDEX.search(str(sub.get("Id", "")))
    return int(match.group(1)) - 1 if match else position


def _failed_sub_statement(subs: Sequence[Mapping[str, Any]]) -> tuple[int, Mapping[str, Any]] | None:
    for position, sub in enumerate(subs):
        if sub.get("Status") == "FAILED":
            return _sub_index(sub, position), sub
    return None


def _affected(subs: Sequence[Mapping[str, Any]], steps: Sequence[_Step]) -> dict[tuple[str, str], int]:
    """(step kind, table) -> the sub-statement's ResultRows (rows affected, or copied)."""
    by_kind: dict[tuple[str, str], int] = {}
    for position, sub in enumerate(subs):
        index = _sub_index(sub, position)
        rows = sub.get("ResultRows", -1)
        if index < len(steps) and rows is not None and rows >= 0:
            by_kind[(steps[index].kind, steps[index].table)] = int(rows)
    return by_kind


def _changes(
    subs: Sequence[Mapping[str, Any]], steps: Sequence[_Step], staged: Mapping[str, int]
) -> dict[str, dict[str, int]]:
    """What each table's batch did: the rows the merge_rules statements affected; the rest are new."""
    affected = _affected(subs, steps)
    out: dict[str, dict[str, int]] = {}
    for table, rows in staged.items():
        counts = {kind: affected.get((kind, table), 0) for kind in ("superseded", "unchanged", "changed")}
        out[table] = {**counts, "new": max(rows - sum(counts.values()), 0)}
    return out


def _rows_merged(subs: Sequence[Mapping[str, Any]], steps: Sequence[_Step]) -> dict[str, int]:
    """Rows per table from the COPY's ResultRows (the staged batch), else the MERGE's (rows affected)."""
    by_kind = _affected(subs, steps)
    merged: dict[str, int] = {}
    for step in steps:
        if step.kind == "copy":
            rows = by_kind.get(("copy", step.table), by_kind.get(("merge", step.table)))
            if rows is None:
                log.warning("the Data API reported no row count for %s; recording 0", step.table)
            merged[step.table] = rows or 0
    return merged
