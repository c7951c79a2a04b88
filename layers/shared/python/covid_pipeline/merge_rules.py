"""The statements that decide, before a MERGE, which staged rows it may write (DuckDB and Redshift alike).

Run inside the load's transaction, after the batch is staged and before the MERGE:

* ``superseded_sql``: a staged row whose loaded row has a lower precedence (another feed
  wins that key, schema.Table.precedence) is dropped from the batch, so the warehouse
  holds the same row whatever order two feeds were loaded in;
* ``unchanged_sql``: a staged row equal to its loaded row is dropped from the batch
  (schema.Table.skip_unchanged): a publisher's whole-file rewrite changes only the rows
  that changed, and the day-over-day derivation then touches only those series;
* ``matched_count_sql``: how many staged rows replace a loaded row (the rest are new).

The counts (staged, superseded, unchanged, changed, new) are the load's summary.
``merged_value`` is what the MERGE writes into each column of a matched row.
"""

from __future__ import annotations

from collections.abc import Callable

from covid_pipeline.schema import Table


def _plain(identifier: str) -> str:
    return identifier


def _on(table: Table, t: str, s: str, quote: Callable[[str], str]) -> str:
    return " AND ".join(f"{t}.{quote(k)} = {s}.{quote(k)}" for k in table.key)


def merged_value(table: Table, column: str, staged: str, loaded: str, quote: Callable[[str], str] = _plain) -> str:
    """What a MERGE sets ``column`` of a matched row to; ``staged``/``loaded`` qualify the two rows' columns
    (an alias or a table name).

    A table that keeps known values (merge_keeps_known) takes the staged value only where it is
    not NULL; with a precedence column too, a known value is replaced only by the value of a row
    of lower or equal precedence, and the row keeps the lower precedence - so the result does not
    depend on the order the feeds were loaded in.
    """
    s, t = f"{staged}.{quote(column)}", f"{loaded}.{quote(column)}"
    if not table.merge_keeps_known:
        return s
    if not table.precedence:
        return f"COALESCE({s}, {t})"
    if column == table.precedence:
        return f"LEAST({s}, {t})"
    s_prec, t_prec = f"{staged}.{quote(table.precedence)}", f"{loaded}.{quote(table.precedence)}"
    return f"CASE WHEN {s_prec} <= {t_prec} THEN COALESCE({s}, {t}) ELSE COALESCE({t}, {s}) END"


def superseded_sql(table: Table, staging: str, quote: Callable[[str], str] = _plain) -> str | None:
    """DELETE the staged rows a loaded row of lower precedence wins; None for a table without precedence.

    Not for a table that keeps known values: its rows are merged attribute by attribute (merged_value).
    """
    if not table.precedence or table.merge_keeps_known:
        return None
    t, s, p = quote(table.name), quote(staging), quote(table.precedence)
    return f"DELETE FROM {s} USING {t} WHERE {_on(table, t, s, quote)} AND {t}.{p} < {s}.{p}"


def unchanged_sql(table: Table, staging: str, quote: Callable[[str], str] = _plain) -> str | None:
    """DELETE the staged rows equal to their loaded row; None for a table that is always rewritten.

    Equal means every file column but the key (NULL equals NULL); for a table whose merge
    keeps known values (a staged NULL never erases one), what the merge would leave as it is
    (a staged NULL, or a staged value of higher precedence than the loaded row's).
    """
    if not table.skip_unchanged:
        return None
    t, s = quote(table.name), quote(staging)

    def same(column: str) -> str:
        a, b = f"{s}.{quote(column)}", f"{t}.{quote(column)}"
        if table.merge_keeps_known and table.precedence:
            sp, tp = f"{s}.{quote(table.precedence)}", f"{t}.{quote(table.precedence)}"
            if column == table.precedence:
                return f"({a} >= {b})"
            return f"({a} IS NULL OR {a} = {b} OR ({sp} > {tp} AND {b} IS NOT NULL))"
        if table.merge_keeps_known:
            return f"({a} IS NULL OR {a} = {b})"
        return f"({a} = {b} OR ({a} IS NULL AND {b} IS NULL))"

    columns = [c.name for c in table.file_columns if c.name not in table.key]
    equal = " AND ".join(same(c) for c in columns) or "TRUE"
    return f"DELETE FROM {s} USING {t} WHERE {_on(table, t, s, quote)} AND {equal}"


def matched_count_sql(table: Table, staging: str, quote: Callable[[str], str] = _plain) -> str:
    """SELECT the number of staged rows that have a loaded row (the MERGE updates them)."""
    t, s = quote(table.name), quote(staging)
    return f"SELECT count(*) FROM {s} JOIN {t} ON {_on(table, t, s, quote)}"


def matched_touch_sql(table: Table, staging: str, quote: Callable[[str], str] = _plain) -> str:
    """A no-op UPDATE of the staged rows that have a loaded row: its rows-affected count is theirs.

    For an engine that reports counts as rows affected (the Redshift Data API's ResultRows), where
    reading a SELECT's result would cost another call per table.
    """
    t, s, k = quote(table.name), quote(staging), quote(table.key[0])
    return f"UPDATE {s} SET {k} = {s}.{k} FROM {t} WHERE {_on(table, t, s, quote)}"
