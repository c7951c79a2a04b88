"""Duplicate S3 events: one execution per batch, named by content; a repeat is ExecutionAlreadyExists = done.

The trigger's domain logic runs against moto's Step Functions (the AWS contract:
StartExecution with a name already used by a closed execution, or with another
input, fails with ExecutionAlreadyExists) and against the local runner. A name whose
execution ended without success is started again as ``<name>-r1`` (a failed execution
must not swallow a re-upload).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from covid_pipeline.adapters.aws.executions import StepFunctionsExecutions
from covid_pipeline.domain.models import TriggerInput
from covid_pipeline.domain.trigger import (
    ALREADY_EXISTS,
    STARTED,
    TriggerDeps,
    execution_name,
    objects_of_events,
    run_trigger,
)
from covid_pipeline.ports import PipelineError
from covid_pipeline.runner.local import LocalExecutions
from tests.helpers import use_fake_aws

ROOT = Path(__file__).resolve().parents[2]
BATCH = json.loads((ROOT / "events" / "trigger-sqs-batch.json").read_text())


def _event(key: str, etag: str, event_id: str = "e1") -> dict:
    return {
        "id": event_id,
        "detail-type": "Object Created",
        "source": "aws.s3",
        "detail": {"bucket": {"name": "raw"}, "object": {"key": key, "etag": etag}},
    }


def _batch(*events: dict) -> TriggerInput:
    return TriggerInput.model_validate(
        {"Records": [{"messageId": f"m{i}", "body": json.dumps(e)} for i, e in enumerate(events)]}
    )


def test_names_depend_on_the_set_of_objects_only() -> None:
    a, b = ("enigma-jhu/csv/04-13-2020.csv", "e1"), ("enigma-jhu/csv/04-14-2020.csv", "e2")
    assert execution_name([a, b]) == execution_name([b, a, a])
    assert execution_name([a]) != execution_name([(a[0], "changed")])  # a new version is new work
    name = execution_name([("enigma-jhu/csv/with space & 'quote'.csv", "x")])
    assert len(name) <= 80
    assert name.replace("-", "").replace("_", "").isalnum()
    with pytest.raises(PipelineError):
        execution_name([])


def test_events_are_deduplicated_and_foreign_events_refused() -> None:
    objects = objects_of_events([_event("k", "e", "1"), _event("k", "e", "2"), _event("j", "f")])
    assert objects == [{"key": "j", "etag": "f"}, {"key": "k", "etag": "e"}]
    with pytest.raises(PipelineError, match="not an S3 Object Created"):
        objects_of_events([{"detail-type": "Object Deleted"}])


@mock_aws
def test_a_duplicate_delivery_is_already_exists_on_step_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_aws(monkeypatch)
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    sfn = boto3.client("stepfunctions")
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    arn = sfn.create_state_machine(name="pipeline", definition=definition, roleArn=role)["stateMachineArn"]
    executions = TriggerDeps(StepFunctionsExecutions(arn, client=sfn))
    first = run_trigger(TriggerInput.model_validate(BATCH), executions)
    assert (first.status, first.objects, first.duplicate_events) == (STARTED, 1, 1)
    # SQS redelivers the batch while the execution runs: Step Functions answers with that same
    # execution (same name, same input), no second one.
    assert run_trigger(TriggerInput.model_validate(BATCH), executions).execution_name == first.execution_name
    listed = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert [e["name"] for e in listed] == [first.execution_name]
    # ... and after it was stopped (ABORTED, closed without success): started again under the next name.
    sfn.stop_execution(executionArn=listed[0]["executionArn"])
    again = run_trigger(TriggerInput.model_validate(BATCH), executions)
    assert (again.status, again.execution_name) == (STARTED, first.execution_name + "-r1")
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 2
    started = json.loads(sfn.describe_execution(executionArn=listed[0]["executionArn"])["input"])
    assert started == {
        "objects": [{"key": "enigma-jhu/csv/04-13-2020.csv", "etag": "5feb541465cd26507e49e7ca15acdd9c"}]
    }


@mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
def test_a_delivery_after_success_is_already_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_aws(monkeypatch)
    role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    sfn = boto3.client("stepfunctions")
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    arn = sfn.create_state_machine(name="pipeline", definition=definition, roleArn=role)["stateMachineArn"]
    executions = StepFunctionsExecutions(arn, client=sfn)
    first = run_trigger(TriggerInput.model_validate(BATCH), TriggerDeps(executions))
    for _ in range(200):  # moto runs the execution in a thread
        if executions.status(first.execution_name) != "RUNNING":
            break
        time.sleep(0.01)
    assert executions.status(first.execution_name) == "SUCCEEDED"
    again = run_trigger(TriggerInput.model_validate(BATCH), TriggerDeps(executions))
    assert (again.status, again.execution_name) == (ALREADY_EXISTS, first.execution_name)


@mock_aws
def test_other_step_functions_errors_are_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_aws(monkeypatch)
    missing = "arn:aws:states:us-east-2:123456789012:stateMachine:nope"
    with pytest.raises(Exception, match=r"StateMachineDoesNotExist|does not exist"):
        StepFunctionsExecutions(missing, client=boto3.client("stepfunctions")).start("n", {})


def test_the_local_runner_gives_the_same_answer(tmp_path: Path) -> None:
    executions = LocalExecutions(tmp_path / "home")
    batch = _batch(_event("no-such-dataset/x.csv", "e"))
    # The execution fails in Setup (unknown feed): a repeat is a new attempt, not swallowed as done.
    first = run_trigger(batch, TriggerDeps(executions))
    assert first.status == STARTED
    assert executions.status(first.execution_name) == "FAILED"
    again = run_trigger(batch, TriggerDeps(executions))
    assert (again.status, again.execution_name) == (STARTED, first.execution_name + "-r1")
    records = executions.pipeline.executions()
    assert len(records) == 2
    assert records[0].status == "FAILED"
    assert "does not belong to any known dataset feed" in records[0].reason
