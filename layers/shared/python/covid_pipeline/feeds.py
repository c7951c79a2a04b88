"""Source feeds: where each raw dataset lives and its canonical staged columns.

Raw CSV headers drift (JHU has several eras; the data lake's hospital-beds copy
spells columns differently from the original export). The Stage step maps every
header *by name* onto the canonical columns below, so no position-based reader
ever sees a drifted layout. Staged Parquet of one feed therefore always has the
same columns and types, whatever era a file comes from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

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
    # Not read from the header either: the day of the timestamp text in another column of the
    # feed (its name), in any of the formats of DAY_FORMATS (JHU's Last_Update, CTP's lastModified).
    day_of: str | None = None

    @property
    def derived(self) -> bool:
        """Whether the value comes from something other than a header column of its own."""
        return self.from_path or self.day_of is not None

    def matches(self, header: str) -> bool:
        key = squash(header)
        return key == squash(self.name) or key in {squash(s) for s in self.synonyms}


# Object formats, decided by the key's suffix (a trailing .gz is gzip, as Athena and Glue decide it).
CSV = "csv"
JSON = "json"  # JSON Lines: one object per line (the lake's .geojson is such a file, too)
_JSON_SUFFIXES = (".json", ".jsonl", ".geojson")
ARCHIVED = "archived/"


def object_format(key: str) -> str:
    """CSV or JSON (lines) for an object key or URI, from its suffix (ignoring a trailing .gz)."""
    name = key.rsplit("/", 1)[-1].lower().removesuffix(".gz")
    return JSON if name.endswith(_JSON_SUFFIXES) else CSV


def is_gzip(key: str) -> bool:
    return key.lower().endswith(".gz")


def without_archived(key: str) -> str:
    """The key as it would be outside ``archived/`` (the lake keeps older copies of some datasets there)."""
    return key[len(ARCHIVED) :] if key.startswith(ARCHIVED) else key


# Timestamp texts whose day a day_of column takes, by the shape of their date part (the text up to
# the first space or 'T'): ISO dates (Enigma, CSSE from 2020-02), US month/day/year with a four- or
# two-digit year (early CSSE reports: "1/22/2020 17:00"). (regex of the date part, Python strptime
# format, Trino date_parse format), tried in order. Trino's date_parse takes MySQL's specifiers, where
# %m and %d are two-digit (00..12, 00..31) and %c and %e the unpadded month and day (0..12, 0..31).
DAY_FORMATS: tuple[tuple[str, str, str], ...] = (
    (r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$", "%Y-%m-%d", "%Y-%c-%e"),
    (r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$", "%m/%d/%Y", "%c/%e/%Y"),
    (r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{2}$", "%m/%d/%y", "%c/%e/%y"),
)


def date_part(text: str) -> str:
    """The date part of a timestamp text: up to the first space or 'T' (``2020-01-22T17:00:00``)."""
    return text.strip().replace("T", " ").split(" ", 1)[0]


def parse_day(text: str | None) -> date | None:
    """The day of a timestamp text in one of DAY_FORMATS (None when it is none of them).

    The reference for the SQL the Stage step generates from DAY_FORMATS (tests compare them).
    """
    if text is None or not text.strip():
        return None
    part = date_part(text)
    for pattern, fmt, _trino in DAY_FORMATS:
        if re.match(pattern, part):
            try:
                return datetime.strptime(part, fmt).date()
            except ValueError:
                return None
    return None


@dataclass(frozen=True)
class Feed:
    name: str
    dataset: str  # = raw prefix, the data lake's dataset name (BUNDLED_DATASET for reference data we ship)
    prefixes: tuple[str, ...]  # folders under the dataset folder holding the feed's objects
    file_pattern: str  # regex on the file name
    columns: tuple[FeedColumn, ...]
    doc: str
    # Date derived from the object's file name (JHU reports carry it only there).
    date_from_path: str | None = None  # regex with one group, format in path_date_format
    path_date_format: str | None = None
    # Where two feeds give the same fact row (region, day, source), the lower precedence wins
    # (schema.Table.precedence): in one run and across runs, whatever the order of the loads.
    precedence: int = 0
    # Files shipped inside the project (covid_pipeline/reference/), published by Setup into the raw
    # zone under BUNDLED_DATASET/: available to every run, whatever its source holds.
    bundled: tuple[str, ...] = ()
    # The prefixes hold the same data in different formats (Enigma's csv/ and json/): a source run
    # copies only the first prefix that has objects (domain.setup.source_objects).
    alternate_prefixes: bool = False

    @property
    def prefix(self) -> str:
        """The folder an upload of this feed goes to by default (the first of ``prefixes``)."""
        return self.prefixes[0]

    @property
    def raw_prefix(self) -> str:
        return f"{self.dataset}/{self.prefix}"

    @property
    def raw_prefixes(self) -> tuple[str, ...]:
        return tuple(f"{self.dataset}/{p}" for p in self.prefixes)

    def accepts(self, key: str) -> bool:
        """Whether a raw object key (relative to the raw root) belongs to this feed.

        A key under ``archived/`` belongs to the feed of the same key without it.
        """
        key = without_archived(key)
        for raw_prefix in self.raw_prefixes:
            if key.startswith(raw_prefix):
                rest = key[len(raw_prefix) :]
                if "/" not in rest and re.fullmatch(self.file_pattern, rest) is not None:
                    return True
        return False

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
        """Columns a file's header must provide (derived columns excluded, their sources included)."""
        names = [c.name for c in self.columns if c.required and not c.derived]
        names += [c.day_of for c in self.columns if c.required and c.day_of and c.day_of not in names]
        return tuple(names)


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
    day_of: str | None = None,
) -> FeedColumn:
    return FeedColumn(name, type_, tuple(synonyms), required, date_format, from_path, day_of)


# File names: CSV (optionally gzip), JSON Lines (.json, .jsonl, .geojson; optionally gzip).
_CSV_FILES = r"[^/]+\.csv(\.gz)?"
_JSON_FILES = r"[^/]+\.(json|jsonl|geojson)(\.gz)?"
_JHU_REPORT = r"\d{2}-\d{2}-\d{4}\.csv"

# JHU's columns as both JHU feeds stage them (CSSE daily reports of every era; Enigma's copy).
_JHU_COLUMNS = (
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
)

JHU_DAILY = Feed(
    name="jhu_daily",
    dataset="enigma-jhu",
    prefixes=("csv/",),
    file_pattern=_JHU_REPORT,
    doc="JHU CSSE daily reports, one file per report date (MM-DD-YYYY.csv), every header era: what users upload.",
    columns=(*_JHU_COLUMNS, _col("report_date", "date", required=True, from_path=True)),
    date_from_path=r"(\d{2}-\d{2}-\d{4})\.csv$",
    path_date_format="%m-%d-%Y",
    precedence=0,
)

ENIGMA_JHU = Feed(
    name="enigma_jhu",
    dataset="enigma-jhu",
    prefixes=("csv/", "json/"),
    # Any CSV of csv/ but a daily report's name (Enigma-JHU.csv.gz in the lake), any JSON Lines of json/.
    file_pattern=rf"(?!{_JHU_REPORT}$)({_CSV_FILES}|{_JSON_FILES})",
    doc="JHU's history as the data lake keeps it (Enigma-JHU.csv.gz, json/): all regions and days in one "
    "object, several reports per region and day; the day is Last_Update's (the day's last report wins).",
    columns=(*_JHU_COLUMNS, _col("report_date", "date", required=True, day_of="last_update")),
    # The CSSE daily report of a day is JHU's own publication for that date: it wins over Enigma's copy.
    precedence=1,
    alternate_prefixes=True,
)

_CTP_MEASURES = (
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
)

CTP_STATES_DAILY = Feed(
    name="ctp_states_daily",
    dataset="rearc-covid-19-testing-data",
    prefixes=("csv/states_daily/",),
    file_pattern=_CSV_FILES,
    doc="The COVID Tracking Project, one row per US state or territory and day (every column layout).",
    columns=(
        _col("date", "date", required=True, date_format="%Y%m%d"),
        _col("state", "string", required=True),
        _col("fips", "string"),
        *_CTP_MEASURES,
    ),
)

CTP_US_DAILY = Feed(
    name="ctp_us_daily",
    dataset="rearc-covid-19-testing-data",
    prefixes=("csv/us_daily/",),
    file_pattern=_CSV_FILES,
    doc="The COVID Tracking Project, the whole US per day.",
    columns=(_col("date", "date", required=True, date_format="%Y%m%d"), *_CTP_MEASURES),
    precedence=0,
)

CTP_US_LATEST = Feed(
    name="ctp_us_latest",
    dataset="rearc-covid-19-testing-data",
    prefixes=("csv/us-total-latest/",),
    file_pattern=_CSV_FILES,
    doc="The COVID Tracking Project, the whole US as last published (one row, dated by lastModified).",
    columns=(
        _col("last_modified", "string", required=True),
        _col("date", "date", required=True, day_of="last_modified"),
        *_CTP_MEASURES,
    ),
    # A snapshot: the day's row of the daily series wins where both exist.
    precedence=1,
)

NYT_US_COUNTY = Feed(
    name="nyt_us_county",
    dataset="enigma-nytimes-data-in-usa",
    prefixes=("csv/us_county/",),
    file_pattern=_CSV_FILES,
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

NYT_US_STATES = Feed(
    name="nyt_us_states",
    dataset="enigma-nytimes-data-in-usa",
    prefixes=("csv/us_states/",),
    file_pattern=_CSV_FILES,
    doc="The New York Times, cumulative cases and deaths per US state and day.",
    columns=(
        _col("date", "date", required=True, date_format="%Y-%m-%d"),
        _col("state", "string", required=True),
        _col("fips", "string"),
        _col("cases", "bigint", required=True),
        _col("deaths", "bigint", required=True),
    ),
)

HOSPITAL_BEDS = Feed(
    name="hospital_beds",
    dataset="rearc-usa-hospital-beds",
    prefixes=("json/", ""),
    file_pattern=rf"({_CSV_FILES}|{_JSON_FILES})",
    doc="Definitive Healthcare USA hospital beds, one row per hospital: the lake's JSON Lines "
    "(json/usa-hospital-beds.geojson) or the original CSV export.",
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
    alternate_prefixes=True,
)

STATE_ABV = Feed(
    name="state_abv",
    dataset="static-datasets",
    prefixes=("csv/state-abv/",),
    file_pattern=_CSV_FILES,
    doc="The lake's US state names and postal abbreviations.",
    columns=(
        _col("state_name", "string", "State", required=True),
        _col("state_abbr", "string", "Abbreviation", required=True),
    ),
)

COUNTY_POPULATION = Feed(
    name="county_population",
    dataset="static-datasets",
    prefixes=("csv/CountyPopulation/",),
    file_pattern=_CSV_FILES,
    doc="The lake's US county population (Census 2018 estimate), by county FIPS (Id2).",
    columns=(
        _col("geo_id", "string", "Id"),
        _col("fips", "string", "Id2", required=True),
        _col("county", "string", required=True),
        _col("state", "string", required=True),
        _col("population", "bigint", "Population Estimate 2018", required=True),
    ),
)

COUNTRY_CODES = Feed(
    name="country_codes",
    dataset="static-datasets",
    prefixes=("csv/countrycode/",),
    file_pattern=_CSV_FILES,
    doc="The lake's country names, ISO 3166 codes and average coordinates.",
    columns=(
        _col("country", "string", required=True),
        _col("iso2", "string", "Alpha-2 code"),
        _col("iso3", "string", "Alpha-3 code"),
        _col("numeric_code", "bigint", "Numeric code"),
        _col("latitude", "double"),
        _col("longitude", "double"),
    ),
)

# Reference data shipped with the project: independent of what a source or upload holds.
BUNDLED_DATASET = "reference"

UID_LOOKUP = Feed(
    name="uid_lookup",
    dataset=BUNDLED_DATASET,
    prefixes=("jhu-uid-lookup/",),
    file_pattern=_CSV_FILES,
    doc="JHU's UID/FIPS lookup (CC BY 4.0): every region with its codes, coordinates and population.",
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
    bundled=("UID_ISO_FIPS_LookUp_Table.csv",),
)

STATE_FIPS = Feed(
    name="state_fips",
    dataset=BUNDLED_DATASET,
    prefixes=("state-fips/",),
    file_pattern=_CSV_FILES,
    doc="US state names, postal abbreviations and FIPS codes (US Census, public domain).",
    columns=(
        _col("state_name", "string", required=True),
        _col("state_abbr", "string", required=True),
        _col("fips", "string", required=True),
    ),
    bundled=("state_fips_master.csv",),
)

FEEDS: dict[str, Feed] = {
    f.name: f
    for f in (
        JHU_DAILY,
        ENIGMA_JHU,
        CTP_STATES_DAILY,
        CTP_US_DAILY,
        CTP_US_LATEST,
        NYT_US_COUNTY,
        NYT_US_STATES,
        HOSPITAL_BEDS,
        STATE_ABV,
        COUNTY_POPULATION,
        COUNTRY_CODES,
        UID_LOOKUP,
        STATE_FIPS,
    )
}

# The data lake's datasets (folders a source run copies, uploads go to); the bundled one is ours.
DATASETS: tuple[str, ...] = tuple(dict.fromkeys(f.dataset for f in FEEDS.values() if not f.bundled))

# Lookups Clean needs to resolve any other feed's regions (names, abbreviations, FIPS, populations):
# every run reads their current objects, whatever it was started for.
REFERENCE_FEEDS: tuple[str, ...] = (
    UID_LOOKUP.name,
    STATE_FIPS.name,
    STATE_ABV.name,
    COUNTY_POPULATION.name,
    COUNTRY_CODES.name,
)


def feed_for_key(key: str) -> Feed | None:
    """The feed a raw object key (relative to the raw root) belongs to, if any."""
    for feed in FEEDS.values():
        if feed.accepts(key):
            return feed
    return None


# One example name per kind of file a feed may read: accepted_files tells users which kinds a dataset takes.
_FILE_KINDS = {
    "MM-DD-YYYY.csv": "01-22-2020.csv",
    "*.csv[.gz]": "data.csv",
    "*.json|*.jsonl|*.geojson[.gz]": "data.json",
}


def accepted_files(dataset: str) -> list[str]:
    """The kinds of file each folder of the dataset takes (``csv/: *.csv[.gz]``), as the feeds' ``accepts`` say."""
    feeds = [f for f in FEEDS.values() if f.dataset == dataset]
    out = []
    for prefix in dict.fromkeys(p for f in feeds for p in f.prefixes):
        kinds: dict[str, None] = {}
        for feed in feeds:
            taken = [k for k, example in _FILE_KINDS.items() if feed.accepts(f"{dataset}/{prefix}{example}")]
            if "*.csv[.gz]" in taken:  # a dated name is one of any .csv name: not worth a mention of its own
                taken = [k for k in taken if k != "MM-DD-YYYY.csv"]
            kinds.update(dict.fromkeys(taken))
        out.append(f"{prefix or '(dataset root)'}: {', '.join(kinds)}")
    return out


def bundled_files() -> dict[str, tuple[Feed, str]]:
    """Raw key (under BUNDLED_DATASET/) -> (feed, file name in covid_pipeline/reference/) of each shipped file."""
    return {f"{feed.raw_prefix}{name}": (feed, name) for feed in FEEDS.values() for name in feed.bundled}
