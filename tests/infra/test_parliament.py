"""parliament (an IAM policy linter, independent of cfn-lint and checkov) over every policy of the
SAM-expanded template: role policies (SAM's policy templates expanded), bucket, queue and topic
policies, the KMS key policy and the VPC endpoint policy.

Intrinsics are resolved to the placeholder ARNs of tests/infra/iam_helpers.Resolver, so parliament
checks real-looking ARNs against its table of each action's resource types. parliament lives in
.venv-tools/sam (requirements-tools.txt), which `make test` creates.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT, use_fake_aws
from tests.infra.iam_helpers import Resolver, transformed_template

PARLIAMENT = ROOT / ".venv-tools" / "sam" / "bin" / "parliament"

pytestmark = pytest.mark.skipif(not PARLIAMENT.exists(), reason="parliament missing: run `make tools`")

# Findings accepted on purpose: (issue, text in the finding's detail, why).
ACCEPTED = [
    (
        "RESOURCE_MISMATCH",
        "states:DescribeExecution",
        # parliament 1.6.4 requires both of DescribeExecution's resource types (execution, express); they
        # are alternatives in the IAM reference, and the pipeline's standard workflow has executions only.
        "execution ARNs of a standard workflow",
    ),
]


def _policies(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """name -> policy document, every policy the expanded template holds, intrinsics resolved."""
    resolver = Resolver(template)
    out: dict[str, dict[str, Any]] = {}
    for lid, res in template["Resources"].items():
        props = res.get("Properties", {})
        kind = res["Type"]
        if kind == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                out[f"role-{lid}-{policy['PolicyName']}"] = policy["PolicyDocument"]
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            out[f"policy-{lid}"] = props["PolicyDocument"]
        elif kind in ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"):
            out[f"resource-{lid}"] = props["PolicyDocument"]
        elif kind == "AWS::KMS::Key":
            out[f"key-{lid}"] = props["KeyPolicy"]
        elif kind == "AWS::EC2::VPCEndpoint" and "PolicyDocument" in props:
            out[f"endpoint-{lid}"] = props["PolicyDocument"]
    return {name: resolver.resolve(doc) for name, doc in out.items()}


@pytest.fixture(scope="module")
def policies() -> dict[str, dict[str, Any]]:
    with pytest.MonkeyPatch.context() as mp:
        use_fake_aws(mp)
        return _policies(transformed_template())


def test_every_kind_of_policy_is_checked(policies: dict[str, dict[str, Any]]) -> None:
    kinds = {name.split("-", 1)[0] for name in policies}
    assert kinds == {"role", "resource", "key", "endpoint"}
    assert any("SetupFunctionRole" in name for name in policies)  # SAM's generated function roles


def _run_parliament(paths: list[Path]) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [str(PARLIAMENT), "--files", ",".join(str(p) for p in paths), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr  # 1 = it printed findings
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def _unexpected(findings: list[dict[str, Any]], accepted: list[tuple[str, str, str]]) -> list[str]:
    return [
        f"{f['issue']} {json.dumps(f.get('detail'))[:300]}"
        for f in findings
        if not any(f["issue"] == issue and text in json.dumps(f.get("detail")) for issue, text, _ in accepted)
    ]


def test_policies_without_a_version_use_no_policy_variable(policies: dict[str, dict[str, Any]]) -> None:
    """SAM's policy templates expand without "Version"; IAM then reads them with the 2008-10-17 grammar,
    which differs from 2012-10-17 only for policy variables (``${aws:...}``) - none may appear in them."""
    unversioned = [name for name, doc in policies.items() if "Version" not in doc]
    assert all(name.startswith("role-") for name in unversioned), unversioned
    assert not [name for name in unversioned if "${" in json.dumps(policies[name])]


def test_parliament_finds_nothing(policies: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    identity, keys = [], []
    for name, doc in policies.items():
        path = tmp_path / f"{name}.json"
        # Version added where SAM left it out: the test above shows it changes nothing for these.
        path.write_text(json.dumps({"Version": "2012-10-17", **doc}))
        (keys if name.startswith("key-") else identity).append(path)
    unexpected = _unexpected(_run_parliament(identity), ACCEPTED)
    # In a key policy, Resource "*" means the key itself (KMS developer guide, "Key policies").
    unexpected += _unexpected(_run_parliament(keys), [*ACCEPTED, ("RESOURCE_STAR", "kms:", "the key itself")])
    assert not unexpected, "parliament:\n" + "\n".join(unexpected)


def test_parliament_does_flag_a_wrong_policy(tmp_path: Path) -> None:
    """The check can fail: an object action on a bucket ARN is a resource mismatch."""
    bad = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b"}],
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    assert [f["issue"] for f in _run_parliament([path])] == ["RESOURCE_MISMATCH"]
