"""Senders to KMS-encrypted targets hold the key: the role's policy grants it and the key policy lets it.

An SNS topic, SQS queue or log group encrypted with a customer managed key accepts a message only
from a sender allowed ``kms:GenerateDataKey*`` and ``kms:Decrypt`` on that key (Amazon SNS Developer
Guide, "Key management": publishers need both; the same holds for SQS SSE-KMS and CloudWatch Logs).
Neither moto nor the linters check it: a missing grant only shows on AWS, as a failed publish.

Senders are found in the SAM-expanded template: roles whose statements allow sns:Publish /
sqs:SendMessage / logs:PutLogEvents on a target, services named in a topic or queue policy, and
EventBridge rules and alarms that send to a target. Each must be let in by the key's policy:
directly, or through the account root (which delegates the decision to IAM policies).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

import pytest

from tests.helpers import use_fake_aws
from tests.infra.iam_helpers import ACCOUNT, PARTITION, Resolver, is_granted, statements_of_role, transformed_template

pytest.importorskip("samtranslator")

KMS_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
# (type, property naming the key, the action a sender needs on the target)
ENCRYPTED_TARGETS = {
    "AWS::SNS::Topic": ("KmsMasterKeyId", "sns:Publish"),
    "AWS::SQS::Queue": ("KmsMasterKeyId", "sqs:SendMessage"),
    "AWS::Logs::LogGroup": ("KmsKeyId", "logs:PutLogEvents"),
}


@dataclass(frozen=True)
class Target:
    logical: str
    arn: str
    send_action: str
    key_logical: str


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as mp:
        use_fake_aws(mp)
        return transformed_template()


def _target_arn(resolver: Resolver, logical: str, kind: str) -> str:
    if kind == "AWS::SNS::Topic":
        return str(resolver.ref(logical))
    return resolver.get_att(logical, "Arn")


def _key_logical(value: Any) -> str | None:
    """The template key a KmsMasterKeyId / KmsKeyId names (Ref or GetAtt); None for AWS managed keys."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return None


def encrypted_targets(template: dict[str, Any], resolver: Resolver) -> list[Target]:
    out = []
    for logical, res in template["Resources"].items():
        if res["Type"] not in ENCRYPTED_TARGETS:
            continue
        prop, action = ENCRYPTED_TARGETS[res["Type"]]
        key = _key_logical(res.get("Properties", {}).get(prop))
        if key is not None:
            out.append(Target(logical, _target_arn(resolver, logical, res["Type"]), action, key))
    return out


def _roles(template: dict[str, Any]) -> list[str]:
    return [lid for lid, res in template["Resources"].items() if res["Type"] == "AWS::IAM::Role"]


def _key_policy_allows(template: dict[str, Any], resolver: Resolver, key: str, principal: dict[str, str]) -> bool:
    """Whether the key policy lets ``principal`` ({"AWS": arn} or {"Service": name}) use the key to encrypt."""
    policy = resolver.resolve(template["Resources"][key]["Properties"]["KeyPolicy"])
    root = f"arn:{PARTITION}:iam::{ACCOUNT}:root"
    for action in KMS_ACTIONS:
        allowed = False
        for st in policy["Statement"]:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            if st["Effect"] != "Allow" or not any(_action_match(a, action) for a in actions):
                continue
            for kind, names in st["Principal"].items():
                names = names if isinstance(names, list) else [names]
                # A role of this account is let in by the root principal: IAM policies then decide.
                if kind == next(iter(principal)) and (principal[kind] in names or (kind == "AWS" and root in names)):
                    allowed = True
        if not allowed:
            return False
    return True


def _action_match(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def test_template_has_encrypted_targets(template: dict[str, Any]) -> None:
    targets = encrypted_targets(template, Resolver(template))
    assert "AlertTopic" in {t.logical for t in targets}


def test_every_role_that_sends_to_an_encrypted_target_can_use_its_key(template: dict[str, Any]) -> None:
    resolver = Resolver(template)
    missing = []
    senders = 0
    for target in encrypted_targets(template, resolver):
        key_arn = resolver.get_att(target.key_logical, "Arn")
        for role in _roles(template):
            statements = statements_of_role(template, role, resolver)
            if not is_granted(statements, target.send_action, target.arn):
                continue
            senders += 1
            for action in KMS_ACTIONS:
                if not is_granted(statements, action, key_arn):
                    missing.append(f"{role} sends {target.send_action} to {target.logical} but lacks {action}")
            role_arn = resolver.get_att(role, "Arn")
            if not _key_policy_allows(template, resolver, target.key_logical, {"AWS": role_arn}):
                missing.append(f"{target.key_logical}'s key policy does not let {role} encrypt")
    assert senders, "no role sends to an encrypted target: the check found nothing to check"
    assert not missing, "\n".join(missing)


def test_the_state_machine_role_is_among_the_alert_senders(template: dict[str, Any]) -> None:
    resolver = Resolver(template)
    machine = next(lid for lid, r in template["Resources"].items() if r["Type"] == "AWS::StepFunctions::StateMachine")
    role = template["Resources"][machine]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    topic = resolver.ref("AlertTopic")
    statements = statements_of_role(template, role, resolver)
    assert is_granted(statements, "sns:Publish", topic)
    for action in KMS_ACTIONS:
        assert is_granted(statements, action, resolver.get_att("AlertKey", "Arn")), action


def _service_senders(template: dict[str, Any], resolver: Resolver, target: Target) -> set[str]:
    """Services that send to the target: named in its topic/queue policy, or EventBridge for a rule target."""
    services: set[str] = set()
    for res in template["Resources"].values():
        props = res.get("Properties", {})
        if res["Type"] in ("AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy"):
            attached = resolver.resolve(props.get("Topics") or props.get("Queues") or [])
            if target.arn not in attached and resolver.ref(target.logical) not in attached:
                continue
            for st in props["PolicyDocument"]["Statement"]:
                service = st.get("Principal", {}).get("Service") if isinstance(st.get("Principal"), dict) else None
                if st["Effect"] == "Allow" and service:
                    services.update(service if isinstance(service, list) else [service])
        if res["Type"] == "AWS::Events::Rule":
            for t in props.get("Targets", []):
                if resolver.resolve(t["Arn"]) == target.arn:
                    services.add("events.amazonaws.com")
        if res["Type"] == "AWS::CloudWatch::Alarm" and target.arn in resolver.resolve(props.get("AlarmActions", [])):
            services.add("cloudwatch.amazonaws.com")
    return services


def test_every_service_that_sends_to_an_encrypted_target_is_in_the_key_policy(template: dict[str, Any]) -> None:
    resolver = Resolver(template)
    missing = []
    for target in encrypted_targets(template, resolver):
        for service in sorted(_service_senders(template, resolver, target)):
            if not _key_policy_allows(template, resolver, target.key_logical, {"Service": service}):
                missing.append(f"{service} sends to {target.logical}; {target.key_logical}'s policy does not let it")
    assert not missing, "\n".join(missing)
