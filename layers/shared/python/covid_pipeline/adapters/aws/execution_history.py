"""A Step Functions execution as the CLI and the report show it, read from its history (pure: no AWS call).

The shapes are Step Functions' documented ones: a ListExecutions item or a DescribeExecution answer
(``name``, ``status``, ``startDate``, ``stopDate``) and GetExecutionHistory's ``events`` (``id``,
``timestamp``, ``type``, and one ``<type>EventDetails`` member: ``stateEnteredEventDetails.name``,
``taskFailedEventDetails.error``/``cause``, ``executionFailedEventDetails``...; API reference,
"HistoryEvent").

Which state failed: an execution ends on ExecutionFailed, whose error and cause are those of the Fail
state (the pipeline's ``Failed`` copies the caught error with ErrorPath/CausePath) or of the uncaught error.
The state named is the one whose failure event (TaskFailed, LambdaFunctionFailed, ...TimedOut) carries
that same error, the last such; else the last state that failed anything; else the last state entered.
So a Clean failure caught and routed through NotifyFailure to Failed is reported as Clean's, with its error,
as the local runner reports it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from covid_pipeline.report.source import RunSummary

# How an execution ends without success (ExecutionStatus values other than RUNNING/SUCCEEDED).
EXECUTION_ENDS = frozenset({"ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"})


def failure_reason(error: str | None, cause: str | None) -> str:
    """One line for an error and its cause: a Lambda function's cause is a JSON object whose
    ``errorMessage`` is the message worth showing (the local runner's rule, for the same causes)."""
    if cause:
        try:
            parsed = json.loads(cause)
            message = parsed.get("errorMessage") or parsed.get("ErrorMessage") or parsed.get("Cause")
            if message:
                return f"{error}: {message}"
        except (json.JSONDecodeError, AttributeError):
            pass
        return f"{error}: {cause}"
    return error or ""


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def _details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event's ``...EventDetails`` member (each event has at most one)."""
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


def _is_failure(kind: str) -> bool:
    return kind not in EXECUTION_ENDS and kind.endswith(("Failed", "TimedOut"))


def summarize(execution: Mapping[str, Any], events: Iterable[Mapping[str, Any]] = ()) -> RunSummary:
    """The execution (ListExecutions item or DescribeExecution answer) with what its history says."""
    started = _epoch(execution.get("startDate")) or 0.0
    stopped = _epoch(execution.get("stopDate"))
    entered: dict[str, float] = {}
    durations: dict[str, float] = {}
    current: str | None = None
    failures: list[tuple[str | None, str, str]] = []  # (state, error, cause), in history order
    end: tuple[str, str] | None = None
    for event in sorted(events, key=lambda e: int(e.get("id", 0))):
        kind, details, when = str(event.get("type", "")), _details(event), _epoch(event.get("timestamp")) or 0.0
        if kind.endswith("StateEntered"):
            current = str(details.get("name", ""))
            entered[current] = when
        elif kind.endswith("StateExited"):
            name = str(details.get("name", ""))
            if name in entered:
                durations[name] = durations.get(name, 0.0) + when - entered.pop(name)
        elif kind in EXECUTION_ENDS:
            default = {"ExecutionTimedOut": "States.Timeout", "ExecutionAborted": "aborted"}.get(kind, "")
            end = (str(details.get("error") or default), str(details.get("cause") or ""))
        elif _is_failure(kind):
            failures.append((current, str(details.get("error", "")), str(details.get("cause", ""))))
    status = str(execution.get("status", ""))
    failed_state, error, cause = None, str(execution.get("error") or ""), str(execution.get("cause") or "")
    if end is not None:
        error, cause = end[0] or error, end[1] or cause
    if status not in {"RUNNING", "SUCCEEDED", "PENDING_REDRIVE"} and (failures or current):
        matching = [f for f in failures if f[1] == error and (not cause or f[2] == cause)]
        chosen = (matching or failures or [(current, error, cause)])[-1]
        failed_state = chosen[0]
        if not error:  # an end without error of its own: the failure's
            error, cause = chosen[1], chosen[2]
    return RunSummary(
        name=str(execution.get("name", "")),
        status=status,
        started_at=started,
        duration_s=None if stopped is None else stopped - started,
        failed_state=failed_state,
        reason=failure_reason(error, cause) if status != "SUCCEEDED" else "",
        state_durations=durations,
    )
