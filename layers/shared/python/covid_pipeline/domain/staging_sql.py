"""The Athena (Trino) SQL that turns one catalog table into canonical, typed rows of its feed.

Columns are matched by header *name* (see feeds.FeedColumn.matches), never by
position. Every value is cast with TRY_CAST; a non-empty value that does not cast
leaves NULL in its column and a note in ``_cast_errors``, so the Clean step can
quarantine the row with the reason instead of loading a silently-NULL count.
"""

from __future__ import annotations

from dataclasses import dataclass

from covid_pipeline.feeds import CAST_ERRORS, SOURCE_OBJECT, Feed, FeedColumn, snake
from covid_pipeline.ports import CatalogTable

TRINO_TYPES = {"string": "VARCHAR", "bigint": "BIGINT", "double": "DOUBLE", "date": "DATE"}


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class TableMapping:
    feed: Feed
    source_columns: dict[str, str]  # canonical name -> catalog column
    missing_required: tuple[str, ...]
    unmapped: tuple[str, ...]  # catalog columns the feed does not know (reported, carried nowhere)


def map_columns(feed: Feed, table: CatalogTable) -> TableMapping:
    mapped: dict[str, str] = {}
    used: set[str] = set()
    for col in feed.columns:
        if col.from_path:
            continue
        for cat_col in table.columns:
            if cat_col.name not in used and col.matches(cat_col.name):
                mapped[col.name] = cat_col.name
                used.add(cat_col.name)
                break
    missing = tuple(name for name in feed.required if name not in mapped)
    unmapped = tuple(snake(c.name) for c in table.columns if c.name not in used and c.name != "$path")
    return TableMapping(feed, mapped, missing, unmapped)


def _typed(col: FeedColumn, text: str) -> str:
    """Trino expression casting the trimmed text ``text`` to the column's type (NULL when it cannot)."""
    if col.type == "string":
        return text
    if col.type == "bigint":
        # Counts arrive as 12, 12.0 or 1.2e3; anything fractional is not a count.
        as_double = f"TRY_CAST({text} AS DOUBLE)"
        return f"CASE WHEN {as_double} = FLOOR({as_double}) THEN TRY_CAST({as_double} AS BIGINT) END"
    if col.type == "date" and col.date_format:
        return f"TRY(CAST(date_parse({text}, {literal(col.date_format)}) AS DATE))"
    return f"TRY_CAST({text} AS {TRINO_TYPES[col.type]})"


def staging_query(mapping: TableMapping, table: CatalogTable) -> str:
    feed = mapping.feed
    selects: list[str] = []
    errors: list[str] = []
    for col in feed.columns:
        if col.from_path:
            date_text = f'regexp_extract("$path", {literal(feed.date_from_path or "")}, 1)'
            expr = f"TRY(CAST(date_parse({date_text}, {literal(feed.path_date_format or '')}) AS DATE))"
            selects.append(f"{expr} AS {quote(col.name)}")
            continue
        source = mapping.source_columns.get(col.name)
        if source is None:
            selects.append(f"CAST(NULL AS {TRINO_TYPES[col.type]}) AS {quote(col.name)}")
            continue
        text = f"NULLIF(TRIM({quote(source)}), '')"
        typed = _typed(col, text)
        selects.append(f"{typed} AS {quote(col.name)}")
        if col.type != "string":
            errors.append(
                f"CASE WHEN {text} IS NOT NULL AND ({typed}) IS NULL THEN {literal(col.name + '=')} || {text} END"
            )
    selects.append(f'"$path" AS {quote(SOURCE_OBJECT)}')
    cast_errors = f"NULLIF(concat_ws('; ', {', '.join(errors)}), '')" if errors else "CAST(NULL AS VARCHAR)"
    selects.append(f"{cast_errors} AS {quote(CAST_ERRORS)}")
    return "SELECT\n  " + ",\n  ".join(selects) + f"\nFROM {quote(table.database)}.{quote(table.name)}"
