"""What a user of a real account meets, as one line with what to do (cli.main prints it, exit 2).

Only errors from reaching AWS at all are explained here; an error a command expects (a stack not found,
an execution that already exists) is handled where it happens.
"""

from __future__ import annotations

import re

from covid_pipeline.ports import PipelineError

# An expired or revoked session (temporary keys from STS, SSO or `aws login`): log in again.
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"})
# Keys AWS does not know (a deleted user, a typo, another partition), or a secret that does not match.
BAD_KEY_CODES = frozenset(
    {"UnrecognizedClientException", "InvalidClientTokenId", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
)
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"})
# Still throttled after botocore's retries (RETRY_CONFIG: adaptive mode, 10 attempts).
THROTTLED_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
    }
)
# IAM's documented access-denied message (IAM User Guide, "Troubleshoot access denied error messages",
# https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html):
# "User: <principal> is not authorized to perform: <action> on resource: <resource> because no
# identity-based policy allows the <action> action" (or "... with an explicit deny in a <type> policy").
# Services differ ("Some AWS services do not support this access denied error message format").
NOT_AUTHORIZED = re.compile(
    r"(?:User: (?P<principal>\S+) )?is not authorized to perform: (?P<action>[\w-]+:[\w*-]+)"
    r"(?: on resource: \"?(?P<resource>[^\s\"]+)\"?)?"
    r"(?P<explicit>.*explicit deny in an? (?P<policy>[\w -]+?) policy)?"
)
# S3 answers a bare "Access Denied": the permission each operation the CLI calls needs (S3 User Guide,
# "Required permissions for Amazon S3 API operations": HeadObject needs s3:GetObject, ListObjectsV2 s3:ListBucket).
S3_PERMISSION = {
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
}


def _denied(operation: str, message: str) -> PipelineError:
    found = NOT_AUTHORIZED.search(message)
    if found is None:
        action = S3_PERMISSION.get(operation, operation)
        return PipelineError(
            f"permission missing: your AWS identity may not call {action} ({message}): ask your account's "
            f"administrator to allow it (aws sts get-caller-identity says who you are)"
        )
    who = found["principal"] or "your AWS identity"
    on = f" on {found['resource']}" if found["resource"] else ""
    if found["explicit"]:
        return PipelineError(
            f"permission denied: {who} may not call {found['action']}{on}: an explicit deny in a "
            f"{found['policy'].strip()} policy forbids it; only your account's administrator can lift it"
        )
    return PipelineError(
        f"permission missing: {who} may not call {found['action']}{on}: ask your account's administrator "
        f"to allow {found['action']} (or use a --profile that has it)"
    )


def explain(exc: Exception) -> PipelineError | None:
    """A one-line PipelineError for a boto3/botocore error, or None when it is not one of those."""
    from botocore import exceptions as bce

    if isinstance(exc, bce.NoCredentialsError):
        return PipelineError(
            "no AWS credentials: run `aws configure` or `aws sso login --profile P` and give --profile P "
            "(or set AWS_PROFILE)"
        )
    if isinstance(exc, bce.ProfileNotFound):
        return PipelineError(f"{exc}: list your profiles with `aws configure list-profiles`")
    if isinstance(exc, bce.NoRegionError):
        return PipelineError("no AWS region: give --region (or set AWS_REGION, or a region in the profile)")
    if isinstance(exc, bce.SSOError | bce.TokenRetrievalError):
        # UnauthorizedSSOTokenError (expired SSO session), SSOTokenLoadError (never logged in), and the
        # token provider's "Token has expired and refresh failed".
        return PipelineError(
            "your AWS SSO session has expired (or there is none): run `aws sso login --profile P`, then again"
        )
    if isinstance(exc, bce.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        message = str(exc.response.get("Error", {}).get("Message", "")) or code
        operation = getattr(exc, "operation_name", "")
        if code in EXPIRED_CODES:
            return PipelineError(
                f"your AWS session has expired ({code}): log in again (`aws sso login --profile P`, or new "
                f"temporary keys), then run the command again"
            )
        if code in BAD_KEY_CODES:
            return PipelineError(
                f"AWS does not accept these credentials ({code}): check the keys of the profile "
                f"(`aws sts get-caller-identity`), or give the right --profile"
            )
        if code in DENIED_CODES:
            return _denied(operation, message)
        if code in THROTTLED_CODES:
            attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            return PipelineError(
                f"AWS throttled {operation} ({code}) after {int(attempts) + 1} attempt(s): the account's request "
                f"rate for it is used up; wait a minute and run the command again"
            )
        if code == "ExecutionDoesNotExist":
            return PipelineError(
                f"{message}: check the name (`covid-pipeline status --stack NAME` lists the executions)"
            )
        if code == "StateMachineDoesNotExist":
            return PipelineError(
                f"{message}: the stack's state machine is gone (changed outside CloudFormation?): run make deploy"
            )
        return PipelineError(f"AWS refused {operation}: {code}: {message}")
    if isinstance(exc, bce.EndpointConnectionError | bce.ConnectTimeoutError):
        # No route to the regional endpoint: offline, a proxy (HTTPS_PROXY), or a mistyped --region.
        return PipelineError(f"cannot reach AWS: {exc}; check the network (or HTTPS_PROXY) and --region")
    if isinstance(exc, bce.BotoCoreError):
        return PipelineError(f"AWS: {exc}")
    return None
