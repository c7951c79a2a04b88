"""dim_region's level on the real names: ships, Recovered, Unassigned, New York City are what they are, not states."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from covid_pipeline.region_levels import level_of, rules
from covid_pipeline.region_names import RegionResolver
from covid_pipeline.schema import REGION_LEVELS

from .test_region_names import ENIGMA, REPORTS, STATE_CODES, UID, _rows

ROOT = Path(__file__).resolve().parents[2]


def real_regions() -> set[tuple[str | None, str | None, str | None]]:
    """Every region of the lookup and every region the real files' names resolve to (JHU, Enigma, NYT)."""
    names = {n for path in [*REPORTS, ENIGMA] for n in _rows(path)}
    for path in (ROOT / "data").rglob("*.csv"):
        if "nytimes" in str(path):
            with path.open(encoding="utf-8-sig", newline="") as fh:
                names |= {("US", r["state"], r.get("county")) for r in csv.DictReader(fh)}
    resolver = RegionResolver(UID, STATE_CODES)
    resolved = {resolver.resolve(*n) for n in names}
    return {(r.country, r.province, r.county) for r in [*UID, *resolved]}


@pytest.mark.parametrize(
    ("names", "level"),
    [
        (("US", "Diamond Princess", None), "ship"),
        (("Canada", "Grand Princess", None), "ship"),
        (("Diamond Princess", None, None), "ship"),
        (("MS Zaandam", None, None), "ship"),
        (("US", "Diamond Princess", "Lackland, TX"), "ship"),
        (("Australia", "From Diamond Princess", None), "ship"),
        (("US", "Recovered", None), "aggregate"),
        (("Canada", "Recovered", None), "aggregate"),
        (("US", "Alabama", "Unassigned"), "unassigned"),
        (("US", "New York", "Out of NY"), "unassigned"),
        (("US", "New Jersey", "Unknown"), "unassigned"),
        (("Belgium", "Unknown", None), "unassigned"),
        (("US", "US Military", "Unassigned"), "institution"),
        (("US", "New York", "New York City"), "city"),
        (("US", "New York", "New York"), "county"),
        (("US", "Utah", "Bear River"), "county_group"),
        (("US", "New York", None), "state"),
        (("US", None, None), "country"),
        (("US", "Washington", "Seattle"), "county"),
    ],
)
def test_levels_of_the_issue_names(names, level) -> None:
    assert level_of(*names) == level


def test_every_real_region_gets_a_documented_level_and_no_ship_or_aggregate_is_a_state() -> None:
    regions = real_regions()
    levels = {names: level_of(*names) for names in regions}
    assert set(levels.values()) <= set(REGION_LEVELS)
    states = {n[1] for n, level in levels.items() if n[0] == "US" and level == "state"}
    assert {"Diamond Princess", "Grand Princess", "Recovered", "US Military"}.isdisjoint(states)
    # The US states of the lookup are the 50 states, DC and the five inhabited territories.
    assert len(states) == 56, sorted(states)
    # Each rule matches some real region (no dead rules).
    for rule in rules():
        assert any(level_of(*n) == rule.level for n in regions), rule
