"""Source feeds: where each raw dataset lives and its canonical staged columns.

Raw CSV headers drift (JHU has several eras; the data lake's hospital-beds copy
spells columns differently from the original export). The Stage step maps every
header *by name* onto the canonical columns below, so no position-based reader
ever sees a drifted layout. Staged Parquet of one feed therefore always has the
same columns and types, whatever era a file comes from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

STAGED_TYPES = frozenset({"string", "bigint", "double", "date"})

# Provenance columns Stage adds to every staged row.
SOURCE_OBJECT = "_source_object"
CAST_ERRORS = "_cast_errors"
# Header columns no feed column matches (schema drift), as a JSON object: kept in the staged zone.
EXTRA = "_extra"


@dataclass(frozen=True)
class FeedColumn:
    name: str
    type: str
    synonyms: tuple[str, ...] = ()
    required: bool = False
    # How a text value becomes a date (strptime format) when type == "date".
    date_format: str | None = None
    # Not read from the file's header: derived from the object key (see Feed.date_from_path).
    from_path: bool = False

    def matches(self, header: str) -> bool:
        key = squash(header)
        return key == squash(self.name) or key in {squash(s) for s in self.synonyms}


@dataclass(frozen=True)
class Feed:
    name: str
    dataset: str  # = raw prefix, the data lake's dataset name
    prefix: str  # under the dataset folder
    file_pattern: str  # regex on the file name
    columns: tuple[FeedColumn, ...]
    doc: str
    # Date derived from the object's file name (JHU reports carry it only there).
    date_from_path: str | None = None  # regex with one group, format in path_date_format
    path_date_format: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def raw_prefix(self) -> str:
        return f"{self.dataset}/{self.prefix}"

    def accepts(self, key: str) -> bool:
        """Whether a raw object key (relative to the raw root) belongs to this feed."""
        if not key.startswith(self.raw_prefix):
            return False
        rest = key[len(self.raw_prefix) :]
        return "/" not in rest and re.fullmatch(self.file_pattern, rest) is not None

    def column(self, name: str) -> FeedColumn:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"feed {self.name} has no column {name!r}")

    @property
    def date_column(self) -> str | None:
        """The column that dates a row (what a backfill's date range filters on); None for reference data."""
        return next((c.name for c in self.columns if c.type == "date"), None)

    @property
    def required(self) -> tuple[str, ...]:
        """Columns a file's header must provide (derived columns excluded)."""
        return tuple(c.name for c in self.columns if c.required and not c.from_path)


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def squash(header: str) -> str:
    """Header comparison key: case, separators and a BOM do not matter."""
    return _NON_ALNUM.sub("", header.lstrip("\ufeff").lower())


def snake(header: str) -> str:
    """A readable snake_case form of a header (for reporting unmapped columns)."""
    return _NON_ALNUM.sub("_", _CAMEL.sub("_", header.lstrip("\ufeff")).lower()).strip("_")


def _col(
    name: str,
    type_: str,
    *synonyms: str,
    required: bool = False,
    date_format: str | None = None,
    from_path: bool = False,
) -> FeedColumn:
    return FeedColumn(name, type_, tuple(synonyms), required, date_format, from_path)


JHU_DAILY = Feed(
    name="jhu_daily",
    dataset="enigma-jhu",
    prefix="csv/",
    file_pattern=r"\d{2}-\d{2}-\d{4}\.csv",
    doc="JHU CSSE daily reports, one file per report date (MM-DD-YYYY.csv), every header era.",
    columns=(
        _col("fips", "string"),
        _col("admin2", "string"),
        _col("province_state", "string", "Province/State"),
        _col("country_region", "string", "Country/Region", required=True),
        _col("last_update", "string", "Last Update"),
        _col("latitude", "double", "Lat"),
        _col("longitude", "double", "Long_", "Long"),
        _col("confirmed", "bigint", required=True),
        _col("deaths", "bigint", required=True),
        _col("recovered", "bigint"),
        _col("active", "bigint"),
        _col("combined_key", "string"),
        _col("incident_rate", "double", "Incidence_Rate"),
        _col("case_fatality_ratio", "double", "Case-Fatality_Ratio"),
        _col("report_date", "date", required=True, from_path=True),
    ),
    date_from_path=r"(\d{2}-\d{2}-\d{4})\.csv$",
    path_date_format="%m-%d-%Y",
)

CTP_STATES_DAILY = Feed(
    name="ctp_states_daily",
    dataset="rearc-covid-19-testing-data",
    prefix="csv/states_daily/",
    file_pattern=r"[^/]+\.csv",
    doc="The COVID Tracking Project, one row per US state or territory and day.",
    columns=(
        _col("date", "date", required=True, date_format="%Y%m%d"),
        _col("state", "string", required=True),
        _col("fips", "string"),
        _col("positive", "bigint", required=True),
        _col("negative", "bigint"),
        _col("pending", "bigint"),
        _col("total_test_results", "bigint"),
        _col("hospitalized_currently", "bigint"),
        _col("hospitalized_cumulative", "bigint"),
        _col("in_icu_currently", "bigint"),
        _col("on_ventilator_currently", "bigint"),
        _col("recovered", "bigint"),
        _col("death", "bigint"),
        _col("positive_increase", "bigint"),
        _col("negative_increase", "bigint"),
    ),
)

NYT_US_COUNTY = Feed(
    name="nyt_us_county",
    dataset="enigma-nytimes-data-in-usa",
    prefix="csv/us_county/",
    file_pattern=r"[^/]+\.csv",
    doc="The New York Times, cumulative cases and deaths per US county and day.",
    columns=(
        _col("date", "date", required=True, date_format="%Y-%m-%d"),
        _col("county", "string", required=True),
        _col("state", "string", required=True),
        _col("fips", "string"),
        _col("cases", "bigint", required=True),
        _col("deaths", "bigint", required=True),
    ),
)

HOSPITAL_BEDS = Feed(
    name="hospital_beds",
    dataset="rearc-usa-hospital-beds",
    prefix="",
    file_pattern=r"[^/]+\.csv",
    doc="Definitive Healthcare USA hospital beds, one row per hospital (both the export's and the lake's layout).",
    columns=(
        _col("objectid", "bigint"),
        _col("hospital_name", "string", required=True),
        _col("hospital_type", "string"),
        _col("hq_address", "string"),
        _col("hq_address1", "string"),
        _col("hq_city", "string"),
        _col("hq_state", "string", required=True),
        _col("hq_zip_code", "string"),
        _col("county_name", "string"),
        _col("state_name", "string"),
        _col("state_fips", "string"),
        _col("cnty_fips", "string"),
        _col("fips", "string"),
        _col("num_licensed_beds", "bigint"),
        _col("num_staffed_beds", "bigint"),
        _col("num_icu_beds", "bigint"),
        _col("adult_icu_beds", "bigint"),
        _col("pedi_icu_beds", "bigint"),
        _col("bed_utilization", "double"),
        _col("avg_ventilator_usage", "double"),
        _col("latitude", "double", "Y"),
        _col("longitude", "double", "X", "longtitude"),
    ),
)

UID_LOOKUP = Feed(
    name="uid_lookup",
    dataset="static-datasets",
    prefix="csv/jhu-uid-lookup/",
    file_pattern=r"[^/]+\.csv",
    doc="JHU's UID/FIPS lookup: every region with its codes, coordinates and population.",
    columns=(
        _col("uid", "bigint"),
        _col("iso2", "string"),
        _col("iso3", "string"),
        _col("code3", "bigint"),
        _col("fips", "string"),
        _col("admin2", "string"),
        _col("province_state", "string"),
        _col("country_region", "string", required=True),
        _col("latitude", "double", "Lat"),
        _col("longitude", "double", "Long_", "Long"),
        _col("combined_key", "string"),
        _col("population", "bigint"),
    ),
)

STATE_FIPS = Feed(
    name="state_fips",
    dataset="static-datasets",
    prefix="csv/state-fips/",
    file_pattern=r"[^/]+\.csv",
    doc="US state names, postal abbreviations and FIPS codes.",
    columns=(
        _col("state_name", "string", required=True),
        _col("state_abbr", "string", required=True),
        _col("fips", "string", required=True),
    ),
)

FEEDS: dict[str, Feed] = {
    f.name: f for f in (JHU_DAILY, CTP_STATES_DAILY, NYT_US_COUNTY, HOSPITAL_BEDS, UID_LOOKUP, STATE_FIPS)
}

DATASETS: tuple[str, ...] = tuple(dict.fromkeys(f.dataset for f in FEEDS.values()))

# Lookups Clean needs to resolve any other feed's regions (state names, abbreviations, FIPS):
# every run reads their current objects, whatever it was started for.
REFERENCE_FEEDS: tuple[str, ...] = (UID_LOOKUP.name, STATE_FIPS.name)


def feed_for_key(key: str) -> Feed | None:
    """The feed a raw object key (relative to the raw root) belongs to, if any."""
    for feed in FEEDS.values():
        if feed.accepts(key):
            return feed
    return None
