"""run / upload / backfill / rerun with --stack, against a stack faked with moto.

The stack is a moto CloudFormation stack (its S3 buckets, its outputs as template.yaml's). moto's
CloudFormation creates state machines in its plain Step Functions backend, not in the interpreter that runs
them (``execute_state_machine``), so the state machine (the real ASL, as tests/infra/test_definition_moto.py
builds it) is created directly and its ARN is the stack's StateMachineArn output. Executions run in moto's
interpreter: Lambda results come from moto's queue of results; Clean (glue:startJobRun.sync) fails in moto
("Job covid-clean not found."), caught by the definition and routed to NotifyFailure and Failed: a realistic
FAILED history (failed state, error, cause).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from covid_pipeline.adapters.aws.executions import StepFunctionsExecutions
from covid_pipeline.adapters.aws.stack import OUTPUTS, DeployedStack
from covid_pipeline.cli import main
from covid_pipeline.domain.models import TriggerInput
from covid_pipeline.domain.trigger import TriggerDeps, run_trigger
from covid_pipeline.feeds import DATASETS
from covid_pipeline.ports import PipelineError
from covid_pipeline.remote import control, follow
from tests.helpers import use_fake_aws
from tests.infra.test_definition_moto import REGION, SETUP, STAGE, _definition, _queue_lambda_results

STACK = "covid-dev"
SOURCE = "s3://covid19-lake/"
LOAD = {
    "run_id": "run-1",
    "rows_merged": {"fact_cases_daily": 9287},
    "rows_total": {"fact_cases_daily": 9287},
    "changes": {"fact_cases_daily": {"new": 9287}},
    "rejected": {},
}


def _stack_template(machine_arn: str) -> str:
    values = {output: f"{output.lower()}-value" for output in OUTPUTS.values()}
    outputs: dict[str, Any] = {key: {"Value": value} for key, value in values.items()}
    outputs |= {
        "RawBucketName": {"Value": {"Ref": "RawBucket"}},
        "LakeBucketName": {"Value": {"Ref": "LakeBucket"}},
        "StateMachineArn": {"Value": machine_arn},
    }
    return json.dumps(
        {
            "Parameters": {"SourceUri": {"Type": "String", "Default": SOURCE}},
            "Resources": {"RawBucket": {"Type": "AWS::S3::Bucket"}, "LakeBucket": {"Type": "AWS::S3::Bucket"}},
            "Outputs": outputs,
        }
    )


def _machine(clean_as_pass: bool) -> str:
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"}))
    lam = boto3.client("lambda")
    arns = {
        step: lam.create_function(
            FunctionName=f"covid-{step.lower()}",
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="app.lambda_handler",
            Code={"ZipFile": b"PK"},
        )["FunctionArn"]
        for step in ("Setup", "Crawl", "Stage", "Load")
    }
    topic = boto3.client("sns").create_topic(Name="alerts")["TopicArn"]
    machine = boto3.client("stepfunctions").create_state_machine(
        name="covid-dev-pipeline", definition=_definition(arns, topic, clean_as_pass), roleArn=role["Role"]["Arn"]
    )
    return str(machine["stateMachineArn"])


@pytest.fixture
def make_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., dict[str, str]]]:
    """A deployed stack in moto: make_stack(clean_as_pass=False) -> its outputs."""
    use_fake_aws(monkeypatch)
    monkeypatch.setattr(follow, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(control, "FIND_POLL_S", 0.01)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):

        def make(clean_as_pass: bool = False) -> dict[str, str]:
            cfn = boto3.client("cloudformation")
            cfn.create_stack(StackName=STACK, TemplateBody=_stack_template(_machine(clean_as_pass)))
            stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
            return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}

        yield make


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main([*argv, "--stack", STACK, "--region", REGION])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _executions() -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    listed = sfn.list_executions(stateMachineArn=machine)["executions"]
    return [sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]


def test_run_follows_a_failed_execution_to_its_failed_state(make_stack, capsys) -> None:
    make_stack()
    _queue_lambda_results([{**SETUP, "needs_crawl": False}, STAGE])
    code, out = _cli(capsys, "run")
    assert code == 1
    assert f"source {SOURCE} (" in out  # the stack's SourceUri parameter, which Setup uses
    lines = [line.strip() for line in out.splitlines()]
    for state in ("Setup", "AnythingToDo?", "CrawlNeeded?", "Stage", "NotifyFailure"):
        assert any(line.startswith(f"✓ {state} ") for line in lines), (state, out)
    (clean,) = [line for line in lines if line.startswith("✗ Clean")]
    assert clean.endswith("Glue.EntityNotFoundException")
    assert any(line.startswith("✗ Failed ") for line in lines)
    (name,) = [e["name"] for e in _executions()]
    assert f"execution {name} FAILED in state Clean: Glue.EntityNotFoundException: Job covid-clean not found." in out
    assert (
        f"history: https://{REGION}.console.aws.amazon.com/states/home?region={REGION}#/v2/executions/details/" in out
    )
    # The full-run input Setup accepts; no source_uri: Setup takes its SOURCE_URI (the stack's SourceUri).
    (execution,) = _executions()
    assert json.loads(execution["input"]) == {"datasets": list(DATASETS)}


def test_run_with_a_source_and_reprocess_prints_the_warehouse_table(make_stack, capsys) -> None:
    make_stack(clean_as_pass=True)
    _queue_lambda_results([{**SETUP, "needs_crawl": False}, STAGE, LOAD])
    code, out = _cli(capsys, "run", "--source", "s3://my-lake/covid", "--reprocess")
    assert code == 0, out
    assert "✓ Load" in out
    assert "9,287" in out  # the load's counts, in the same table as locally
    assert "SUCCEEDED in" in out
    (execution,) = _executions()
    assert json.loads(execution["input"]) == {
        "datasets": list(DATASETS),
        "source_uri": "s3://my-lake/covid/",
        "reprocess": True,
    }


def test_run_no_wait_prints_the_execution_and_its_console_page(make_stack, capsys) -> None:
    make_stack()
    _queue_lambda_results([{**SETUP, "needs_crawl": False}, STAGE])
    code, out = _cli(capsys, "run", "--no-wait")
    assert code == 0
    (execution,) = _executions()
    assert execution["executionArn"] in out
    assert "console.aws.amazon.com/states/home" in out
    assert "✓" not in out


def test_run_refuses_a_local_source_folder(make_stack, capsys) -> None:
    make_stack()
    code, out = _cli(capsys, "run", "--source", "data/lake")
    assert code == 2
    assert "with --stack the source is an S3 prefix" in out
    assert _executions() == []


def _jhu_file(folder: Path, name: str = "01-02-2021.csv") -> Path:
    path = folder / name
    path.write_text("FIPS,Admin2,Province_State,Country_Region,Last_Update,Confirmed\n")
    return path


def _trigger(machine_arn: str, raw_bucket: str, keys: list[str]) -> None:
    """What the TriggerFunction does with one queue batch of the S3 events of these keys."""
    s3 = boto3.client("s3")
    records = []
    for number, key in enumerate(keys):
        etag = s3.head_object(Bucket=raw_bucket, Key=key)["ETag"].strip('"')
        event = {
            "detail-type": "Object Created",
            "source": "aws.s3",
            "detail": {"bucket": {"name": raw_bucket}, "object": {"key": key, "etag": etag}},
        }
        records.append({"messageId": f"m{number}", "body": json.dumps(event)})
    executions = StepFunctionsExecutions(machine_arn, boto3.client("stepfunctions"))
    run_trigger(TriggerInput.model_validate({"Records": records}), TriggerDeps(executions))


def _on_first_wait(monkeypatch: pytest.MonkeyPatch, action: Callable[[], None]) -> None:
    """Run ``action`` when the command first waits for the trigger (as if its batch had just come in)."""
    done: list[bool] = []

    def sleep(_: float) -> None:
        if not done:
            done.append(True)
            action()

    monkeypatch.setattr(control, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sleep))


def test_upload_puts_the_file_then_follows_the_execution_the_trigger_started(
    make_stack, capsys, tmp_path, monkeypatch
) -> None:
    outputs = make_stack()
    key = "enigma-jhu/csv/01-02-2021.csv"  # the same key as locally (the feed's folder)
    _on_first_wait(monkeypatch, lambda: _trigger(outputs["StateMachineArn"], outputs["RawBucketName"], [key]))
    _queue_lambda_results([{**SETUP, "needs_crawl": False}, STAGE])
    code, out = _cli(capsys, "upload", str(_jhu_file(tmp_path)), "--dataset", "enigma-jhu")
    assert code == 1  # moto's Clean fails
    head = boto3.client("s3").head_object(Bucket=outputs["RawBucketName"], Key=key)
    assert f"-> s3://{outputs['RawBucketName']}/{key} (etag {head['ETag'].strip(chr(34))})" in out
    (execution,) = _executions()
    assert execution["name"].startswith("upload-01-02-2021-csv-1-")  # the trigger's deterministic name
    assert "✓ Setup" in out
    assert f"execution {execution['name']} FAILED in state Clean" in out


def test_uploads_the_queue_split_into_two_batches_are_both_followed(make_stack, capsys, tmp_path, monkeypatch) -> None:
    outputs = make_stack(clean_as_pass=True)
    keys = ["enigma-jhu/csv/01-02-2021.csv", "enigma-jhu/csv/01-03-2021.csv"]

    def two_batches() -> None:
        for key in keys:
            _trigger(outputs["StateMachineArn"], outputs["RawBucketName"], [key])
            # One after the other: moto's executions take Lambda results from one shared queue.
            (running,) = [e for e in _executions() if e["status"] == "RUNNING"]
            _wait_for(running["executionArn"])

    _on_first_wait(monkeypatch, two_batches)
    _queue_lambda_results([{**SETUP, "needs_crawl": False}, STAGE, LOAD] * 2)
    files = [str(_jhu_file(tmp_path, name)) for name in ("01-02-2021.csv", "01-03-2021.csv")]
    code, out = _cli(capsys, "upload", *files, "--dataset", "enigma-jhu")
    assert code == 0, out
    names = sorted(e["name"] for e in _executions())
    assert len(names) == 2
    for name in names:
        assert f"execution {name} SUCCEEDED" in out


def test_a_reupload_after_a_failure_follows_the_next_attempt(make_stack, capsys, tmp_path, monkeypatch) -> None:
    outputs = make_stack()
    key = "enigma-jhu/csv/01-02-2021.csv"
    path = _jhu_file(tmp_path)
    for _ in range(2):  # the same bytes twice: the same etag, so the same execution name
        _on_first_wait(monkeypatch, lambda: _trigger(outputs["StateMachineArn"], outputs["RawBucketName"], [key]))
        _queue_lambda_results([{**SETUP, "needs_crawl": False}, STAGE])
        code, out = _cli(capsys, "upload", str(path), "--dataset", "enigma-jhu")
        assert code == 1
    first, second = sorted((e for e in _executions()), key=lambda e: e["startDate"])
    assert second["name"] == f"{first['name']}-r1"  # domain.trigger's next attempt after a failure
    assert f"execution {second['name']} FAILED" in out


def test_upload_says_where_to_look_when_no_execution_comes(make_stack, capsys, tmp_path, monkeypatch) -> None:
    outputs = make_stack()
    monkeypatch.setattr(control, "FIND_TIMEOUT_S", 0.0)
    code, out = _cli(capsys, "upload", str(_jhu_file(tmp_path)), "--dataset", "enigma-jhu")
    assert code == 2
    assert "no execution took up enigma-jhu/csv/01-02-2021.csv" in out
    assert "UploadDeadLetterQueue" in out
    listed = boto3.client("s3").list_objects_v2(Bucket=outputs["RawBucketName"])["Contents"]
    assert [o["Key"] for o in listed] == ["enigma-jhu/csv/01-02-2021.csv"]


def test_upload_checks_every_file_before_any_put(make_stack, capsys, tmp_path) -> None:
    outputs = make_stack()
    good = _jhu_file(tmp_path)
    binary = tmp_path / "01-03-2021.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    code, out = _cli(capsys, "upload", str(good), str(binary), "--dataset", "enigma-jhu")
    assert code == 2
    assert "nothing was uploaded" in out
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket=outputs["RawBucketName"])


def _raw_jhu(bucket: str, days: list[str]) -> None:
    s3 = boto3.client("s3")
    for day in days:
        s3.put_object(Bucket=bucket, Key=f"enigma-jhu/csv/{day}.csv", Body=b"FIPS,Confirmed\n")


def test_backfill_dry_run_lists_the_raw_objects_it_covers(make_stack, capsys) -> None:
    outputs = make_stack()
    _raw_jhu(outputs["RawBucketName"], ["01-01-2021", "01-02-2021", "01-05-2021"])
    args = ("backfill", "--dataset", "enigma-jhu", "--from", "2021-01-01", "--to", "2021-01-03", "--dry-run")
    code, out = _cli(capsys, *args)
    assert code == 0, out
    raw = f"s3://{outputs['RawBucketName']}/enigma-jhu/csv"
    assert f"{raw}/01-01-2021.csv" in out
    assert f"{raw}/01-02-2021.csv" in out
    assert "01-05-2021" not in out
    assert "dry run: 2 object(s) would be re-processed" in out
    assert _executions() == []


def test_backfill_starts_the_backfill_input(make_stack, capsys) -> None:
    outputs = make_stack()
    _raw_jhu(outputs["RawBucketName"], ["01-01-2021"])
    code, out = _cli(
        capsys, "backfill", "--dataset", "enigma-jhu", "--from", "2021-01-01", "--to", "2021-01-01", "--no-wait"
    )
    assert code == 0, out
    (execution,) = _executions()
    assert execution["name"].startswith("backfill-")
    assert json.loads(execution["input"]) == {
        "backfill": {"dataset": "enigma-jhu", "from": "2021-01-01", "to": "2021-01-01"}
    }


def test_backfill_of_nothing_starts_nothing(make_stack, capsys) -> None:
    make_stack()
    code, out = _cli(capsys, "backfill", "--dataset", "enigma-jhu", "--from", "2021-01-01", "--to", "2021-01-01")
    assert code == 2
    assert "the raw zone holds no object of enigma-jhu" in out
    assert _executions() == []


def _wait_for(arn: str) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    deadline = time.monotonic() + 30
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return described


def test_rerun_without_redrive_starts_its_input_under_a_new_name(make_stack, capsys) -> None:
    outputs = make_stack()
    _queue_lambda_results([{**SETUP, "needs_crawl": False}, STAGE] * 2)
    sfn = boto3.client("stepfunctions")
    request = {"objects": [{"key": "enigma-jhu/csv/01-02-2021.csv", "etag": "abc"}]}
    first = sfn.start_execution(stateMachineArn=outputs["StateMachineArn"], name="upload-x", input=json.dumps(request))
    assert _wait_for(first["executionArn"])["status"] == "FAILED"
    # moto's DescribeExecution has no redriveStatus: the CLI starts a new execution and says why.
    code, out = _cli(capsys, "rerun", "upload-x")
    assert code == 1
    assert "new execution with the input of upload-x: Step Functions cannot redrive it (no redriveStatus)" in out
    (rerun,) = [e for e in _executions() if e["name"] != "upload-x"]
    assert rerun["name"].startswith("rerun-")
    assert json.loads(rerun["input"]) == request
    assert f"execution {rerun['name']} FAILED in state Clean" in out


def test_rerun_of_an_unknown_execution(make_stack, capsys) -> None:
    make_stack()
    code, out = _cli(capsys, "rerun", "nope")
    assert code == 2
    assert f"no execution nope of the stack {STACK}'s state machine: covid-pipeline status --stack {STACK}" in out


MACHINE = f"arn:aws:states:{REGION}:123456789012:stateMachine:covid-dev-pipeline"
EXECUTION = f"arn:aws:states:{REGION}:123456789012:execution:covid-dev-pipeline:run-1"
T0 = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0.timestamp() + seconds, tz=UTC)


def _stubbed_stack(monkeypatch: pytest.MonkeyPatch) -> tuple[DeployedStack, Stubber]:
    use_fake_aws(monkeypatch)
    monkeypatch.setattr(follow, "POLL_SECONDS", 0.0)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    session = SimpleNamespace(client=lambda service, **_: sfn)
    fields = {name: f"{name}-value" for name in OUTPUTS}
    stack = DeployedStack(name=STACK, region=REGION, session=session, **{**fields, "state_machine_arn": MACHINE})
    return stack, Stubber(sfn)


def _described(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "executionArn": EXECUTION,
        "stateMachineArn": MACHINE,
        "name": "run-1",
        "status": status,
        "startDate": T0,
        "input": json.dumps({"datasets": ["enigma-jhu"]}),
        **extra,
    }


def _entered(id_: int, kind: str, name: str, at: float) -> dict[str, Any]:
    return {"id": id_, "previousEventId": id_ - 1, "type": f"{kind}StateEntered", "timestamp": _at(at),
            "stateEnteredEventDetails": {"name": name}}  # fmt: skip


def _exited(id_: int, kind: str, name: str, at: float) -> dict[str, Any]:
    return {"id": id_, "previousEventId": id_ - 1, "type": f"{kind}StateExited", "timestamp": _at(at),
            "stateExitedEventDetails": {"name": name}}  # fmt: skip


def test_rerun_redrives_a_redrivable_failed_execution(monkeypatch, capsys) -> None:
    """DescribeExecution's documented redriveStatus REDRIVABLE -> RedriveExecution; the progress printed is
    the redrive's only (events after ExecutionRedriven), ending on its ExecutionSucceeded."""
    stack, stubber = _stubbed_stack(monkeypatch)
    before = [
        {"id": 1, "previousEventId": 0, "type": "ExecutionStarted", "timestamp": T0,
         "executionStartedEventDetails": {"input": "{}"}},
        _entered(2, "Task", "Setup", 1),
        {"id": 3, "previousEventId": 2, "type": "TaskFailed", "timestamp": _at(2),
         "taskFailedEventDetails": {"resourceType": "lambda", "resource": "invoke", "error": "Boom", "cause": "x"}},
        {"id": 4, "previousEventId": 3, "type": "ExecutionFailed", "timestamp": _at(2),
         "executionFailedEventDetails": {"error": "Boom", "cause": "x"}},
    ]  # fmt: skip
    after = [
        {"id": 5, "previousEventId": 4, "type": "ExecutionRedriven", "timestamp": _at(60),
         "executionRedrivenEventDetails": {"redriveCount": 1}},
        _entered(6, "Task", "Setup", 61),
        _exited(7, "Task", "Setup", 64),
        _entered(8, "Succeed", "NothingToDo", 64),
        _exited(9, "Succeed", "NothingToDo", 64),
        {"id": 10, "previousEventId": 9, "type": "ExecutionSucceeded", "timestamp": _at(64),
         "executionSucceededEventDetails": {"output": "{}"}},
    ]  # fmt: skip
    failed = _described("FAILED", stopDate=_at(2), redriveStatus="REDRIVABLE")
    stubber.add_response("describe_execution", failed, {"executionArn": EXECUTION})
    stubber.add_response(
        "get_execution_history",
        {"events": [before[-1]]},
        {"executionArn": EXECUTION, "maxResults": 1, "reverseOrder": True},
    )
    stubber.add_response("redrive_execution", {"redriveDate": _at(60)}, {"executionArn": EXECUTION})
    stubber.add_response("describe_execution", _described("RUNNING", redriveDate=_at(60)))
    stubber.add_response("get_execution_history", {"events": before + after})
    done = {"output": json.dumps({"objects": 0, "skipped": 3}), "stopDate": _at(64), "redriveDate": _at(60)}
    stubber.add_response("describe_execution", _described("SUCCEEDED", **done))
    args = SimpleNamespace(name="run-1", reprocess=False, no_wait=False)
    with stubber:
        assert control.rerun(args, stack) == 0
    out = capsys.readouterr().err
    assert "redrive run-1 (FAILED): it goes on from the state that failed" in out
    lines = [line.strip() for line in out.splitlines()]
    assert [line.split()[:2] for line in lines if line[:1] in "✓✗"] == [["✓", "Setup"], ["✓", "NothingToDo"]]
    assert "execution run-1 SUCCEEDED in 4.0 s" in out  # from the redrive on
    assert "nothing to do" in out


def test_rerun_of_an_execution_past_its_redrive_period_starts_a_new_one(monkeypatch, capsys) -> None:
    stack, stubber = _stubbed_stack(monkeypatch)
    reason = "Execution redrivable period exceeded"  # one of redriveStatusReason's documented values
    stubber.add_response(
        "describe_execution", _described("FAILED", redriveStatus="NOT_REDRIVABLE", redriveStatusReason=reason)
    )
    stubber.add_response(
        "start_execution", {"executionArn": EXECUTION.replace("run-1", "rerun-2"), "startDate": _at(100)}
    )
    args = SimpleNamespace(name="run-1", reprocess=False, no_wait=True)
    with stubber:
        assert control.rerun(args, stack) == 0
    out = capsys.readouterr().err
    assert f"new execution with the input of run-1: Step Functions cannot redrive it ({reason})" in out
    assert "started execution rerun-2" in out


def test_rerun_of_a_running_execution_is_refused(monkeypatch, capsys) -> None:
    stack, stubber = _stubbed_stack(monkeypatch)
    stubber.add_response("describe_execution", _described("RUNNING"))
    with stubber, pytest.raises(PipelineError, match="run-1 is still RUNNING"):
        control.rerun(SimpleNamespace(name="run-1", reprocess=False, no_wait=True), stack)


def test_a_reupload_of_files_loaded_before_says_so(make_stack, capsys, tmp_path, monkeypatch) -> None:
    outputs = make_stack(clean_as_pass=True)
    key = "enigma-jhu/csv/01-02-2021.csv"
    path = _jhu_file(tmp_path)
    _on_first_wait(monkeypatch, lambda: _trigger(outputs["StateMachineArn"], outputs["RawBucketName"], [key]))
    _queue_lambda_results([{**SETUP, "needs_crawl": False}, STAGE, LOAD])
    assert _cli(capsys, "upload", str(path), "--dataset", "enigma-jhu")[0] == 0
    (first,) = _executions()
    # The same bytes again: the trigger finds the SUCCEEDED execution of that name and starts none.
    _on_first_wait(monkeypatch, lambda: _trigger(outputs["StateMachineArn"], outputs["RawBucketName"], [key]))
    code, out = _cli(capsys, "upload", str(path), "--dataset", "enigma-jhu")
    assert code == 2
    assert f"execution {first['name']} (SUCCEEDED) was started for them" in out
    assert f"covid-pipeline rerun {first['name']} --reprocess --stack {STACK}" in out
    assert len(_executions()) == 1


def test_a_missing_permission_is_one_line_naming_the_action(make_stack, capsys, monkeypatch) -> None:
    outputs = make_stack()
    sfn = boto3.client("stepfunctions")
    stubber = Stubber(sfn)
    message = (
        f"User: arn:aws:sts::123456789012:assumed-role/analyst/jo is not authorized to perform: "
        f"states:StartExecution on resource: {outputs['StateMachineArn']} because no identity-based policy "
        f"allows the states:StartExecution action"
    )
    stubber.add_client_error("start_execution", "AccessDeniedException", message, 400)
    real = DeployedStack.client
    monkeypatch.setattr(
        DeployedStack, "client", lambda self, service: sfn if service == "stepfunctions" else real(self, service)
    )
    with stubber:
        code, out = _cli(capsys, "run")
    assert code == 2
    (line,) = [line for line in out.splitlines() if line.startswith("error:")]
    assert line.startswith("error: permission missing: arn:aws:sts::123456789012:assumed-role/analyst/jo may not "
                           "call states:StartExecution on arn:aws:states:")  # fmt: skip
    assert "Traceback" not in out


def test_an_upload_whose_exact_files_are_still_being_processed_follows_that_execution(monkeypatch, capsys) -> None:
    stack, stubber = _stubbed_stack(monkeypatch)
    objects = [{"key": "enigma-jhu/csv/01-02-2021.csv", "etag": "abc"}]
    running = _described("RUNNING")  # started before the upload (listed then): the trigger answers it again
    stubber.add_response("describe_execution", running)
    before = control.Before({EXECUTION}, T0.timestamp() + 60)
    with stubber:
        assert control._exact_execution(stack.client("stepfunctions"), stack, objects, before) == running
    assert "these exact files are already being processed by run-1" in capsys.readouterr().err
