"""Redshift SQL generated from the warehouse contract (schema.py): DDL, staging, COPY, MERGE, FK checks.

Pure functions, no I/O, so every statement can be checked by parsing it. Identifiers
come only from schema.py (and are validated and double-quoted anyway); every string
literal goes through :func:`literal`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from covid_pipeline.merge_rules import merged_value
from covid_pipeline.schema import Column, Table

REDSHIFT_TYPES = {
    "int": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE PRECISION",
    "string": "VARCHAR(65535)",
    "date": "DATE",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
}

# Narrower VARCHARs for provably short codes. Redshift stores only the bytes used, but it
# sizes sort, hash and join buffers by the *declared* width, and these are exactly the
# columns that get joined, grouped and filtered on. Free text (names, addresses, reasons,
# JSON records, URIs) stays at the maximum: a too-narrow width fails the whole COPY
# ("String length exceeds DDL length"), and silently truncating (TRUNCATECOLUMNS) is worse.
STRING_WIDTHS = {
    "row_id": 64,  # sha256 hex digest
    "level": 16,  # one of schema.REGION_LEVELS (a unit test checks they fit)
    "source": 32,  # jhu | nyt
    "fips": 16,  # 2- or 5-digit code
    "county_fips": 16,
    "state_abbr": 16,
    "zip": 16,  # 5-digit, zero-padded
    "source_etag": 64,  # md5 hex, plus "-<parts>" for multipart uploads
    "run_id": 256,
    "dataset": 256,
    "feed": 256,
    "source_object": 1100,  # "s3://" + bucket (<= 63) + "/" + key (<= 1024 bytes)
}

# Small dimensions are copied to every node (DISTSTYLE ALL) so fact joins never redistribute.
# Facts are spread on region_key (thousands of distinct values, part of their key, so the
# MERGE join with the staging table is co-located) and sorted on date_key, the usual filter.
DIST_ALL_KINDS = frozenset({"dimension"})
FACT_DISTKEY = "region_key"
FACT_SORTKEY = "date_key"

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,126}$")


def quote(identifier: str) -> str:
    """A double-quoted identifier; refuses anything that is not a plain lower-case name."""
    if not _IDENTIFIER.match(identifier):
        raise ValueError(f"not a valid warehouse identifier: {identifier!r}")
    return f'"{identifier}"'


def literal(text: str) -> str:
    """A single-quoted string literal (Redshift also treats backslash as an escape in literals)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def column_type(column: Column) -> str:
    if column.type == "string" and column.name in STRING_WIDTHS:
        return f"VARCHAR({STRING_WIDTHS[column.name]})"
    return REDSHIFT_TYPES[column.type]


def _column_defs(columns: tuple[Column, ...]) -> list[str]:
    return [f"{quote(c.name)} {column_type(c)}{'' if c.nullable else ' NOT NULL'}" for c in columns]


def _distribution(table: Table) -> str:
    names = table.column_names
    if table.kind in DIST_ALL_KINDS:
        return f"DISTSTYLE ALL SORTKEY ({', '.join(quote(k) for k in table.key)})"
    if table.kind == "fact" and FACT_DISTKEY in names and FACT_SORTKEY in names:
        return f"DISTSTYLE KEY DISTKEY ({quote(FACT_DISTKEY)}) SORTKEY ({quote(FACT_SORTKEY)})"
    # Operational tables (audit, quarantine) are small and queried ad hoc: let Redshift decide.
    return "DISTSTYLE AUTO"


def create_table_sql(table: Table) -> str:
    """``CREATE TABLE IF NOT EXISTS`` with NOT NULLs and the (informational) primary key."""
    defs = [*_column_defs(table.columns), f"PRIMARY KEY ({', '.join(quote(k) for k in table.key)})"]
    return f"CREATE TABLE IF NOT EXISTS {quote(table.name)} ({', '.join(defs)}) {_distribution(table)}"


def rename_columns_sql(table: Table) -> list[str]:
    """ALTER statements that bring a table of an older contract to this one's column names (Column.renamed_from).

    Redshift supports ``ALTER TABLE table_name RENAME COLUMN column_name TO new_name``
    (https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE.html). Run once per deployment made
    before the rename, e.g. ``ALTER TABLE "fact_testing_daily" RENAME COLUMN "death" TO "deaths"``.
    """
    return [
        f"ALTER TABLE {quote(table.name)} RENAME COLUMN {quote(old)} TO {quote(c.name)}"
        for c in table.columns
        for old in c.renamed_from
    ]


def staging_table_sql(table: Table, staging_name: str) -> str:
    """A session-local table with exactly the file columns, in contract order.

    ``LIKE target`` would also bring the load-time columns, which the Parquet files lack,
    and COPY from Parquet maps columns by position. NOT NULLs are kept so a null key fails
    in COPY, where sys_load_error_detail names the file and column.
    """
    dist = f" DISTKEY ({quote(FACT_DISTKEY)})" if table.kind == "fact" and FACT_DISTKEY in table.column_names else ""
    return f"CREATE TEMP TABLE {quote(staging_name)} ({', '.join(_column_defs(table.file_columns))}){dist}"


def copy_sql(staging_name: str, table: Table, s3_prefix: str, iam_role_arn: str) -> str:
    cols = ", ".join(quote(c.name) for c in table.file_columns)
    return (
        f"COPY {quote(staging_name)} ({cols}) FROM {literal(s3_prefix)} "
        f"IAM_ROLE {literal(iam_role_arn)} FORMAT AS PARQUET"
    )


def merge_sql(table: Table, staging_name: str) -> str:
    """Upsert the staged batch on the contract key; load-time columns are set to GETDATE().

    No aliases: Redshift's MERGE does not allow qualified names in ``UPDATE SET``, and
    qualifying the ON clause with full table names works on every Redshift version.
    """
    target, stage = quote(table.name), quote(staging_name)
    on = " AND ".join(f"{target}.{quote(k)} = {stage}.{quote(k)}" for k in table.key)
    file_cols = [c.name for c in table.file_columns]
    load_time = list(table.load_time_columns)

    def value(c: str) -> str:
        # The target's current value, qualified by the table's name as in the ON clause (no aliases).
        return merged_value(table, c, stage, target, quote)

    updates = [f"{quote(c)} = {value(c)}" for c in file_cols if c not in table.key]
    updates += [f"{quote(c)} = GETDATE()" for c in load_time]
    if not updates:  # a key-only table: Redshift still requires a WHEN MATCHED action
        updates = [f"{quote(table.key[0])} = {stage}.{quote(table.key[0])}"]
    insert_cols = ", ".join(quote(c) for c in file_cols + load_time)
    insert_vals = ", ".join([f"{stage}.{quote(c)}" for c in file_cols] + ["GETDATE()"] * len(load_time))
    return (
        f"MERGE INTO {target} USING {stage} ON {on} "
        f"WHEN MATCHED THEN UPDATE SET {', '.join(updates)} "
        f"WHEN NOT MATCHED THEN INSERT ({insert_cols}) VALUES ({insert_vals})"
    )


def orphan_message(child: str, column: str, parent: str, parent_column: str) -> str:
    return f"foreign key violation: rows of {child}.{column} without a {parent}.{parent_column} row"


def orphans_check_sql(foreign_keys: Sequence[tuple[str, str, str, str]]) -> str:
    """One SELECT that fails when any foreign key has orphans, naming each one with its count.

    The same data-dependent cast as orphan_check_sql, over all foreign keys at once: one
    statement of the batch instead of one per key (BatchExecuteStatement takes at most 40).
    """
    counts = []
    for n, (child, column, parent, parent_column) in enumerate(foreign_keys):
        c, p, col, pcol = quote(child), quote(parent), quote(column), quote(parent_column)
        counts.append(
            f"(SELECT COUNT(*) FROM {c} LEFT JOIN {p} ON {p}.{pcol} = {c}.{col} "
            f"WHERE {c}.{col} IS NOT NULL AND {p}.{pcol} IS NULL) AS o{n}"
        )
    total = " + ".join(f"q.o{n}" for n in range(len(foreign_keys)))
    detail = " || ".join(
        f"CASE WHEN q.o{n} > 0 THEN {literal(orphan_message(*fk) + ': ')} || CAST(q.o{n} AS VARCHAR) || '; ' "
        "ELSE '' END"
        for n, fk in enumerate(foreign_keys)
    )
    return (
        f"SELECT CASE WHEN {total} = 0 THEN 0 ELSE CAST({detail} AS INTEGER) END AS fk_check "
        f"FROM (SELECT {', '.join(counts)}) AS q"
    )


def orphan_check_sql(child: str, column: str, parent: str, parent_column: str) -> str:
    """A SELECT that *fails* when orphans exist, so the Data API batch (one transaction) rolls back.

    Redshift has no RAISE outside stored procedures, so the statement casts a message to
    INTEGER when the orphan count is non-zero. The message includes the count, which makes
    the expression data-dependent: a constant failing branch could be evaluated at plan
    time even when no orphan exists (the classic ``CASE ... ELSE 1/0`` trap).
    """
    c, p = quote(child), quote(parent)
    col, pcol = quote(column), quote(parent_column)
    message = literal(orphan_message(child, column, parent, parent_column) + ": ")
    return (
        f"SELECT CASE WHEN q.orphans = 0 THEN 0 "
        f"ELSE CAST({message} || CAST(q.orphans AS VARCHAR) AS INTEGER) END AS fk_check "
        f"FROM (SELECT COUNT(*) AS orphans FROM {c} LEFT JOIN {p} ON {p}.{pcol} = {c}.{col} "
        f"WHERE {c}.{col} IS NOT NULL AND {p}.{pcol} IS NULL) AS q"
    )


def statement_timeout_sql(timeout_s: float) -> str:
    return f"SET statement_timeout TO {max(int(timeout_s * 1000), 1)}"


def counts_sql(table_names: list[str]) -> str:
    """One row (table name, row count) per table."""
    return " UNION ALL ".join(
        f"SELECT {literal(name)} AS table_name, COUNT(*) AS n FROM {quote(name)}" for name in table_names
    )


def load_errors_sql(query_id: int | None, limit: int = 5) -> str:
    """Row-level COPY errors from sys_load_error_detail (Redshift Serverless and provisioned)."""
    where = f"WHERE query_id = {int(query_id)} " if query_id else ""
    return (
        "SELECT file_name, line_number, column_name, error_message FROM sys_load_error_detail "
        f"{where}ORDER BY start_time DESC LIMIT {int(limit)}"
    )


def loaded_etags_sql(uris: Sequence[str]) -> str:
    """(source_object, source_etag) pairs load_audit records for the given objects."""
    values = ", ".join(literal(u) for u in uris)
    return (
        f"SELECT DISTINCT source_object, source_etag FROM {quote('load_audit')} "
        f"WHERE source_object IN ({values}) AND source_etag IS NOT NULL"
    )


def is_missing_relation(message: str) -> bool:
    """Whether a Redshift error says a table does not exist (SQLSTATE 42P01)."""
    return "42P01" in message or ("relation" in message and "does not exist" in message)


def is_serialization_conflict(message: str) -> bool:
    """Whether a Redshift error is a serializable isolation violation (error 1023) between concurrent loads."""
    return "1023" in message or "serializable isolation violation" in message.lower()
