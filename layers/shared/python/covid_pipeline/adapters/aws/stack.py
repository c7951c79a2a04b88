"""A deployed stack as the CLI sees it: every resource name read from the CloudFormation stack's outputs
(template.yaml ``Outputs``), never typed by the user, and the boto3 session (region, profile) to reach them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    # Not an output (cfn-lint 1.58 rejects Namespace.AdminPasswordSecretArn in Outputs, E6101): read from
    # the LoadFunction's environment, the identity the pipeline itself runs as (template.yaml Globals).
    redshift_secret_arn: str
    raw_database: str
    curated_database: str
    # boto3.Session of the region/profile the stack was found with; every client comes from it.
    session: Any = field(default=None, compare=False, repr=False)

    def client(self, service: str) -> Any:
        from covid_pipeline.adapters.aws.object_store import RETRY_CONFIG

        return self.session.client(service, region_name=self.region, config=RETRY_CONFIG)
