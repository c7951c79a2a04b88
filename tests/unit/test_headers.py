"""headers.lines_up: whether a position-based reader of a catalog table sees an object's columns."""

from __future__ import annotations

import pytest

from covid_pipeline.headers import EXACT, PREFIX, lines_up

ERA1 = ["Province/State", "Country/Region", "Last Update", "Confirmed", "Deaths", "Recovered"]
ERA3 = ["FIPS", "Admin2", "Province_State", "Country_Region", "Last_Update", "Lat", "Long_", "Confirmed"]
ERA4 = [*ERA3, "Incident_Rate", "Case_Fatality_Ratio"]


def test_the_same_header_is_exact_also_as_a_crawler_names_it() -> None:
    assert lines_up(ERA3, ERA3) == EXACT
    # Glue lowercases: camelCase and punctuation must not make a false mismatch.
    header = ["positiveIncrease", "Long_", "Case-Fatality_Ratio"]
    assert lines_up(header, ["positiveincrease", "long_", "case-fatality_ratio"]) == EXACT


def test_a_header_the_table_only_extends_is_a_prefix() -> None:
    assert lines_up(ERA3, ERA4) == PREFIX


@pytest.mark.parametrize(
    ("header", "table", "reason"),
    [
        (ERA1, ERA4, "column 1 is 'Province/State' in the object but 'FIPS' in its catalog table"),
        (ERA4, ERA3, "the object has 10 columns, its catalog table 8"),
        (["a", "c", "b"], ["a", "b", "c"], "column 2 is 'c' in the object but 'b' in its catalog table"),
    ],
)
def test_anything_else_would_shift_values(header: list[str], table: list[str], reason: str) -> None:
    assert lines_up(header, table) == reason


def test_blank_and_repeated_names_match_the_crawler_made_ones() -> None:
    assert lines_up(["", "deaths", "deaths"], ["col0", "deaths", "deaths_2"]) == EXACT
