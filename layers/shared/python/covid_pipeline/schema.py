"""The warehouse contract: every curated table, its columns, types and key.

This module is the single source of truth for the star schema. The Glue job
selects and casts its outputs from it, the warehouse adapters derive their DDL
and MERGE statements from it, and the tests check the loaded tables against it.
"""

from __future__ import annotations

from dataclasses import dataclass

# Logical types, mapped per engine (Spark, DuckDB, Redshift) by the adapters.
LOGICAL_TYPES = frozenset({"int", "bigint", "double", "string", "date", "boolean", "timestamp"})


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True
    doc: str = ""

    def __post_init__(self) -> None:
        if self.type not in LOGICAL_TYPES:
            raise ValueError(f"column {self.name}: unknown logical type {self.type!r}")


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    doc: str
    kind: str  # "dimension" | "fact" | "operational"
    # Columns the warehouse fills itself at load time (absent from the curated Parquet).
    load_time_columns: tuple[str, ...] = ()
    # Day-over-day differences the warehouse derives after each merge, (column, base column):
    # base minus the base of the previous row of the same series (``series`` columns, ordered by
    # ``series_order``). Derived in the warehouse because the previous day may be in an earlier load.
    day_over_day: tuple[tuple[str, str], ...] = ()
    series: tuple[str, ...] = ()
    series_order: str = ""
    # A batch's NULL never erases a value an earlier load knew: a batch may hold only some of the
    # feeds that describe a row (an NYT-only upload knows no coordinates of a county JHU placed).
    merge_keeps_known: bool = False
    # Where two feeds give the same key, the row of the lower value of this column wins, in one
    # batch (Clean) and across loads (the warehouse never replaces a row by one of higher value).
    # With merge_keeps_known, attribute by attribute: a known value is replaced only by a value of
    # a row of lower or equal precedence; the merged row keeps the lower precedence.
    precedence: str = ""
    # Whether a batch row equal to the loaded one is left alone (counted as unchanged, not rewritten).
    skip_unchanged: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def warehouse_columns(self) -> tuple[str, ...]:
        """Columns the warehouse fills (load time, day over day): absent from the curated Parquet."""
        return (*self.load_time_columns, *(name for name, _ in self.day_over_day))

    @property
    def file_columns(self) -> tuple[Column, ...]:
        """Columns present in the curated Parquet files (what COPY reads)."""
        return tuple(c for c in self.columns if c.name not in self.warehouse_columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


def _c(name: str, type_: str, nullable: bool = True, doc: str = "") -> Column:
    return Column(name, type_, nullable, doc)


DIM_DATE = Table(
    "dim_date",
    (
        _c("date_key", "int", False, "yyyymmdd"),
        _c("date", "date", False),
        _c("year", "int", False),
        _c("quarter", "int", False),
        _c("month", "int", False),
        _c("day", "int", False),
        _c("day_of_week", "int", False, "ISO: Monday=1 .. Sunday=7"),
        _c("week_of_year", "int", False, "ISO week"),
        _c("is_weekend", "boolean", False),
    ),
    key=("date_key",),
    doc="One row per calendar day that any fact refers to.",
    kind="dimension",
    skip_unchanged=True,
)

DIM_REGION = Table(
    "dim_region",
    (
        _c("region_key", "bigint", False, "keys.region_key(country, state, county)"),
        _c("level", "string", False, "country | state | county"),
        _c("country_region", "string", False),
        _c("province_state", "string"),
        _c("county", "string"),
        _c("fips", "string", doc="5-digit county or 2-digit state FIPS, zero-padded text"),
        _c("state_abbr", "string"),
        _c("latitude", "double"),
        _c("longitude", "double"),
        _c("population", "bigint"),
        _c(
            "in_lookup",
            "boolean",
            doc="whether JHU's UID lookup knows the region; false: kept as a feed wrote it (unresolved)",
        ),
        _c("precedence", "int", False, "priority of the feed the attributes come from: 0 the lookup, then JHU ..."),
    ),
    key=("region_key",),
    doc="Countries, states/provinces and counties, keyed by their normalised names.",
    kind="dimension",
    merge_keeps_known=True,
    precedence="precedence",
    skip_unchanged=True,
)

DIM_HOSPITAL = Table(
    "dim_hospital",
    (
        _c("hospital_key", "bigint", False, "keys.hospital_key(state_abbr, zip, name, address)"),
        _c("name", "string", False),
        _c("type", "string"),
        _c("address", "string"),
        _c("city", "string"),
        _c("state_abbr", "string"),
        _c("zip", "string", doc="5-digit, zero-padded"),
        _c("county_fips", "string"),
        _c("region_key", "bigint", doc="the hospital's county in dim_region"),
        _c("licensed_beds", "int"),
        _c("staffed_beds", "int"),
        _c("icu_beds", "int"),
        _c("adult_icu_beds", "int"),
        _c("pediatric_icu_beds", "int"),
        _c("bed_utilization", "double"),
        _c("avg_ventilator_usage", "double"),
        _c("latitude", "double"),
        _c("longitude", "double"),
    ),
    key=("hospital_key",),
    doc="US hospitals and their bed capacity (Definitive Healthcare).",
    kind="dimension",
    skip_unchanged=True,
)

FACT_CASES_DAILY = Table(
    "fact_cases_daily",
    (
        _c("region_key", "bigint", False),
        _c("date_key", "int", False),
        _c("source", "string", False, "jhu | nyt"),
        _c("confirmed", "bigint"),
        _c("deaths", "bigint"),
        _c("recovered", "bigint"),
        _c("active", "bigint"),
        _c(
            "new_confirmed",
            "bigint",
            doc="confirmed minus the previous loaded day of the same region and source (set by the warehouse)",
        ),
        _c("new_deaths", "bigint", doc="deaths minus the previous loaded day (set by the warehouse)"),
        _c("feed", "string", False, "the feed the row came from (feeds.FEEDS name, e.g. jhu_daily, enigma_jhu)"),
        _c("precedence", "int", False, "the feed's precedence: of two feeds giving one key, the lower wins"),
        _c("source_object", "string", False, "raw object the row came from (lineage)"),
    ),
    key=("region_key", "date_key", "source"),
    doc="Cumulative cases per region and day, one row per source (JHU, NYT).",
    kind="fact",
    day_over_day=(("new_confirmed", "confirmed"), ("new_deaths", "deaths")),
    series=("region_key", "source"),
    series_order="date_key",
    precedence="precedence",
    skip_unchanged=True,
)

FACT_TESTING_DAILY = Table(
    "fact_testing_daily",
    (
        _c("region_key", "bigint", False, "the state's region_key"),
        _c("date_key", "int", False),
        _c("positive", "bigint"),
        _c("negative", "bigint"),
        _c("pending", "bigint"),
        _c("total_test_results", "bigint"),
        _c("hospitalized_currently", "bigint"),
        _c("hospitalized_cumulative", "bigint"),
        _c("in_icu_currently", "bigint"),
        _c("on_ventilator_currently", "bigint"),
        _c("recovered", "bigint"),
        _c("death", "bigint"),
        _c("positive_increase", "bigint"),
        _c("negative_increase", "bigint"),
        _c("feed", "string", False, "ctp_states_daily | ctp_us_daily | ctp_us_latest"),
        _c("precedence", "int", False, "the feed's precedence: of two feeds giving one key, the lower wins"),
        _c("source_object", "string", False),
    ),
    key=("region_key", "date_key"),
    doc="COVID Tracking Project testing per US state and day, and for the whole US (the country region) per day.",
    kind="fact",
    precedence="precedence",
    skip_unchanged=True,
)

LOAD_AUDIT = Table(
    "load_audit",
    (
        _c("run_id", "string", False),
        _c("source_object", "string", False),
        _c("dataset", "string", False, "data lake dataset name (raw prefix)"),
        _c("source_etag", "string"),
        _c("source_size", "bigint"),
        _c("rows_read", "bigint", False),
        _c("rows_loaded", "bigint", False),
        _c("rows_rejected", "bigint", False),
        _c("started_at", "timestamp", False),
        _c("finished_at", "timestamp", doc="set by the warehouse when the load commits"),
    ),
    key=("run_id", "source_object"),
    doc="One row per source object per run: what was read, loaded and rejected.",
    kind="operational",
    load_time_columns=("finished_at",),
)

QUARANTINE = Table(
    "quarantine",
    (
        _c("row_id", "string", False, "sha256 of source_object + record: stable across reruns"),
        _c("run_id", "string", False, "run that last rejected the row"),
        _c("feed", "string", False, "feeds.FEEDS name, e.g. jhu_daily"),
        _c("source_object", "string", False),
        _c("reason", "string", False),
        _c("record", "string", False, "the staged row as JSON"),
    ),
    key=("row_id",),
    doc="Rows that could not be trusted, with the reason; never silently dropped.",
    kind="operational",
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        DIM_DATE,
        DIM_REGION,
        DIM_HOSPITAL,
        FACT_CASES_DAILY,
        FACT_TESTING_DAILY,
        LOAD_AUDIT,
        QUARANTINE,
    )
}

# Load order: dimensions before the facts that reference them.
LOAD_ORDER: tuple[str, ...] = tuple(TABLES)

# Foreign keys, checked by tests and by the warehouse's post-load checks.
FOREIGN_KEYS: tuple[tuple[str, str, str, str], ...] = (
    ("fact_cases_daily", "region_key", "dim_region", "region_key"),
    ("fact_cases_daily", "date_key", "dim_date", "date_key"),
    ("fact_testing_daily", "region_key", "dim_region", "region_key"),
    ("fact_testing_daily", "date_key", "dim_date", "date_key"),
    ("dim_hospital", "region_key", "dim_region", "region_key"),
)
