"""The errors a user of a real account meets, each one line with what to do (adapters/aws/aws_errors.explain).

Each error is raised by a real botocore client (Stubber answers with AWS's documented code and message),
so the code and message reach explain() as they do from AWS."""

from __future__ import annotations

import boto3
import pytest
from botocore import exceptions as bce
from botocore.stub import Stubber

from covid_pipeline.adapters.aws.aws_errors import explain
from tests.helpers import use_fake_aws

ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:covid-dev-pipeline"


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_aws(monkeypatch)


def _explained(code: str, message: str, service: str = "stepfunctions", retries: int = 0) -> str:
    client = boto3.client(service, region_name="eu-west-1")
    stubber = Stubber(client)
    metadata = {"RetryAttempts": retries} if retries else None
    stubber.add_client_error(
        "start_execution" if service == "stepfunctions" else "put_object",
        service_error_code=code,
        service_message=message,
        http_status_code=400,
        response_meta=metadata,
    )
    call = (
        (lambda: client.start_execution(stateMachineArn=ARN, input="{}"))
        if service == "stepfunctions"
        else (lambda: client.put_object(Bucket="raw", Key="k", Body=b"x"))
    )
    with stubber, pytest.raises(bce.ClientError) as caught:
        call()
    explained = explain(caught.value)
    assert explained is not None
    assert "\n" not in str(explained)
    return str(explained)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ExpiredTokenException", "The security token included in the request is expired"),
        ("ExpiredToken", "The provided token has expired."),
        ("RequestExpired", "Request has expired."),
    ],
)
def test_an_expired_session_says_to_log_in_again(code: str, message: str) -> None:
    assert f"your AWS session has expired ({code}): log in again (`aws sso login" in _explained(code, message)


def test_an_expired_sso_session_says_aws_sso_login() -> None:
    explained = explain(bce.UnauthorizedSSOTokenError())
    assert explained is not None
    assert "run `aws sso login --profile P`" in str(explained)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("UnrecognizedClientException", "The security token included in the request is invalid."),
        ("InvalidClientTokenId", "The security token included in the request is invalid."),
    ],
)
def test_keys_aws_does_not_know(code: str, message: str) -> None:
    assert f"AWS does not accept these credentials ({code}): check the keys" in _explained(code, message)


def test_missing_permission_names_the_action_and_resource() -> None:
    message = (
        f"User: arn:aws:sts::123456789012:assumed-role/analyst/jo is not authorized to perform: "
        f"states:StartExecution on resource: {ARN} because no identity-based policy allows the "
        f"states:StartExecution action"
    )
    explained = _explained("AccessDeniedException", message)
    assert explained.startswith(
        f"permission missing: arn:aws:sts::123456789012:assumed-role/analyst/jo may not call states:StartExecution "
        f"on {ARN}: ask your account's administrator to allow states:StartExecution"
    )


def test_an_explicit_deny_says_who_can_lift_it() -> None:
    message = (
        f"User: arn:aws:iam::123456789012:user/jo is not authorized to perform: states:StartExecution on "
        f"resource: {ARN} with an explicit deny in a service control policy"
    )
    explained = _explained("AccessDeniedException", message)
    assert "may not call states:StartExecution" in explained
    assert "an explicit deny in a service control policy forbids it" in explained


def test_s3s_bare_access_denied_names_the_permission_of_the_operation() -> None:
    explained = _explained("AccessDenied", "Access Denied", service="s3")
    assert explained.startswith("permission missing: your AWS identity may not call s3:PutObject (Access Denied)")


def test_throttling_after_the_retries() -> None:
    explained = _explained("ThrottlingException", "Rate exceeded", retries=9)
    assert explained == (
        "AWS throttled StartExecution (ThrottlingException) after 10 attempt(s): the account's request rate for it "
        "is used up; wait a minute and run the command again"
    )


def test_an_unknown_execution_says_where_the_names_are() -> None:
    message = "Execution Does Not Exist: 'arn:aws:states:eu-west-1:123456789012:execution:covid-dev-pipeline:x'"
    explained = _explained("ExecutionDoesNotExist", message)
    assert explained.startswith(message)
    assert "covid-pipeline status --stack NAME" in explained


def test_other_aws_errors_keep_code_and_message() -> None:
    explained = _explained("InvalidExecutionInput", "Invalid State Machine Execution Input: 'x'")
    assert explained == "AWS refused StartExecution: InvalidExecutionInput: Invalid State Machine Execution Input: 'x'"


def test_not_an_aws_error() -> None:
    assert explain(ValueError("x")) is None


def test_an_unreachable_endpoint_says_to_check_network_and_region() -> None:
    from botocore.exceptions import EndpointConnectionError

    explained = explain(EndpointConnectionError(endpoint_url="https://cloudformation.eu-wset-1.amazonaws.com/"))
    assert explained is not None
    assert str(explained) == (
        'cannot reach AWS: Could not connect to the endpoint URL: "https://cloudformation.eu-wset-1.amazonaws.com/"; '
        "check the network (or HTTPS_PROXY) and --region"
    )
