"""The definition's control flow in moto's Step Functions interpreter (the AWS-side contract).

moto runs the real ASL: Lambda results come from moto's simple-Lambda queue, SNS is
moto's. moto 5.2.5 cannot complete ``glue:startJobRun.sync`` (it fails inside the
integration). So the failure test keeps Clean as written: its failure must be caught
and routed to the alert. The happy-path test replaces Clean alone by a Pass state that
returns what the .sync integration returns (a JobRun) through the state's own
ResultSelector/ResultPath; the real Clean is covered by tests/infra/test_pipeline_flow.py
(same definition on the local interpreter) and by the e2e run on local PySpark. Both
tests also set Wait's 20 s to 0 so they do not sleep.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from covid_pipeline.runner.template import LocalTemplate
from tests.helpers import ROOT, use_fake_aws

REGION = "us-east-2"
ACCOUNT = "123456789012"


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_aws(monkeypatch)


def _definition(function_arns: dict[str, str], topic_arn: str, clean_as_pass: bool = False) -> str:
    template = LocalTemplate(ROOT / "template.yaml")
    text = (ROOT / "statemachine" / "pipeline.asl.json").read_text()
    subs = {f"{step}FunctionArn": arn for step, arn in function_arns.items()}
    subs |= {"CleanJobName": "covid-clean", "AlertTopicArn": topic_arn}
    assert set(subs) == set(template.resources["PipelineStateMachine"]["Properties"]["DefinitionSubstitutions"])
    for key, value in subs.items():
        text = text.replace("${" + key + "}", value)
    definition = json.loads(text)
    definition["States"]["WaitForCrawl"]["Seconds"] = 0
    if clean_as_pass:
        # moto cannot complete glue:startJobRun.sync: stand in for the job with what the .sync
        # integration returns (a JobRun), through the real ResultSelector/ResultPath of the state.
        clean = definition["States"]["Clean"]
        definition["States"]["Clean"] = {
            "Type": "Pass",
            "Result": {"Id": "jr_1", "JobRunState": "SUCCEEDED", "ExecutionTime": 42},
            "ResultPath": "$.clean_run",
            "Next": "CleanResult",
        }
        definition["States"]["CleanResult"] = {
            "Type": "Pass",
            "Parameters": {k: v.replace("$.", "$.clean_run.", 1) for k, v in clean["ResultSelector"].items()},
            "ResultPath": clean["ResultPath"],
            "Next": clean["Next"],
        }
    return json.dumps(definition)


def _queue_lambda_results(results: list[dict[str, Any]]) -> None:
    resp = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/lambda-simple/response",
        json={"results": [json.dumps(r) for r in results], "region": REGION},
        timeout=5,
    )
    assert resp.status_code == 201


def _setup_aws(clean_as_pass: bool = False) -> tuple[Any, str, str]:
    iam = boto3.client("iam")
    role = iam.create_role(
        RoleName="sfn", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    lam = boto3.client("lambda")
    arns = {}
    for step in ("Setup", "Crawl", "Stage", "Load"):
        arns[step] = lam.create_function(
            FunctionName=f"covid-{step.lower()}",
            Runtime="python3.12",
            Role=role,
            Handler="app.lambda_handler",
            Code={"ZipFile": b"PK"},
        )["FunctionArn"]
    sns = boto3.client("sns")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="pipeline", definition=_definition(arns, topic, clean_as_pass), roleArn=role
    )
    return sfn, machine["stateMachineArn"], queue


def _run(sfn: Any, machine_arn: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    execution = sfn.start_execution(stateMachineArn=machine_arn, name="run-1", input=json.dumps({}))
    deadline = time.monotonic() + 60  # moto runs the execution in a thread
    while True:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            break
        if time.monotonic() > deadline:
            pytest.fail("execution did not finish within 60 s")
        time.sleep(0.05)
    events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
    return described, events


def _entered(events: list[dict[str, Any]]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


SETUP = {
    "run_id": "run-1",
    "started_at": "2026-11-28T12:00:00Z",
    "manifest_uri": "s3://lake/work/run-1/manifest.jsonl",
    "staged_uri": "s3://lake/staged/run-1/",
    "curated_uri": "s3://lake/curated/run-1/",
    "quarantine_uri": "s3://lake/quarantine/",
    "objects": 1,
    "skipped": 0,
    "refused": [],
}
STAGE = {"tables": 8, "rows": {"jhu_daily": 6030}, "refused_objects": 0, "refusals": [], "unmapped_columns": {}}


@mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})
def test_polling_loop_then_clean_failure_is_caught_and_alerted() -> None:
    sfn, machine_arn, queue = _setup_aws()
    _queue_lambda_results(
        [
            SETUP,
            {"polls": 0, "done": False},  # StartCrawl
            {"polls": 1, "done": False, "state": "RUNNING"},  # PollCrawl
            {"polls": 2, "done": True, "state": "READY"},  # PollCrawl
            STAGE,
        ]
    )
    described, events = _run(sfn, machine_arn)
    entered = _entered(events)
    # SETUP has no needs_crawl (a Setup older than the field): the crawl runs.
    assert entered[:11] == [
        "Setup", "AnythingToDo?", "CrawlNeeded?", "StartCrawl", "WaitForCrawl", "PollCrawl", "CrawlFinished?",
        "WaitForCrawl", "PollCrawl", "CrawlFinished?", "Stage",
    ]  # fmt: skip
    assert entered[11:] == ["Clean", "NotifyFailure", "Failed"]
    assert described["status"] == "FAILED"
    messages = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    assert "covid-pipeline execution run-1 failed" in messages[0]["Body"]
    # The Clean task received the run's locations from the Setup result.
    scheduled = [e for e in events if "taskScheduledEventDetails" in e]
    glue_params = json.loads(next(e for e in scheduled if e["taskScheduledEventDetails"]["resourceType"] == "glue")
                             ["taskScheduledEventDetails"]["parameters"])  # fmt: skip
    assert glue_params["Arguments"]["--staged_uri"] == "s3://lake/staged/run-1/"
    assert glue_params["Arguments"]["--run_id"] == "run-1"


@mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})
def test_happy_path_ends_with_the_success_alert() -> None:
    sfn, machine_arn, queue = _setup_aws(clean_as_pass=True)
    load = {"run_id": "run-1", "rows_merged": {"fact_cases_daily": 9287}, "rows_total": {}, "rejected": {}}
    _queue_lambda_results(
        [
            {**SETUP, "needs_crawl": True},
            {"polls": 0, "done": False},
            {"polls": 1, "done": True, "state": "READY"},
            STAGE,
            load,
        ]
    )
    described, events = _run(sfn, machine_arn)
    assert described["status"] == "SUCCEEDED"
    assert _entered(events)[-4:] == ["CleanResult", "Load", "NotifySuccess", "Succeeded"]
    output = json.loads(described["output"])
    assert output["clean"] == {"job_run_id": "jr_1", "state": "SUCCEEDED", "execution_time": 42}
    assert output["load"]["result"]["rows_merged"] == {"fact_cases_daily": 9287}
    (message,) = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert "covid-pipeline run run-1 succeeded" in message["Body"]
    assert "9287" in message["Body"]


@mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})
def test_objects_the_catalog_already_covers_go_straight_to_stage() -> None:
    sfn, machine_arn, _ = _setup_aws(clean_as_pass=True)
    load = {"run_id": "run-1", "rows_merged": {"fact_cases_daily": 3}, "rows_total": {}, "rejected": {}}
    _queue_lambda_results([{**SETUP, "needs_crawl": False}, STAGE, load])
    described, events = _run(sfn, machine_arn)
    assert described["status"] == "SUCCEEDED"
    entered = _entered(events)
    assert entered[:4] == ["Setup", "AnythingToDo?", "CrawlNeeded?", "Stage"]
    assert not [s for s in entered if "Crawl" in s and s != "CrawlNeeded?"]
    assert entered[-3:] == ["Load", "NotifySuccess", "Succeeded"]


@mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})
def test_nothing_to_do_ends_after_setup_without_crawl_or_load() -> None:
    sfn, machine_arn, queue = _setup_aws()
    _queue_lambda_results([{**SETUP, "objects": 0, "skipped": 1}])
    described, events = _run(sfn, machine_arn)
    assert described["status"] == "SUCCEEDED"
    assert _entered(events) == ["Setup", "AnythingToDo?", "NothingToDo"]
    assert json.loads(described["output"])["skipped"] == 1
    # No alert for a duplicate: nothing happened.
    assert "Messages" not in boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
