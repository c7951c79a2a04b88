"""Choice state: every operator, And/Or/Not, Default, NoChoiceMatched and rule validation."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from covid_pipeline.runner.asl import AslDefinitionError, ExecutionFailed, StateMachine
from covid_pipeline.runner.asl_choice import parse_timestamp, wildcard_pattern


def _definition(rule: dict[str, Any], *, default: bool = True) -> dict[str, Any]:
    choice: dict[str, Any] = {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}]}
    states: dict[str, Any] = {"C": choice, "Yes": {"Type": "Pass", "Result": "yes", "End": True}}
    if default:
        choice["Default"] = "No"
        states["No"] = {"Type": "Pass", "Result": "no", "End": True}
    return {"StartAt": "C", "States": states}


def matches(rule: dict[str, Any], data: Any) -> bool:
    """Whether the single rule sends ``data`` to the 'Yes' state."""
    machine = StateMachine(_definition(rule), invoker=lambda *a: None)
    return machine.execute(data, execution_name="e") == "yes"


T1 = "2024-03-14T01:59:00Z"
T2 = "2024-03-14T02:00:00.5+00:00"

COMPARISONS = [
    # (operator, variable value, operand, expected)
    ("StringEquals", "abc", "abc", True),
    ("StringEquals", "abc", "abd", False),
    ("StringEquals", 1, "1", False),  # wrong type is simply no match
    ("StringLessThan", "abc", "abd", True),
    ("StringLessThan", "abd", "abc", False),
    ("StringGreaterThan", "b", "a", True),
    ("StringLessThanEquals", "a", "a", True),
    ("StringGreaterThanEquals", "a", "b", False),
    ("NumericEquals", 3, 3.0, True),
    ("NumericEquals", True, 1, False),  # a boolean is not a number
    ("NumericEquals", "3", 3, False),
    ("NumericLessThan", 2, 3, True),
    ("NumericGreaterThan", 2, 3, False),
    ("NumericLessThanEquals", 3, 3, True),
    ("NumericGreaterThanEquals", 2.5, 3, False),
    ("BooleanEquals", True, True, True),
    ("BooleanEquals", 1, True, False),
    ("TimestampEquals", "2024-03-14T01:59:00+00:00", T1, True),
    ("TimestampEquals", "2024-03-14T03:59:00+02:00", T1, True),  # same instant, other offset
    ("TimestampLessThan", T1, T2, True),
    ("TimestampGreaterThan", T1, T2, False),
    ("TimestampLessThanEquals", T1, T1, True),
    ("TimestampGreaterThanEquals", T2, T1, True),
    ("TimestampEquals", "not a timestamp", T1, False),
]


@pytest.mark.parametrize(("op", "value", "operand", "expected"), COMPARISONS)
def test_comparison_operators(op: str, value: Any, operand: Any, expected: bool) -> None:
    assert matches({"Variable": "$.v", op: operand}, {"v": value}) is expected


@pytest.mark.parametrize(("op", "value", "operand", "expected"), COMPARISONS)
def test_path_variants_compare_against_another_field(op: str, value: Any, operand: Any, expected: bool) -> None:
    rule = {"Variable": "$.v", f"{op}Path": "$.other"}
    assert matches(rule, {"v": value, "other": operand}) is expected


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("log-*.txt", "log-2024.txt", True),
        ("log-*.txt", "log-.txt", True),
        ("log-*.txt", "log-2024.csv", False),
        ("*", "", True),
        ("a\\*b", "a*b", True),
        ("a\\*b", "axb", False),
        ("a\\\\b", "a\\b", True),
        ("*.CSV", "x.csv", False),  # case sensitive
        ("a.c", "abc", False),  # regex metacharacters are literal
    ],
)
def test_string_matches_wildcards_and_escapes(pattern: str, value: str, expected: bool) -> None:
    assert matches({"Variable": "$.v", "StringMatches": pattern}, {"v": value}) is expected


def test_string_matches_on_a_non_string_is_false() -> None:
    assert matches({"Variable": "$.v", "StringMatches": "*"}, {"v": 5}) is False


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("IsNull", None, True),
        ("IsNull", 0, False),
        ("IsNumeric", 1.5, True),
        ("IsNumeric", True, False),
        ("IsNumeric", "1", False),
        ("IsString", "", True),
        ("IsString", None, False),
        ("IsBoolean", False, True),
        ("IsBoolean", 0, False),
        ("IsTimestamp", T1, True),
        ("IsTimestamp", "2024-03-14 01:59:00Z", False),  # needs the uppercase 'T'
        ("IsTimestamp", "2024-03-14T01:59:00", False),  # needs a zone
    ],
)
def test_type_tests(op: str, value: Any, expected: bool) -> None:
    assert matches({"Variable": "$.v", op: True}, {"v": value}) is expected
    assert matches({"Variable": "$.v", op: False}, {"v": value}) is not expected


def test_is_present_handles_missing_paths() -> None:
    assert matches({"Variable": "$.v", "IsPresent": True}, {"v": None}) is True
    assert matches({"Variable": "$.v", "IsPresent": True}, {}) is False
    assert matches({"Variable": "$.v", "IsPresent": False}, {}) is True


def test_missing_variable_is_states_runtime() -> None:
    machine = StateMachine(_definition({"Variable": "$.v", "StringEquals": "x"}), invoker=lambda *a: None)
    with pytest.raises(ExecutionFailed) as info:
        machine.execute({}, execution_name="e")
    assert info.value.error == "States.Runtime"
    assert info.value.state == "C"
    assert "$.v" in info.value.cause


def test_missing_comparison_path_is_states_runtime() -> None:
    machine = StateMachine(_definition({"Variable": "$.v", "NumericEqualsPath": "$.w"}), invoker=lambda *a: None)
    with pytest.raises(ExecutionFailed, match=r"States\.Runtime"):
        machine.execute({"v": 1}, execution_name="e")


def test_and_or_not_combinations() -> None:
    rule = {
        "And": [
            {"Variable": "$.n", "NumericGreaterThanEquals": 10},
            {"Or": [{"Variable": "$.s", "StringEquals": "a"}, {"Variable": "$.s", "StringEquals": "b"}]},
            {"Not": {"Variable": "$.flag", "BooleanEquals": True}},
        ]
    }
    assert matches(rule, {"n": 10, "s": "b", "flag": False}) is True
    assert matches(rule, {"n": 9, "s": "b", "flag": False}) is False
    assert matches(rule, {"n": 10, "s": "c", "flag": False}) is False
    assert matches(rule, {"n": 10, "s": "a", "flag": True}) is False


def test_and_short_circuits_so_is_present_can_guard_a_comparison() -> None:
    rule = {"And": [{"Variable": "$.v", "IsPresent": True}, {"Variable": "$.v", "NumericGreaterThan": 1}]}
    assert matches(rule, {}) is False
    assert matches(rule, {"v": 2}) is True


def test_first_matching_rule_wins_and_output_uses_input_and_output_paths() -> None:
    definition = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "InputPath": "$.payload",
                "OutputPath": "$.keep",
                "Choices": [
                    {"Variable": "$.n", "NumericGreaterThan": 0, "Next": "First"},
                    {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Second"},
                ],
            },
            "First": {"Type": "Pass", "ResultPath": "$.route", "Result": "first", "End": True},
            "Second": {"Type": "Pass", "ResultPath": "$.route", "Result": "second", "End": True},
        },
    }
    machine = StateMachine(definition, invoker=lambda *a: None)
    out = machine.execute({"payload": {"n": 5, "keep": {"k": 1}}}, execution_name="e")
    assert out == {"k": 1, "route": "first"}


def test_context_variable_in_a_choice() -> None:
    assert matches({"Variable": "$$.Execution.Name", "StringEquals": "e"}, {}) is True


def test_default_is_taken_when_nothing_matches() -> None:
    assert matches({"Variable": "$.v", "NumericEquals": 1}, {"v": 2}) is False


def test_no_match_and_no_default_is_no_choice_matched() -> None:
    machine = StateMachine(_definition({"Variable": "$.v", "NumericEquals": 1}, default=False), invoker=lambda *a: None)
    with pytest.raises(ExecutionFailed) as info:
        machine.execute({"v": 2}, execution_name="e")
    assert info.value.error == "States.NoChoiceMatched"
    assert info.value.state == "C"


def test_no_choice_matched_inside_a_parallel_can_be_caught() -> None:
    inner = _definition({"Variable": "$.v", "NumericEquals": 1}, default=False)
    inner["States"] = {f"Inner{name}": state for name, state in inner["States"].items()}
    inner["StartAt"] = "InnerC"
    inner["States"]["InnerC"]["Choices"][0]["Next"] = "InnerYes"
    definition = {
        "StartAt": "Par",
        "States": {
            "Par": {
                "Type": "Parallel",
                "Branches": [inner],
                "Catch": [{"ErrorEquals": ["States.NoChoiceMatched"], "ResultPath": "$.err", "Next": "Done"}],
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        },
    }
    out = StateMachine(definition, invoker=lambda *a: None).execute({"v": 2}, execution_name="e")
    assert out["err"]["Error"] == "States.NoChoiceMatched"
    assert out["v"] == 2


# --------------------------------------------------------------------------- load-time validation


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"Variable": "$.v", "StringEqualz": "x"}, "unknown Choice operator(s) ['StringEqualz']"),
        ({"Variable": "$.v"}, "exactly one operator"),
        ({"Variable": "$.v", "StringEquals": "a", "NumericEquals": 1}, "exactly one operator"),
        ({"StringEquals": "a"}, "needs a 'Variable'"),
        ({"Variable": "v", "StringEquals": "a"}, "is not a JSONPath"),
        ({"Variable": "$.v", "StringEquals": 1}, "needs a string operand"),
        ({"Variable": "$.v", "NumericEquals": "1"}, "needs a numeric operand"),
        ({"Variable": "$.v", "NumericEquals": True}, "needs a numeric operand"),
        ({"Variable": "$.v", "BooleanEquals": "true"}, "needs a boolean operand"),
        ({"Variable": "$.v", "TimestampEquals": "2024-01-01"}, "needs a timestamp operand"),
        ({"Variable": "$.v", "StringEqualsPath": "nope"}, "is not a JSONPath"),
        ({"Variable": "$.v", "IsNull": "yes"}, "needs true or false"),
        ({"Variable": "$.v", "StringMatches": 5}, "string pattern"),
        ({"And": []}, "non-empty array"),
        ({"And": [{"Variable": "$.v", "IsNull": True, "Next": "Yes"}]}, "must not have 'Next'"),
        ({"Not": {"Variable": "$.v", "Bogus": 1}}, "unknown Choice operator"),
        ({"Or": [{"Variable": "$.v", "IsNull": True}], "Variable": "$.v"}, "must not have a 'Variable'"),
        ({"Variable": "$.v", "BooleanLessThan": True}, "unknown Choice operator"),
    ],
)
def test_invalid_rules_are_rejected_at_load_time(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(AslDefinitionError, match=re.escape(message)) as info:
        StateMachine(_definition(rule), invoker=lambda *a: None)
    assert "State 'C'" in str(info.value)


def test_top_level_rule_without_next_is_rejected() -> None:
    definition = _definition({"Variable": "$.v", "IsNull": True})
    del definition["States"]["C"]["Choices"][0]["Next"]
    definition["States"]["C"]["Default"] = "Yes"
    del definition["States"]["No"]
    with pytest.raises(AslDefinitionError, match="needs a 'Next'"):
        StateMachine(definition, invoker=lambda *a: None)


def test_choice_without_choices_is_rejected() -> None:
    definition = {"StartAt": "C", "States": {"C": {"Type": "Choice", "Default": "D"}, "D": {"Type": "Succeed"}}}
    with pytest.raises(AslDefinitionError, match=r"State 'C' \(Choice\): 'Choices' must be a non-empty array"):
        StateMachine(definition, invoker=lambda *a: None)


# --------------------------------------------------------------------------- helpers


def test_parse_timestamp() -> None:
    assert parse_timestamp("2024-03-14T01:59:00Z") == datetime(2024, 3, 14, 1, 59, tzinfo=UTC)
    assert parse_timestamp("2024-03-14T01:59:00.123456789Z") == datetime(2024, 3, 14, 1, 59, 0, 123456, tzinfo=UTC)
    assert parse_timestamp("2024-03-14t01:59:00z") is None
    assert parse_timestamp("2024-02-30T00:00:00Z") is None
    assert parse_timestamp(17) is None


def test_wildcard_pattern_compiles_to_an_anchored_regex() -> None:
    assert wildcard_pattern("a*").fullmatch("a\nb")
    assert not wildcard_pattern("a").fullmatch("ab")
