"""A deployed stack as the CLI sees it: every resource name read from the CloudFormation stack's outputs
(template.yaml ``Outputs``), never typed by the user, and the boto3 session (region, profile) to reach them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from covid_pipeline.ports import PipelineError

# DeployedStack field -> the template.yaml output that holds it (tests/infra check every one exists).
OUTPUTS: dict[str, str] = {
    "raw_bucket": "RawBucketName",
    "lake_bucket": "LakeBucketName",
    "state_machine_arn": "StateMachineArn",
    "athena_workgroup": "AthenaWorkGroupName",
    "redshift_workgroup": "RedshiftWorkgroupName",
    "redshift_database": "RedshiftDatabaseName",
    "raw_database": "RawDatabaseName",
    "curated_database": "CuratedDatabaseName",
}


@dataclass(frozen=True)
class DeployedStack:
    name: str
    region: str
    raw_bucket: str
    lake_bucket: str
    state_machine_arn: str
    athena_workgroup: str
    redshift_workgroup: str
    redshift_database: str
    raw_database: str
    curated_database: str
    # boto3.Session of the region/profile the stack was found with; every client comes from it.
    session: Any = field(default=None, compare=False, repr=False)

    def client(self, service: str) -> Any:
        from covid_pipeline.adapters.aws.object_store import RETRY_CONFIG

        return self.session.client(service, region_name=self.region, config=RETRY_CONFIG)


# Statuses in which the stack's resources and outputs are those of a finished deploy (CloudFormation's
# StackStatus values; UPDATE_ROLLBACK_COMPLETE: the previous deploy's resources are back and usable).
USABLE_STATUSES = frozenset(
    {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
)


def resolve_stack(name: str, region: str | None = None, profile: str | None = None) -> DeployedStack:
    """The stack ``name`` in ``region`` (default: the profile's or AWS_REGION) as the CLI uses it.

    Credentials are not checked here: the first call that needs them fails, and cli.main explains it.
    """
    import boto3
    from botocore.exceptions import ClientError

    from covid_pipeline.adapters.aws.object_store import RETRY_CONFIG, error_code, error_message

    session = boto3.Session(profile_name=profile, region_name=region)
    region = session.region_name
    if not region:
        raise PipelineError("no AWS region: give --region (or set AWS_REGION, or a region in the profile)")
    cfn = session.client("cloudformation", region_name=region, config=RETRY_CONFIG)
    try:
        found = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        # DescribeStacks answers ValidationError "Stack with id NAME does not exist" for an unknown name.
        if error_code(exc) == "ValidationError" and "does not exist" in error_message(exc):
            raise PipelineError(
                f"stack {name} not found in {region}: check the name (stack_name in samconfig.toml) "
                f"and the region (--region)"
            ) from None
        raise
    status = str(found.get("StackStatus", ""))
    if status not in USABLE_STATUSES:
        raise PipelineError(
            f"stack {name} is {status}, not a finished deploy: wait for it to end "
            f"(or see its events in the CloudFormation console), then try again"
        )
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
    missing = [output for output in OUTPUTS.values() if output not in outputs]
    if missing:
        raise PipelineError(
            f"stack {name} has no output {', '.join(missing)}: it was deployed from an older template; "
            f"run make deploy to update it"
        )
    return DeployedStack(
        name=name, region=region, session=session, **{f: outputs[output] for f, output in OUTPUTS.items()}
    )
