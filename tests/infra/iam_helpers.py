"""IAM coverage helpers: the SAM-expanded roles of template.yaml and the IAM actions behind recorded AWS calls.

* :func:`transformed_template` runs the real SAM transform (samtranslator, policy templates included).
* :class:`Resolver` turns ``Ref`` / ``Fn::GetAtt`` / ``Fn::Sub`` / ``Fn::If`` ... into placeholder values that
  are consistent everywhere: the function environment the handlers run with and the ARNs in the policies
  come from the same resolution, so "the bucket the code used" and "the bucket the policy names" agree.
* :class:`CallRecorder` wraps ``BaseClient._make_api_call`` and records every (service, operation, params).
* :func:`required_permissions` maps one recorded call to the (IAM action, resource ARN) pairs it needs, from an
  explicit table; an operation missing from the table raises :class:`UnmappedOperation`.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient

from tests.helpers import ROOT

REGION = "us-east-2"
ACCOUNT = "123456789012"
PARTITION = "aws"
STACK = "covid-pipeline-dev"

PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": PARTITION,
    "AWS::StackName": STACK,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
}

# The managed policies SAM attaches to every function role (Tracing: Active adds the X-Ray one), as AWS
# publishes them. Any other managed policy makes the test fail: its contents would be unknown here.
KNOWN_MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    # SAM attaches it to a function with an SQS event source (the trigger); its sqs actions are on "*".
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        },
    ],
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ],
    # The Glue roles' managed policy (v5, as published in the AWS Managed Policy reference): only its S3 and
    # logs statements; its "glue:*"/ec2/iam statement on "*" is left out (no check here relies on it).
    "arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole": [
        {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["s3:CreateBucket"], "Resource": "arn:aws:s3:::aws-glue-*"},
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": ["arn:aws:s3:::aws-glue-*/*", "arn:aws:s3:::*/*aws-glue-*/*"],
        },
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": ["arn:aws:s3:::crawler-public*", "arn:aws:s3:::aws-glue-*"],
        },
    ],
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "Resource": "*",
        }
    ],
}


class _NoManagedPolicies:
    """ManagedPolicyLoader stand-in: the template names no managed policy by its short name."""

    def load(self) -> dict[str, str]:
        return {}


def raw_template() -> dict[str, Any]:
    """template.yaml as plain JSON-able data (cfn-lint's loader understands the short-form tags)."""
    from cfnlint.decode.cfn_yaml import load

    return json.loads(json.dumps(load(str(ROOT / "template.yaml"))))


def transformed_template() -> dict[str, Any]:
    """The CloudFormation template SAM would deploy (needs AWS_DEFAULT_REGION in the environment).

    Code locations are replaced by S3 URIs first, as ``sam package`` does: the transform refuses local paths
    for some resource types, and they play no part in IAM.
    """
    from samtranslator.translator.transform import transform

    template = raw_template()
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if key in props:
                props[key] = f"s3://packaged-artifacts/{name}"
    return transform(copy.deepcopy(template), {}, _NoManagedPolicies())


# -- intrinsic functions -------------------------------------------------------------------------

# What Ref returns for the types whose physical name is a property (the others get a generated placeholder).
_NAME_PROPERTY = {
    "AWS::Glue::Crawler": ("Name",),
    "AWS::Glue::Job": ("Name",),
    "AWS::Athena::WorkGroup": ("Name",),
    "AWS::Glue::Database": ("DatabaseInput", "Name"),
    "AWS::RedshiftServerless::Workgroup": ("WorkgroupName",),
    "AWS::RedshiftServerless::Namespace": ("NamespaceName",),
}


class Resolver:
    """Resolves intrinsic functions of a (transformed) template to consistent placeholder values."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
        self.resources: dict[str, Any] = template["Resources"]
        self.conditions: dict[str, Any] = template.get("Conditions", {})
        self.params: dict[str, Any] = {
            name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()
        } | (parameters or {})

    # -- Ref / GetAtt ---------------------------------------------------------------------------
    def physical_name(self, logical: str) -> str:
        resource = self.resources[logical]
        path = _NAME_PROPERTY.get(resource["Type"])
        if path:
            value: Any = resource["Properties"]
            for key in path:
                value = value[key]
            return str(self.resolve(value))
        return f"{STACK}-{logical.lower()}"

    def ref(self, name: str) -> Any:
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.params:
            return self.params[name]
        if name not in self.resources:
            raise KeyError(f"Ref to unknown name {name!r}")
        kind = self.resources[name]["Type"]
        if kind == "AWS::SNS::Topic":
            return f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{self.physical_name(name)}"
        if kind == "AWS::StepFunctions::StateMachine":
            return f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{self.physical_name(name)}"
        if kind == "AWS::Serverless::LayerVersion" or kind == "AWS::Lambda::LayerVersion":
            return f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:layer:{self.physical_name(name)}:1"
        return self.physical_name(name)

    def get_att(self, logical: str, attribute: str) -> str:
        if logical not in self.resources:
            raise KeyError(f"Fn::GetAtt of unknown resource {logical!r}")
        kind = self.resources[logical]["Type"]
        name = self.physical_name(logical)
        known = {
            ("AWS::S3::Bucket", "Arn"): f"arn:{PARTITION}:s3:::{name}",
            ("AWS::IAM::Role", "Arn"): f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}",
            ("AWS::SNS::Topic", "TopicName"): name,
            ("AWS::SNS::Topic", "TopicArn"): f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{name}",
            ("AWS::Lambda::Function", "Arn"): f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{name}",
            ("AWS::Logs::LogGroup", "Arn"): f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{name}:*",
            ("AWS::StepFunctions::StateMachine", "Name"): name,
            ("AWS::SQS::Queue", "Arn"): f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{name}",
            ("AWS::SQS::Queue", "QueueName"): name,
            ("AWS::Events::Rule", "Arn"): f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:rule/{name}",
            ("AWS::KMS::Key", "Arn"): f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/{name}",
            ("AWS::RedshiftServerless::Namespace", "Namespace.AdminPasswordSecretArn"): (
                f"arn:{PARTITION}:secretsmanager:{REGION}:{ACCOUNT}:secret:redshift!{name}-admin-AbCdEf"
            ),
            ("AWS::StepFunctions::StateMachine", "Arn"): self.ref(logical),
        }
        if (kind, attribute) not in known:
            raise KeyError(f"Fn::GetAtt {logical}.{attribute} ({kind}) has no placeholder: add one")
        return known[(kind, attribute)]

    # -- conditions -----------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        return bool(self._cond(self.conditions[name]))

    def _cond(self, expr: Any) -> Any:
        if isinstance(expr, dict) and len(expr) == 1:
            ((fn, arg),) = expr.items()
            if fn == "Fn::Equals":
                left, right = (self.resolve(a) for a in arg)
                return str(left) == str(right)
            if fn == "Fn::Not":
                return not self._cond(arg[0])
            if fn == "Fn::And":
                return all(self._cond(a) for a in arg)
            if fn == "Fn::Or":
                return any(self._cond(a) for a in arg)
            if fn == "Condition":
                return self.condition(arg)
        return self.resolve(expr)

    # -- resolution -----------------------------------------------------------------------------
    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name and name.split(".", 1)[0] in self.resources:
                return self.get_att(*name.split(".", 1))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1 or not next(iter(value)).startswith(("Fn::", "Ref")):
            return {k: self.resolve(v) for k, v in value.items()}
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return self.ref(arg)
        if fn == "Fn::GetAtt":
            logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.get_att(logical, attribute)
        if fn == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            return self._sub(text, variables)
        if fn == "Fn::If":
            name, then, otherwise = arg
            return self.resolve(then if self.condition(name) else otherwise)
        if fn == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        if fn == "Fn::Split":
            sep, text = arg
            return str(self.resolve(text)).split(sep)
        if fn == "Fn::Join":
            sep, items = arg
            return sep.join(str(v) for v in self.resolve(items))
        raise ValueError(f"intrinsic {fn} is not supported by the test's resolver: {value!r}")


# -- policies ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    source: str  # policy name, for messages
    has_condition: bool = False

    def allows(self, action: str, resource: str) -> bool:
        return (
            self.effect == "Allow"
            and not self.has_condition
            and any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in self.actions)
            and any(fnmatch.fnmatchcase(resource, r) for r in self.resources)
        )

    def denies(self, action: str, resource: str) -> bool:
        return (
            self.effect == "Deny"
            and any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in self.actions)
            and any(fnmatch.fnmatchcase(resource, r) for r in self.resources)
        )


def _as_tuple(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in (value if isinstance(value, list) else [value]))


def _statements(document: dict[str, Any], source: str, resolver: Resolver) -> list[Statement]:
    raw = document["Statement"]
    out = []
    for st in raw if isinstance(raw, list) else [raw]:
        unsupported = {"NotAction", "NotResource", "NotPrincipal"} & set(st)
        if unsupported:
            raise ValueError(f"{source}: {sorted(unsupported)} is not supported by this check: {st}")
        out.append(
            Statement(
                effect=st["Effect"],
                actions=_as_tuple(resolver.resolve(st["Action"])),
                resources=_as_tuple(resolver.resolve(st["Resource"])),
                source=source,
                has_condition="Condition" in st,
            )
        )
    return out


def role_statements(template: dict[str, Any], function: str, resolver: Resolver) -> list[Statement]:
    """Every statement of the function's execution role: inline policies and known managed policies."""
    fn = template["Resources"][function]
    assert fn["Type"] == "AWS::Lambda::Function", f"{function} was not transformed into a Lambda function"
    return statements_of_role(template, role_of(template, function, "Role"), resolver)


def role_of(template: dict[str, Any], logical: str, prop: str) -> str:
    """The logical id of the role a resource names in ``prop`` (``!GetAtt Role.Arn``)."""
    role_ref = template["Resources"][logical]["Properties"][prop]
    assert isinstance(role_ref, dict), f"{logical} has a literal {prop} {role_ref!r}: its policies are not here"
    assert "Fn::GetAtt" in role_ref, role_ref
    return str(role_ref["Fn::GetAtt"][0])


def statements_of_role(template: dict[str, Any], role_name: str, resolver: Resolver) -> list[Statement]:
    """Every statement of one AWS::IAM::Role: inline policies, known managed policies, attached policies."""
    role = template["Resources"][role_name]["Properties"]
    out: list[Statement] = []
    for policy in role.get("Policies", []):
        out += _statements(policy["PolicyDocument"], f"{role_name}/{policy['PolicyName']}", resolver)
    for arn in resolver.resolve(role.get("ManagedPolicyArns", [])):
        if arn not in KNOWN_MANAGED_POLICIES:
            raise ValueError(f"{role_name} attaches managed policy {arn} whose statements the test does not know")
        out += _statements({"Statement": KNOWN_MANAGED_POLICIES[arn]}, f"{role_name}/{arn}", resolver)
    # Stand-alone AWS::IAM::Policy / ManagedPolicy resources attached to this role count too.
    for name, res in template["Resources"].items():
        if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            roles = res["Properties"].get("Roles", [])
            if {"Ref": role_name} in roles:
                out += _statements(res["Properties"]["PolicyDocument"], name, resolver)
    return out


def is_granted(statements: list[Statement], action: str, resource: str) -> bool:
    if any(s.denies(action, resource) for s in statements):
        return False
    return any(s.allows(action, resource) for s in statements)


# -- recording calls -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: dict[str, Any]
    response: dict[str, Any] | None = None


@dataclass
class CallRecorder:
    """Records every botocore API call (moto-served or Stubber-served alike) while installed."""

    calls: list[Call] = field(default_factory=list)

    def install(self, monkeypatch: Any) -> None:
        original = BaseClient._make_api_call
        recorder = self

        def recording(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
            service = client.meta.service_model.service_name
            params = copy.deepcopy(api_params)  # before botocore's handlers rewrite them in place
            response = None
            try:
                response = original(client, operation_name, api_params)
                return response
            finally:
                # Recorded even when the call raised: the permission was needed to make it.
                recorder.calls.append(Call(service, operation_name, params, response))

        monkeypatch.setattr(BaseClient, "_make_api_call", recording)

    def take(self) -> list[Call]:
        taken, self.calls = self.calls, []
        return taken


# -- (service, operation) -> IAM --------------------------------------------------------------------


class UnmappedOperation(KeyError):
    pass


@dataclass
class Context:
    """What the mapping needs beyond a call's own parameters."""

    athena_output_uri: str  # the workgroup's enforced result location
    glue_tables: dict[tuple[str, str], str]  # (database, table) -> S3 location
    query_workgroups: dict[str, str] = field(default_factory=dict)  # QueryExecutionId -> workgroup


Permission = tuple[str, str]  # (IAM action, resource ARN)


def s3_bucket(bucket: str) -> str:
    return f"arn:{PARTITION}:s3:::{bucket}"


def s3_object(bucket: str, key: str) -> str:
    return f"arn:{PARTITION}:s3:::{bucket}/{key}"


def _split_uri(uri: str) -> tuple[str, str]:
    assert uri.startswith("s3://"), uri
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def copy_source(source: Any) -> tuple[str, str]:
    if isinstance(source, dict):
        return source["Bucket"], source["Key"]
    bucket, _, key = str(source).lstrip("/").partition("/")
    return bucket, key.split("?versionId=")[0]


def _glue(resource: str) -> str:
    return f"arn:{PARTITION}:glue:{REGION}:{ACCOUNT}:{resource}"


def _glue_table(action: str, database: str, table: str) -> list[Permission]:
    # Glue checks the catalog, the database and the table for table-level reads.
    return [
        (action, _glue("catalog")),
        (action, _glue(f"database/{database}")),
        (action, _glue(f"table/{database}/{table}")),
    ]


def _athena_workgroup(workgroup: str) -> str:
    return f"arn:{PARTITION}:athena:{REGION}:{ACCOUNT}:workgroup/{workgroup}"


def _redshift_serverless_workgroup(name: str) -> str:
    # Real workgroup ARNs end in the workgroup's generated id, not its name.
    return f"arn:{PARTITION}:redshift-serverless:{REGION}:{ACCOUNT}:workgroup/id-of-{name}"


_FROM_TABLE = re.compile(r'FROM\s+"([^"]+)"\."([^"]+)"', re.IGNORECASE)
_UNLOAD_TO = re.compile(r"\)\s+TO\s+'(s3://[^']+)'", re.IGNORECASE)


def _athena_start(p: dict[str, Any], ctx: Context) -> list[Permission]:
    """StartQueryExecution, plus what Athena then does with the caller's own credentials.

    Athena reads the catalog and the source objects, writes the result file to the workgroup's output
    location and an UNLOAD's files to its destination as the calling principal: those permissions must be
    in the function's role although the function makes no such call itself.
    """
    workgroup = p.get("WorkGroup", "primary")
    sql = p["QueryString"]
    perms: list[Permission] = [("athena:StartQueryExecution", _athena_workgroup(workgroup))]
    out_bucket, out_prefix = _split_uri(ctx.athena_output_uri)
    perms += [
        ("s3:GetBucketLocation", s3_bucket(out_bucket)),
        ("s3:ListBucket", s3_bucket(out_bucket)),
        ("s3:PutObject", s3_object(out_bucket, out_prefix + "query-id.csv")),
        ("s3:GetObject", s3_object(out_bucket, out_prefix + "query-id.csv")),
    ]
    database = p.get("QueryExecutionContext", {}).get("Database", "default")
    perms += [("glue:GetDatabase", _glue("catalog")), ("glue:GetDatabase", _glue(f"database/{database}"))]
    for db, table in _FROM_TABLE.findall(sql):
        perms += _glue_table("glue:GetTable", db, table)
        perms += _glue_table("glue:GetPartitions", db, table)
        location = ctx.glue_tables.get((db, table))
        assert location is not None, f"query reads {db}.{table}, a table the test did not create"
        bucket, prefix = _split_uri(location)
        perms += [("s3:ListBucket", s3_bucket(bucket)), ("s3:GetObject", s3_object(bucket, prefix + "object.csv"))]
    for destination in _UNLOAD_TO.findall(sql):
        bucket, prefix = _split_uri(destination)
        perms += [
            ("s3:GetBucketLocation", s3_bucket(bucket)),
            ("s3:PutObject", s3_object(bucket, prefix + "x.parquet")),
        ]
    return perms


def _athena_by_execution(action: str) -> Callable[[dict[str, Any], Context], list[Permission]]:
    def perms(p: dict[str, Any], ctx: Context) -> list[Permission]:
        execution = p["QueryExecutionId"]
        if execution not in ctx.query_workgroups:
            raise UnmappedOperation(f"{action} on query {execution} whose StartQueryExecution was not recorded")
        return [(action, _athena_workgroup(ctx.query_workgroups[execution]))]

    return perms


def _data_api_run(action: str) -> Callable[[dict[str, Any], Context], list[Permission]]:
    def perms(p: dict[str, Any], ctx: Context) -> list[Permission]:
        if "WorkgroupName" not in p:
            raise UnmappedOperation(f"{action} other than on a Serverless workgroup is not mapped: {p}")
        target = _redshift_serverless_workgroup(p["WorkgroupName"])
        if "SecretArn" in p:
            # The Data API reads the secret with the caller's credentials (data-api-access.html).
            return [(action, target), ("secretsmanager:GetSecretValue", p["SecretArn"])]
        # With no SecretArn the Data API fetches temporary database credentials as the caller.
        return [(action, target), ("redshift-serverless:GetCredentials", target)]

    return perms


def _star(action: str) -> Callable[[dict[str, Any], Context], list[Permission]]:
    # Statement-id actions of the Data API support no resource-level permissions: the resource is "*".
    return lambda p, ctx: [(action, "*")]


OPERATIONS: dict[tuple[str, str], Callable[[dict[str, Any], Context], list[Permission]]] = {
    # S3
    ("s3", "HeadBucket"): lambda p, ctx: [("s3:ListBucket", s3_bucket(p["Bucket"]))],
    ("s3", "GetBucketLocation"): lambda p, ctx: [("s3:GetBucketLocation", s3_bucket(p["Bucket"]))],
    ("s3", "ListObjectsV2"): lambda p, ctx: [("s3:ListBucket", s3_bucket(p["Bucket"]))],
    ("s3", "ListObjects"): lambda p, ctx: [("s3:ListBucket", s3_bucket(p["Bucket"]))],
    ("s3", "HeadObject"): lambda p, ctx: [("s3:GetObject", s3_object(p["Bucket"], p["Key"]))],
    ("s3", "GetObject"): lambda p, ctx: [("s3:GetObject", s3_object(p["Bucket"], p["Key"]))],
    ("s3", "PutObject"): lambda p, ctx: [("s3:PutObject", s3_object(p["Bucket"], p["Key"]))],
    ("s3", "CreateMultipartUpload"): lambda p, ctx: [("s3:PutObject", s3_object(p["Bucket"], p["Key"]))],
    ("s3", "UploadPart"): lambda p, ctx: [("s3:PutObject", s3_object(p["Bucket"], p["Key"]))],
    ("s3", "CompleteMultipartUpload"): lambda p, ctx: [("s3:PutObject", s3_object(p["Bucket"], p["Key"]))],
    ("s3", "AbortMultipartUpload"): lambda p, ctx: [("s3:AbortMultipartUpload", s3_object(p["Bucket"], p["Key"]))],
    ("s3", "CopyObject"): lambda p, ctx: [
        ("s3:GetObject", s3_object(*copy_source(p["CopySource"]))),
        ("s3:PutObject", s3_object(p["Bucket"], p["Key"])),
    ],
    ("s3", "UploadPartCopy"): lambda p, ctx: [
        ("s3:GetObject", s3_object(*copy_source(p["CopySource"]))),
        ("s3:PutObject", s3_object(p["Bucket"], p["Key"])),
    ],
    ("s3", "DeleteObject"): lambda p, ctx: [("s3:DeleteObject", s3_object(p["Bucket"], p["Key"]))],
    ("s3", "DeleteObjects"): lambda p, ctx: [
        ("s3:DeleteObject", s3_object(p["Bucket"], o["Key"])) for o in p["Delete"]["Objects"]
    ],
    # Glue
    ("glue", "StartCrawler"): lambda p, ctx: [("glue:StartCrawler", _glue(f"crawler/{p['Name']}"))],
    ("glue", "GetCrawler"): lambda p, ctx: [("glue:GetCrawler", _glue(f"crawler/{p['Name']}"))],
    ("glue", "GetTables"): lambda p, ctx: _glue_table("glue:GetTables", p["DatabaseName"], "*"),
    ("glue", "GetTable"): lambda p, ctx: _glue_table("glue:GetTable", p["DatabaseName"], p["Name"]),
    ("glue", "UpdateTable"): lambda p, ctx: _glue_table("glue:UpdateTable", p["DatabaseName"], p["TableInput"]["Name"]),
    ("glue", "GetDatabase"): lambda p, ctx: [
        ("glue:GetDatabase", _glue("catalog")),
        ("glue:GetDatabase", _glue(f"database/{p['Name']}")),
    ],
    # Athena
    ("athena", "StartQueryExecution"): _athena_start,
    ("athena", "GetQueryExecution"): _athena_by_execution("athena:GetQueryExecution"),
    ("athena", "GetQueryResults"): _athena_by_execution("athena:GetQueryResults"),
    ("athena", "StopQueryExecution"): _athena_by_execution("athena:StopQueryExecution"),
    # Redshift Data API (Serverless workgroup, IAM temporary credentials)
    ("redshift-data", "BatchExecuteStatement"): _data_api_run("redshift-data:BatchExecuteStatement"),
    ("redshift-data", "ExecuteStatement"): _data_api_run("redshift-data:ExecuteStatement"),
    ("redshift-data", "DescribeStatement"): _star("redshift-data:DescribeStatement"),
    ("redshift-data", "GetStatementResult"): _star("redshift-data:GetStatementResult"),
    ("redshift-data", "CancelStatement"): _star("redshift-data:CancelStatement"),
    ("redshift-serverless", "GetCredentials"): lambda p, ctx: [
        ("redshift-serverless:GetCredentials", _redshift_serverless_workgroup(p["workgroupName"]))
    ],
    # SNS
    ("sns", "Publish"): lambda p, ctx: [("sns:Publish", p["TopicArn"])],
    # Step Functions
    ("stepfunctions", "StartExecution"): lambda p, ctx: [("states:StartExecution", p["stateMachineArn"])],
    ("stepfunctions", "DescribeExecution"): lambda p, ctx: [("states:DescribeExecution", p["executionArn"])],
}


def required_permissions(calls: list[Call], ctx: Context) -> Iterator[tuple[Call, Permission]]:
    """(call, permission) for every permission the recorded calls needed; raises on an unmapped operation."""
    for call in calls:
        if call.service == "athena" and call.operation == "StartQueryExecution" and call.response:
            ctx.query_workgroups[call.response["QueryExecutionId"]] = call.params.get("WorkGroup", "primary")
        mapper = OPERATIONS.get((call.service, call.operation))
        if mapper is None:
            raise UnmappedOperation(
                f"{call.service}:{call.operation} has no IAM mapping in tests/infra/iam_helpers.py OPERATIONS: "
                "add it so the new call is checked"
            )
        for perm in mapper(call.params, ctx):
            yield call, perm
