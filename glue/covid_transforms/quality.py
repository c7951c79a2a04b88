"""Row validation and quarantine: every staged row is either accepted or quarantined, exactly once.

A feed module adds its derived columns (keys, normalised FIPS, resolved state),
then calls :func:`classify` with its own checks. ``classify`` adds two columns:

* ``_record``: the staged row as JSON (quarantine ``record``, and the final tie-break);
* ``_reason``: null for an accepted row, else the reason of the FIRST failing rule, in
  the fixed order: malformed row / unparseable value, missing required value, negative count, the
  feed's own checks (invalid fips, unknown state, ...), duplicate key.

Rows are never dropped: :func:`accepted` and :func:`quarantine` split the
classified frames on ``_reason`` and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from covid_pipeline import feeds

from . import keys
from .contract import staged_columns
from .frames import union_by_name

REASON = "_reason"
RECORD = "_record"

# Reason prefixes: stable (reports group on them); the detail follows a colon.
UNPARSEABLE = "unparseable value"
MALFORMED = "malformed row"  # Stage's row-shape error, first in _cast_errors (domain/staging_sql.py)
MISSING = "missing required value"
NEGATIVE = "negative count"
INVALID_FIPS = "invalid fips"
UNKNOWN_STATE = "unknown state"
OUT_OF_RANGE = "out of range"
DUPLICATE = "duplicate key"

# Cumulative counts start at zero and only grow: a negative one is a data error. Daily
# *_increase columns may be negative (corrections), and JHU's active (confirmed - deaths -
# recovered) goes negative on rows that carry recoveries or deaths without their cases
# ("Recovered, US", "Unassigned"): both allowed.
CUMULATIVE_COUNTS: tuple[str, ...] = (
    "confirmed",
    "deaths",
    "recovered",
    "cases",
    "positive",
    "negative",
    "total_test_results",
    "hospitalized_cumulative",
    "death",
)

_NUMERIC_STAGED_TYPES = frozenset({"bigint", "double"})


def required_values(feed: feeds.Feed) -> tuple[str, ...]:
    """Columns whose value must be present for a row to be usable: the row's identity.

    feeds.py's ``required`` is about a file's header. Of those columns, only the
    identifying ones (names, codes, dates) must also have a value: a blank count is
    kept as null (the contract's measures are nullable), because JHU's oldest layout
    leaves zero counts blank - writing 0 would alter a count, quarantining would drop
    a good row. The provenance column comes first: without it nothing can be traced.
    """
    identity = tuple(c.name for c in feed.columns if c.required and c.type not in _NUMERIC_STAGED_TYPES)
    return (feeds.SOURCE_OBJECT, *identity)


def record_json(feed: feeds.Feed) -> Column:
    """The staged row as JSON, every staged column in contract order, nulls included.

    Nulls are written out so the record shows the whole row, and the fixed column
    order makes the text - hence row_id and the tie-breaks - deterministic.
    """
    row = F.struct(*[F.col(name) for name in staged_columns(feed)])
    return F.to_json(row, {"ignoreNullFields": "false"})


def is_blank(col: Column) -> Column:
    """Null, or text that is empty after stripping whitespace."""
    return keys.is_blank(col.cast("string"))


def unparseable() -> Column:
    """Stage could not cast some text value, or the row's fields do not line up with the header (a
    "malformed row: ..." note, reported as is): the row's values cannot be trusted."""
    errors = F.col(feeds.CAST_ERRORS)
    return F.when(errors.startswith(MALFORMED), errors).when(
        errors.isNotNull(), F.concat(F.lit(f"{UNPARSEABLE}: "), errors)
    )


def missing_required(feed: feeds.Feed) -> Column:
    """The first required identity column (see required_values) without a value."""
    types = {c.name: c.type for c in feed.columns}

    def missing(name: str) -> Column:
        # A non-null date or number never prints blank: only text needs the whitespace test.
        return is_blank(F.col(name)) if types.get(name, "string") == "string" else F.col(name).isNull()

    return first_failure(*[F.when(missing(name), F.lit(f"{MISSING}: {name}")) for name in required_values(feed)])


def negative_count(feed: feeds.Feed) -> Column:
    """The first cumulative count column of the feed holding a negative value."""
    present = [c.name for c in feed.columns if c.name in CUMULATIVE_COUNTS]
    return first_failure(
        *[
            F.when(F.col(name) < 0, F.concat(F.lit(f"{NEGATIVE}: {name}="), F.col(name).cast("string")))
            for name in present
        ]
    )


def invalid_fips(column: str) -> Column:
    """A non-empty FIPS that is not 1..5 digits (after stripping and removing a trailing '.0')."""
    col = F.col(column)
    return F.when(keys.fips_is_invalid(col), F.concat(F.lit(f"{INVALID_FIPS}: '"), col, F.lit("'")))


def unknown_state(resolved: Column, raw: Column) -> Column:
    """The row names a state that no lookup resolves."""
    return F.when(resolved.isNull(), F.concat(F.lit(f"{UNKNOWN_STATE}: '"), F.coalesce(raw, F.lit("")), F.lit("'")))


def out_of_int_range(column: str) -> Column:
    """A bigint staged value that a contract ``int`` column cannot hold (casting would wrap it)."""
    col = F.col(column)
    too_big = (col < -(2**31)) | (col > 2**31 - 1)
    return F.when(too_big, F.concat(F.lit(f"{OUT_OF_RANGE}: {column}="), col.cast("string")))


def first_failure(*reasons: Column) -> Column:
    """The first non-null reason (null when every check passes)."""
    if not reasons:
        return F.lit(None).cast("string")
    return F.coalesce(*reasons) if len(reasons) > 1 else reasons[0]


def classify(
    df: DataFrame,
    feed: feeds.Feed,
    checks: Sequence[Column] = (),
    key: Sequence[tuple[str, Column]] = (),
    latest: Column | None = None,
    describe_kept: Callable[[Column], Column] | None = None,
    describe_key: Column | None = None,
) -> DataFrame:
    """Add ``_record`` and ``_reason`` to a staged feed (with its derived columns).

    ``checks`` are the feed's own rules, in order, after the common ones. ``key`` is
    the grain, as (label, expression) pairs: rows passing every check that share a
    key are duplicates (see mark_duplicates, and its ``latest``/``describe_kept``/``describe_key``).
    """
    reason = first_failure(unparseable(), missing_required(feed), negative_count(feed), *checks)
    # Built once, used twice: each Column is a round trip to the JVM, and a record names every column.
    record = record_json(feed)
    columns = df.columns
    checked = df.withColumn(REASON, reason)
    if key:
        checked = mark_duplicates(checked, key, record, latest, describe_kept, describe_key)
    return checked.select(*columns, record.alias(RECORD), REASON)


def mark_duplicates(
    df: DataFrame,
    key: Sequence[tuple[str, Column]],
    record: Column,
    latest: Column | None = None,
    describe_kept: Callable[[Column], Column] | None = None,
    describe_key: Column | None = None,
) -> DataFrame:
    """Among rows still accepted, keep one per key; the others get the duplicate reason.

    The kept row is the latest: by default the one from the greatest source object (the
    later snapshot: raw object names carry their date); a feed holding several reports
    of a key in one object (Enigma's JHU: several per region and day) passes ``latest``,
    an orderable column (greatest wins), and ``describe_kept`` to say in the reason which
    one was kept (given the kept row's ``latest`` value). Then the smallest record text
    (``record``, the row's record expression) - a total order, so the choice does not
    depend on partitioning. Rows already rejected take no part. ``describe_key``: the key as the
    reason says it (default: its labels and values), evaluated for duplicates only.

    One sort by (key, latest) serves two window passes, and the record is built
    only for the rows it decides between: those of a shared key that tie on its
    latest value (none at full scale). Sorting every row by its record instead costs
    a JSON text per row and makes the sort big enough to spill.
    """
    names = [f"_dup_key{i}" for i in range(len(key))]
    order = F.col(feeds.SOURCE_OBJECT) if latest is None else latest
    describe = describe_kept or (lambda kept: kept)
    # Plain columns, so that both window passes partition alike and share one shuffle and sort.
    # One step for every added column (each DataFrame operation re-analyses the whole plan on the driver).
    keyed = df.withColumns(
        {name: expr for name, (_, expr) in zip(names, key, strict=True)}
        | {"_dup_candidate": F.col(REASON).isNull(), "_dup_order": order}
    )
    group = Window.partitionBy(*names, "_dup_candidate")
    by_object = group.orderBy("_dup_order")
    whole = by_object.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    counted = keyed.withColumns(
        {
            "_dup_rows": F.count(F.lit(1)).over(whole),
            "_dup_latest": F.max("_dup_order").over(whole),
            "_dup_number": F.row_number().over(by_object),
        }
    )
    shared = F.col("_dup_rows") > 1
    contender = shared & F.col("_dup_order").eqNullSafe(F.col("_dup_latest"))
    # The smallest record among the latest object's rows; among identical rows, the first.
    kept = F.min(F.when(contender, F.struct(record.alias("r"), F.col("_dup_number").alias("n")))).over(group)["n"]
    key_text = describe_key
    if key_text is None:
        key_text = F.concat_ws(
            ", ",
            *[
                F.concat(F.lit(f"{label}="), F.coalesce(F.col(name).cast("string"), F.lit("null")))
                for name, (label, _) in zip(names, key, strict=True)
            ],
        )
    kept_text = F.coalesce(describe(F.col("_dup_latest")).cast("string"), F.lit("null"))
    duplicate = F.concat(F.lit(f"{DUPLICATE}: "), key_text, F.lit(" (kept "), kept_text, F.lit(")"))
    is_duplicate = F.col("_dup_candidate") & shared & (F.col("_dup_number") != kept)
    marked = F.when(is_duplicate, duplicate).otherwise(F.col(REASON))
    return counted.select(*[marked.alias(REASON) if name == REASON else F.col(name) for name in df.columns])


def accepted(classified: DataFrame) -> DataFrame:
    """The rows that passed every rule."""
    return classified.filter(F.col(REASON).isNull())


def rejected_rows(classified: DataFrame, feed: feeds.Feed) -> DataFrame:
    """The rejected rows of one classified feed: feed, source_object, reason, record.

    A frame without its ``_record`` (build_star caches them without) gets the same text from its staged
    columns, for the rejected rows only, in the same step.
    """
    record = F.col(RECORD) if RECORD in classified.columns else record_json(feed)
    return classified.filter(F.col(REASON).isNotNull()).select(
        F.lit(feed.name).alias("feed"),
        F.coalesce(F.col(feeds.SOURCE_OBJECT), F.lit("")).alias("source_object"),
        F.col(REASON).alias("reason"),
        record.alias("record"),
    )


def quarantine(classified: Mapping[str, DataFrame], run_id: str) -> DataFrame:
    """The rejected rows of every classified feed (feed name -> frame, with or without its record), as
    schema.QUARANTINE rows.

    row_id = sha256 hex of ``source_object || '|' || record``, stable across reruns.
    Byte-identical rows of one object (a raw file repeating a line) would share it,
    and the quarantine key must stay unique without dropping a row: the n-th copy
    (n >= 2) hashes ``... || '|' || n`` instead. One window over all feeds (not one
    per feed) numbers the copies: a single shuffle.
    """
    rejected = union_by_name([rejected_rows(df, feeds.FEEDS[name]) for name, df in sorted(classified.items())])
    identity = F.concat(F.col("source_object"), F.lit("|"), F.col("record"))
    copy_number = F.row_number().over(Window.partitionBy("source_object", "record").orderBy("reason"))
    hashed = F.when(copy_number == 1, identity).otherwise(F.concat(identity, F.lit("|"), copy_number))
    return rejected.select(
        F.sha2(hashed, 256).alias("row_id"),
        F.lit(run_id).alias("run_id"),
        "feed",
        "source_object",
        "reason",
        "record",
    )


def reason_prefix(reason: Column) -> Column:
    """The stable part of a reason (before the first colon)."""
    return F.substring_index(reason, ":", 1)
