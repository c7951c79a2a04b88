"""What the report asks the warehouse, in SQL both DuckDB and Redshift accept.

Plain joins, CASE, COALESCE, ROW_NUMBER and AVG windows with an explicit ``ROWS BETWEEN`` frame (Redshift
requires the frame for an ordered aggregate window), CAST to DOUBLE PRECISION before averaging (Redshift's
AVG of an integer is an integer), SPLIT_PART (both have it, Load's rejected summary uses it); no date
arithmetic (days between dates are counted here, in Python) and no literal taken from the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from covid_pipeline.report.source import ReportSource
from covid_pipeline.schema import TABLES

# The 7-day average of a daily column over one series, ordered by day (7 rows: a day missing from the
# series stretches the window; the continuity check lists such gaps).
AVG7 = (
    "AVG(CAST({col} AS DOUBLE PRECISION)) OVER ({partition}ORDER BY {order} ROWS BETWEEN 6 PRECEDING AND CURRENT ROW)"
)
TOP_STATES = 5
MAX_LISTED = 50  # rows of a data-quality listing shown on the page (the counts are whole)


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def _run(source: ReportSource, sql: str) -> Result:
    columns, rows = source.query(sql)
    return Result([c.lower() for c in columns], [tuple(r) for r in rows])


def _avg7(col: str, order: str, partition: str = "") -> str:
    return AVG7.format(col=col, order=order, partition=f"PARTITION BY {partition} " if partition else "")


def rows_per_table(source: ReportSource) -> Result:
    sql = " UNION ALL ".join(f"SELECT '{name}' AS table_name, COUNT(*) AS row_count FROM {name}" for name in TABLES)
    return _run(source, sql)


def rejected_by_reason(source: ReportSource) -> Result:
    # The reason's text before its first colon is its kind ("duplicate key: <the key> ..."), as Load sums it.
    return _run(
        source,
        "SELECT SPLIT_PART(reason, ':', 1) AS reason, feed, COUNT(*) AS row_count FROM quarantine "
        "GROUP BY SPLIT_PART(reason, ':', 1), feed ORDER BY row_count DESC, reason, feed",
    )


def rejected_examples(source: ReportSource, limit: int = 10) -> Result:
    return _run(
        source,
        "SELECT feed, source_object, reason FROM ("
        "SELECT feed, source_object, reason, ROW_NUMBER() OVER (ORDER BY run_id DESC, row_id) AS rn FROM quarantine"
        f") q WHERE rn <= {int(limit)} ORDER BY rn",
    )


def audit_per_run(source: ReportSource, limit: int = 10) -> Result:
    return _run(
        source,
        "SELECT run_id, objects, rows_read, rows_loaded, rows_rejected, finished FROM ("
        "SELECT run_id, COUNT(*) AS objects, SUM(rows_read) AS rows_read, SUM(rows_loaded) AS rows_loaded, "
        "SUM(rows_rejected) AS rows_rejected, MAX(finished_at) AS finished, "
        "ROW_NUMBER() OVER (ORDER BY MAX(started_at) DESC, run_id) AS rn FROM load_audit GROUP BY run_id"
        f") a WHERE rn <= {int(limit)} ORDER BY rn",
    )


# -- data quality ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesGap:
    fact: str
    series_of: str  # the source (cases) or feed (testing) of the series
    region: str
    first_day: date
    last_day: date
    days: int
    missing: int


def _day(date_key: int) -> date:
    return date(date_key // 10000, date_key // 100 % 100, date_key % 100)


def _region_label() -> str:
    return "r.country_region || COALESCE(' / ' || r.province_state, '') || COALESCE(' / ' || r.county, '') AS region"


def series_continuity(source: ReportSource) -> list[SeriesGap]:
    """Every series (fact_cases_daily: region and source, as its day-over-day differences run;
    fact_testing_daily: region and feed) with its days from first to last and the days it lacks."""
    # Each series' days are aggregated before the region's names are joined (a few thousand series, not
    # millions of rows), and counted with COUNT(*): a fact's key (schema.py: cases region_key, date_key,
    # source; testing region_key, date_key) makes a series' rows its distinct days. COUNT(DISTINCT) over
    # the whole history's 7 M rows was most of the report's time (2.8 s of 6 on the bench's full home).
    sql = (
        f"SELECT s.fact, s.series_of, {_region_label()}, s.first_key, s.last_key, s.days FROM ("
        "SELECT 'fact_cases_daily' AS fact, source AS series_of, region_key, MIN(date_key) AS first_key, "
        "MAX(date_key) AS last_key, COUNT(*) AS days FROM fact_cases_daily GROUP BY source, region_key "
        "UNION ALL SELECT 'fact_testing_daily', feed, region_key, MIN(date_key), MAX(date_key), COUNT(*) "
        "FROM fact_testing_daily GROUP BY feed, region_key"
        ") s JOIN dim_region r ON r.region_key = s.region_key"
    )
    gaps = []
    for row in _run(source, sql).dicts():
        first, last = _day(int(row["first_key"])), _day(int(row["last_key"]))
        span = (last - first).days + 1
        gaps.append(
            SeriesGap(row["fact"], row["series_of"], row["region"], first, last, int(row["days"]), span - row["days"])
        )
    return sorted(gaps, key=lambda g: (-g.missing, g.fact, g.series_of, g.region))


def unresolved_regions(source: ReportSource) -> Result:
    return _run(
        source,
        "SELECT level, country_region, province_state, county, fips FROM dim_region WHERE in_lookup = FALSE "
        "ORDER BY country_region, province_state, county",
    )


def negative_counts(source: ReportSource) -> Result:
    return _run(
        source,
        "SELECT feed, SUM(CASE WHEN new_confirmed < 0 THEN 1 ELSE 0 END) AS negative_new_confirmed, "
        "SUM(CASE WHEN new_deaths < 0 THEN 1 ELSE 0 END) AS negative_new_deaths FROM fact_cases_daily "
        "WHERE new_confirmed < 0 OR new_deaths < 0 GROUP BY feed ORDER BY feed",
    )


def negative_rows(source: ReportSource, limit: int = MAX_LISTED) -> Result:
    return _run(
        source,
        f"SELECT feed, region, day, confirmed, new_confirmed, deaths, new_deaths FROM ("
        f"SELECT f.feed, {_region_label()}, d.date AS day, f.confirmed, f.new_confirmed, f.deaths, f.new_deaths, "
        "ROW_NUMBER() OVER (ORDER BY LEAST(COALESCE(f.new_confirmed, 0), COALESCE(f.new_deaths, 0)), f.date_key, "
        "f.region_key) AS rn FROM fact_cases_daily f JOIN dim_region r ON r.region_key = f.region_key "
        "JOIN dim_date d ON d.date_key = f.date_key WHERE f.new_confirmed < 0 OR f.new_deaths < 0"
        f") n WHERE rn <= {int(limit)} ORDER BY rn",
    )


# -- charts ---------------------------------------------------------------------------------------------------


def country_daily(source: ReportSource) -> Result:
    """Daily new cases and deaths of one country with 7-day averages: of each (country, source, level), the
    one with the most new cases; the regions of one level never overlap, so their sum counts nothing twice
    (a country's states add up to the country where the feed gives no country row)."""
    sql = (
        "WITH levels AS ("
        "SELECT r.country_region, f.source, r.level, SUM(COALESCE(f.new_confirmed, 0)) AS cases "
        "FROM fact_cases_daily f JOIN dim_region r ON r.region_key = f.region_key "
        "GROUP BY r.country_region, f.source, r.level), "
        "chosen AS (SELECT country_region, source, level FROM ("
        "SELECT country_region, source, level, "
        "ROW_NUMBER() OVER (ORDER BY cases DESC, country_region, source, level) AS rn FROM levels) c WHERE rn = 1), "
        "daily AS (SELECT c.country_region, c.source, c.level, d.date AS day, COUNT(*) AS regions, "
        "SUM(f.new_confirmed) AS new_cases, SUM(f.new_deaths) AS new_deaths "
        "FROM fact_cases_daily f JOIN dim_region r ON r.region_key = f.region_key "
        "JOIN chosen c ON c.country_region = r.country_region AND c.level = r.level AND c.source = f.source "
        "JOIN dim_date d ON d.date_key = f.date_key GROUP BY c.country_region, c.source, c.level, d.date) "
        "SELECT country_region, source, level, day, regions, "
        f"new_cases, {_avg7('new_cases', 'day')} AS new_cases_7d, "
        f"new_deaths, {_avg7('new_deaths', 'day')} AS new_deaths_7d "
        "FROM daily ORDER BY day"
    )
    return _run(source, sql)


def top_states_daily(source: ReportSource, top: int = TOP_STATES) -> Result:
    """Daily new cases and deaths with 7-day averages of the US states with the most cases, from the source
    with the most US state rows."""
    sql = (
        "WITH state_rows AS (SELECT f.region_key, f.source, f.date_key, f.confirmed, f.new_confirmed, "
        "f.new_deaths FROM fact_cases_daily f JOIN dim_region r ON r.region_key = f.region_key "
        "WHERE r.country_region = 'US' AND r.level = 'state'), "
        "best_source AS (SELECT source FROM (SELECT source, ROW_NUMBER() OVER (ORDER BY COUNT(*) DESC, source) AS rn "
        "FROM state_rows GROUP BY source) b WHERE rn = 1), "
        "chosen AS (SELECT s.* FROM state_rows s JOIN best_source b ON b.source = s.source), "
        "top_states AS (SELECT region_key, rank_no FROM (SELECT region_key, "
        "ROW_NUMBER() OVER (ORDER BY MAX(confirmed) DESC, region_key) AS rank_no FROM chosen GROUP BY region_key) t "
        f"WHERE rank_no <= {int(top)}) "
        "SELECT r.province_state AS state, c.source, t.rank_no, d.date AS day, "
        f"c.new_confirmed AS new_cases, {_avg7('c.new_confirmed', 'c.date_key', 'c.region_key')} AS new_cases_7d, "
        f"c.new_deaths, {_avg7('c.new_deaths', 'c.date_key', 'c.region_key')} AS new_deaths_7d "
        "FROM chosen c JOIN top_states t ON t.region_key = c.region_key "
        "JOIN dim_region r ON r.region_key = c.region_key JOIN dim_date d ON d.date_key = c.date_key "
        "ORDER BY t.rank_no, d.date"
    )
    return _run(source, sql)


def testing_positivity(source: ReportSource) -> Result:
    """Each state's cumulative share of positive tests on its latest day: positive / total test results
    (the COVID Tracking Project's own denominator), positive + negative where the total is missing."""
    sql = (
        "SELECT r.province_state AS state, r.state_abbr, d.date AS day, t.positive, t.negative, t.tests, "
        "100.0 * CAST(t.positive AS DOUBLE PRECISION) / t.tests AS positivity_pct FROM ("
        "SELECT region_key, date_key, positive, negative, "
        "COALESCE(NULLIF(total_test_results, 0), positive + negative) AS tests, "
        "ROW_NUMBER() OVER (PARTITION BY region_key ORDER BY date_key DESC) AS rn FROM fact_testing_daily "
        "WHERE positive IS NOT NULL AND COALESCE(NULLIF(total_test_results, 0), positive + negative) > 0) t "
        "JOIN dim_region r ON r.region_key = t.region_key JOIN dim_date d ON d.date_key = t.date_key "
        "WHERE t.rn = 1 AND r.level = 'state' ORDER BY positivity_pct DESC, state"
    )
    return _run(source, sql)


def icu_beds_per_100k(source: ReportSource) -> Result:
    """ICU beds of the hospitals in dim_hospital per 100,000 people of their state (dim_region's population,
    from JHU's UID lookup)."""
    sql = (
        "SELECT s.province_state AS state, h.state_abbr, h.hospitals, h.icu_beds, s.population, "
        "100000.0 * CAST(h.icu_beds AS DOUBLE PRECISION) / s.population AS icu_beds_per_100k FROM ("
        "SELECT state_abbr, COUNT(*) AS hospitals, SUM(COALESCE(icu_beds, 0)) AS icu_beds FROM dim_hospital "
        "WHERE state_abbr IS NOT NULL GROUP BY state_abbr) h JOIN ("
        "SELECT state_abbr, MAX(province_state) AS province_state, MAX(population) AS population FROM dim_region "
        "WHERE country_region = 'US' AND level = 'state' AND population > 0 GROUP BY state_abbr"
        ") s ON s.state_abbr = h.state_abbr ORDER BY icu_beds_per_100k DESC, state"
    )
    return _run(source, sql)
