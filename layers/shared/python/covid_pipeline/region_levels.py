"""dim_region's ``level``: what kind of region a row is, from its resolved names.

The depth of the names (a county below a state below a country, keys.region_level) is
not what a region is: JHU's lookup and the feeds also name ships (``Diamond Princess``
as a country, or as a "province" of the US and Canada), a country's recoveries with no
place (``Recovered``), cases a state could not place (``Unassigned``, ``Out of AL``,
NYT's ``Unknown``), institutions (``US Military``), and areas that replace several
counties (NYT's and JHU's ``New York City``, Utah's health districts). The rules are
data, ``reference/region_levels.csv``, each with why (where the name was seen); the
first rule whose three patterns match the normalised names gives the level, else the
depth. Patterns: blank = no name at that depth, ``*`` = any text (none included),
otherwise the name itself, ``*`` inside standing for any text.

One definition for every engine: ``level_of`` here, and the Spark expression of
covid_transforms.regions built from the same ``rules()`` (``pattern_regex``); a unit
test compares them on every region of the lookup and every name of the real files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from covid_pipeline.keys import normalise_part, region_level
from covid_pipeline.reference_data import reference_csv
from covid_pipeline.schema import REGION_LEVELS

ANY = "*"


@dataclass(frozen=True)
class LevelRule:
    country: str
    province_state: str
    county: str
    level: str
    why: str

    @property
    def patterns(self) -> tuple[str, str, str]:
        return (self.country, self.province_state, self.county)


def pattern_regex(pattern: str) -> str:
    """A rule's pattern as a regex over normalised text, anchored, valid in Python and Java alike."""
    text = normalise_part(pattern)
    if not text:
        return "^$"
    return "^" + ".*".join(re.escape(part) for part in text.split(ANY)) + "$"


@cache
def rules() -> tuple[LevelRule, ...]:
    out = tuple(LevelRule(**row) for row in reference_csv("region_levels.csv"))
    unknown = sorted({r.level for r in out} - set(REGION_LEVELS))
    if unknown:
        raise ValueError(f"region_levels.csv names levels the contract does not document: {unknown}")
    return out


@cache
def _compiled() -> tuple[tuple[tuple[re.Pattern[str], ...], str], ...]:
    return tuple((tuple(re.compile(pattern_regex(p)) for p in r.patterns), r.level) for r in rules())


def level_of(country: str | None, province: str | None, county: str | None) -> str:
    """The level of the region of these resolved names (see the module docstring)."""
    parts = (normalise_part(country), normalise_part(province), normalise_part(county))
    for patterns, level in _compiled():
        if all(p.match(part) for p, part in zip(patterns, parts, strict=True)):
            return level
    return region_level(province, county)
