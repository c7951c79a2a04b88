"""The Athena (Trino) SQL that turns one catalog table into canonical, typed rows of its feed.

Columns are matched by header *name* (see feeds.FeedColumn.matches), never by
position. Every value is cast with TRY_CAST; a non-empty value that does not cast
leaves NULL in its column and a note in ``_cast_errors``, so the Clean step can
quarantine the row with the reason instead of loading a silently-NULL count. A text
value holding U+FFFD (bytes that were not UTF-8, as the reader decodes them) is
noted the same way.

A row whose fields do not line up with the header is reported first in
``_cast_errors``, as ``malformed row: ...`` (Clean quarantines it with that reason),
when the catalog table says how to see it: its ``overflow_column`` parameter names
a trailing column after the header's, which a reader mapping fields by position
(OpenCSVSerDe, the local DuckDB view) fills with a row's field past the header's
last one, while it leaves a field missing from a short row NULL (an empty one is
``''``). Such a row is malformed when it has more fields than the header, when it
ends before the last column the feed reads (a short row missing only columns the
feed ignores, like the state table's DC row, is kept), or when a value holds a line
break (an unterminated quote swallows the lines after it; Athena reads one row per
line).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from covid_pipeline.feeds import CAST_ERRORS, DAY_FORMATS, EXTRA, SOURCE_OBJECT, Feed, FeedColumn, snake
from covid_pipeline.ports import CatalogColumn, CatalogTable

TRINO_TYPES = {"string": "VARCHAR", "bigint": "BIGINT", "double": "DOUBLE", "date": "DATE"}
# Catalog column types read as they are; any other (a crawler's bigint, double, struct...) is cast to text
# first: Stage types every value itself, and Trino's TRIM takes only text.
_TEXT_TYPES = frozenset({"string", "varchar", "char"})
# Catalog table parameter naming the trailing column that receives a row's extra field.
OVERFLOW_PARAMETER = "overflow_column"
# Prefix of the row-shape errors (Clean's quarantine reason for them).
MALFORMED = "malformed row"


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class TableMapping:
    feed: Feed
    source_columns: dict[str, str]  # canonical name -> catalog column
    missing_required: tuple[str, ...]
    unmapped: tuple[str, ...]  # catalog columns the feed does not know, snake_cased (reported)
    unmapped_sources: tuple[str, ...] = ()  # the same columns as the catalog names them (carried in EXTRA)
    source_types: dict[str, str] = field(default_factory=dict)  # catalog column -> its catalog type

    def raw(self, source: str) -> str:
        """The catalog column's value as text (untrimmed)."""
        if self.source_types.get(source, "string").lower().split("(")[0] in _TEXT_TYPES:
            return quote(source)
        return f"CAST({quote(source)} AS VARCHAR)"

    def text(self, source: str) -> str:
        """The catalog column's trimmed value as text, NULL when empty (the input of every cast)."""
        return f"NULLIF(TRIM({self.raw(source)}), '')"


def header_columns(table: CatalogTable) -> tuple[CatalogColumn, ...]:
    """The table's columns that come from the files' header (not its overflow column)."""
    overflow = table.parameters.get(OVERFLOW_PARAMETER)
    return tuple(c for c in table.columns if c.name != overflow and c.name != "$path")


def map_columns(feed: Feed, table: CatalogTable) -> TableMapping:
    mapped: dict[str, str] = {}
    used: set[str] = set()
    header = header_columns(table)
    for col in feed.columns:
        if col.derived:
            continue
        for cat_col in header:
            if cat_col.name not in used and col.matches(cat_col.name):
                mapped[col.name] = cat_col.name
                used.add(cat_col.name)
                break
    missing = tuple(name for name in feed.required if name not in mapped)
    extra = tuple(c.name for c in header if c.name not in used)
    types = {c.name: c.type for c in header}
    return TableMapping(feed, mapped, missing, tuple(snake(name) for name in extra), extra, types)


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


def day_of(text: str) -> str:
    """Trino expression: the day of a timestamp text in one of feeds.DAY_FORMATS (NULL for any other text).

    The date part (up to a space or 'T') picks its format by shape first, so a two-digit year
    is never read as the year 20 (feeds.parse_day is the same rule in Python).
    """
    part = f"split_part(replace({text}, 'T', ' '), ' ', 1)"
    whens = " ".join(
        f"WHEN regexp_like({part}, {literal(pattern)}) THEN TRY(CAST(date_parse({part}, {literal(fmt)}) AS DATE))"
        for pattern, _python, fmt in DAY_FORMATS
    )
    return f"CASE {whens} END"


def _date_expr(col: FeedColumn, mapping: TableMapping, feed: Feed) -> str | None:
    """The typed expression of a date column, as the SELECT computes it (None when the table lacks it)."""
    if col.from_path:
        date_text = f'regexp_extract("$path", {literal(feed.date_from_path or "")}, 1)'
        return f"TRY(CAST(date_parse({date_text}, {literal(feed.path_date_format or '')}) AS DATE))"
    if col.day_of:
        source = mapping.source_columns.get(col.day_of)
        return None if source is None else day_of(mapping.text(source))
    source = mapping.source_columns.get(col.name)
    return None if source is None else _typed(col, mapping.text(source))


def row_filter(mapping: TableMapping, selections: list[tuple[list[str], tuple[str, str] | None]]) -> str | None:
    """WHERE condition reading only the given objects, each group optionally limited to a date range.

    ``selections``: (object URIs, (from, to) ISO dates or None). Athena reads only the
    objects a ``"$path" IN (...)`` predicate names (the local engine does the same).
    """
    date_col = mapping.feed.date_column
    date_expr = _date_expr(mapping.feed.column(date_col), mapping, mapping.feed) if date_col else None
    terms = []
    for uris, date_range in selections:
        term = f'"$path" IN ({", ".join(literal(u) for u in uris)})'
        if date_range is not None and date_expr is not None:
            term += f" AND ({date_expr}) BETWEEN DATE {literal(date_range[0])} AND DATE {literal(date_range[1])}"
        terms.append(f"({term})")
    return " OR ".join(terms) if terms else None


def _row_shape_error(mapping: TableMapping, table: CatalogTable, short_rows: bool) -> str | None:
    """Expression giving a malformed row's error (NULL for a well-formed row); None when the reader cannot tell.

    ``short_rows``: whether every object read has exactly the table's header (a row ending
    early is then malformed); not so when a crawler grouped headers that add trailing columns.
    """
    overflow = table.parameters.get(OVERFLOW_PARAMETER)
    if not overflow:
        return None
    header = header_columns(table)
    n = len(header)
    raw = mapping.raw
    whens = [
        f"WHEN strpos({raw(c.name)}, chr(10)) > 0 THEN {literal(f'{MALFORMED}: the value of {c.name!r} spans ')}"
        f" || CAST(length({raw(c.name)}) - length(replace({raw(c.name)}, chr(10), '')) + 1 AS VARCHAR)"
        " || ' lines (unterminated quote?)'"
        for c in header
    ]
    whens.append(
        f"WHEN {quote(overflow)} IS NOT NULL THEN {literal(f'{MALFORMED}: more than {n} fields, header has {n}')}"
    )
    read = set(mapping.source_columns.values())
    last = max((i for i, c in enumerate(header) if c.name in read), default=None)
    if last is not None and short_rows:
        # The row ends before the last column read: its fields are those up to its last non-NULL column.
        present = " ".join(f"WHEN {quote(header[i].name)} IS NOT NULL THEN '{i + 1}'" for i in range(last - 1, -1, -1))
        count = f"CASE {present} ELSE '0' END" if present else "'0'"
        whens.append(
            f"WHEN {quote(header[last].name)} IS NULL THEN {literal(f'{MALFORMED}: ')} || {count}"
            f" || {literal(f' fields, header has {n}')}"
        )
    return f"CASE {' '.join(whens)} END"


def _extra(mapping: TableMapping) -> str:
    """Columns the feed does not know, as one JSON object per row: drift is carried in staging, not lost."""
    if not mapping.unmapped_sources:
        return "CAST(NULL AS VARCHAR)"
    names = ", ".join(literal(n) for n in mapping.unmapped)
    values = ", ".join(mapping.text(c) for c in mapping.unmapped_sources)
    return f"json_format(CAST(MAP(ARRAY[{names}], ARRAY[{values}]) AS JSON))"


def staging_query(mapping: TableMapping, table: CatalogTable, where: str | None = None, short_rows: bool = True) -> str:
    feed = mapping.feed
    selects: list[str] = []
    shape = _row_shape_error(mapping, table, short_rows)
    errors = [] if shape is None else [shape]
    for col in feed.columns:
        if col.from_path:
            typed = _date_expr(col, mapping, feed)
            selects.append(f"{typed} AS {quote(col.name)}")
            text = f"NULLIF(regexp_extract(\"$path\", {literal(feed.date_from_path or '')}, 1), '')"
            errors.append(
                f"CASE WHEN {text} IS NOT NULL AND ({typed}) IS NULL "
                f"THEN {literal(col.name + '=')} || {text} || ' (in the object key)' END"
            )
            continue
        if col.day_of:
            typed = _date_expr(col, mapping, feed)
            source = mapping.source_columns.get(col.day_of)
            if typed is None or source is None:
                selects.append(f"CAST(NULL AS DATE) AS {quote(col.name)}")
                continue
            selects.append(f"{typed} AS {quote(col.name)}")
            text = mapping.text(source)
            errors.append(
                f"CASE WHEN {text} IS NOT NULL AND ({typed}) IS NULL "
                f"THEN {literal(col.day_of + '=')} || {text} || ' (no date in it)' END"
            )
            continue
        source = mapping.source_columns.get(col.name)
        if source is None:
            selects.append(f"CAST(NULL AS {TRINO_TYPES[col.type]}) AS {quote(col.name)}")
            continue
        text = mapping.text(source)
        typed = _typed(col, text)
        selects.append(f"{typed} AS {quote(col.name)}")
        if col.type != "string":
            errors.append(
                f"CASE WHEN {text} IS NOT NULL AND ({typed}) IS NULL THEN {literal(col.name + '=')} || {text} END"
            )
        else:
            # U+FFFD: what the reader makes of bytes that are not UTF-8 (Athena and the local engine alike).
            errors.append(
                f"CASE WHEN strpos({text}, chr(65533)) > 0 "
                f"THEN {literal(col.name + '=')} || {text} || ' (not valid UTF-8)' END"
            )
    selects.append(f'"$path" AS {quote(SOURCE_OBJECT)}')
    cast_errors = f"NULLIF(concat_ws('; ', {', '.join(errors)}), '')" if errors else "CAST(NULL AS VARCHAR)"
    selects.append(f"{cast_errors} AS {quote(CAST_ERRORS)}")
    selects.append(f"{_extra(mapping)} AS {quote(EXTRA)}")
    query = "SELECT\n  " + ",\n  ".join(selects) + f"\nFROM {quote(table.database)}.{quote(table.name)}"
    return query if where is None else f"{query}\nWHERE {where}"
