"""DuckDB file standing in for Redshift: ``<home>/warehouse.duckdb``.

The load mirrors the Redshift one: in a single transaction, each table's Parquet
batch is copied into a staging table, rows that another feed's loaded row wins and
rows equal to the loaded ones are dropped from it (merge_rules), the rest is MERGEd
into the target on the contract's key (so a rerun updates instead of duplicating),
then foreign keys are checked; any failure rolls the whole load back. A table whose
prefix holds no Parquet file refuses the whole load (ports.BatchMissing), as Redshift's
COPY refuses such a prefix.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from covid_pipeline.adapters.local.object_store import LocalObjectStore
from covid_pipeline.day_over_day import day_over_day_sql, day_over_day_values
from covid_pipeline.domain.staging_sql import literal
from covid_pipeline.merge_rules import matched_count_sql, merged_value, superseded_sql, unchanged_sql
from covid_pipeline.ports import BatchMissing, EngineError, LoadResult, TableLoad, WarehouseBusy
from covid_pipeline.schema import FOREIGN_KEYS, TABLES, Table

DUCKDB_TYPES = {
    "int": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "date": "DATE",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
}
LOCK_WAIT_S = 600.0


def create_table_sql(table: Table, primary_key: bool = True) -> str:
    """The table's DDL; without ``primary_key`` for a table the load creates: add_primary_key_sql adds it after."""
    cols = [f"{c.name} {DUCKDB_TYPES[c.type]}{'' if c.nullable else ' NOT NULL'}" for c in table.columns]
    if primary_key:
        cols.append(f"PRIMARY KEY ({', '.join(table.key)})")
    return f"CREATE TABLE IF NOT EXISTS {table.name} (\n  " + ",\n  ".join(cols) + "\n)"


def add_primary_key_sql(table: Table) -> str:
    """The key of a table created without it, added once its first rows are in (same transaction).

    DuckDB then builds the key's index over the rows at once and checks them at COMMIT, which fails on a
    duplicate key ("PRIMARY KEY or UNIQUE constraint violation") and rolls the whole load back: the first
    load of 7 M facts inserted in 3.7 s instead of 7.3 s, its COMMIT 4.4 s either way (docs/performance.md;
    DuckDB 1.4, ALTER TABLE ... ADD PRIMARY KEY: https://duckdb.org/docs/stable/sql/statements/alter_table).
    """
    return f"ALTER TABLE {table.name} ADD PRIMARY KEY ({', '.join(table.key)})"


_LOAD_TIME = "now()::TIMESTAMP"  # the value of a table's load-time columns (finished_at)


def _inserted(table: Table) -> tuple[list[str], list[str]]:
    """The columns a new row is inserted with and their values, staged row ``s``: the file's, then load-time ones."""
    file_cols = [c.name for c in table.file_columns]
    load_time = list(table.load_time_columns)
    return file_cols + load_time, [f"s.{c}" for c in file_cols] + [_LOAD_TIME] * len(load_time)


def insert_sql(table: Table, staging: str, day_over_day: bool = False) -> str:
    """merge_sql's WHEN NOT MATCHED branch alone: what the MERGE does when no staged row matches a loaded one.

    ``day_over_day``: with the table's day-over-day columns taken within the batch, for a table that holds no
    row yet (no earlier day to seed a series: what day_over_day_sql's UPDATE would derive after the insert).
    """
    insert_cols, insert_vals = _inserted(table)
    if day_over_day:
        derived = day_over_day_values(table, "s")
        insert_cols, insert_vals = insert_cols + [c for c, _ in derived], insert_vals + [v for _, v in derived]
    return f"INSERT INTO {table.name} ({', '.join(insert_cols)}) SELECT {', '.join(insert_vals)} FROM {staging} AS s"


def merge_sql(table: Table, staging: str) -> str:
    on = " AND ".join(f"t.{k} = s.{k}" for k in table.key)
    file_cols = [c.name for c in table.file_columns]
    updates = [f"{c} = {merged_value(table, c, 's', 't')}" for c in file_cols if c not in table.key]
    updates += [f"{c} = {_LOAD_TIME}" for c in table.load_time_columns]
    insert_cols, insert_vals = _inserted(table)
    return (
        f"MERGE INTO {table.name} AS t USING {staging} AS s ON {on} "
        f"WHEN MATCHED THEN UPDATE SET {', '.join(updates)} "
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(insert_cols)}) VALUES ({', '.join(insert_vals)})"
    )


def conform_existing(con: duckdb.DuckDBPyConnection, table: Table) -> None:
    """Bring a table an older contract made to this contract's columns, or refuse with what differs.

    A column the contract renamed (Column.renamed_from) is renamed in place; any other difference
    (a file made by a newer or much older version) fails loudly rather than in the middle of a MERGE.
    """
    existing = [
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns "
            f"WHERE table_name = {literal(table.name)} AND table_schema = current_schema() ORDER BY ordinal_position"
        ).fetchall()
    ]
    for column in table.columns:
        old = next((name for name in column.renamed_from if name in existing), None)
        if column.name not in existing and old is not None:
            con.execute(f"ALTER TABLE {table.name} RENAME COLUMN {old} TO {column.name}")
            existing[existing.index(old)] = column.name
    if sorted(existing) != sorted(table.column_names):
        missing = sorted(set(table.column_names) - set(existing))
        unknown = sorted(set(existing) - set(table.column_names))
        raise EngineError(
            f"warehouse table {table.name} does not match the schema contract (missing columns {missing}, "
            f"unknown columns {unknown}): it was made by another version of covid-pipeline; move the warehouse "
            "file aside (or use another --home) and run again to rebuild it from the curated zone"
        )


def orphan_check_sql(child: str, column: str, parent: str, parent_column: str) -> str:
    return (
        f"SELECT count(*) FROM {child} c WHERE c.{column} IS NOT NULL AND NOT EXISTS "
        f"(SELECT 1 FROM {parent} p WHERE p.{parent_column} = c.{column})"
    )


class DuckDbWarehouse:
    def __init__(self, path: Path, store: LocalObjectStore, lock_wait_s: float = LOCK_WAIT_S) -> None:
        self.path = Path(path)
        self.store = store
        self.lock_wait_s = lock_wait_s

    def _connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        """Open the file, waiting while another process holds DuckDB's single-writer lock."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_wait_s
        delay = 0.05
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only and self.path.exists())
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise EngineError(f"cannot open warehouse {self.path}: {exc}") from exc
                if time.monotonic() > deadline:
                    raise WarehouseBusy(f"warehouse {self.path} still locked after {self.lock_wait_s:.0f} s") from exc
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    @staticmethod
    def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
        row = con.execute(sql).fetchone()
        return int(row[0]) if row else 0

    def _merge(self, con: duckdb.DuckDBPyConnection, table: Table, staging: str, created: bool) -> dict[str, int]:
        """Drop superseded and unchanged rows from the batch, MERGE the rest, derive day over day: the counts.

        ``created``: the load created the table (it holds no row): the batch is inserted with its day-over-day
        values, not updated after (the full history's 7 M facts: the UPDATE took 3.0 s of its load).
        """
        staged = self._count(con, f"SELECT count(*) FROM {staging}")
        counts = {"superseded": 0, "unchanged": 0}
        for name, sql in (("superseded", superseded_sql(table, staging)), ("unchanged", unchanged_sql(table, staging))):
            if sql:
                con.execute(sql)
                left = self._count(con, f"SELECT count(*) FROM {staging}")
                counts[name], staged = staged - left, left
        counts["changed"] = self._count(con, matched_count_sql(table, staging))
        counts["new"] = staged - counts["changed"]
        if created:
            con.execute(insert_sql(table, staging, day_over_day=True))
            return counts
        # No staged row matches a loaded one (a new day): the MERGE would only insert, and DuckDB's MERGE
        # inserted 7 M sorted rows in 7.3 s where INSERT ... SELECT takes 6.2 s (same rows, same values).
        con.execute(merge_sql(table, staging) if counts["changed"] else insert_sql(table, staging))
        if derive := day_over_day_sql(table, staging):
            con.execute(derive)
        return counts

    def load(self, run_id: str, loads: Sequence[TableLoad]) -> LoadResult:
        merged: dict[str, int] = {}
        changes: dict[str, dict[str, int]] = {}
        batches = {load.table: sorted(self.store.path(load.location).rglob("*.parquet")) for load in loads}
        for load in loads:
            if not batches[load.table]:
                # Redshift's COPY fails on a prefix that matches no object ("The specified S3 prefix ... does
                # not exist"; "COPY will terminate if no files are found":
                # https://docs.aws.amazon.com/redshift/latest/dg/loading-data-files-using-manifest.html).
                # Clean writes a file for every table, even an empty one: no file is a missing batch.
                raise BatchMissing(run_id, load)
        con = self._connect()
        try:
            con.execute("BEGIN TRANSACTION")
            # The unqualified names create_table_sql uses resolve to the current schema of this file.
            tables = con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND database_name = current_database() "
                "AND schema_name = current_schema()"
            ).fetchall()
            existing = {row[0] for row in tables}
            created = [table for table in TABLES.values() if table.name not in existing]
            empty = {table.name for table in created}
            for table in TABLES.values():
                con.execute(create_table_sql(table, primary_key=table.name in existing))
                conform_existing(con, table)
            for load in loads:
                table = TABLES[load.table]
                files = batches[load.table]
                staging = f"stage_{table.name}"
                cols = ", ".join(c.name for c in table.file_columns)
                # In key order: the primary key's index (kept up or built at once) and the checkpoint's compression
                # both gain (7 M facts into a table with its key: MERGE 11.3 s -> 7.3 s, COMMIT 6.7 s -> 4.7 s, for
                # 1.4 s of sorting).
                order = ", ".join(table.key)
                file_list = ", ".join(literal(str(f)) for f in files)
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {staging} AS "
                    f"SELECT {cols} FROM read_parquet([{file_list}], union_by_name = true) ORDER BY {order}"
                )
                merged[table.name] = self._count(con, f"SELECT count(*) FROM {staging}")
                changes[table.name] = self._merge(con, table, staging, created=table.name in empty)
                empty.discard(table.name)
                con.execute(f"DROP TABLE {staging}")
            for child, column, parent, parent_column in FOREIGN_KEYS:
                orphans = con.execute(orphan_check_sql(child, column, parent, parent_column)).fetchone()
                if orphans and orphans[0]:
                    raise EngineError(
                        f"load of run {run_id} would leave {orphans[0]} rows of {child}.{column} "
                        f"without a {parent} row; rolled back"
                    )
            totals = {
                name: int(con.execute(f"SELECT count(*) FROM {name}").fetchone()[0])  # type: ignore[index]
                for name in TABLES
            }
            for table in created:
                con.execute(add_primary_key_sql(table))
            con.execute("COMMIT")
        except duckdb.Error as exc:
            # A COMMIT that failed (a duplicate key of a created table) has rolled back already.
            with contextlib.suppress(duckdb.TransactionException):
                con.execute("ROLLBACK")
            raise EngineError(f"warehouse load failed and was rolled back: {exc}") from exc
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.close()
        return LoadResult(rows_merged=merged, rows_total=totals, changes=changes)

    def loaded_etags(self, uris: Sequence[str]) -> dict[str, set[str]]:
        if not self.path.exists() or not uris:
            return {}
        con = self._connect(read_only=True)
        try:
            if not con.execute("SELECT 1 FROM information_schema.tables WHERE table_name = 'load_audit'").fetchone():
                return {}
            # Literals, not a bound parameter: binding any Python value makes DuckDB import pandas (0.2 s of
            # every command's start; duckdb 1.4).
            rows = con.execute(
                "SELECT DISTINCT source_object, source_etag FROM load_audit "
                f"WHERE source_object IN ({', '.join(literal(u) for u in uris)}) AND source_etag IS NOT NULL"
            ).fetchall()
        except duckdb.Error as exc:
            raise EngineError(f"cannot read load_audit: {exc}") from exc
        finally:
            con.close()
        loaded: dict[str, set[str]] = {}
        for uri, etag in rows:
            loaded.setdefault(uri, set()).add(etag)
        return loaded

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if not self.path.exists():
            raise EngineError(f"no warehouse yet at {self.path}: run the pipeline first")
        con = self._connect(read_only=True)
        try:
            return con.execute(sql).fetchall()
        except duckdb.Error as exc:
            raise EngineError(str(exc).splitlines()[0]) from exc
        finally:
            con.close()

    def query_with_columns(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        if not self.path.exists():
            raise EngineError(f"no warehouse yet at {self.path}: run the pipeline first")
        con = self._connect(read_only=True)
        try:
            cur = con.execute(sql)
            names = [d[0] for d in cur.description or []]
            return names, cur.fetchall()
        except duckdb.Error as exc:
            raise EngineError(str(exc).splitlines()[0]) from exc
        finally:
            con.close()
