"""Resolving `--stack NAME`: resource names from a CloudFormation stack's outputs (moto's CloudFormation),
clear one-line errors for a stack that is missing, unfinished or older than the template."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from covid_pipeline.adapters.aws.aws_errors import explain
from covid_pipeline.adapters.aws.stack import OUTPUTS, resolve_stack
from covid_pipeline.cli import main
from covid_pipeline.ports import PipelineError
from covid_pipeline.runner.template import LocalTemplate
from tests.helpers import ROOT

REGION = "eu-west-1"


def _template(outputs: dict[str, str]) -> str:
    return json.dumps(
        {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},  # moto needs one resource it knows
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
    )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield boto3.client("cloudformation", region_name=REGION)


def test_every_output_the_cli_reads_is_an_output_of_the_template() -> None:
    declared = LocalTemplate(ROOT / "template.yaml").doc["Outputs"]
    assert set(OUTPUTS.values()) <= set(declared)


def test_resource_names_come_from_the_stack_outputs(aws) -> None:
    values = {output: f"value-of-{output}" for output in OUTPUTS.values()}
    aws.create_stack(StackName="covid-dev", TemplateBody=_template(values))
    stack = resolve_stack("covid-dev", region=REGION)
    assert stack.region == REGION
    for field, output in OUTPUTS.items():
        assert getattr(stack, field) == f"value-of-{output}"
    assert stack.client("s3").meta.region_name == REGION


def test_a_stack_not_found_names_the_region(aws) -> None:
    with pytest.raises(PipelineError, match=rf"stack nope not found in {REGION}: .*--region"):
        resolve_stack("nope", region=REGION)


def test_a_stack_from_an_older_template_says_to_deploy(aws) -> None:
    outputs = {output: "x" for output in OUTPUTS.values() if output != "CuratedDatabaseName"}
    aws.create_stack(StackName="old", TemplateBody=_template(outputs))
    with pytest.raises(PipelineError, match=r"no output CuratedDatabaseName: .*make deploy"):
        resolve_stack("old", region=REGION)


def test_an_unfinished_stack_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    client = boto3.client("cloudformation", region_name=REGION)
    # DescribeStacks' documented shape, with a deploy still running.
    stubber = Stubber(client)
    stubber.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "busy",
                    "CreationTime": "2026-12-01T00:00:00Z",
                    "StackStatus": "UPDATE_IN_PROGRESS",
                }
            ]
        },
    )
    monkeypatch.setattr(boto3.Session, "client", lambda self, *a, **k: client)
    with stubber, pytest.raises(PipelineError, match="stack busy is UPDATE_IN_PROGRESS, not a finished deploy"):
        resolve_stack("busy", region=REGION)


def test_no_credentials_is_one_line_with_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path, capsys) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role lookup off EC2
    import botocore.exceptions

    with pytest.raises(botocore.exceptions.NoCredentialsError) as caught:
        resolve_stack("covid-dev", region=REGION)
    explained = explain(caught.value)
    assert explained is not None
    assert "no AWS credentials: run `aws configure`" in str(explained)


def test_region_without_stack_is_an_error(capsys) -> None:
    assert main(["status", "--region", REGION]) == 2
    assert "--region and --profile go with --stack NAME" in capsys.readouterr().err


def test_a_local_only_command_refuses_stack(capsys, tmp_path) -> None:
    event = tmp_path / "e.json"
    event.write_text("{}")
    assert main(["invoke", "SetupFunction", "--event", str(event), "--stack", "covid-dev"]) == 2
    assert "invoke works on the local home only" in capsys.readouterr().err
