"""Intrinsic functions: parsing, every function (AWS docs examples), runtime and load-time errors."""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import pytest

from covid_pipeline.runner.asl import AslDefinitionError, ExecutionFailed, StateMachine
from covid_pipeline.runner.asl_intrinsics import Literal, PathArg, json_equal, parse_intrinsic


def _machine(expression: str) -> StateMachine:
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"r.$": expression}, "End": True}}}
    return StateMachine(definition, invoker=lambda *a: None)


def run(expression: str, data: Any = None) -> Any:
    """Evaluate ``expression`` in a Pass state's Parameters against ``data``."""
    return _machine(expression).execute({} if data is None else data, execution_name="e")["r"]


ARRAY = [1, 2, 3, 4, 5, 6, 7, 8, 9]


# --------------------------------------------------------------------------- every function


def test_format_docs_example_with_literal_and_path_templates() -> None:
    data = {"name": "Arnav", "template": "Hello, my name is {}."}
    assert run("States.Format('Hello, my name is {}.', $.name)", data) == "Hello, my name is Arnav."
    assert run("States.Format($.template, $.name)", data) == "Hello, my name is Arnav."


def test_format_renders_each_json_type() -> None:
    data = {"n": 1.5, "i": 3, "b": True, "z": None, "l": [1, "a"], "o": {"k": "v"}}
    out = run("States.Format('{}|{}|{}|{}|{}|{}', $.n, $.i, $.b, $.z, $.l, $.o)", data)
    assert out == "1.5|3|true|null|[1, a]|{k=v}"


def test_format_escapes_quotes_braces_and_backslashes() -> None:
    # JSON-decoded text is: States.Format('It\'s \{{}\} \\ done', $.x)
    assert run("States.Format('It\\'s \\{{}\\} \\\\ done', $.x)", {"x": "ok"}) == "It's {ok} \\ done"


def test_string_to_json_and_json_to_string_docs_examples() -> None:
    assert run("States.StringToJson($.s)", {"s": '{"foo": "bar"}'}) == {"foo": "bar"}
    assert run("States.JsonToString($.o)", {"o": {"foo": "bar", "n": [1, 2]}}) == '{"foo":"bar","n":[1,2]}'


def test_array_builds_from_mixed_arguments() -> None:
    assert run("States.Array($.Id)", {"Id": 123456}) == [123456]
    assert run("States.Array('a', 1, 2.5, true, false, null, $.o)", {"o": {"k": 1}}) == [
        "a",
        1,
        2.5,
        True,
        False,
        None,
        {"k": 1},
    ]
    assert run("States.Array()") == []


def test_array_partition_docs_example() -> None:
    assert run("States.ArrayPartition($.a, 4)", {"a": ARRAY}) == [[1, 2, 3, 4], [5, 6, 7, 8], [9]]


def test_array_contains_uses_json_equality() -> None:
    assert run("States.ArrayContains($.a, $.x)", {"a": ARRAY, "x": 5}) is True
    assert run("States.ArrayContains($.a, 10)", {"a": ARRAY}) is False
    # JSON true is not the number 1 (unlike Python's ==).
    assert run("States.ArrayContains($.a, true)", {"a": [1, 0]}) is False
    assert run("States.ArrayContains($.a, $.o)", {"a": [{"k": [1]}], "o": {"k": [1]}}) is True


def test_array_range_docs_example_and_limit() -> None:
    assert run("States.ArrayRange(1, 9, 2)") == [1, 3, 5, 7, 9]
    assert run("States.ArrayRange(0, 10, 3)") == [0, 3, 6, 9]
    with pytest.raises(ExecutionFailed, match="at most 1000"):
        run("States.ArrayRange(1, 5000, 1)")


def test_array_get_item_length_and_unique() -> None:
    assert run("States.ArrayGetItem($.a, $.i)", {"a": ARRAY, "i": 5}) == 6
    assert run("States.ArrayLength($.a)", {"a": ARRAY}) == 9
    assert run("States.ArrayUnique($.a)", {"a": [1, 2, 3, 3, 3, 3, 3, 3, 4]}) == [1, 2, 3, 4]
    assert run("States.ArrayUnique($.a)", {"a": [1, True, 1, "1"]}) == [1, True, "1"]


def test_base64_round_trip_docs_example() -> None:
    assert run("States.Base64Encode($.s)", {"s": "Data to encode"}) == "RGF0YSB0byBlbmNvZGU="
    assert run("States.Base64Decode($.s)", {"s": "RGF0YSB0byBlbmNvZGU="}) == "Data to encode"


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"])
def test_hash_supports_every_algorithm(algorithm: str) -> None:
    python_name = algorithm.replace("-", "").lower()
    expected = hashlib.new(python_name, b"input data").hexdigest()
    assert run(f"States.Hash($.d, '{algorithm}')", {"d": "input data"}) == expected


def test_hash_sha1_docs_value() -> None:
    assert run("States.Hash('input data', 'SHA-1')") == "aaff4a450a104cd177d28d18d74485e8cae074b7"


def test_hash_algorithm_from_a_path_is_checked_at_run_time() -> None:
    with pytest.raises(ExecutionFailed, match="unsupported hash algorithm") as info:
        run("States.Hash('x', $.alg)", {"alg": "SHA-3"})
    assert info.value.error == "States.IntrinsicFailure"


def test_json_merge_is_shallow_docs_example() -> None:
    data = {"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}}
    assert run("States.JsonMerge($.json1, $.json2, false)", data) == {"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3}


def test_math_add_docs_example_and_rounding() -> None:
    assert run("States.MathAdd($.value1, $.step)", {"value1": 111, "step": -1}) == 110
    assert run("States.MathAdd(1.5, 1)") == 3  # 1.5 rounds half up, as Java's Math.round
    assert run("States.MathAdd(-2.5, 0)") == -2


def test_math_random_is_in_range_and_reproducible_with_a_seed() -> None:
    values = {run("States.MathRandom($.start, $.end)", {"start": 1, "end": 5}) for _ in range(50)}
    assert values <= {1, 2, 3, 4}
    seeded = [run("States.MathRandom(1, 1000, 42)") for _ in range(3)]
    assert len(set(seeded)) == 1
    assert 1 <= seeded[0] < 1000


def test_string_split_docs_examples() -> None:
    assert run("States.StringSplit($.s, ',')", {"s": "1,2,3,4,5"}) == ["1", "2", "3", "4", "5"]
    data = {"s": "This.is+a,test=string", "d": ".+,="}
    assert run("States.StringSplit($.s, $.d)", data) == ["This", "is", "a", "test", "string"]
    assert run("States.StringSplit(',,a,,b,', ',')") == ["a", "b"]


def test_uuid_is_a_version_4_uuid() -> None:
    value = run("States.UUID()")
    assert uuid.UUID(value).version == 4
    assert value != run("States.UUID()")


def test_nested_calls_docs_example() -> None:
    arn = "arn:aws:imagebuilder:us-east-1:123456789012:image-recipe/my-recipe.yaml/1.0.0"
    expression = (
        "States.Format('{}.{}', "
        "States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.Arn, '/'), 1), '.'), 0), "
        "States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.Arn, '/'), 1), '.'), 1))"
    )
    assert run(expression, {"Arn": arn}) == "my-recipe.yaml"


def test_context_path_argument() -> None:
    assert run("States.Format('run {}', $$.Execution.Name)") == "run e"


def test_intrinsics_in_result_selector() -> None:
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:x",
                "ResultSelector": {"count.$": "States.ArrayLength($.rows)"},
                "End": True,
            }
        },
    }
    machine = StateMachine(definition, invoker=lambda r, p, c: {"rows": [1, 2, 3]})
    assert machine.execute({}, execution_name="e") == {"count": 3}


# --------------------------------------------------------------------------- runtime failures


@pytest.mark.parametrize(
    ("expression", "data", "message"),
    [
        ("States.ArrayGetItem($.a, 9)", {"a": ARRAY}, "out of bounds"),
        ("States.StringToJson($.s)", {"s": "{not json"}, "invalid JSON"),
        ("States.ArrayLength($.s)", {"s": "abc"}, "must be an array"),
        ("States.MathAdd($.s, 1)", {"s": "1"}, "must be a number"),
        ("States.Base64Decode($.s)", {"s": "%%%"}, "invalid base64"),
        ("States.JsonMerge($.a, $.b, $.deep)", {"a": {}, "b": {}, "deep": True}, "shallow"),
        ("States.Format($.t, 1)", {"t": "no placeholders"}, "0 '{}' but 1"),
        ("States.ArrayPartition($.a, 0)", {"a": ARRAY}, "greater than 0"),
        ("States.MathRandom(5, 5)", {}, "less than end"),
        ("States.Hash($.d, 'MD5')", {"d": "x" * 10001}, "longer than 10000"),
    ],
)
def test_bad_arguments_are_intrinsic_failures(expression: str, data: Any, message: str) -> None:
    with pytest.raises(ExecutionFailed) as info:
        run(expression, data)
    assert info.value.error == "States.IntrinsicFailure"
    assert message in info.value.cause


def test_missing_path_argument_is_states_runtime() -> None:
    with pytest.raises(ExecutionFailed) as info:
        run("States.Array($.missing)", {})
    assert info.value.error == "States.Runtime"


def test_intrinsic_failure_is_catchable() -> None:
    definition = {
        "StartAt": "Par",
        "States": {
            "Par": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "P",
                        "States": {
                            "P": {"Type": "Pass", "Parameters": {"r.$": "States.StringToJson('{')"}, "End": True}
                        },
                    }
                ],
                "Catch": [{"ErrorEquals": ["States.IntrinsicFailure"], "Next": "Recovered"}],
                "End": True,
            },
            "Recovered": {"Type": "Pass", "Result": "recovered", "End": True},
        },
    }
    assert StateMachine(definition, invoker=lambda *a: None).execute({}, execution_name="e") == "recovered"


# --------------------------------------------------------------------------- parser and load-time errors


def test_parser_builds_a_tree() -> None:
    call = parse_intrinsic("States.Array( 'a\\'b' , -1.5e2, $.x['y z'], States.UUID() )", where="t")
    assert call.name == "States.Array"
    assert call.args[0] == Literal("a'b", ("a'b",))
    assert call.args[1] == Literal(-150.0)
    assert isinstance(call.args[2], PathArg)
    assert call.args[2].path.text == "$.x['y z']"
    assert call.args[3].name == "States.UUID"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("States.Nope($.a)", "unknown intrinsic function 'States.Nope'"),
        ("States.ArrayLength()", "takes 1 argument(s), got 0"),
        ("States.UUID(1)", "takes 0 argument(s), got 1"),
        ("States.MathRandom(1)", "takes 2-3 argument(s)"),
        ("States.Format('a \\n b')", "open escape"),
        ("States.Format('{} {}', $.a)", "2 '{}' but 1"),
        ("States.Format(1)", "must be a string"),
        ("States.Hash('x', 'SHA-3')", "unsupported hash algorithm"),
        ("States.JsonMerge($.a, $.b, true)", "shallow merge"),
        ("States.Array('unterminated)", "unterminated string"),
        ("States.Array(1) trailing", "unexpected text"),
        ("States.Array(@)", "invalid argument"),
        ("States.Array(1 2)", "expected ',' or ')'"),
        ("States.Array", "expected '('"),
        ("States.Array($.a[)", "invalid JSONPath"),
    ],
)
def test_invalid_intrinsics_fail_at_load_time(expression: str, message: str) -> None:
    with pytest.raises(AslDefinitionError, match=re.escape(message)) as info:
        _machine(expression)
    assert "State 'P'" in str(info.value)


def test_nesting_deeper_than_ten_is_rejected() -> None:
    expression = "States.Array(" * 11 + ")" * 11
    with pytest.raises(AslDefinitionError, match="nested"):
        _machine(expression)
    assert run("States.Array(" * 10 + ")" * 10) == [[[[[[[[[[]]]]]]]]]]


def test_unknown_intrinsic_in_a_nested_branch_is_found_at_load_time() -> None:
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "Inner",
                    "States": {
                        "Inner": {"Type": "Pass", "Parameters": {"deep": {"x.$": "States.Bogus()"}}, "End": True}
                    },
                },
                "End": True,
            }
        },
    }
    with pytest.raises(AslDefinitionError, match=r"State 'Inner'.*States\.Bogus"):
        StateMachine(definition, invoker=lambda *a: None)


def test_json_equal_distinguishes_booleans_from_numbers() -> None:
    assert json_equal(1, 1.0)
    assert not json_equal(True, 1)
    assert not json_equal([1, 2], [1])
    assert json_equal({"a": [None]}, {"a": [None]})
