"""Order-independent checksums of the warehouse's tables, to tell whether two loads left the same state.

    from bench.checksums import table_checksums, duplicate_keys
    before = table_checksums(home / "warehouse.duckdb")
    ...  # re-run, re-upload, load concurrently
    assert table_checksums(home / "warehouse.duckdb") == before

What is hashed, per contract table of ``schema.TABLES`` present in the file:

* every row, as JSON of its columns by name (so NULL, '' and 0 differ and column names count), each
  row's md5 summed into 128 bits: the digest does not depend on row order or on how the loads
  interleaved, and a duplicated row changes it (a sum, not a XOR, so two equal rows do not cancel);
* except the columns that legitimately differ from one run to the next (``volatile_columns``): the
  warehouse's load-time columns (``Table.load_time_columns``, e.g. ``load_audit.finished_at``) and the
  run's identity (``run_id``, ``started_at``). The day-over-day columns (``new_confirmed``...) are
  warehouse-filled too but are a function of the data, so they ARE hashed: a load order that changes
  them is exactly what a reliability check must catch;
* ``load_audit`` gains a row per object per run, so a re-run always grows it. Its digest covers only
  the latest row per (source_object, source_etag): what the warehouse last recorded for each version
  of each object. Its ``rows`` is therefore the number of object versions, not of audit rows;
  ``row_counts`` gives the plain counts.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import duckdb

from covid_pipeline.schema import TABLES, Table

# Columns naming the run that wrote a row, or when: they differ on every re-run by design.
RUN_IDENTITY_COLUMNS = ("run_id", "started_at")
LOCK_WAIT_S = 600.0


class Checksum(NamedTuple):
    rows: int
    digest: str


def volatile_columns(table: Table) -> tuple[str, ...]:
    """The columns of ``table`` left out of its checksum (see the module docstring)."""
    names = set(table.column_names)
    return (*table.load_time_columns, *(c for c in RUN_IDENTITY_COLUMNS if c in names))


@contextmanager
def connect(
    con_or_path: duckdb.DuckDBPyConnection | str | Path, wait_s: float = LOCK_WAIT_S
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The connection as given, or a read-only one to the file, waiting while a load holds DuckDB's lock."""
    if isinstance(con_or_path, duckdb.DuckDBPyConnection):
        yield con_or_path
        return
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(con_or_path), read_only=True)
            break
        except duckdb.IOException as exc:
            # Only the single-writer lock is worth waiting for; anything else is a real error.
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    try:
        yield con
    finally:
        con.close()


def _present(con: duckdb.DuckDBPyConnection, tables: Iterable[str] | None) -> dict[str, list[str]]:
    """{table: its columns in the file}, for the wanted contract tables that exist."""
    wanted = list(TABLES) if tables is None else list(tables)
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    ).fetchall()
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(table, []).append(column)
    return {name: columns[name] for name in wanted if name in columns}


def _source(name: str) -> str:
    """The rows a table's checksum covers: all of them, but only the latest audit row per object version."""
    if name != "load_audit":
        return name
    return (
        "(SELECT * FROM load_audit QUALIFY row_number() OVER (PARTITION BY source_object, source_etag "
        "ORDER BY finished_at DESC NULLS LAST, started_at DESC, run_id DESC) = 1)"
    )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def table_checksums(
    con_or_path: duckdb.DuckDBPyConnection | str | Path, tables: Iterable[str] | None = None
) -> dict[str, Checksum]:
    """{table: (rows, digest)} for each contract table in the warehouse (all of ``schema.TABLES`` by default)."""
    out: dict[str, Checksum] = {}
    with connect(con_or_path) as con:
        for name, columns in _present(con, tables).items():
            skip = set(volatile_columns(TABLES[name]))
            # Sorted by name: a column moved in the DDL is the same data.
            kept = sorted(c for c in columns if c not in skip)
            row_json = "to_json(struct_pack(" + ", ".join(f"{_quote(c)} := {_quote(c)}" for c in kept) + "))"
            # Each 128-bit hash summed as two UBIGINT halves: DuckDB sums UBIGINT exactly into a
            # HUGEINT, whereas a sum of UHUGEINT is a DOUBLE, lossy and dependent on row order.
            count, upper, lower = con.execute(
                "SELECT count(*), coalesce(sum((h >> 64)::UBIGINT), 0)::VARCHAR, "
                "coalesce(sum((h & 18446744073709551615::UHUGEINT)::UBIGINT), 0)::VARCHAR "
                f"FROM (SELECT md5_number({row_json}) AS h FROM {_source(name)})"
            ).fetchone()  # type: ignore[misc]
            text = f"{name}|{','.join(kept)}|{count}|{upper}|{lower}"
            out[name] = Checksum(int(count), hashlib.sha256(text.encode()).hexdigest()[:16])
    return out


def row_counts(con_or_path: duckdb.DuckDBPyConnection | str | Path) -> dict[str, int]:
    """Plain row count of each contract table present (load_audit: every audit row of every run)."""
    with connect(con_or_path) as con:
        return {
            name: int(con.execute(f"SELECT count(*) FROM {name}").fetchone()[0])  # type: ignore[index]
            for name in _present(con, None)
        }


def duplicate_keys(con_or_path: duckdb.DuckDBPyConnection | str | Path) -> dict[str, int]:
    """{table: rows minus distinct contract keys}: 0 everywhere unless a key was loaded twice.

    DuckDB's PRIMARY KEY already refuses duplicates, Redshift's does not (it is informational only),
    so this is the check that holds on both.
    """
    out: dict[str, int] = {}
    with connect(con_or_path) as con:
        for name in _present(con, None):
            key = ", ".join(_quote(k) for k in TABLES[name].key)
            rows, distinct = con.execute(f"SELECT count(*), count(DISTINCT ({key})) FROM {name}").fetchone()  # type: ignore[misc]
            out[name] = int(rows) - int(distinct)
    return out


def differences(before: dict[str, Checksum], after: dict[str, Checksum]) -> list[str]:
    """One line per table whose checksum changed (or that appeared or disappeared)."""
    lines = []
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name), after.get(name)
        if a != b:
            lines.append(f"{name}: {a} -> {b}")
    return lines
