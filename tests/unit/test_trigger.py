"""The trigger's choice of execution: a closed-without-success attempt is retried, Setup's copies are dropped."""

from __future__ import annotations

import json
from typing import Any

import pytest

from covid_pipeline.domain.models import TriggerInput
from covid_pipeline.domain.trigger import (
    ALREADY_EXISTS,
    MAX_NAME,
    NOTHING_TO_DO,
    STARTED,
    TriggerDeps,
    attempt_name,
    execution_name,
    run_trigger,
)
from covid_pipeline.ports import PipelineError

UPLOAD = "enigma-jhu/csv/04-13-2020.csv"
COPY = "enigma-jhu/csv/Enigma-JHU.csv.gz"


class FakeExecutions:
    """Step Functions' naming contract: a name is taken once; its status is what the test says."""

    def __init__(self, statuses: dict[str, str] | None = None) -> None:
        self.statuses = dict(statuses or {})
        self.started: list[str] = []

    def start(self, name: str, execution_input: dict[str, Any]) -> str:
        if name in self.statuses:
            return ALREADY_EXISTS
        self.statuses[name] = "RUNNING"
        self.started.append(name)
        return STARTED

    def status(self, name: str) -> str:
        return self.statuses[name]


def _batch(*keys: str) -> TriggerInput:
    events = [
        {"detail-type": "Object Created", "detail": {"bucket": {"name": "raw"}, "object": {"key": k, "etag": "e"}}}
        for k in keys
    ]
    return TriggerInput.model_validate(
        {"Records": [{"messageId": f"m{i}", "body": json.dumps(e)} for i, e in enumerate(events)]}
    )


NAME = execution_name([(UPLOAD, "e")])


def test_a_new_batch_starts_its_execution() -> None:
    executions = FakeExecutions()
    out = run_trigger(_batch(UPLOAD), TriggerDeps(executions))
    assert (out.status, out.execution_name, executions.started) == (STARTED, NAME, [NAME])


@pytest.mark.parametrize("status", ["RUNNING", "SUCCEEDED"])
def test_a_delivery_of_running_or_succeeded_work_is_a_duplicate(status: str) -> None:
    executions = FakeExecutions({NAME: status})
    out = run_trigger(_batch(UPLOAD), TriggerDeps(executions))
    assert (out.status, out.execution_name, executions.started) == (ALREADY_EXISTS, NAME, [])


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT", "ABORTED"])
def test_a_failed_execution_does_not_swallow_a_redelivery(status: str) -> None:
    executions = FakeExecutions({NAME: status})
    out = run_trigger(_batch(UPLOAD), TriggerDeps(executions))
    assert (out.status, out.execution_name) == (STARTED, f"{NAME}-r1")
    # The retry's own redelivery finds the retry running: a duplicate, not a third execution.
    again = run_trigger(_batch(UPLOAD), TriggerDeps(executions))
    assert (again.status, again.execution_name, executions.started) == (ALREADY_EXISTS, f"{NAME}-r1", [f"{NAME}-r1"])


def test_attempts_go_on_while_each_ended_without_success_and_stop_at_a_bound() -> None:
    executions = FakeExecutions({NAME: "FAILED", f"{NAME}-r1": "FAILED"})
    assert run_trigger(_batch(UPLOAD), TriggerDeps(executions)).execution_name == f"{NAME}-r2"
    hopeless = FakeExecutions({attempt_name(NAME, n): "FAILED" for n in range(20)})
    with pytest.raises(PipelineError, match="ended without success"):
        run_trigger(_batch(UPLOAD), TriggerDeps(hopeless))


def test_attempt_names_stay_within_step_functions_limit() -> None:
    long = "x" * MAX_NAME
    assert len(attempt_name(long, 12)) == MAX_NAME
    assert attempt_name(long, 12).endswith("-r12")


def test_setups_own_copies_start_nothing() -> None:
    executions = FakeExecutions()
    deps = TriggerDeps(executions, copied_by_pipeline=lambda key: key == COPY)
    only_copies = run_trigger(_batch(COPY, COPY), deps)
    assert (only_copies.status, only_copies.pipeline_copies, executions.started) == (NOTHING_TO_DO, 1, [])
    mixed = run_trigger(_batch(COPY, UPLOAD), deps)
    assert (mixed.status, mixed.objects, mixed.pipeline_copies) == (STARTED, 1, 1)
    assert mixed.execution_name == NAME  # named by the upload alone
