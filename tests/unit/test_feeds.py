import pytest

from covid_pipeline.feeds import FEEDS, JHU_DAILY, feed_for_key, snake, squash
from covid_pipeline.headers import header_signature, parse_header

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
        ("static-datasets/csv/jhu-uid-lookup/UID_ISO_FIPS_LookUp_Table.csv", "uid_lookup"),
        ("static-datasets/csv/state-fips/state_fips_master.csv", "state_fips"),
    ],
)
def test_feed_for_key(key: str, feed: str) -> None:
    found = feed_for_key(key)
    assert found is not None
    assert found.name == feed


@pytest.mark.parametrize(
    "key",
    [
        "enigma-jhu/csv/readme.txt",
        "enigma-jhu/json/04-12-2020.json",
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
