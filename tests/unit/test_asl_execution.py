"""Execution semantics: Wait, Retry/Catch, Fail, Parallel, Map, Succeed and the history."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from covid_pipeline.runner import asl
from covid_pipeline.runner.asl import Context, ExecutionFailed, HistoryEvent, StateMachine, TaskFailed


class Sleeper:
    """Fake ``sleep`` recording the requested delays."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def failing(errors: Iterable[str | None], result: Any = "done") -> Callable[[str, Any, Context], Any]:
    """Invoker raising TaskFailed with each error in turn (None = succeed), then returning ``result``."""
    queue = list(errors)

    def invoke(resource: str, params: Any, context: Context) -> Any:
        if queue:
            error = queue.pop(0)
            if error is not None:
                raise TaskFailed(error, f"cause of {error}")
        return result

    return invoke


def task(**fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", **fields}


def machine(states: dict[str, Any], invoker: Any = None, **kwargs: Any) -> StateMachine:
    start = next(iter(states))
    return StateMachine({"StartAt": start, "States": states}, invoker=invoker or (lambda r, p, c: p), **kwargs)


def types(history: list[HistoryEvent]) -> list[str]:
    return [event.type for event in history]


# --------------------------------------------------------------------------- Wait


@pytest.mark.parametrize(
    ("wait", "data", "expected_seconds"),
    [
        ({"Seconds": 10}, {}, 10),
        ({"SecondsPath": "$.delay"}, {"delay": 7}, 7),
        ({"Seconds": 0}, {}, 0),
        ({"Timestamp": "2000-01-01T00:00:00Z"}, {}, 0),  # in the past: no wait
        ({"TimestampPath": "$.at"}, {"at": "2001-01-01T00:00:00.5+01:00"}, 0),
    ],
)
def test_wait_sleeps_scaled_seconds(wait: dict[str, Any], data: Any, expected_seconds: float) -> None:
    sleeper = Sleeper()
    sm = machine({"W": {"Type": "Wait", "End": True, **wait}}, sleep=sleeper, wait_scale=0.5)
    assert sm.execute(data, execution_name="e") == data
    assert sleeper.calls == [expected_seconds * 0.5]
    started = next(e for e in sm.history if e.type == "WaitStarted")
    assert started.details == {"seconds": expected_seconds, "scaled_seconds": expected_seconds * 0.5}


def test_wait_until_a_future_timestamp() -> None:
    sleeper = Sleeper()
    future = (datetime.now(UTC) + timedelta(seconds=100)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sm = machine({"W": {"Type": "Wait", "Timestamp": future, "End": True}}, sleep=sleeper, wait_scale=0.01)
    sm.execute({}, execution_name="e")
    assert 0.9 <= sleeper.calls[0] <= 1.0


def test_wait_applies_input_and_output_paths() -> None:
    sm = machine(
        {"W": {"Type": "Wait", "Seconds": 1, "InputPath": "$.a", "OutputPath": "$.b", "End": True}},
        sleep=Sleeper(),
    )
    assert sm.execute({"a": {"b": 42}}, execution_name="e") == 42


@pytest.mark.parametrize("value", [-1, "5", 1.5])
def test_wait_seconds_path_must_be_a_non_negative_integer(value: Any) -> None:
    sm = machine({"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}, sleep=Sleeper())
    with pytest.raises(ExecutionFailed) as info:
        sm.execute({"s": value}, execution_name="e")
    assert info.value.error == "States.Runtime"


def test_wait_timestamp_path_must_be_a_timestamp() -> None:
    sm = machine({"W": {"Type": "Wait", "TimestampPath": "$.t", "End": True}}, sleep=Sleeper())
    with pytest.raises(ExecutionFailed, match="not an RFC 3339 timestamp"):
        sm.execute({"t": "tomorrow"}, execution_name="e")


def test_default_sleep_is_not_used_when_wait_scale_is_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[float] = []
    monkeypatch.setattr(time, "sleep", calls.append)
    sm = StateMachine(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}},
        invoker=lambda *a: None,
        wait_scale=0,
        sleep=lambda s: calls.append(s),
    )
    sm.execute({}, execution_name="e")
    assert calls == [0]


# --------------------------------------------------------------------------- Retry


def test_retry_backoff_delays_are_exact() -> None:
    sleeper = Sleeper()
    retry = [{"ErrorEquals": ["Boom"], "IntervalSeconds": 3, "MaxAttempts": 2, "BackoffRate": 1.5}]
    sm = machine({"T": task(Retry=retry, End=True)}, failing(["Boom", "Boom"]), sleep=sleeper)
    assert sm.execute({}, execution_name="e") == "done"
    assert sleeper.calls == [3, 4.5]
    retries = [e.details for e in sm.history if e.type == "TaskRetry"]
    assert [(r["attempt"], r["delay_seconds"], r["error"]) for r in retries] == [(1, 3, "Boom"), (2, 4.5, "Boom")]


def test_retry_defaults_are_one_second_three_attempts_rate_two() -> None:
    sleeper = Sleeper()
    sm = machine({"T": task(Retry=[{"ErrorEquals": ["States.ALL"]}], End=True)}, failing(["E"] * 4), sleep=sleeper)
    with pytest.raises(ExecutionFailed) as info:
        sm.execute({}, execution_name="e")
    assert sleeper.calls == [1, 2, 4]
    assert info.value.error == "E"
    assert info.value.cause == "cause of E"
    assert info.value.state == "T"


def test_retry_sleep_is_scaled() -> None:
    sleeper = Sleeper()
    retry = [{"ErrorEquals": ["E"], "IntervalSeconds": 10, "BackoffRate": 3}]
    sm = machine({"T": task(Retry=retry, End=True)}, failing(["E", "E"]), sleep=sleeper, wait_scale=0.1)
    sm.execute({}, execution_name="e")
    assert sleeper.calls == pytest.approx([1.0, 3.0])


def test_max_delay_seconds_caps_the_backoff() -> None:
    sleeper = Sleeper()
    retry = [{"ErrorEquals": ["E"], "IntervalSeconds": 2, "MaxAttempts": 5, "BackoffRate": 3, "MaxDelaySeconds": 10}]
    sm = machine({"T": task(Retry=retry, End=True)}, failing(["E"] * 5), sleep=sleeper)
    sm.execute({}, execution_name="e")
    assert sleeper.calls == [2, 6, 10, 10, 10]


def test_full_jitter_draws_between_zero_and_the_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    bounds: list[tuple[float, float]] = []

    def fake_uniform(low: float, high: float) -> float:
        bounds.append((low, high))
        return high / 4

    monkeypatch.setattr(asl.random, "uniform", fake_uniform)
    sleeper = Sleeper()
    retry = [{"ErrorEquals": ["E"], "IntervalSeconds": 4, "BackoffRate": 2, "JitterStrategy": "FULL"}]
    sm = machine({"T": task(Retry=retry, End=True)}, failing(["E", "E"]), sleep=sleeper)
    sm.execute({}, execution_name="e")
    assert bounds == [(0, 4), (0, 8)]
    assert sleeper.calls == [1, 2]


def test_full_jitter_really_is_random_within_bounds() -> None:
    sleeper = Sleeper()
    retry = [
        {"ErrorEquals": ["E"], "IntervalSeconds": 5, "MaxAttempts": 20, "BackoffRate": 1, "JitterStrategy": "FULL"}
    ]
    sm = machine({"T": task(Retry=retry, End=True)}, failing(["E"] * 20), sleep=sleeper)
    sm.execute({}, execution_name="e")
    assert all(0 <= delay <= 5 for delay in sleeper.calls)
    assert len(set(sleeper.calls)) > 1


@pytest.mark.parametrize(
    ("max_attempts", "errors", "delays"),
    [
        # ASL spec example: the 4th error (ErrorB) finds the first retrier's 2 retries used up -> Catch.
        (2, ["ErrorA", "ErrorB", "ErrorC", "ErrorB"], [1, 2, 5]),
        # With 3 attempts the counter continues across the ErrorC retry: 1, 2, (5), 4.
        (3, ["ErrorA", "ErrorB", "ErrorC", "ErrorB", "ErrorB"], [1, 2, 5, 4]),
    ],
)
def test_spec_complex_retry_scenario_each_retrier_has_its_own_counter(
    max_attempts: int, errors: list[str], delays: list[float]
) -> None:
    sleeper = Sleeper()
    states = {
        "X": task(
            Retry=[
                {"ErrorEquals": ["ErrorA", "ErrorB"], "IntervalSeconds": 1, "BackoffRate": 2.0}
                | {"MaxAttempts": max_attempts},
                {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 5},
            ],
            Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Z"}],
            Next="Y",
        ),
        "Y": {"Type": "Pass", "Result": "Y", "End": True},
        "Z": {"Type": "Pass", "End": True},
    }
    sm = machine(states, failing(errors), sleep=sleeper)
    out = sm.execute({"in": 1}, execution_name="e")
    assert sleeper.calls == delays
    assert out == {"Error": "ErrorB", "Cause": "cause of ErrorB"}
    assert [e.details["retrier"] for e in sm.history if e.type == "TaskRetry"] == [0, 0, 1, 0][: len(delays)]


def test_max_attempts_zero_never_retries_and_later_retriers_are_not_consulted() -> None:
    sleeper = Sleeper()
    retry = [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 0}, {"ErrorEquals": ["States.ALL"]}]
    sm = machine({"T": task(Retry=retry, End=True)}, failing(["States.Timeout"]), sleep=sleeper)
    with pytest.raises(ExecutionFailed, match=r"States\.Timeout"):
        sm.execute({}, execution_name="e")
    assert sleeper.calls == []


def test_retries_exhausted_then_caught_with_result_path() -> None:
    sleeper = Sleeper()
    states = {
        "T": task(
            Retry=[{"ErrorEquals": ["Transient"], "IntervalSeconds": 1, "MaxAttempts": 2}],
            Catch=[{"ErrorEquals": ["Transient"], "ResultPath": "$.error-info", "Next": "Recover"}],
            End=True,
        ),
        "Recover": {"Type": "Pass", "End": True},
    }
    sm = machine(states, failing(["Transient"] * 3), sleep=sleeper)
    out = sm.execute({"order": 7}, execution_name="e")
    assert sleeper.calls == [1, 2]
    assert out == {"order": 7, "error-info": {"Error": "Transient", "Cause": "cause of Transient"}}
    assert types(sm.history).count("TaskFailed") == 3
    caught = next(e for e in sm.history if e.type == "CaughtError")
    assert caught.details["next"] == "Recover"
    assert caught.state == "T"


# --------------------------------------------------------------------------- Catch


def test_catch_default_result_path_replaces_input_with_error_output() -> None:
    states = {
        "T": task(Catch=[{"ErrorEquals": ["Oops"], "Next": "Fallback"}], End=True),
        "Fallback": {"Type": "Pass", "End": True},
    }
    assert machine(states, failing(["Oops"])).execute({"a": 1}, execution_name="e") == {
        "Error": "Oops",
        "Cause": "cause of Oops",
    }


def test_catch_result_path_null_keeps_the_input() -> None:
    states = {
        "T": task(Catch=[{"ErrorEquals": ["Oops"], "ResultPath": None, "Next": "Fallback"}], End=True),
        "Fallback": {"Type": "Pass", "End": True},
    }
    assert machine(states, failing(["Oops"])).execute({"a": 1}, execution_name="e") == {"a": 1}


def test_catchers_are_scanned_in_order() -> None:
    states = {
        "T": task(
            Catch=[
                {"ErrorEquals": ["Other"], "Next": "WrongOne"},
                {"ErrorEquals": ["Oops", "Also"], "Next": "RightOne"},
                {"ErrorEquals": ["States.ALL"], "Next": "WrongOne"},
            ],
            End=True,
        ),
        "WrongOne": {"Type": "Pass", "Result": "wrong", "End": True},
        "RightOne": {"Type": "Pass", "Result": "right", "End": True},
    }
    assert machine(states, failing(["Oops"])).execute({}, execution_name="e") == "right"


@pytest.mark.parametrize(("error", "caught"), [("Custom.Error", True), ("States.Timeout", False)])
def test_states_task_failed_matches_everything_but_timeout(error: str, caught: bool) -> None:
    states = {
        "T": task(Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "C"}], End=True),
        "C": {"Type": "Pass", "Result": "caught", "End": True},
    }
    sm = machine(states, failing([error]))
    if caught:
        assert sm.execute({}, execution_name="e") == "caught"
    else:
        with pytest.raises(ExecutionFailed, match=r"States\.Timeout"):
            sm.execute({}, execution_name="e")


def test_states_runtime_is_terminal_even_for_states_all() -> None:
    # AWS: "A retry or catch on States.ALL won't catch States.Runtime errors".
    sleeper = Sleeper()
    states = {
        "T": task(
            Parameters={"x.$": "$.missing"},
            Retry=[{"ErrorEquals": ["States.ALL"]}],
            Catch=[{"ErrorEquals": ["States.ALL"], "Next": "C"}],
            End=True,
        ),
        "C": {"Type": "Pass", "End": True},
    }
    sm = machine(states, sleep=sleeper)
    with pytest.raises(ExecutionFailed) as info:
        sm.execute({}, execution_name="e")
    assert info.value.error == "States.Runtime"
    assert sleeper.calls == []


def test_result_path_match_failure_is_catchable() -> None:
    states = {
        "T": task(
            ResultPath="$.a.b", Catch=[{"ErrorEquals": ["States.ResultPathMatchFailure"], "Next": "C"}], End=True
        ),
        "C": {"Type": "Pass", "Result": "caught", "End": True},
    }
    assert machine(states, lambda r, p, c: 1).execute({"a": "scalar"}, execution_name="e") == "caught"


def test_unhandled_invoker_exception_is_a_task_error_named_after_its_type() -> None:
    def boom(resource: str, params: Any, context: Context) -> Any:
        raise KeyError("missing")

    states = {
        "T": task(Catch=[{"ErrorEquals": ["KeyError"], "Next": "C"}], End=True),
        "C": {"Type": "Pass", "End": True},
    }
    assert machine(states, boom).execute({}, execution_name="e") == {"Error": "KeyError", "Cause": "'missing'"}


def test_invoker_receives_resource_parameters_and_context() -> None:
    calls: list[tuple[str, Any, str]] = []

    def record(resource: str, params: Any, context: Context) -> Any:
        calls.append((resource, params, context.state_name))
        return {"ok": True}

    sm = machine({"Step": task(InputPath="$.in", Parameters={"v.$": "$.v"}, End=True)}, record)
    assert sm.execute({"in": {"v": 3}}, execution_name="e") == {"ok": True}
    assert calls == [("arn:aws:lambda:us-east-1:123456789012:function:f", {"v": 3}, "Step")]


# --------------------------------------------------------------------------- Fail / Succeed


def test_fail_state_raises_execution_failed_with_error_and_cause() -> None:
    sm = machine({"Boom": {"Type": "Fail", "Error": "Data.Invalid", "Cause": "row 3 is broken"}})
    with pytest.raises(ExecutionFailed) as info:
        sm.execute({}, execution_name="e")
    assert (info.value.error, info.value.cause, info.value.state) == ("Data.Invalid", "row 3 is broken", "Boom")
    assert sm.history[-1].type == "ExecutionFailed"
    assert sm.history[-1].details["error"] == "Data.Invalid"


def test_fail_state_error_and_cause_paths() -> None:
    sm = machine({"Boom": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('bad {}', $.n)"}})
    with pytest.raises(ExecutionFailed) as info:
        sm.execute({"e": "Dyn.Error", "n": 3}, execution_name="e")
    assert (info.value.error, info.value.cause) == ("Dyn.Error", "bad 3")


def test_fail_error_path_must_be_a_string() -> None:
    sm = machine({"Boom": {"Type": "Fail", "ErrorPath": "$.e"}})
    with pytest.raises(ExecutionFailed) as info:
        sm.execute({"e": 5}, execution_name="e")
    assert info.value.error == "States.Runtime"


def test_succeed_ends_the_execution_with_filtered_output() -> None:
    states = {
        "P": {"Type": "Pass", "Next": "Done"},
        "Done": {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"},
    }
    assert machine(states).execute({"a": {"b": [1]}}, execution_name="e") == [1]


# --------------------------------------------------------------------------- Parallel


def _branch(name: str, result: Any) -> dict[str, Any]:
    return {"StartAt": name, "States": {name: {"Type": "Pass", "Result": result, "End": True}}}


def test_parallel_output_is_the_array_of_branch_outputs() -> None:
    received: list[Any] = []

    def echo(resource: str, params: Any, context: Context) -> Any:
        received.append(params)
        return params["x"] * 10

    states = {
        "Par": {
            "Type": "Parallel",
            "Parameters": {"x.$": "$.n"},
            "Branches": [
                _branch("A", "a"),
                {"StartAt": "B", "States": {"B": task(End=True)}},
                {"StartAt": "C", "States": {"C": {"Type": "Pass", "End": True}}},
            ],
            "ResultSelector": {"first.$": "$[0]", "second.$": "$[1]", "third.$": "$[2]"},
            "ResultPath": "$.par",
            "End": True,
        }
    }
    out = machine(states, echo).execute({"n": 4}, execution_name="e")
    assert out == {"n": 4, "par": {"first": "a", "second": 40, "third": {"x": 4}}}
    assert received == [{"x": 4}]


def test_parallel_branch_failure_fails_the_state_and_can_be_retried_then_caught() -> None:
    sleeper = Sleeper()
    states = {
        "Par": {
            "Type": "Parallel",
            "Branches": [
                _branch("Ok", 1),
                {"StartAt": "Bad", "States": {"Bad": {"Type": "Fail", "Error": "Branch.Broken", "Cause": "no"}}},
            ],
            "Retry": [{"ErrorEquals": ["Branch.Broken"], "MaxAttempts": 1}],
            "Catch": [{"ErrorEquals": ["Branch.Broken"], "ResultPath": "$.err", "Next": "Handled"}],
            "End": True,
        },
        "Handled": {"Type": "Pass", "End": True},
    }
    sm = machine(states, sleep=sleeper)
    assert sm.execute({"k": 1}, execution_name="e") == {"k": 1, "err": {"Error": "Branch.Broken", "Cause": "no"}}
    assert sleeper.calls == [1]
    assert types(sm.history).count("ParallelBranchFailed") == 2
    caught = next(e for e in sm.history if e.type == "CaughtError")
    assert caught.details["failed_state"] == "Bad"


def test_uncaught_branch_failure_reports_the_innermost_state() -> None:
    states = {
        "Par": {
            "Type": "Parallel",
            "Branches": [{"StartAt": "Inner", "States": {"Inner": {"Type": "Fail", "Error": "X"}}}],
            "End": True,
        }
    }
    with pytest.raises(ExecutionFailed) as info:
        machine(states).execute({}, execution_name="e")
    assert (info.value.error, info.value.state) == ("X", "Inner")


def test_branches_get_independent_copies_of_the_input() -> None:
    def mutate(resource: str, params: Any, context: Context) -> Any:
        params["shared"].append(context.state_name)
        return params["shared"]

    states = {
        "Par": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "One", "States": {"One": task(End=True)}},
                {"StartAt": "Two", "States": {"Two": task(End=True)}},
            ],
            "End": True,
        }
    }
    assert machine(states, mutate).execute({"shared": []}, execution_name="e") == [["One"], ["Two"]]


# --------------------------------------------------------------------------- Map


def test_map_with_item_processor_item_selector_and_context() -> None:
    seen: list[dict[str, Any]] = []

    def double(resource: str, params: Any, context: Context) -> Any:
        seen.append(context.data["Map"]["Item"])
        return params["value"] * 2

    states = {
        "M": {
            "Type": "Map",
            "InputPath": "$.job",
            "ItemsPath": "$.rows",
            "MaxConcurrency": 2,
            "ItemSelector": {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "tag.$": "$.tag"},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Double",
                "States": {"Double": task(ResultPath="$.doubled", End=True)},
            },
            "ResultPath": "$.job.out",
            "End": True,
        }
    }
    out = machine(states, double).execute({"job": {"rows": [1, 5], "tag": "t"}}, execution_name="e")
    assert out["job"]["out"] == [
        {"value": 1, "index": 0, "tag": "t", "doubled": 2},
        {"value": 5, "index": 1, "tag": "t", "doubled": 10},
    ]
    assert seen == [{"Index": 0, "Value": 1}, {"Index": 1, "Value": 5}]


def test_map_with_legacy_iterator_and_parameters() -> None:
    states = {
        "M": {
            "Type": "Map",
            "Parameters": {"v.$": "$$.Map.Item.Value"},
            "Iterator": {"StartAt": "Id", "States": {"Id": {"Type": "Pass", "OutputPath": "$.v", "End": True}}},
            "End": True,
        }
    }
    assert machine(states).execute(["a", "b", "c"], execution_name="e") == ["a", "b", "c"]


def test_map_over_an_empty_array() -> None:
    states = {
        "M": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
            "ResultPath": "$.results",
            "End": True,
        }
    }
    assert machine(states).execute({"items": []}, execution_name="e") == {"items": [], "results": []}


def test_map_items_path_must_be_an_array() -> None:
    states = {
        "M": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
            "End": True,
        }
    }
    with pytest.raises(ExecutionFailed) as info:
        machine(states).execute({"items": "nope"}, execution_name="e")
    assert info.value.error == "States.Runtime"
    assert "must reference an array" in info.value.cause


def test_failed_iteration_stops_the_map_and_is_catchable() -> None:
    processed: list[int] = []

    def check(resource: str, params: Any, context: Context) -> Any:
        processed.append(params)
        if params == 2:
            raise TaskFailed("Bad.Item", f"item {params}")
        return params

    states = {
        "M": {
            "Type": "Map",
            "ItemProcessor": {"StartAt": "Check", "States": {"Check": task(End=True)}},
            "Catch": [{"ErrorEquals": ["Bad.Item"], "Next": "Report"}],
            "End": True,
        },
        "Report": {"Type": "Pass", "End": True},
    }
    sm = machine(states, check)
    assert sm.execute([1, 2, 3], execution_name="e") == {"Error": "Bad.Item", "Cause": "item 2"}
    assert processed == [1, 2]
    failed = [e for e in sm.history if e.type == "MapIterationFailed"]
    assert failed[0].details["index"] == 1
    assert failed[0].details["scope"] == "M[1]"


def test_nested_map_inside_parallel_history_is_scoped() -> None:
    states = {
        "Par": {
            "Type": "Parallel",
            "Branches": [
                {
                    "StartAt": "Inner",
                    "States": {
                        "Inner": {
                            "Type": "Map",
                            "Iterator": {"StartAt": "Leaf", "States": {"Leaf": {"Type": "Pass", "End": True}}},
                            "End": True,
                        }
                    },
                }
            ],
            "End": True,
        }
    }
    sm = machine(states)
    assert sm.execute([1], execution_name="e") == [[1]]
    leaf = next(e for e in sm.history if e.state == "Leaf" and e.type == "StateEntered")
    assert leaf.details["scope"] == "Par/branch 0 > Inner[0]"


# --------------------------------------------------------------------------- history


def test_history_sequence_and_details_for_a_simple_run() -> None:
    heard: list[HistoryEvent] = []
    states = {"T": task(Next="P"), "P": {"Type": "Pass", "End": True}}
    sm = machine(states, lambda r, p, c: {"r": 1}, listener=heard.append)
    sm.execute({"in": 1}, execution_name="e")
    assert types(sm.history) == [
        "ExecutionStarted",
        "StateEntered",
        "TaskScheduled",
        "TaskSucceeded",
        "StateExited",
        "StateEntered",
        "StateExited",
        "ExecutionSucceeded",
    ]
    assert heard == sm.history
    exited = sm.history[4]
    assert exited.state == "T"
    assert exited.details["output"] == {"r": 1}
    assert exited.details["next"] == "P"
    assert exited.details["duration_s"] >= 0
    assert sm.history[2].details["parameters"] == {"in": 1}
    assert all(isinstance(e.timestamp, float) for e in sm.history)
    json.dumps([e.details for e in sm.history])  # JSON-serialisable


def test_task_failed_and_retry_events_carry_error_cause_attempt_and_delay() -> None:
    retry = [{"ErrorEquals": ["E"], "IntervalSeconds": 2}]
    sm = machine({"T": task(Retry=retry, End=True)}, failing(["E"]), sleep=Sleeper())
    sm.execute({}, execution_name="e")
    failed = next(e for e in sm.history if e.type == "TaskFailed")
    assert failed.details["error"] == "E"
    assert failed.details["cause"] == "cause of E"
    retry_event = next(e for e in sm.history if e.type == "TaskRetry")
    assert retry_event.details["attempt"] == 1
    assert retry_event.details["delay_seconds"] == 2


def test_history_is_reset_for_each_execution() -> None:
    sm = machine({"P": {"Type": "Pass", "End": True}})
    sm.execute({}, execution_name="one")
    first = len(sm.history)
    sm.execute({}, execution_name="two")
    assert len(sm.history) == first
    assert sm.history[0].details["execution_id"].endswith(":two")


def test_task_timeouts_are_recorded() -> None:
    sm = machine({"T": task(TimeoutSeconds=30, HeartbeatSecondsPath="$.hb", End=True)})
    sm.execute({"hb": 5}, execution_name="e")
    scheduled = next(e for e in sm.history if e.type == "TaskScheduled")
    assert scheduled.details["TimeoutSeconds"] == 30
    assert scheduled.details["HeartbeatSeconds"] == 5


def test_execution_input_is_not_mutated() -> None:
    data = {"a": {"b": 1}}
    sm = machine({"P": {"Type": "Pass", "Result": 2, "ResultPath": "$.a.c", "End": True}})
    assert sm.execute(data, execution_name="e") == {"a": {"b": 1, "c": 2}}
    assert data == {"a": {"b": 1}}
