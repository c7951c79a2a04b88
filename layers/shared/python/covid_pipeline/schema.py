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
    # Earlier names of the column in this table: a warehouse made by an older contract is migrated
    # by renaming (local: DuckDbWarehouse; Redshift: see redshift_sql.rename_column_sql).
    renamed_from: tuple[str, ...] = ()

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


def _c(name: str, type_: str, nullable: bool = True, doc: str = "", renamed_from: tuple[str, ...] = ()) -> Column:
    return Column(name, type_, nullable, doc, renamed_from)


# dim_region.level: every value the column may hold, with its meaning (region_levels.py assigns them
# from reference/region_levels.csv; a test checks loaded data holds no other value).
REGION_LEVELS: dict[str, str] = {
    "country": "a country, or an area JHU reports as one (Kosovo, West Bank and Gaza)",
    "state": "a state, province or territory of a country (US: the 50 states, DC and the territories)",
    "county": "a county or county equivalent below a state (US: a Census county with its 5-digit FIPS); "
    "also a place below a state that early JHU reports named (Seattle, Toronto), kept as written",
    "city": "a US city reported as one area in place of the counties it spans or lies in: "
    "New York City (the five boroughs: the counties Bronx, Kings, New York, Queens, Richmond), "
    "Kansas City, Joplin",
    "county_group": "several counties JHU reports as one: Dukes and Nantucket (MA), Utah's health districts",
    "ship": "a cruise ship's passengers: Diamond Princess, Grand Princess, MS Zaandam (as a country, or counted "
    "by the passengers' country: province_state names the ship), and the sites below it where they were "
    "quarantined",
    "aggregate": "a count with no place: JHU's Recovered rows (a country's recoveries, reported as a province "
    "of US and Canada), Canada's Repatriated Travellers",
    "institution": "cases an institution reports rather than a place: US Military, Federal Bureau of Prisons, "
    "Veteran Hospitals, Michigan's prisons",
    "unassigned": "cases a state or country could not place: Unassigned, Out of <state>, NYT's Unknown, "
    "Pending County Assignment, a province named Unknown",
}


def _levels_doc() -> str:
    return "what kind of region the row is: " + "; ".join(f"`{k}`: {v}" for k, v in REGION_LEVELS.items())


DIM_DATE = Table(
    "dim_date",
    (
        _c("date_key", "int", False, "the day as yyyymmdd (20200412): the facts' date_key"),
        _c("date", "date", False, "the calendar day"),
        _c("year", "int", False, "calendar year"),
        _c("quarter", "int", False, "calendar quarter, 1-4"),
        _c("month", "int", False, "month, 1-12"),
        _c("day", "int", False, "day of the month, 1-31"),
        _c("day_of_week", "int", False, "ISO: Monday=1 .. Sunday=7"),
        _c("week_of_year", "int", False, "ISO week number, 1-53"),
        _c("is_weekend", "boolean", False, "Saturday or Sunday"),
    ),
    key=("date_key",),
    doc="One row per calendar day that any fact refers to.",
    kind="dimension",
    skip_unchanged=True,
)

DIM_REGION = Table(
    "dim_region",
    (
        _c(
            "region_key",
            "bigint",
            False,
            "keys.region_key(country_region, province_state, county) of the normalised names: the same in every "
            "engine and every run",
        ),
        _c("level", "string", False, _levels_doc()),
        _c(
            "country_region",
            "string",
            False,
            "the country as JHU's UID lookup writes it (`US`, `Korea, South`); every era's and feed's other "
            "spellings resolve to it (reference/region_aliases.csv); a ship's name for a ship reported as a country",
        ),
        _c(
            "province_state",
            "string",
            doc="the state or province as the lookup writes it (`New York`); for other levels the name JHU "
            "reports in that place (`Diamond Princess`, `Recovered`, `US Military`: see level); NULL for a country",
        ),
        _c(
            "county",
            "string",
            doc="the county as the lookup writes it, without `County` (`King`, `New York` = Manhattan); NULL "
            "above county level. New York City is one region, county `New York City` (level `city`): JHU and NYT "
            "report the five boroughs together, so the lookup's five borough counties (`New York`, `Kings`, ...) "
            "get no cases; find NYC with `county = 'New York City'`",
        ),
        _c(
            "fips",
            "string",
            doc="Census FIPS code, zero-padded text: 5 digits for a county, 2 for a state; JHU's own codes for "
            "some other rows (88888 Diamond Princess, 99999 Grand Princess, 800xx Out of <state>, 900xx "
            "Unassigned); NULL for countries and where a feed gives none. Unique: a code the lookup gives one "
            "region is no other region's (JHU writes Manhattan's 36061 on its New York City row: NYC's fips is NULL)",
        ),
        _c("state_abbr", "string", doc="US postal code of the state (`NY`) for US rows below the country; else NULL"),
        _c("latitude", "double", doc="WGS84 latitude of the region's centre, from the lookup (else a feed)"),
        _c("longitude", "double", doc="WGS84 longitude of the region's centre, from the lookup (else a feed)"),
        _c(
            "population",
            "bigint",
            doc="people living in the region, from the lookup (else the lake's CountyPopulation for a county, "
            "by FIPS); NULL where unknown or meaningless (ships, Unassigned)",
        ),
        _c(
            "in_lookup",
            "boolean",
            doc="whether JHU's UID lookup knows the region; false: kept as a feed wrote it (unresolved)",
        ),
        _c(
            "precedence",
            "int",
            False,
            "priority of the feed the attributes come from: 0 the lookup, 1 JHU's daily reports, 2 Enigma-JHU, "
            "3 NYT, 4 CTP, 5 hospitals; a later load replaces attributes only from a feed of lower or equal value",
        ),
    ),
    key=("region_key",),
    doc="Countries, states/provinces, counties and JHU's other reporting units (ships, Unassigned...), one row per "
    "region, keyed by their normalised names; level says what kind of region a row is.",
    kind="dimension",
    merge_keeps_known=True,
    precedence="precedence",
    skip_unchanged=True,
)

DIM_HOSPITAL = Table(
    "dim_hospital",
    (
        _c("hospital_key", "bigint", False, "keys.hospital_key(state_abbr, zip, name, address)"),
        _c("name", "string", False, "the hospital's name as Definitive Healthcare writes it"),
        _c("type", "string", doc="kind of hospital (`Short Term Acute Care Hospital`, `Critical Access Hospital`...)"),
        _c("address", "string", doc="street address of the hospital's headquarters"),
        _c("city", "string", doc="city of the headquarters"),
        _c("state_abbr", "string", doc="US postal code of the state"),
        _c("zip", "string", doc="5-digit, zero-padded"),
        _c("county_fips", "string", doc="5-digit county FIPS, zero-padded (the row's, else state + county parts)"),
        _c("region_key", "bigint", doc="the hospital's county in dim_region (its state where no county is given)"),
        _c("licensed_beds", "int", doc="beds the hospital is licensed for"),
        _c("staffed_beds", "int", doc="beds the hospital staffs (can use)"),
        _c("icu_beds", "int", doc="intensive care beds"),
        _c("adult_icu_beds", "int", doc="adult intensive care beds"),
        _c("pediatric_icu_beds", "int", doc="paediatric intensive care beds"),
        _c("bed_utilization", "double", doc="share of staffed beds in use, 0-1 (patient days / bed days available)"),
        _c("avg_ventilator_usage", "double", doc="average number of ventilators in use"),
        _c("latitude", "double", doc="WGS84 latitude of the hospital"),
        _c("longitude", "double", doc="WGS84 longitude of the hospital (the lake's `longtitude`)"),
    ),
    key=("hospital_key",),
    doc="US hospitals and their bed capacity (Definitive Healthcare).",
    kind="dimension",
    skip_unchanged=True,
)

FACT_CASES_DAILY = Table(
    "fact_cases_daily",
    (
        _c("region_key", "bigint", False, "the region in dim_region (any level)"),
        _c("date_key", "int", False, "the day in dim_date: a JHU daily report's date, NYT's date"),
        _c("source", "string", False, "jhu | nyt"),
        _c("confirmed", "bigint", doc="cumulative confirmed cases (NYT: cases) up to and including the day"),
        _c("deaths", "bigint", doc="cumulative deaths up to and including the day"),
        _c("recovered", "bigint", doc="cumulative recoveries (JHU only; NULL for NYT)"),
        _c("active", "bigint", doc="JHU's active cases (confirmed - deaths - recovered; may be negative)"),
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
        _c("region_key", "bigint", False, "the state's region_key (the country US for the US-level feeds)"),
        _c("date_key", "int", False, "the day in dim_date"),
        _c("positive", "bigint", doc="cumulative positive tests (CTP: positive)"),
        _c("negative", "bigint", doc="cumulative negative tests"),
        _c("pending", "bigint", doc="tests awaiting a result on the day"),
        _c("total_test_results", "bigint", doc="cumulative test results (CTP: totalTestResults)"),
        _c("hospitalized_currently", "bigint", doc="people in hospital with COVID-19 on the day"),
        _c("hospitalized_cumulative", "bigint", doc="cumulative people ever hospitalised"),
        _c("in_icu_currently", "bigint", doc="people in intensive care on the day"),
        _c("on_ventilator_currently", "bigint", doc="people on a ventilator on the day"),
        _c("recovered", "bigint", doc="cumulative recoveries"),
        _c(
            "deaths",
            "bigint",
            doc="cumulative deaths (CTP's column `death`; named as in fact_cases_daily)",
            renamed_from=("death",),
        ),
        _c("positive_increase", "bigint", doc="new positive tests on the day, as CTP reports it (may be negative)"),
        _c("negative_increase", "bigint", doc="new negative tests on the day, as CTP reports it (may be negative)"),
        _c("feed", "string", False, "ctp_states_daily | ctp_us_daily | ctp_us_latest"),
        _c("precedence", "int", False, "the feed's precedence: of two feeds giving one key, the lower wins"),
        _c("source_object", "string", False, "raw object the row came from (lineage)"),
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
        _c("run_id", "string", False, "the pipeline run (execution) that loaded the object"),
        _c("source_object", "string", False, "the raw object (s3:// URI)"),
        _c("dataset", "string", False, "data lake dataset name (raw prefix)"),
        _c("source_etag", "string", doc="the object's ETag when it was read: a changed object is loaded again"),
        _c("source_size", "bigint", doc="the object's size in bytes"),
        _c("rows_read", "bigint", False, "rows read from the object"),
        _c("rows_loaded", "bigint", False, "rows that reached a table of the star schema"),
        _c("rows_rejected", "bigint", False, "rows sent to quarantine (with their reason)"),
        _c("started_at", "timestamp", False, "when the run started (UTC)"),
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
        _c("source_object", "string", False, "the raw object the row came from"),
        _c("reason", "string", False, "why the row was rejected (`duplicate key: ...`, `invalid fips: 'X1'`...)"),
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
