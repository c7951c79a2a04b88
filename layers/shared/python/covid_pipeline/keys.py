"""Deterministic surrogate keys, defined once so every engine computes the same value.

A key is the first 15 hex digits (60 bits, so always a positive BIGINT) of the
SHA-256 of the normalised natural key parts joined by ``|``. Spark
(``conv(substr(sha2(x, 256), 1, 15), 16, 10)``), DuckDB
(``('0x' || sha256(x)[1:15])::BIGINT``) and Redshift compute the same number;
``covid_transforms.keys`` holds the Spark expressions and the tests compare them
with these functions.
"""

from __future__ import annotations

import hashlib
import re

from covid_pipeline.reference_data import reference_csv

KEY_HEX_DIGITS = 15
SEPARATOR = "|"

_SPACES = re.compile(r"\s+")


def normalise_part(value: str | None) -> str:
    """Lower-case, trim and collapse whitespace; None becomes the empty string."""
    if value is None:
        return ""
    return _SPACES.sub(" ", value).strip().lower()


# Countries JHU renamed over time (the later name wins): the aliases of reference/region_aliases.csv
# that rename a country and keep its provinces (region_names resolves the others, e.g. Hong Kong).
COUNTRY_ALIASES: dict[str, str] = {
    normalise_part(row["country_alias"]): normalise_part(row["country"])
    for row in reference_csv("region_aliases.csv")
    if row["province_alias"] == "*" and row["province_state"] == "*"
}


def normalise_country(value: str | None) -> str:
    part = normalise_part(value)
    return COUNTRY_ALIASES.get(part, part)


def hash_key(*parts: str) -> int:
    digest = hashlib.sha256(SEPARATOR.join(parts).encode("utf-8")).hexdigest()
    return int(digest[:KEY_HEX_DIGITS], 16)


def region_key(country: str | None, state: str | None, county: str | None) -> int:
    return hash_key(normalise_country(country), normalise_part(state), normalise_part(county))


def region_level(state: str | None, county: str | None) -> str:
    if normalise_part(county):
        return "county"
    if normalise_part(state):
        return "state"
    return "country"


def hospital_key(state_abbr: str | None, zip_code: str | None, name: str | None, address: str | None) -> int:
    return hash_key(normalise_part(state_abbr), normalise_part(zip_code), normalise_part(name), normalise_part(address))


def date_key(year: int, month: int, day: int) -> int:
    return year * 10000 + month * 100 + day
