"""template.yaml properties a first deploy into a fresh account depends on (issue 11, findings 5 and 9).

Neither moto nor the linters can show these: a workgroup without subnets, or with no route to S3 under
enhanced VPC routing, deploys but cannot COPY; a workgroup that ran queries blocks ``sam delete``.
Each test names the documented behaviour it guards.
"""

from __future__ import annotations

from typing import Any

import pytest

from covid_pipeline.settings import Settings
from tests.infra.iam_helpers import raw_template


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return raw_template()


def _res(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == kind}


def _ref(value: Any) -> str:
    assert isinstance(value, dict), value
    assert "Ref" in value, value
    return str(value["Ref"])


# -- finding 5: Redshift Serverless networking ------------------------------------------------------


def test_workgroup_is_private_in_three_subnets_of_three_availability_zones(template: dict[str, Any]) -> None:
    """Redshift Serverless needs at least three subnets spanning three AZs (serverless-usage-considerations)."""
    workgroup = template["Resources"]["RedshiftWorkgroup"]["Properties"]
    assert workgroup["PubliclyAccessible"] is False
    subnets = [_ref(s) for s in workgroup["SubnetIds"]]
    assert len(subnets) >= 3
    zones, vpcs = set(), set()
    for lid in subnets:
        props = template["Resources"][lid]["Properties"]
        select = props["AvailabilityZone"]["Fn::Select"]
        assert select[1] == {"Fn::GetAZs": ""}, props["AvailabilityZone"]
        zones.add(select[0])
        vpcs.add(_ref(props["VpcId"]))
        assert props.get("MapPublicIpOnLaunch") is False
    assert len(zones) == len(subnets), f"subnets share an Availability Zone: {zones}"
    assert len(vpcs) == 1
    groups = [_ref(g) for g in workgroup["SecurityGroupIds"]]
    for lid in groups:
        group = template["Resources"][lid]["Properties"]
        assert _ref(group["VpcId"]) in vpcs
        assert not group.get("SecurityGroupIngress"), "the Data API needs no inbound rule"
    assert not _res(template, "AWS::EC2::SecurityGroupIngress")


def test_copy_has_a_route_to_s3_under_enhanced_vpc_routing(template: dict[str, Any]) -> None:
    """With EnhancedVpcRouting, COPY reaches S3 only through the VPC: each subnet's route table needs the
    S3 gateway endpoint (and nothing else: no internet or NAT gateway, which would cost or expose)."""
    workgroup = template["Resources"]["RedshiftWorkgroup"]["Properties"]
    assert workgroup["EnhancedVpcRouting"] is True
    tables = {
        _ref(a["Properties"]["SubnetId"]): _ref(a["Properties"]["RouteTableId"])
        for a in _res(template, "AWS::EC2::SubnetRouteTableAssociation").values()
    }
    endpoints = [
        e["Properties"]
        for e in _res(template, "AWS::EC2::VPCEndpoint").values()
        if e["Properties"].get("VpcEndpointType") == "Gateway"
        and e["Properties"]["ServiceName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}.s3"}
    ]
    assert len(endpoints) == 1
    routed = {_ref(t) for t in endpoints[0]["RouteTableIds"]}
    for subnet in (_ref(s) for s in workgroup["SubnetIds"]):
        assert tables.get(subnet) in routed, f"{subnet} has no route to the S3 gateway endpoint"
    for costly in ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::Route"):
        assert not _res(template, costly), costly


def test_the_endpoint_policy_lets_copy_read_what_it_loads(template: dict[str, Any]) -> None:
    policy = template["Resources"]["S3GatewayEndpoint"]["Properties"]["PolicyDocument"]
    copy_role = template["Resources"]["RedshiftCopyRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    readable = {str(r) for st in policy["Statement"] if "s3:GetObject" in st["Action"] for r in st["Resource"]}
    copied = {str(r) for st in copy_role["Statement"] if st["Action"] == "s3:GetObject" for r in st["Resource"]}
    assert copied <= readable


# -- finding 9: teardown and state ------------------------------------------------------------------


def test_athena_workgroup_can_be_deleted_after_it_ran_queries(template: dict[str, Any]) -> None:
    """AWS::Athena::WorkGroup: deleting one that holds query history needs RecursiveDeleteOption."""
    assert template["Resources"]["AthenaWorkGroup"]["Properties"]["RecursiveDeleteOption"] is True


def test_deleting_the_stack_keeps_a_final_snapshot_of_the_warehouse(template: dict[str, Any]) -> None:
    namespace = template["Resources"]["RedshiftNamespace"]["Properties"]
    assert namespace["FinalSnapshotName"]
    assert namespace["FinalSnapshotRetentionPeriod"] == {"Ref": "RedshiftFinalSnapshotRetentionDays"}


def test_every_function_and_log_group_has_a_retention(template: dict[str, Any]) -> None:
    groups = _res(template, "AWS::Logs::LogGroup")
    assert all("RetentionInDays" in g["Properties"] for g in groups.values())
    names = {str(g["Properties"]["LogGroupName"].get("Fn::Sub", "")) for g in groups.values()}
    for fn in _res(template, "AWS::Serverless::Function"):
        assert f"/aws/lambda/${{{fn}}}" in names, f"{fn} would log into a group Lambda creates without retention"


def test_raw_versions_and_every_lake_zone_expire(template: dict[str, Any]) -> None:
    raw = template["Resources"]["RawBucket"]["Properties"]
    assert raw["VersioningConfiguration"]["Status"] == "Enabled"
    rules = raw["LifecycleConfiguration"]["Rules"]
    assert any("NoncurrentVersionExpiration" in r for r in rules), "replaced raw versions would be kept forever"
    lake_rules = template["Resources"]["LakeBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = {r.get("Prefix") for r in lake_rules if "ExpirationInDays" in r}
    settings = Settings.model_validate(
        {"RAW_BUCKET": "r", "LAKE_BUCKET": "lake", "GLUE_DATABASE": "d", "RAW_CRAWLER": "c"}
    )
    zones = [settings.staged_uri, settings.curated_uri, settings.quarantine_uri, settings.work_uri]
    for zone in zones:
        assert zone.removeprefix("s3://lake/") in expiring, f"{zone} never expires"
    assert "athena-results/" in expiring
    for bucket in (raw, template["Resources"]["LakeBucket"]["Properties"]):
        rules = bucket["LifecycleConfiguration"]["Rules"]
        assert any("AbortIncompleteMultipartUpload" in r for r in rules)


def test_every_eventbridge_target_has_a_dead_letter_queue_that_accepts_it(template: dict[str, Any]) -> None:
    policies = _res(template, "AWS::SQS::QueuePolicy")
    for lid, rule in _res(template, "AWS::Events::Rule").items():
        for target in rule["Properties"]["Targets"]:
            dlq = target.get("DeadLetterConfig", {}).get("Arn")
            assert dlq, f"{lid} target {target['Id']} has no dead-letter queue"
            queue = dlq["Fn::GetAtt"][0]
            allowed = [
                st
                for p in policies.values()
                if {"Ref": queue} in p["Properties"]["Queues"]
                for st in p["Properties"]["PolicyDocument"]["Statement"]
                if st["Effect"] == "Allow" and st["Principal"] == {"Service": "events.amazonaws.com"}
            ]
            sources = [s for st in allowed for s in st["Condition"]["ArnEquals"]["aws:SourceArn"]]
            assert {"Fn::GetAtt": [lid, "Arn"]} in sources, f"{queue}'s policy does not let {lid} send"


def test_existing_workgroup_gets_the_copy_role_attach_step(template: dict[str, Any]) -> None:
    """CloudFormation cannot change a namespace it does not own: the stack says what to run once."""
    output = template["Outputs"]["AttachCopyRoleToExistingNamespace"]
    assert output["Condition"] == "UseExistingRedshift"
    assert "${RedshiftCopyRole.Arn}" in output["Value"]["Fn::Sub"]
    assert "update-namespace" in output["Value"]["Fn::Sub"]


def test_glue_job_arguments_glue_5_honours_and_no_success_markers(template: dict[str, Any]) -> None:
    job = template["Resources"]["CleanJob"]["Properties"]
    assert job["GlueVersion"] == "5.0"
    args = job["DefaultArguments"]
    assert "--enable-continuous-cloudwatch-log" not in args  # Glue 4.0 and earlier only
    # COPY FROM a prefix reads every object under it: Spark's empty _SUCCESS marker must not be there.
    assert "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs=false" in args["--conf"]
