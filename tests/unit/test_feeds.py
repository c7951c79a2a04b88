import gzip
from datetime import date
from pathlib import Path

import pytest

from covid_pipeline.feeds import (
    DATASETS,
    FEEDS,
    JHU_DAILY,
    JSON,
    bundled_files,
    feed_for_key,
    object_format,
    parse_day,
    snake,
    squash,
)
from covid_pipeline.headers import header_signature, parse_header, read_header

ROOT = Path(__file__).resolve().parents[2]
LAKE = ROOT / "data" / "lake"
REFERENCE = ROOT / "layers" / "shared" / "python" / "covid_pipeline" / "reference"
# Every object of the real data lake this project reads, by its key in s3://covid19-lake (the gzip
# one is stored uncompressed in data/lake), and the feed that must read it.
LAKE_OBJECTS = {
    "enigma-jhu/csv/Enigma-JHU.csv.gz": "enigma_jhu",
    "enigma-jhu/json/part-00000.json": "enigma_jhu",
    "enigma-nytimes-data-in-usa/csv/us_county/us_county.csv": "nyt_us_county",
    "enigma-nytimes-data-in-usa/csv/us_states/us_states.csv": "nyt_us_states",
    "rearc-covid-19-testing-data/csv/states_daily/states_daily.csv": "ctp_states_daily",
    "rearc-covid-19-testing-data/csv/us_daily/us_daily.csv": "ctp_us_daily",
    "rearc-covid-19-testing-data/csv/us-total-latest/us.csv": "ctp_us_latest",
    "rearc-usa-hospital-beds/json/usa-hospital-beds.geojson": "hospital_beds",
    "static-datasets/csv/state-abv/states_abv.csv": "state_abv",
    "static-datasets/csv/CountyPopulation/County_Population.csv": "county_population",
    "static-datasets/csv/countrycode/CountryCodeQS.csv": "country_codes",
}

JHU_ERAS = {
    "2020-01": "Province/State,Country/Region,Last Update,Confirmed,Deaths,Recovered",
    "2020-03": "Province/State,Country/Region,Last Update,Confirmed,Deaths,Recovered,Latitude,Longitude",
    "2020-04": "FIPS,Admin2,Province_State,Country_Region,Last_Update,Lat,Long_,Confirmed,Deaths,Recovered,Active,"
    "Combined_Key",
    "2020-06": "FIPS,Admin2,Province_State,Country_Region,Last_Update,Lat,Long_,Confirmed,Deaths,Recovered,Active,"
    "Combined_Key,Incidence_Rate,Case-Fatality_Ratio",
    "2021": "FIPS,Admin2,Province_State,Country_Region,Last_Update,Lat,Long_,Confirmed,Deaths,Recovered,Active,"
    "Combined_Key,Incident_Rate,Case_Fatality_Ratio",
}


@pytest.mark.parametrize(
    ("key", "feed"),
    [
        ("enigma-jhu/csv/04-12-2020.csv", "jhu_daily"),
        (
            "rearc-covid-19-testing-data/csv/states_daily/states_daily_4pm_et.2020-04-08.csv",
            "ctp_states_daily",
        ),
        ("enigma-nytimes-data-in-usa/csv/us_county/us-counties.csv", "nyt_us_county"),
        ("rearc-usa-hospital-beds/definitivehc.csv", "hospital_beds"),
        ("reference/jhu-uid-lookup/UID_ISO_FIPS_LookUp_Table.csv", "uid_lookup"),
        ("reference/state-fips/state_fips_master.csv", "state_fips"),
        *LAKE_OBJECTS.items(),
        *((f"archived/{key}", feed) for key, feed in LAKE_OBJECTS.items()),
        ("enigma-jhu/csv/Enigma-JHU.csv", "enigma_jhu"),
        ("archived/enigma-jhu/csv/04-12-2020.csv", "jhu_daily"),
    ],
)
def test_feed_for_key(key: str, feed: str) -> None:
    found = feed_for_key(key)
    assert found is not None
    assert found.name == feed


def test_every_object_of_the_bundled_lake_sample_has_a_feed() -> None:
    keys = [p.relative_to(LAKE).as_posix() for p in LAKE.rglob("*") if p.is_file() and p.name != "SOURCES.md"]
    expected = {k.removesuffix(".gz"): f for k, f in LAKE_OBJECTS.items() if "/json/part" not in k}
    assert {k: feed_for_key(k).name for k in keys} == expected  # type: ignore[union-attr]


def test_bundled_reference_files_exist_and_are_no_lake_dataset() -> None:
    files = bundled_files()
    assert {feed.name for feed, _ in files.values()} == {"uid_lookup", "state_fips"}
    for key, (feed, name) in files.items():
        assert (REFERENCE / name).is_file()
        assert feed_for_key(key) is feed
        assert feed.dataset not in DATASETS


def test_headers_of_gzip_and_json_lines_objects() -> None:
    text = (LAKE / "enigma-jhu/csv/Enigma-JHU.csv").read_bytes()
    compressed = gzip.compress(text)
    header = read_header(compressed[:300], "enigma-jhu/csv/Enigma-JHU.csv.gz")
    assert header == parse_header(text)
    assert header[:2] == ["fips", "admin2"]
    beds = LAKE / "rearc-usa-hospital-beds/json/usa-hospital-beds.geojson"
    assert object_format(beds.name) == JSON
    keys = read_header(beds.read_bytes()[:4096], beds.name)
    assert keys[:2] == ["OBJECTID", "HOSPITAL_NAME"]
    assert keys[-2:] == ["latitude", "longtitude"]


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2020-01-22T17:00:00", date(2020, 1, 22)),  # Enigma
        ("1/22/2020 17:00", date(2020, 1, 22)),  # CSSE, January 2020
        ("3/22/20 23:45", date(2020, 3, 22)),  # CSSE, 22 March 2020
        ("2020-03-22 23:45:00", date(2020, 3, 22)),
        ("2020-05-01T09:12:31.891Z", date(2020, 5, 1)),  # CTP lastModified
        ("13/45/2020 10:00", None),
        ("20", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_day(text: str | None, day: date | None) -> None:
    assert parse_day(text) == day


@pytest.mark.parametrize(
    "key",
    [
        "enigma-jhu/csv/readme.txt",
        "enigma-jhu/json/readme.txt",
        "archived/other/x.csv",
        "enigma-jhu/csv/sub/04-12-2020.csv",
        "other/x.csv",
    ],
)
def test_keys_outside_every_feed(key: str) -> None:
    assert feed_for_key(key) is None


@pytest.mark.parametrize("era", sorted(JHU_ERAS))
def test_every_jhu_era_maps_required_and_rates(era: str) -> None:
    header = JHU_ERAS[era].split(",")
    for required in JHU_DAILY.required:
        assert any(JHU_DAILY.column(required).matches(h) for h in header), (era, required)
    if era >= "2020-06":
        assert any(JHU_DAILY.column("incident_rate").matches(h) for h in header)
        assert any(JHU_DAILY.column("case_fatality_ratio").matches(h) for h in header)


def test_header_normalisation() -> None:
    assert squash("\ufeffProvince/State") == "provincestate"
    assert squash("hospitalizedCurrently") == squash("hospitalized_currently")
    assert snake("hospitalizedCurrently") == "hospitalized_currently"
    assert snake("Case-Fatality_Ratio") == "case_fatality_ratio"


def test_parse_header_handles_bom_crlf_and_quotes() -> None:
    assert parse_header(b'\xef\xbb\xbfUID,"Admin, 2",Lat\r\n1,x,2\r\n') == ["UID", "Admin, 2", "Lat"]
    assert header_signature(["a", "b"]) != header_signature(["b", "a"])


def test_every_feed_has_required_columns_and_unique_names() -> None:
    for feed in FEEDS.values():
        names = [c.name for c in feed.columns]
        assert len(names) == len(set(names)), feed.name
        assert feed.required, feed.name


def test_json_lines_keys_are_every_complete_lines_in_order_of_first_appearance() -> None:
    from covid_pipeline.headers import json_keys

    assert json_keys(b'{"a": 1}\n{"a": 2, "b": 3}\nnot json\n\n{"c":') == ["a", "b"]
    assert json_keys(b'not json\n{"a": 1}\n') == []
