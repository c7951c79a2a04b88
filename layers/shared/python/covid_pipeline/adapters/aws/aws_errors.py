"""What a user of a real account meets, as one line with what to do (cli.main prints it, exit 2).

Only errors from reaching AWS at all are explained here; an error a command expects (a stack not found,
an execution that already exists) is handled where it happens.
"""

from __future__ import annotations

from covid_pipeline.ports import PipelineError


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
    if isinstance(exc, bce.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        message = str(exc.response.get("Error", {}).get("Message", "")) or code
        operation = getattr(exc, "operation_name", "")
        return PipelineError(f"AWS refused {operation}: {code}: {message}")
    if isinstance(exc, bce.BotoCoreError):
        return PipelineError(f"AWS: {exc}")
    return None
