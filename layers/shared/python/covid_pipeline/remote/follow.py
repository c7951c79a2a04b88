"""Follow a Step Functions execution from a laptop with the local progress lines.

GetExecutionHistory's events are turned into the local runner's events (runner.asl.HistoryEvent: StateEntered,
StateExited, TaskFailed, TaskRetry, StateFailed), so cli._Progress prints the same ✓/✗/↻/▶ lines for an
execution on AWS as for one on this machine. Differences it bridges:

* AWS names the state only on ``*StateEntered``/``*StateExited``; a task's events (``TaskFailed``,
  ``LambdaFunctionFailed``, ...) belong to the state their ``previousEventId`` chain leads back to.
* AWS has no retry event: a task failure followed by a new ``TaskScheduled`` in the same state is a retry
  (the delay is the time between them).
* An uncaught failure ends the execution without ``*StateExited``: the states still open fail with it.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from covid_pipeline.runner.asl import HistoryEvent
from covid_pipeline.runner.local import ExecutionRecord

POLL_SECONDS = 2.0
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
# Execution end event -> its details field (error and cause, when it has them).
EXECUTION_END = {
    "ExecutionSucceeded": "executionSucceededEventDetails",
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
}
# A task's failure (Lambda's own events for the legacy Resource form, activities too): the details field.
TASK_FAILURES = {
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "TaskStartFailed": "taskStartFailedEventDetails",
    "TaskSubmitFailed": "taskSubmitFailedEventDetails",
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
    "LambdaFunctionStartFailed": "lambdaFunctionStartFailedEventDetails",
    "LambdaFunctionScheduleFailed": "lambdaFunctionScheduleFailedEventDetails",
    "ActivityFailed": "activityFailedEventDetails",
    "ActivityTimedOut": "activityTimedOutEventDetails",
    "ActivityScheduleFailed": "activityScheduleFailedEventDetails",
}
TASK_SCHEDULED = frozenset({"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"})


def console_url(region: str, execution_arn: str) -> str:
    """The execution's page in the Step Functions console."""
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"


def _seconds(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


class HistoryAdapter:
    """AWS history events (oldest first, each once) -> local runner events; remembers why the execution failed."""

    def __init__(self) -> None:
        self.state_of: dict[int, str | None] = {}  # event id -> the state it happened in
        self.open: set[str] = set()
        self.failed: dict[str, float] = {}  # state -> when its task last failed (a retry follows, or not)
        self.failed_state: str | None = None  # the last state whose task failed (the local record's rule)
        self.error: str | None = None
        self.cause: str | None = None

    def adapt(self, event: dict[str, Any]) -> list[HistoryEvent]:
        kind = str(event["type"])
        at = _seconds(event["timestamp"])
        entered = event.get("stateEnteredEventDetails")
        exited = event.get("stateExitedEventDetails")
        state = self.state_of.get(int(event.get("previousEventId") or 0))
        if entered is not None:
            state = str(entered["name"])
            self.open.add(state)
            self.failed.pop(state, None)
            self.state_of[int(event["id"])] = state
            return [HistoryEvent("StateEntered", at, state, {"type": kind.removesuffix("StateEntered")})]
        if exited is not None:
            state = str(exited["name"])
            self.open.discard(state)
            self.failed.pop(state, None)
            self.state_of[int(event["id"])] = None
            return [HistoryEvent("StateExited", at, state, {})]
        self.state_of[int(event["id"])] = state
        if kind in TASK_FAILURES and state is not None:
            details = event.get(TASK_FAILURES[kind]) or {}
            error, cause = str(details.get("error") or kind), str(details.get("cause") or "")
            self.failed[state] = at
            self.failed_state, self.error, self.cause = state, error, cause
            return [HistoryEvent("TaskFailed", at, state, {"error": error, "cause": cause})]
        if kind in TASK_SCHEDULED and state in self.failed:
            delay = at - self.failed.pop(state)
            return [HistoryEvent("TaskRetry", at, state, {"error": self.error, "delay_seconds": round(delay)})]
        if kind == "ExecutionRedriven":
            # The redrive goes on from the states that failed: what was open before is over.
            self.open.clear()
            self.failed.clear()
            self.failed_state = self.error = self.cause = None
            return []
        if kind in EXECUTION_END and kind != "ExecutionSucceeded":
            details = event.get(EXECUTION_END[kind]) or {}
            # The Fail state's ErrorPath/CausePath (the caught task's error) or the uncaught error itself.
            self.error = str(details.get("error") or self.error or kind.removeprefix("Execution").upper())
            self.cause = str(details.get("cause") or self.cause or "")
            ended = [HistoryEvent("StateFailed", at, s, {"error": self.error}) for s in sorted(self.open)]
            if self.failed_state is None and self.open:
                self.failed_state = sorted(self.open)[0]
            self.open.clear()
            return ended
        return []


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Every event of the execution, oldest first (GetExecutionHistory's pages)."""
    events: list[dict[str, Any]] = []
    token = None
    while True:
        page = sfn.get_execution_history(
            executionArn=execution_arn, maxResults=1000, **({"nextToken": token} if token else {})
        )
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def last_event_id(sfn: Any, execution_arn: str) -> int:
    page = sfn.get_execution_history(executionArn=execution_arn, maxResults=1, reverseOrder=True)
    return int(page["events"][0]["id"]) if page["events"] else 0


def follow(sfn: Any, execution_arn: str, after_event_id: int = 0) -> ExecutionRecord:
    """Print the execution's progress until it ends; its record (status, failed state, error, output).

    ``after_event_id``: events up to it were printed before (a redrive goes on after them); then only an
    execution end event after it ends the wait, not the status DescribeExecution may still show.
    """
    from covid_pipeline.cli import _Progress

    adapter = HistoryAdapter()
    seen = 0
    ended = False
    events: list[dict[str, Any]] = []
    with _Progress() as progress:
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            events = history(sfn, execution_arn)
            for event in events:
                if int(event["id"]) <= seen:
                    continue
                seen = int(event["id"])
                adapted = adapter.adapt(event)
                if seen > after_event_id:
                    for local in adapted:
                        progress(local)
                    ended = ended or event["type"] in EXECUTION_END
            if ended or (described["status"] in TERMINAL and after_event_id == 0):
                break
            time.sleep(POLL_SECONDS)
    described = sfn.describe_execution(executionArn=execution_arn)
    return _record(described, adapter, events)


def _json(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError:
        return text


def _record(described: dict[str, Any], adapter: HistoryAdapter, events: list[dict[str, Any]]) -> ExecutionRecord:
    from covid_pipeline.adapters.aws.execution_history import summarize

    # After a redrive, the time of this attempt counts from the redrive.
    started = described.get("redriveDate") or described["startDate"]
    stopped = described.get("stopDate")
    # Which state failed: the rule `status` and the report use (execution_history.summarize), so the three agree.
    failed_state = summarize(described, events).failed_state if described["status"] != "SUCCEEDED" else None
    return ExecutionRecord(
        name=str(described["name"]),
        status=str(described["status"]),
        started_at=_seconds(started),
        stopped_at=_seconds(stopped) if stopped is not None else None,
        input=_json(described.get("input")),
        output=_json(described.get("output")),
        error=adapter.error or described.get("error"),
        cause=adapter.cause or described.get("cause"),
        failed_state=failed_state or adapter.failed_state,
    )
