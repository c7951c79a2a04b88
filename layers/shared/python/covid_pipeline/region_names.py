"""Region names as the feeds wrote them -> the region they mean, in the names of JHU's UID lookup.

Over 2020 JHU renamed countries (``Mainland China``, ``UK``, ``Republic of Korea``...),
moved Hong Kong and Macau under China, and until about 2020-03-10 named places below
the state in ``Province/State`` (``Seattle, WA``, ``King County, WA``, ``Toronto, ON``,
``Lackland, TX (From Diamond Princess)``). Resolved here, so one place has one
region_key in every era and every source:

1. the alias table (``reference/region_aliases.csv``, kept as data with where each
   alias was seen): an exact (country, province) pair first, then the country alone
   (``*`` = any province; as a target, ``*`` keeps the row's province, blank clears it);
2. repatriated cruise passengers (``Lackland, TX (From Diamond Princess)``) are a place
   below the country's ``Diamond Princess`` region where the lookup has one (the site as
   the county: ``Lackland, TX``; unresolved, but summing the ship's rows sums them);
3. ``<place>, <state>`` in the province: the state by postal code (US state tables,
   ``reference/province_codes.csv`` for Canada) or by name; the place is the region below
   the state: a county of the lookup (``King County`` -> King, ``Santa Clara`` -> Santa
   Clara), else the place as written (``Seattle`` stays Seattle, below Washington:
   unresolved, and the same key Enigma's ``admin2`` Seattle gets);
   a county written with its kind (``Sitka City and Borough``, ``Bethel Census Area``;
   Virginia's ``Alexandria city``) is the lookup's county of that name;
4. a province that repeats its country's name (``France, France``, ``UK, UK``) is the
   country's own row;
5. names the lookup knows are written as the lookup writes them.

Whatever stays outside the lookup is kept as written (and flagged by dim_region's
``in_lookup``), never merged into something else. One implementation for every
engine: Clean resolves each run's distinct names here and joins the result back. Two
rows of one report that resolve to one region are that region written twice (a renamed
country's stale row beside the new one: ``Cape Verde`` and ``Cabo Verde``): one is kept,
the other quarantined as a duplicate (see covid_transforms.cases).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from covid_pipeline.keys import normalise_part
from covid_pipeline.reference_data import reference_csv

ANY = "*"
_DIAMOND_PRINCESS = "diamond princess"
_FROM_DIAMOND_PRINCESS = re.compile(r"\(\s*from diamond princess\s*\)", re.IGNORECASE)
_PLACE_IN_STATE = re.compile(r"^(?P<place>.+?)\s*,\s*(?P<state>[^,]+?)$")
_CITY = " city"
# Kinds of county-level areas written after the name (longest first); the lookup writes the name alone.
_COUNTY_KINDS = (" city and borough", " census area", " municipality", " borough", " county", " parish")
_VIRGINIA = ("us", "virginia")  # the state whose independent cities NYT writes "<name> city", the lookup "<name>"


@dataclass(frozen=True)
class Alias:
    country_alias: str
    province_alias: str  # ANY: whatever province
    country: str
    province_state: str  # ANY: the row's own; blank: none
    seen_in: str


@dataclass(frozen=True)
class Region:
    country: str | None
    province: str | None
    county: str | None


@cache
def aliases() -> tuple[Alias, ...]:
    return tuple(Alias(**row) for row in reference_csv("region_aliases.csv"))


@cache
def province_codes() -> dict[tuple[str, str], str]:
    """(normalised country, upper-case code) -> province name (Canada's; US codes come from the state tables)."""
    return {
        (normalise_part(r["country"]), r["code"].strip().upper()): r["province_state"]
        for r in reference_csv("province_codes.csv")
    }


def _fold(text: str) -> str:
    """The text without accents (for matching only: keys keep the lookup's own spelling)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _clean(value: str | None) -> str:
    return " ".join(value.split()) if value else ""


class RegionResolver:
    """Resolves (country, province, county) as written to the region meant (see the module docstring).

    ``lookup_regions``: every region of JHU's UID lookup (country, province, county as it
    writes them); ``state_codes``: US postal code -> state name.
    """

    def __init__(self, lookup_regions: Iterable[Region], state_codes: Mapping[str, str]) -> None:
        self._names: dict[tuple[str, str, str], tuple[str, str, str]] = {}
        self._folded: dict[tuple[str, str, str], tuple[str, str, str]] = {}  # accent-free key -> key
        self._provinces: dict[tuple[str, str], str] = {}
        self._countries: dict[str, str] = {}
        for region in lookup_regions:
            parts = (_clean(region.country), _clean(region.province), _clean(region.county))
            c, p, a = (normalise_part(x) for x in parts)
            self._names.setdefault((c, p, a), parts)
            self._folded.setdefault((c, p, _fold(a)), (c, p, a))
            self._countries.setdefault(c, parts[0])
            if p:
                self._provinces.setdefault((c, p), parts[1])
        self._codes = {(normalise_part("US"), k.strip().upper()): v for k, v in state_codes.items() if k and v}
        self._codes.update(province_codes())
        self._pairs = {(normalise_part(a.country_alias), normalise_part(a.province_alias)): a for a in aliases()}

    def resolve(self, country: str | None, province: str | None, county: str | None) -> Region:
        c, p, a = _clean(country), _clean(province), _clean(county)
        alias = self._pairs.get((normalise_part(c), normalise_part(p))) or self._pairs.get(
            (normalise_part(c), normalise_part(ANY))
        )
        if alias is not None:
            written = c
            c = alias.country
            if alias.province_state != ANY:
                p = alias.province_state
            elif normalise_part(p) == normalise_part(written):
                p = ""  # "UK, UK": the province repeats the country's old name
        if normalise_part(p) == normalise_part(c):
            p = ""  # "France, France" (2020-03): the country's own row
        c, p, a = self._place_below_state(c, p, a)
        return self._as_lookup_writes(c, p, a)

    def _state_of(self, country: str, text: str) -> str | None:
        """The province/state ``text`` names in ``country``: by code or by name (None when neither)."""
        key = normalise_part(country)
        return self._codes.get((key, text.strip().upper())) or self._provinces.get((key, normalise_part(text)))

    def _place_below_state(self, c: str, p: str, a: str) -> tuple[str, str, str]:
        ck, pk = normalise_part(c), normalise_part(p)
        if _FROM_DIAMOND_PRINCESS.search(pk) and (ck, _DIAMOND_PRINCESS) in self._provinces:
            # Passengers quarantined at one site: a place below the ship's region, named by the site.
            site = _clean(_FROM_DIAMOND_PRINCESS.sub("", p)).strip(" ,")
            return c, self._provinces[(ck, _DIAMOND_PRINCESS)], site
        match = _PLACE_IN_STATE.match(p)
        if match is None or (ck, pk) in self._provinces:
            return c, p, a  # no "place, state" (or a province the lookup itself writes with a comma)
        state = self._state_of(c, match.group("state"))
        if state is None:
            return c, p, a
        # The place below the state: a county of the lookup (_as_lookup_writes), else kept as written.
        return c, state, match.group("place").strip()

    def _county_stem(self, key: tuple[str, str, str]) -> tuple[str, str, str]:
        """The lookup's county a county name means once its kind is dropped, else the key as it is.

        NYT and the Census write the kind (``Sitka City and Borough``, ``Bethel Census Area``,
        ``Skagway Municipality``); the lookup writes the name alone. A Virginia county written
        ``<name> city`` (NYT's independent cities) is the lookup's ``<name>``; elsewhere " city"
        is part of the name (``New York City`` is not New York County).
        """
        suffixes = (*_COUNTY_KINDS, _CITY) if key[:2] == _VIRGINIA else _COUNTY_KINDS
        for suffix in ("", *suffixes):
            stem = (key[0], key[1], key[2].removesuffix(suffix))
            if stem != key and stem in self._names:
                return stem
            # NYT's "Doña Ana" is the lookup's "Dona Ana".
            if (folded := self._folded.get((stem[0], stem[1], _fold(stem[2])))) is not None:
                return folded
        return key

    def _as_lookup_writes(self, c: str, p: str, a: str) -> Region:
        key = (normalise_part(c), normalise_part(p), normalise_part(a))
        if key not in self._names and key[2]:
            key = self._county_stem(key)
        if key in self._names:
            c, p, a = self._names[key]
        else:
            c = self._countries.get(key[0], c)
            p = self._provinces.get(key[:2], p)
        return Region(c or None, p or None, a or None)
