"""Load-time validation: every invalid or unsupported construct is an AslDefinitionError naming the state."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from covid_pipeline.runner.asl import AslDefinitionError, StateMachine

RESOURCE = "arn:aws:states:::lambda:invoke"


def _load(definition: Any, **kwargs: Any) -> StateMachine:
    return StateMachine(definition, invoker=lambda *a: None, **kwargs)


def _one(state: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": "S", "States": {"S": state}}


def _task(**fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": RESOURCE, "End": True, **fields}


def test_a_full_featured_valid_definition_loads() -> None:
    definition = {
        "Comment": "all the accepted top-level fields",
        "Version": "1.0",
        "TimeoutSeconds": 3600,
        "QueryLanguage": "JSONPath",
        "StartAt": "T",
        "States": {
            "T": _task(
                Comment="c",
                QueryLanguage="JSONPath",
                TimeoutSeconds=60,
                HeartbeatSeconds=10,
                Credentials={"RoleArn": "arn:aws:iam::123456789012:role/r"},
                Retry=[{"ErrorEquals": ["A"], "MaxDelaySeconds": 5, "JitterStrategy": "FULL"}],
                Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Fail"}],
                End=False,
                Next="Par",
            ),
            "Par": {
                "Type": "Parallel",
                "Branches": [{"Comment": "b", "StartAt": "B", "States": {"B": {"Type": "Succeed"}}}],
                "Next": "Map",
            },
            "Map": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "I",
                    "States": {"I": {"Type": "Pass", "End": True}},
                },
                "MaxConcurrencyPath": "$.c",
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
            "Fail": {"Type": "Fail", "Error": "E", "Cause": "C"},
        },
    }
    machine = _load(definition)
    assert machine.history == []
    assert machine.definition is definition


INVALID: list[tuple[str, Any, str]] = [
    ("not an object", [], "must be a JSON object"),
    ("unknown top-level field", {"StartAt": "S", "States": {"S": {"Type": "Succeed"}}, "Foo": 1}, "['Foo']"),
    ("missing StartAt", {"States": {"S": {"Type": "Succeed"}}}, "'StartAt' is missing"),
    ("StartAt not a state", {"StartAt": "X", "States": {"S": {"Type": "Succeed"}}}, "StartAt 'X' is not a state"),
    ("empty States", {"StartAt": "S", "States": {}}, "'States' must be a non-empty object"),
    ("JSONata machine", {"QueryLanguage": "JSONata", **_one({"Type": "Succeed"})}, "QueryLanguage 'JSONata'"),
    ("bad TimeoutSeconds", {"TimeoutSeconds": 0, **_one({"Type": "Succeed"})}, "TimeoutSeconds must be a positive"),
    ("unknown Type", _one({"Type": "Sleep"}), "State 'S': unknown state Type 'Sleep'"),
    ("missing Type", _one({"End": True}), "State 'S': unknown state Type None"),
    ("unknown field", _one(_task(Foo=1)), "State 'S' (Task): field 'Foo' is not valid for a Task state"),
    (
        "ResultSelector on Pass",
        _one({"Type": "Pass", "ResultSelector": {}, "End": True}),
        "'ResultSelector' is not valid",
    ),
    ("InputPath on Fail", _one({"Type": "Fail", "InputPath": "$"}), "'InputPath' is not valid for a Fail state"),
    ("Assign", _one({"Type": "Pass", "Assign": {"x": 1}, "End": True}), "variables (Assign) are not supported"),
    ("Arguments", _one(_task(Arguments={})), "JSONata states are not supported"),
    ("state JSONata", _one({"Type": "Pass", "QueryLanguage": "JSONata", "End": True}), "QueryLanguage 'JSONata'"),
    ("no Next or End", _one({"Type": "Pass"}), "State 'S' (Pass): a non-terminal state needs 'Next'"),
    ("End false", _one({"Type": "Pass", "End": False}), "needs 'Next'"),
    ("End not boolean", _one({"Type": "Pass", "End": "yes"}), "'End' must be true or false"),
    ("Next and End", _one({"Type": "Pass", "Next": "S", "End": True}), "has both 'Next' and 'End'"),
    ("Succeed with Next", _one({"Type": "Succeed", "Next": "S"}), "field 'Next' is not valid for a Succeed state"),
    ("Fail with End", _one({"Type": "Fail", "End": True}), "field 'End' is not valid for a Fail state"),
    ("Choice with End", _one({"Type": "Choice", "Choices": [], "End": True}), "field 'End' is not valid"),
    (
        "Next pointing nowhere",
        {"StartAt": "S", "States": {"S": {"Type": "Pass", "Next": "Nowhere"}}},
        "State 'S': transition target 'Nowhere' is not a state",
    ),
    (
        "Default pointing nowhere",
        {
            "StartAt": "S",
            "States": {
                "S": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.a", "IsNull": True, "Next": "S"}],
                    "Default": "Gone",
                }
            },
        },
        "transition target 'Gone'",
    ),
    (
        "unreachable state",
        {"StartAt": "S", "States": {"S": {"Type": "Succeed"}, "Orphan": {"Type": "Succeed"}}},
        "State 'Orphan': is not reachable",
    ),
    ("missing Resource", _one({"Type": "Task", "End": True}), "'Resource' must be a non-empty string"),
    ("bad InputPath", _one({"Type": "Pass", "InputPath": "a.b", "End": True}), "State 'S' (Pass) InputPath"),
    ("wildcard ResultPath", _one({"Type": "Pass", "ResultPath": "$.a[*]", "End": True}), "must be a reference path"),
    ("context ResultPath", _one({"Type": "Pass", "ResultPath": "$$.a", "End": True}), "not allowed here"),
    ("filter OutputPath", _one({"Type": "Pass", "OutputPath": "$.a[?(@.x)]", "End": True}), "filter expressions"),
    ("Parameters not object", _one({"Type": "Pass", "Parameters": [1], "End": True}), "must be a JSON object"),
    ("non-string .$ value", _one({"Type": "Pass", "Parameters": {"a.$": 1}, "End": True}), "field 'a.$'"),
    (
        ".$ value not a path",
        _one({"Type": "Pass", "Parameters": {"a.$": "hello"}, "End": True}),
        "neither a JSONPath",
    ),
    (
        "duplicate field with and without .$",
        _one({"Type": "Pass", "Parameters": {"a": 1, "a.$": "$"}, "End": True}),
        "field 'a' is given twice",
    ),
    ("Wait without duration", _one({"Type": "Wait", "End": True}), "exactly one of Seconds"),
    (
        "Wait with two durations",
        _one({"Type": "Wait", "Seconds": 1, "Timestamp": "2024-01-01T00:00:00Z", "End": True}),
        "exactly one of",
    ),
    ("Wait negative", _one({"Type": "Wait", "Seconds": -1, "End": True}), "Seconds must be an integer >= 0"),
    ("Wait bad timestamp", _one({"Type": "Wait", "Timestamp": "2024-01-01", "End": True}), "not an RFC 3339 timestamp"),
    (
        "Fail Error and ErrorPath",
        _one({"Type": "Fail", "Error": "a", "ErrorPath": "$.e"}),
        "only one of Error and ErrorPath",
    ),
    ("Fail bad CausePath", _one({"Type": "Fail", "CausePath": "States.Nope()"}), "unknown intrinsic function"),
    ("bad Credentials", _one(_task(Credentials={"RoleArn.$": "States.Nope()"})), "unknown intrinsic function"),
    ("Task timeout zero", _one(_task(TimeoutSeconds=0)), "TimeoutSeconds must be an integer >= 1"),
    (
        "Task heartbeat too long",
        _one(_task(TimeoutSeconds=10, HeartbeatSeconds=10)),
        "HeartbeatSeconds must be smaller",
    ),
    ("Task both timeouts", _one(_task(TimeoutSeconds=10, TimeoutSecondsPath="$.t")), "only one of TimeoutSeconds"),
    ("Retry not array", _one(_task(Retry={})), "'Retry' must be an array"),
    ("empty ErrorEquals", _one(_task(Retry=[{"ErrorEquals": []}])), "'ErrorEquals' must be a non-empty array"),
    (
        "States.ALL not last retrier",
        _one(_task(Retry=[{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["A"]}])),
        "State 'S' (Task) Retry[0]: 'States.ALL' must appear alone",
    ),
    (
        "States.ALL not alone",
        _one(_task(Retry=[{"ErrorEquals": ["States.ALL", "A"]}])),
        "'States.ALL' must appear alone",
    ),
    ("bad IntervalSeconds", _one(_task(Retry=[{"ErrorEquals": ["A"], "IntervalSeconds": 0}])), "IntervalSeconds"),
    ("bad MaxAttempts", _one(_task(Retry=[{"ErrorEquals": ["A"], "MaxAttempts": -1}])), "MaxAttempts"),
    ("bad BackoffRate", _one(_task(Retry=[{"ErrorEquals": ["A"], "BackoffRate": 0.5}])), "BackoffRate"),
    ("bad MaxDelaySeconds", _one(_task(Retry=[{"ErrorEquals": ["A"], "MaxDelaySeconds": 0}])), "MaxDelaySeconds"),
    ("bad JitterStrategy", _one(_task(Retry=[{"ErrorEquals": ["A"], "JitterStrategy": "HALF"}])), "JitterStrategy"),
    (
        "unknown retrier field",
        _one(_task(Retry=[{"ErrorEquals": ["A"], "Backoff": 2}])),
        "unknown field(s) ['Backoff']",
    ),
    (
        "States.ALL not last catcher",
        {
            "StartAt": "S",
            "States": {
                "S": _task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "F"}, {"ErrorEquals": ["A"], "Next": "F"}]),
                "F": {"Type": "Succeed"},
            },
        },
        "Catch[0]: 'States.ALL' must appear alone",
    ),
    ("catcher without Next", _one(_task(Catch=[{"ErrorEquals": ["A"]}])), "Catch[0]: 'Next' must be a state name"),
    ("catcher to nowhere", _one(_task(Catch=[{"ErrorEquals": ["A"], "Next": "Nope"}])), "transition target 'Nope'"),
    ("Parallel without branches", _one({"Type": "Parallel", "Branches": [], "End": True}), "'Branches' must be"),
    (
        "error inside a Parallel branch",
        _one({"Type": "Parallel", "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass"}}}], "End": True}),
        "State 'B' (Pass): a non-terminal state needs 'Next'",
    ),
    (
        "branch with unknown field",
        _one(
            {
                "Type": "Parallel",
                "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}, "X": 1}],
                "End": True,
            }
        ),
        "Branches[0]: unknown field(s) ['X']",
    ),
    (
        "branch Next into the parent scope",
        {
            "StartAt": "P",
            "States": {
                "P": {
                    "Type": "Parallel",
                    "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "After"}}}],
                    "Next": "After",
                },
                "After": {"Type": "Succeed"},
            },
        },
        "State 'B': transition target 'After' is not a state in this scope",
    ),
    (
        "duplicate state name across branches",
        {
            "StartAt": "P",
            "States": {
                "P": {
                    "Type": "Parallel",
                    "Branches": [{"StartAt": "P", "States": {"P": {"Type": "Succeed"}}}],
                    "End": True,
                }
            },
        },
        "State 'P': duplicate state name",
    ),
    (
        "error inside a Map processor",
        _one(
            {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Wait", "End": True}}},
                "End": True,
            }
        ),
        "State 'I' (Wait): exactly one of",
    ),
    ("Map without processor", _one({"Type": "Map", "End": True}), "exactly one of 'Iterator' and 'ItemProcessor'"),
    (
        "Map with both processors",
        _one({"Type": "Map", "Iterator": {}, "ItemProcessor": {}, "End": True}),
        "exactly one of 'Iterator' and 'ItemProcessor'",
    ),
    (
        "distributed Map",
        _one(
            {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED"},
                    "StartAt": "I",
                    "States": {"I": {"Type": "Succeed"}},
                },
                "End": True,
            }
        ),
        "only inline Map is supported",
    ),
    (
        "distributed Map fields",
        _one(
            {
                "Type": "Map",
                "ItemReader": {},
                "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
                "End": True,
            }
        ),
        "distributed Map is not supported",
    ),
    (
        "Map ItemSelector and Parameters",
        _one(
            {
                "Type": "Map",
                "ItemSelector": {},
                "Parameters": {},
                "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
                "End": True,
            }
        ),
        "either 'ItemSelector' or 'Parameters'",
    ),
    (
        "Map bad ItemsPath",
        _one(
            {
                "Type": "Map",
                "ItemsPath": "$.a[*]",
                "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
                "End": True,
            }
        ),
        "ItemsPath: '$.a[*]' must be a reference path",
    ),
    (
        "Map bad MaxConcurrency",
        _one(
            {
                "Type": "Map",
                "MaxConcurrency": -1,
                "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
                "End": True,
            }
        ),
        "MaxConcurrency must be a non-negative integer",
    ),
    ("Version not a string", {"Version": 1, **_one({"Type": "Succeed"})}, "Version must be a string"),
    ("state not an object", _one([]), "State 'S': must be an object"),
    ("Catch not array", _one(_task(Catch={})), "'Catch' must be an array"),
    ("unknown catcher field", _one(_task(Catch=[{"ErrorEquals": ["A"], "Next": "S", "X": 1}])), "['X']"),
    ("Fail Error not a string", _one({"Type": "Fail", "Error": 5}), "'Error' must be a string"),
    (
        "ProcessorConfig extras",
        _one(
            {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE", "ExecutionType": "STANDARD"},
                    "StartAt": "I",
                    "States": {"I": {"Type": "Succeed"}},
                },
                "End": True,
            }
        ),
        "ProcessorConfig only supports 'Mode'",
    ),
    (
        "both MaxConcurrency fields",
        _one(
            {
                "Type": "Map",
                "MaxConcurrency": 1,
                "MaxConcurrencyPath": "$.c",
                "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
                "End": True,
            }
        ),
        "only one of MaxConcurrency and MaxConcurrencyPath",
    ),
    ("long state name", {"StartAt": "x" * 81, "States": {"x" * 81: {"Type": "Succeed"}}}, "1-80 characters"),
]


@pytest.mark.parametrize(("definition", "message"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_invalid_definitions_are_rejected_at_load_time(definition: Any, message: str) -> None:
    with pytest.raises(AslDefinitionError, match=re.escape(message)):
        _load(copy.deepcopy(definition))


def test_supported_resources_filter() -> None:
    definition = {
        "StartAt": "Good",
        "States": {
            "Good": _task(End=False, Next="Bad"),
            "Bad": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync", "End": True},
        },
    }
    with pytest.raises(AslDefinitionError, match=re.escape("State 'Bad' (Task): Resource 'arn:aws:states:::glue")):
        _load(definition, supported_resources=lambda arn: "lambda" in arn)
    assert _load(definition, supported_resources=lambda arn: True).history == []
    assert _load(definition).history == []  # no filter: everything accepted


def test_negative_wait_scale_is_rejected() -> None:
    with pytest.raises(ValueError, match="wait_scale"):
        _load(_one({"Type": "Succeed"}), wait_scale=-1)


def test_definition_error_is_a_value_error() -> None:
    assert issubclass(AslDefinitionError, ValueError)
