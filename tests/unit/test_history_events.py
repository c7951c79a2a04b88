"""Step Functions history events -> the local runner's events, so the CLI prints the same progress lines
(cli._Progress) for an execution on AWS as locally (remote/follow.py). Events in GetExecutionHistory's
documented shape (HistoryEvent: id, previousEventId, type, timestamp, <type>EventDetails)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from covid_pipeline import cli
from covid_pipeline.remote.follow import HistoryAdapter


def _event(id_: int, kind: str, at: float, previous: int | None = None, **details: Any) -> dict[str, Any]:
    event = {"id": id_, "previousEventId": id_ - 1 if previous is None else previous, "type": kind}
    return {**event, "timestamp": datetime.fromtimestamp(1_800_000_000 + at, tz=UTC), **details}


def _entered(id_: int, kind: str, name: str, at: float) -> dict[str, Any]:
    return _event(id_, f"{kind}StateEntered", at, stateEnteredEventDetails={"name": name})


def _exited(id_: int, kind: str, name: str, at: float) -> dict[str, Any]:
    return _event(id_, f"{kind}StateExited", at, stateExitedEventDetails={"name": name})


def _failed(id_: int, at: float, error: str, cause: str = "") -> dict[str, Any]:
    details = {"resourceType": "lambda", "resource": "invoke", "error": error, "cause": cause}
    return _event(id_, "TaskFailed", at, taskFailedEventDetails=details)


def _scheduled(id_: int, at: float) -> dict[str, Any]:
    details = {"resourceType": "lambda", "resource": "invoke", "region": "eu-west-1", "parameters": "{}"}
    return _event(id_, "TaskScheduled", at, taskScheduledEventDetails=details)


def _adapted(events: list[dict[str, Any]]) -> tuple[HistoryAdapter, list[tuple[str, str | None, dict[str, Any]]]]:
    adapter = HistoryAdapter()
    out = [(e.type, e.state, e.details) for event in events for e in adapter.adapt(event)]
    return adapter, out


def test_a_retried_task_is_a_retry_then_the_state_succeeds() -> None:
    _, out = _adapted(
        [
            _entered(2, "Task", "Setup", 0),
            _scheduled(3, 0),
            _failed(4, 1, "Lambda.TooManyRequestsException"),
            _scheduled(5, 5),  # AWS has no retry event: the task scheduled again in the same state
            _event(6, "TaskSucceeded", 7),
            _exited(7, "Task", "Setup", 7),
        ]
    )
    assert [(kind, state) for kind, state, _ in out] == [
        ("StateEntered", "Setup"), ("TaskFailed", "Setup"), ("TaskRetry", "Setup"), ("StateExited", "Setup"),
    ]  # fmt: skip
    assert out[2][2] == {"error": "Lambda.TooManyRequestsException", "delay_seconds": 4}


def test_an_uncaught_failure_fails_the_open_state_with_the_execution() -> None:
    adapter, out = _adapted(
        [
            _entered(2, "Task", "Load", 0),
            _scheduled(3, 0),
            _failed(4, 3, "PipelineError", '{"errorMessage": "COPY failed"}'),
            _event(5, "ExecutionFailed", 3, executionFailedEventDetails={"error": "PipelineError", "cause": "c"}),
        ]
    )
    assert out[-1] == ("StateFailed", "Load", {"error": "PipelineError"})
    assert adapter.failed_state == "Load"
    assert adapter.error == "PipelineError"


def test_a_caught_failure_names_the_task_not_the_fail_state() -> None:
    cause = "Job covid-clean not found."
    adapter, out = _adapted(
        [
            _entered(2, "Task", "Clean", 0),
            _scheduled(3, 0),
            _failed(4, 9, "Glue.EntityNotFoundException", cause),
            _exited(5, "Task", "Clean", 9),
            _entered(6, "Fail", "Failed", 9),
            _event(7, "ExecutionFailed", 9, executionFailedEventDetails={"error": "Glue.EntityNotFoundException",
                                                                          "cause": cause}),
        ]
    )  # fmt: skip
    assert ("StateFailed", "Failed", {"error": "Glue.EntityNotFoundException"}) in out
    assert (adapter.failed_state, adapter.error, adapter.cause) == ("Clean", "Glue.EntityNotFoundException", cause)


def test_a_legacy_lambda_task_failure_belongs_to_its_state() -> None:
    details = {"error": "States.Timeout", "cause": ""}
    _, out = _adapted(
        [
            _entered(2, "Task", "Stage", 0),
            _event(3, "LambdaFunctionScheduled", 0, lambdaFunctionScheduledEventDetails={"resource": "arn"}),
            _event(4, "LambdaFunctionTimedOut", 900, lambdaFunctionTimedOutEventDetails=details),
        ]
    )
    assert out[-1] == ("TaskFailed", "Stage", {"error": "States.Timeout", "cause": ""})


def test_the_progress_lines_are_the_local_ones(capsys: pytest.CaptureFixture[str]) -> None:
    adapter = HistoryAdapter()
    events = [
        _entered(2, "Task", "Setup", 0),
        _scheduled(3, 0),
        _failed(4, 1, "Lambda.ServiceException"),
        _scheduled(5, 3),
        _exited(6, "Task", "Setup", 12.5),
    ]
    with cli._Progress() as progress:
        for event in events:
            for local in adapter.adapt(event):
                progress(local)
    lines = [line.strip() for line in capsys.readouterr().err.splitlines()]
    assert lines == [
        "▶ Setup started",
        "↻ Setup            Lambda.ServiceException: retry in 2 s",
        "✓ Setup              12.50 s",
    ]
