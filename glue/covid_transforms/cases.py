"""fact_cases_daily: cumulative cases per region, day and source, from JHU (both feeds) and the NYT (counties, states).

Grain (region_key, date_key, source). A CSSE daily report's day is its ``report_date``
(from the file name), never ``last_update``: a report dated 04-12 may carry an older
update stamp for a region that did not change, and it is still that region's 04-12
value. Enigma's copy of JHU has no report date: its day is Last_Update's, and of
several reports of a region on one day the latest wins.

Names are resolved to the regions they mean first (names.with_resolved_names), so the
grain is the resolved region: two rows of one report that mean one region (a renamed
country's stale row beside the new one, ``Cape Verde`` 1 and ``Cabo Verde`` 3 on
2020-03-21; ``Mainland China, Hebei`` 0 and ``China, Hebei`` 318 on 2020-03-12) are a
duplicate. The row kept is the later object's, then the one written as the lookup
writes the region, then the smaller record (Enigma: the later Last_Update first, the
day's last report); the other is quarantined with the reason. Where two feeds give the
same (region, day, source), the feed of lower precedence (feeds.Feed.precedence) wins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from covid_pipeline import feeds
from covid_pipeline.region_names import RegionResolver

from . import keys, quality
from .names import (
    AS_WRITTEN,
    RESOLVED_COUNTRY,
    RESOLVED_COUNTY,
    RESOLVED_STATE,
    NameSource,
    resolved_names,
    with_names,
    with_resolved_names,
)
from .regions import ENIGMA_PRIORITY, JHU_PRIORITY, NYT_PRIORITY, region_candidates

SOURCE_JHU = "jhu"
SOURCE_NYT = "nyt"
US = "US"


def _resolved_region(
    df: DataFrame, names: RegionResolver | DataFrame, country: Column, state: Column, county: Column
) -> DataFrame:
    """region_key, region_level and the FIPS at that level; the names themselves are added back later, where
    dim_region needs them (they would widen every row through the duplicate sort)."""
    named = with_resolved_names(df, names, country, state, county, keep_names=False)
    return named.withColumn("fips_norm", keys.fips_for_level(F.col("fips"), F.col("region_level")))


def _grain(source: str) -> list[tuple[str, Column]]:
    """The duplicate key: the (resolved) region, the day, the source."""
    return [("region_key", F.col("region_key")), ("date_key", F.col("date_key")), ("source", F.lit(source))]


def _described_grain(source: str, country: Column, state: Column, county: Column) -> Column:
    """The duplicate key as a reason says it (built for duplicates only): the region, and the names the row
    wrote it with (a stale alias of the kept row's shows here)."""
    written = [keys.normalise_part(c) for c in (country, state, county)]
    return F.concat(
        F.lit("region_key="), F.col("region_key").cast("string"),
        F.lit(" (country_region="), written[0], F.lit(", province_state="), written[1], F.lit(", county="), written[2],
        F.lit("), date_key="), F.col("date_key").cast("string"), F.lit(f", source={source}"),
    )  # fmt: skip


def jhu_names(staged: DataFrame) -> NameSource:
    """The names a JHU frame's rows are written with (for names.resolved_names)."""
    return staged, F.col("country_region"), F.col("province_state"), F.col("admin2")


def nyt_names(staged: DataFrame) -> NameSource:
    """The names an NYT frame's rows are written with: the US, the state, the county if the feed has one."""
    county = F.col("county") if "county" in staged.columns else F.lit(None).cast("string")
    return staged, F.lit(US), F.col("state"), county


def classify_jhu(staged: DataFrame, names: RegionResolver | DataFrame, feed: feeds.Feed = feeds.JHU_DAILY) -> DataFrame:
    """Validate JHU rows (a CSSE daily report or Enigma's copy); region from the resolved names, day = report_date.

    ``names``: a resolver, or the run's mapping of resolved names (names.resolved_names).
    """
    _, country, state, county = jhu_names(staged)
    derived = _resolved_region(staged, names, country, state, county).withColumn(
        "date_key", keys.date_key(F.col("report_date"))
    )
    stamp, obj, as_named = F.col("last_update"), F.col(feeds.SOURCE_OBJECT), F.col(AS_WRITTEN).alias("n")
    if feed.column("report_date").day_of:
        # Several reports of a place per day in one object: the day's last report wins (Last_Update as a
        # timestamp where it casts, ISO; else as text).
        latest = F.struct(stamp.cast("timestamp").alias("t"), stamp.alias("u"), as_named, obj.alias("o"))
        describe = lambda kept: F.concat(F.lit("the report of last_update="), kept["u"])  # noqa: E731
    else:
        # The later object, then the row named as the lookup names the region (the record breaks ties). Kept
        # narrow: at full scale this ordering is shuffled and sorted with every one of millions of rows.
        latest = F.struct(obj.alias("o"), as_named)
        describe = lambda kept: kept["o"]  # noqa: E731
    return quality.classify(
        derived,
        feed,
        checks=[quality.invalid_fips("fips")],
        key=_grain(SOURCE_JHU),
        latest=latest,
        describe_kept=describe,
        describe_key=_described_grain(SOURCE_JHU, country, state, county),
    )


def classify_nyt(
    staged: DataFrame, names: RegionResolver | DataFrame, feed: feeds.Feed = feeds.NYT_US_COUNTY
) -> DataFrame:
    """Validate NYT rows (counties, or states when the feed has no county); region = ('US', state, county).

    NYT leaves ``fips`` empty for "New York City", "Unknown" and merged areas: such
    rows are valid and keep their county name (the key is built from names).
    """
    _, country, state, county = nyt_names(staged)
    derived = _resolved_region(staged, names, country, state, county).withColumn(
        "date_key", keys.date_key(F.col("date"))
    )
    latest = F.struct(F.col(feeds.SOURCE_OBJECT).alias("o"), F.col(AS_WRITTEN).alias("n"))
    return quality.classify(
        derived,
        feed,
        checks=[quality.invalid_fips("fips")],
        key=_grain(SOURCE_NYT),
        latest=latest,
        describe_kept=lambda kept: kept["o"],
        describe_key=_described_grain(SOURCE_NYT, country, state, county),
    )


def _fact_rows(df: DataFrame, feed: feeds.Feed, source: str, confirmed: str) -> DataFrame:
    null_bigint = F.lit(None).cast("bigint")
    measures = {
        "confirmed": F.col(confirmed),
        "deaths": F.col("deaths"),
        "recovered": F.col("recovered") if "recovered" in df.columns else null_bigint,
        "active": F.col("active") if "active" in df.columns else null_bigint,
    }
    return df.select(
        "region_key",
        "date_key",
        F.lit(source).alias("source"),
        F.lit(feed.name).alias("feed"),
        F.lit(feed.precedence).alias("precedence"),
        *[expr.cast("bigint").alias(name) for name, expr in measures.items()],
        F.col(feeds.SOURCE_OBJECT).alias("source_object"),
    )


def fact_cases_daily(
    jhu_accepted: DataFrame | None,
    nyt_accepted: DataFrame | None,
    enigma_accepted: DataFrame | None = None,
    nyt_states_accepted: DataFrame | None = None,
) -> DataFrame:
    """Every source's accepted rows, one per (region_key, date_key, source); a feed given as None has no rows.

    Each feed has one row per key (duplicates are quarantined by its classifier); where
    feeds overlap, the lower precedence wins (then the later object). new_confirmed and
    new_deaths are not computed here: the previous day of a series may be in an earlier
    load, so the warehouse derives them after each merge (schema.FACT_CASES_DAILY.day_over_day,
    covid_pipeline.day_over_day).
    """
    given = [
        (jhu_accepted, feeds.JHU_DAILY, SOURCE_JHU, "confirmed"),
        (nyt_accepted, feeds.NYT_US_COUNTY, SOURCE_NYT, "cases"),
        (enigma_accepted, feeds.ENIGMA_JHU, SOURCE_JHU, "confirmed"),
        (nyt_states_accepted, feeds.NYT_US_STATES, SOURCE_NYT, "cases"),
    ]
    parts = [(_fact_rows(df, feed, source, count), feed, source) for df, feed, source, count in given if df is not None]
    return by_precedence(parts, ["region_key", "date_key", "source"])


def by_precedence(parts: Sequence[tuple[DataFrame, feeds.Feed, str]], key: list[str]) -> DataFrame:
    """The union of the feeds' rows, each feed's unique per ``key``; where feeds overlap, the lower precedence's.

    ``parts``: (rows, feed, group); feeds of one group give rows of the same key (JHU's daily reports and
    Enigma's copy). A feed's rows whose key a feed of its group with lower precedence has are left out:
    an anti-join per such feed, no sort of the whole fact, and no work at all when one side is empty
    (the usual run). Feeds of one group with equal precedence must not overlap (NYT's counties and states
    never do: their regions differ in level).
    """
    out: DataFrame | None = None
    for rows, feed, group in parts:
        kept = rows
        for better, better_feed, better_group in parts:
            if better_group == group and better_feed.precedence < feed.precedence:
                kept = kept.join(better.select(*key), on=key, how="left_anti")
        out = kept if out is None else out.unionByName(kept)
    if out is None:
        raise ValueError("by_precedence needs at least one feed")
    return out


def _named(rows: DataFrame, names: RegionResolver | DataFrame, written: Callable[[DataFrame], NameSource]) -> DataFrame:
    """``rows`` with their regions' resolved names (from the run's mapping, or a resolver's for these rows)."""
    if isinstance(names, RegionResolver):
        names = resolved_names(names, [written(rows)])
    return with_names(rows, names)


def jhu_regions(
    jhu_accepted: DataFrame, names: RegionResolver | DataFrame, feed: feeds.Feed = feeds.JHU_DAILY
) -> DataFrame:
    """dim_region candidates of JHU rows (resolved names, FIPS, coordinates); Enigma's rank after the reports."""
    return region_candidates(
        _named(jhu_accepted, names, jhu_names),
        ENIGMA_PRIORITY if feed is feeds.ENIGMA_JHU else JHU_PRIORITY,
        country=F.col(RESOLVED_COUNTRY),
        state=F.col(RESOLVED_STATE),
        county=F.col(RESOLVED_COUNTY),
        fips=F.col("fips_norm"),
        latitude=F.col("latitude"),
        longitude=F.col("longitude"),
    )


def nyt_regions(nyt_accepted: DataFrame, names: RegionResolver | DataFrame) -> DataFrame:
    """dim_region candidates of NYT rows (names, county or state FIPS)."""
    return region_candidates(
        _named(nyt_accepted, names, nyt_names),
        NYT_PRIORITY,
        country=F.col(RESOLVED_COUNTRY),
        state=F.col(RESOLVED_STATE),
        county=F.col(RESOLVED_COUNTY),
        fips=F.col("fips_norm"),
    )
