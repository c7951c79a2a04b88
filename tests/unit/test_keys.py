from covid_pipeline import keys


def test_region_key_is_deterministic_and_positive_bigint() -> None:
    k = keys.region_key("US", "New York", "New York City")
    assert k == keys.region_key("US", "New York", "New York City")
    assert 0 < k < 2**63


def test_region_key_ignores_case_spacing_and_country_aliases() -> None:
    assert keys.region_key(" us ", "new  york", "NEW YORK CITY") == keys.region_key("US", "New York", "New York City")
    assert keys.region_key("Mainland China", "Hubei", None) == keys.region_key("China", "Hubei", "")


def test_region_levels_distinguish_keys() -> None:
    country = keys.region_key("US", None, None)
    state = keys.region_key("US", "Alabama", None)
    county = keys.region_key("US", "Alabama", "Autauga")
    assert len({country, state, county}) == 3
    assert keys.region_level(None, None) == "country"
    assert keys.region_level("Alabama", "") == "state"
    assert keys.region_level("Alabama", "Autauga") == "county"


def test_hash_key_matches_its_documented_definition() -> None:
    import hashlib

    expected = int(hashlib.sha256(b"us|alabama|autauga").hexdigest()[:15], 16)
    assert keys.region_key("US", "Alabama", "Autauga") == expected


def test_date_key() -> None:
    assert keys.date_key(2020, 4, 12) == 20200412
