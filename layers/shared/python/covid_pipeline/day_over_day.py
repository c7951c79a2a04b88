"""The UPDATE that derives a table's day-over-day columns after a merge (DuckDB and Redshift alike).

Only the series the batch touched are recomputed, from the last row *before* the
batch's first day of each series (so a one-day upload on years of history reads two
rows per series, and a day loaded into the middle of a series also fixes the day
after it). The statement runs inside the load's transaction, after the MERGE.
"""

from __future__ import annotations

from collections.abc import Callable

from covid_pipeline.schema import Table


def _plain(identifier: str) -> str:
    return identifier


def day_over_day_values(table: Table, row: str, quote: Callable[[str], str] = _plain) -> list[tuple[str, str]]:
    """Each day-over-day column and its value over the rows aliased ``row``: the base minus the base of the
    series' previous row among them (null for a series' first row)."""
    series = ", ".join(f"{row}.{quote(c)}" for c in table.series)
    window = f"OVER (PARTITION BY {series} ORDER BY {row}.{quote(table.series_order)})"
    return [(name, f"{row}.{quote(base)} - LAG({row}.{quote(base)}) {window}") for name, base in table.day_over_day]


def day_over_day_sql(table: Table, staging: str, quote: Callable[[str], str] = _plain) -> str | None:
    """The UPDATE for ``table``'s day_over_day columns, given the staged batch; None when it has none."""
    if not table.day_over_day:
        return None
    t, s = quote(table.name), quote(staging)
    series = [quote(c) for c in table.series]
    order = quote(table.series_order)
    diffs = ", ".join(f"{value} AS {quote(name)}" for name, value in day_over_day_values(table, "f", quote))
    on = lambda a, b: " AND ".join(f"{a}.{c} = {b}.{c}" for c in series)  # noqa: E731
    first_days = f"SELECT {', '.join(series)}, MIN({order}) AS first_day FROM {s} GROUP BY {', '.join(series)}"
    starts = (
        f"SELECT {', '.join('b.' + c for c in series)}, b.first_day, MAX(p.{order}) AS from_day "
        f"FROM ({first_days}) AS b LEFT JOIN {t} AS p ON {on('p', 'b')} AND p.{order} < b.first_day "
        f"GROUP BY {', '.join('b.' + c for c in series)}, b.first_day"
    )
    derived = (
        f"SELECT {', '.join('f.' + c for c in series)}, f.{order}, b.first_day, {diffs} "
        f"FROM {t} AS f JOIN ({starts}) AS b ON {on('f', 'b')} AND f.{order} >= COALESCE(b.from_day, b.first_day)"
    )
    sets = ", ".join(f"{quote(name)} = d.{quote(name)}" for name, _ in table.day_over_day)
    keys = " AND ".join(f"{t}.{c} = d.{c}" for c in [*series, order])
    # The row before the batch only seeds the window (its own LAG is not known here): not updated.
    return f"UPDATE {t} SET {sets} FROM ({derived}) AS d WHERE {keys} AND d.{order} >= d.first_day"
