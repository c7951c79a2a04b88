"""JSONPath, ResultPath writes, the AWS input/output processing order and the context object."""

from __future__ import annotations

import re
from typing import Any

import pytest

from covid_pipeline.runner.asl import AslDefinitionError, Context, ExecutionFailed, StateMachine, TaskFailed
from covid_pipeline.runner.asl_paths import PathNotFoundError, StatesError, parse_path, write_result_path

DOC = {
    "store": {
        "book": [
            {"title": "A", "price": 8, "tags": ["x"]},
            {"title": "B", "price": 12},
            {"title": "C", "price": 9, "isbn": "123"},
        ],
        "name": "shop",
        "odd key": 1,
    }
}


def _path(text: str) -> Any:
    return parse_path(text, where="test").get(DOC)


# --------------------------------------------------------------------------- JSONPath


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$", DOC),
        ("$.store.name", "shop"),
        ("$['store']['name']", "shop"),
        ('$["store"].name', "shop"),
        ("$.store['odd key']", 1),
        ("$.store.book[0].title", "A"),
        ("$.store.book[-1].title", "C"),
        ("$.store.book[1]['price']", 12),
        ("$.store.book[0].tags[0]", "x"),
    ],
)
def test_definite_paths_return_the_value(text: str, expected: Any) -> None:
    assert _path(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$.store.book[*].title", ["A", "B", "C"]),
        ("$.store.book[0:2].price", [8, 12]),
        ("$.store.book[-2:].title", ["B", "C"]),
        ("$.store.book[0,2].title", ["A", "C"]),
        ("$.store.book[*].isbn", ["123"]),
        ("$..price", [8, 12, 9]),
        ("$.store.book[1].*", ["B", 12]),
        ("$.store.book[*].missing", []),
    ],
)
def test_indefinite_paths_return_a_list(text: str, expected: Any) -> None:
    assert _path(text) == expected


def test_missing_definite_path_raises_states_runtime() -> None:
    with pytest.raises(PathNotFoundError) as info:
        _path("$.store.nope")
    assert info.value.error == "States.Runtime"
    assert "$.store.nope" in info.value.cause


def test_index_on_object_and_name_on_array_do_not_match() -> None:
    path = parse_path("$.store[0]", where="t")
    assert not path.exists(DOC)
    assert not parse_path("$.store.book.title", where="t").exists(DOC)


def test_quoted_names_support_escapes_and_special_characters() -> None:
    data = {"it's": {"a.b": [0, {"x": 1}]}}
    assert parse_path("$['it\\'s'][\"a.b\"][1].x", where="t").get(data) == 1


def test_context_paths_read_the_context_object() -> None:
    context = {"Execution": {"Name": "run-1"}}
    path = parse_path("$$.Execution.Name", where="t")
    assert path.context
    assert path.get({"ignored": True}, context) == "run-1"
    assert parse_path("$$", where="t").get({}, context) == context


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("store.name", "must start with '$'"),
        ("$.a[?(@.price < 10)]", "filter expressions"),
        ("$.a[", "unterminated"),
        ("$.a.", "expected a member name"),
        ("$.a[x]", "invalid subscript"),
        ("$.a[1:2:0]", "step cannot be zero"),
        ("$.a b", "unexpected"),
        ("$.a[*, 0]", "cannot be combined"),
        ("$['a", "unterminated quoted name"),
        ("$.a[1:2:3:4]", "invalid slice"),
    ],
)
def test_malformed_paths_are_definition_errors(text: str, message: str) -> None:
    with pytest.raises(AslDefinitionError, match=re.escape(message)):
        parse_path(text, where="State 'X' InputPath")


def test_reference_paths_reject_wildcards_and_context() -> None:
    with pytest.raises(AslDefinitionError, match="reference path"):
        parse_path("$.a[*]", where="t", reference=True)
    with pytest.raises(AslDefinitionError, match="context object"):
        parse_path("$$.Execution", where="t", reference=True, allow_context=False)


# --------------------------------------------------------------------------- ResultPath writes


def test_result_path_creates_nested_objects_without_mutating_input() -> None:
    original = {"a": {"keep": 1}}
    out = write_result_path(original, parse_path("$.a.b.c", where="t"), 5)
    assert out == {"a": {"keep": 1, "b": {"c": 5}}}
    assert original == {"a": {"keep": 1}}


def test_result_path_root_replaces_and_index_overwrites() -> None:
    assert write_result_path({"x": 1}, parse_path("$", where="t"), [1]) == [1]
    assert write_result_path({"l": [1, 2]}, parse_path("$.l[1]", where="t"), 9) == {"l": [1, 9]}
    original = {"l": [{"a": 1}]}
    assert write_result_path(original, parse_path("$.l[0].b", where="t"), 2) == {"l": [{"a": 1, "b": 2}]}
    assert original == {"l": [{"a": 1}]}


@pytest.mark.parametrize(
    ("data", "path"),
    [("text", "$.a"), ({"a": 3}, "$.a.b"), ({"l": [1]}, "$.l[3]"), ([1], "$.a")],
)
def test_result_path_mismatch_is_result_path_match_failure(data: Any, path: str) -> None:
    with pytest.raises(StatesError) as info:
        write_result_path(data, parse_path(path, where="t"), 1)
    assert info.value.error == "States.ResultPathMatchFailure"


# --------------------------------------------------------------------------- processing order (AWS docs examples)


def _single_task(state: dict[str, Any], invoker: Any) -> StateMachine:
    state = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Hello", "End": True, **state}
    return StateMachine({"StartAt": "S", "States": {"S": state}}, invoker=invoker)


def _hello(resource: str, params: Any, context: Context) -> str:
    return f"Hello, {params['who']}!"


def test_inputpath_resultpath_outputpath_docs_example() -> None:
    # The AWS "InputPath, ResultPath and OutputPath" walkthrough.
    machine = _single_task(
        {"InputPath": "$.lambda", "ResultPath": "$.data.lambdaresult", "OutputPath": "$.data"}, _hello
    )
    state_input = {
        "comment": "An input comment.",
        "data": {"val1": 23, "val2": 17},
        "extra": "foo",
        "lambda": {"who": "AWS Step Functions"},
    }
    out = machine.execute(state_input, execution_name="e")
    assert out == {"val1": 23, "val2": 17, "lambdaresult": "Hello, AWS Step Functions!"}


def test_parameters_docs_example() -> None:
    seen: list[Any] = []
    machine = _single_task(
        {
            "Parameters": {
                "comment": "Selecting what I care about.",
                "MyDetails": {"size.$": "$.product.details.size", "exists.$": "$.product.availability"}
                | {"StaticValue": "foo"},
            },
            "ResultPath": None,
        },
        lambda r, params, c: seen.append(params),
    )
    state_input = {
        "comment": "Example for Parameters.",
        "product": {
            "details": {"color": "blue", "size": "small", "material": "cotton"},
            "availability": "in stock",
            "sku": "2317",
            "cost": "$23",
        },
    }
    out = machine.execute(state_input, execution_name="e")
    assert seen == [
        {
            "comment": "Selecting what I care about.",
            "MyDetails": {"size": "small", "exists": "in stock", "StaticValue": "foo"},
        }
    ]
    assert out == state_input  # ResultPath null keeps the original input


def test_result_selector_then_result_path() -> None:
    raw_result = {
        "resourceType": "elasticmapreduce",
        "resource": "addStep.sync",
        "output": {"SdkHttpMetadata": {"HttpStatusCode": 200}, "StepId": "s-123"},
    }
    machine = _single_task(
        {
            "ResultSelector": {"StepId.$": "$.output.StepId", "Type.$": "$.resourceType", "fixed": [1, {"a": "b"}]},
            "ResultPath": "$.EMROutput",
        },
        lambda r, p, c: raw_result,
    )
    out = machine.execute({"ClusterId": "j-1"}, execution_name="e")
    assert out == {
        "ClusterId": "j-1",
        "EMROutput": {"StepId": "s-123", "Type": "elasticmapreduce", "fixed": [1, {"a": "b"}]},
    }


def test_resultpath_applies_to_the_raw_input_not_the_inputpath_view() -> None:
    machine = _single_task({"InputPath": "$.lambda", "ResultPath": "$.greeting"}, _hello)
    out = machine.execute({"lambda": {"who": "me"}, "other": 1}, execution_name="e")
    assert out == {"lambda": {"who": "me"}, "other": 1, "greeting": "Hello, me!"}


def test_null_input_and_output_paths_give_empty_objects() -> None:
    seen: list[Any] = []
    machine = _single_task({"InputPath": None, "OutputPath": None}, lambda r, p, c: seen.append(p) or "x")
    assert machine.execute({"a": 1}, execution_name="e") == {}
    assert seen == [{}]


def test_default_resultpath_replaces_the_input_with_the_result() -> None:
    machine = _single_task({}, lambda r, p, c: {"only": "result"})
    assert machine.execute({"a": 1}, execution_name="e") == {"only": "result"}


def test_pass_result_and_parameters() -> None:
    definition = {
        "StartAt": "P1",
        "States": {
            "P1": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.fixed", "Next": "P2"},
            "P2": {
                "Type": "Pass",
                "Parameters": {"copy.$": "$.fixed.x", "lit": True},
                "ResultPath": "$.p",
                "End": True,
            },
        },
    }
    machine = StateMachine(definition, invoker=lambda *a: None)
    assert machine.execute({"in": 0}, execution_name="e") == {"in": 0, "fixed": {"x": 1}, "p": {"copy": 1, "lit": True}}


def test_pass_without_result_passes_the_effective_input() -> None:
    definition = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "InputPath": "$.a", "ResultPath": "$.b", "End": True}},
    }
    machine = StateMachine(definition, invoker=lambda *a: None)
    assert machine.execute({"a": [1]}, execution_name="e") == {"a": [1], "b": [1]}


def test_indefinite_parameter_path_yields_a_list() -> None:
    definition = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Parameters": {"ids.$": "$.rows[*].id"}, "End": True}},
    }
    machine = StateMachine(definition, invoker=lambda *a: None)
    assert machine.execute({"rows": [{"id": 1}, {"id": 2}]}, execution_name="e") == {"ids": [1, 2]}


@pytest.mark.parametrize(
    ("state", "field"),
    [
        ({"InputPath": "$.missing"}, "InputPath"),
        ({"OutputPath": "$.missing"}, "OutputPath"),
        ({"Parameters": {"v.$": "$.missing"}}, "v.$"),
    ],
)
def test_missing_paths_fail_the_execution_with_states_runtime(state: dict[str, Any], field: str) -> None:
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True, **state}}}
    machine = StateMachine(definition, invoker=lambda *a: None)
    with pytest.raises(ExecutionFailed) as info:
        machine.execute({"a": 1}, execution_name="e")
    assert info.value.error == "States.Runtime"
    assert info.value.state == "P"
    assert field in info.value.cause


def test_result_path_on_a_non_object_input_fails() -> None:
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "ResultPath": "$.x", "End": True}}}
    machine = StateMachine(definition, invoker=lambda *a: None)
    with pytest.raises(ExecutionFailed) as info:
        machine.execute("a string", execution_name="e")
    assert info.value.error == "States.ResultPathMatchFailure"


def test_invoker_cannot_corrupt_state_data_by_mutating_parameters() -> None:
    def mutate(resource: str, params: Any, context: Context) -> str:
        params["nested"]["x"] = "changed"
        return "ok"

    machine = _single_task({"Parameters": {"nested.$": "$.nested"}, "ResultPath": "$.r"}, mutate)
    assert machine.execute({"nested": {"x": 1}}, execution_name="e") == {"nested": {"x": 1}, "r": "ok"}


# --------------------------------------------------------------------------- context object


_ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def test_context_object_is_visible_to_parameters_and_invoker() -> None:
    contexts: list[Context] = []

    def invoker(resource: str, params: Any, context: Context) -> Any:
        contexts.append(context)
        return params

    machine = _single_task(
        {
            "Parameters": {
                "name.$": "$$.Execution.Name",
                "id.$": "$$.Execution.Id",
                "state.$": "$$.State.Name",
                "input.$": "$$.Execution.Input.k",
                "machine.$": "$$.StateMachine.Name",
                "retries.$": "$$.State.RetryCount",
            }
        },
        invoker,
    )
    out = machine.execute({"k": "v"}, execution_name="exec-7", state_machine_name="etl")
    assert out == {
        "name": "exec-7",
        "id": "arn:aws:states:local:000000000000:execution:etl:exec-7",
        "state": "S",
        "input": "v",
        "machine": "etl",
        "retries": 0,
    }
    data = contexts[0].data
    assert data["StateMachine"]["Id"] == "arn:aws:states:local:000000000000:stateMachine:etl"
    assert _ISO_Z.fullmatch(data["Execution"]["StartTime"])
    assert _ISO_Z.fullmatch(data["State"]["EnteredTime"])
    assert contexts[0]["Execution"]["Input"] == {"k": "v"}
    assert (contexts[0].execution_name, contexts[0].state_name, contexts[0].retry_count) == ("exec-7", "S", 0)


def test_explicit_execution_arn_also_sets_state_machine_id() -> None:
    contexts: list[Context] = []
    machine = _single_task({}, lambda r, p, c: contexts.append(c))
    arn = "arn:aws:states:eu-west-1:111122223333:execution:covid:run-9"
    machine.execute({}, execution_name="run-9", execution_id=arn, state_machine_name="covid")
    assert contexts[0].data["Execution"]["Id"] == arn
    assert contexts[0].data["StateMachine"]["Id"] == "arn:aws:states:eu-west-1:111122223333:stateMachine:covid"


def test_retry_count_increments_in_the_context() -> None:
    counts: list[int] = []

    def flaky(resource: str, params: Any, context: Context) -> Any:
        counts.append(context.retry_count)
        if len(counts) < 3:
            raise TaskFailed("Flaky")
        return params

    machine = StateMachine(
        {
            "StartAt": "S",
            "States": {
                "S": {
                    "Type": "Task",
                    "Resource": "arn:x",
                    "Parameters": {"n.$": "$$.State.RetryCount"},
                    "Retry": [{"ErrorEquals": ["Flaky"], "BackoffRate": 1}],
                    "End": True,
                }
            },
        },
        invoker=flaky,
        sleep=lambda s: None,
    )
    assert machine.execute({}, execution_name="e") == {"n": 2}
    assert counts == [0, 1, 2]
