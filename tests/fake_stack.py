"""A deployed stack faked with moto, for the CLI's ``--stack`` commands.

* ``make_stack``: a moto CloudFormation stack with the outputs adapters/aws/stack.py reads (values of resources
  made here: the buckets, the Athena workgroup, the pipeline's state machine from statemachine/pipeline.asl.json)
  and a ``LoadFunction`` resource whose environment holds ``REDSHIFT_SECRET_ARN``, as template.yaml's Globals.
* ``run_execution``: an execution of the real definition in moto's Step Functions interpreter, the Lambda
  results queued (moto's simple Lambda), so its history is the one AWS would write for it.
* ``DuckDbDataApi``: the Redshift Data API answered from a DuckDB warehouse: ExecuteStatement runs the SQL
  there, DescribeStatement says FINISHED (or FAILED with the engine's error), GetStatementResult gives
  ColumnMetadata and typed Records. Every response is checked against botocore's model of the API, as
  botocore's Stubber does, so the shapes are AWS's documented ones. moto's redshift-data cannot serve here:
  its statements stay STARTED and its results are a fixed table.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pytest
from botocore.awsrequest import AWSResponse
from botocore.validate import validate_parameters

from tests.infra.test_definition_moto import ACCOUNT, REGION, _definition, _queue_lambda_results

STACK = "covid-dev"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:covid-admin-AbCdEf"
NAMES = {
    "raw_bucket": "covid-raw-123",
    "lake_bucket": "covid-lake-123",
    "athena_workgroup": "covid-athena",
    "athena_results": "covid-athena-results-123",
    "redshift_workgroup": "covid-wg",
    "redshift_database": "covid",
    "raw_database": "covid_raw",
    "curated_database": "covid_curated",
}
# moto's interpreter (mock_aws config): the definition really runs; Lambda answers from the queue.
MOTO_CONFIG: dict[str, Any] = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


@dataclass
class FakeStack:
    name: str
    state_machine_arn: str
    outputs: dict[str, str] = field(default_factory=dict)


def make_stack(secret_arn: str | None = SECRET_ARN) -> FakeStack:
    """Inside mock_aws(config=MOTO_CONFIG): the resources and the CloudFormation stack naming them."""
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(
        RoleName="covid-fn", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in ("raw_bucket", "lake_bucket", "athena_results"):
        s3.create_bucket(Bucket=NAMES[bucket], CreateBucketConfiguration={"LocationConstraint": REGION})
    boto3.client("athena", region_name=REGION).create_work_group(
        Name=NAMES["athena_workgroup"],
        Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{NAMES['athena_results']}/athena/"}},
    )
    lam = boto3.client("lambda", region_name=REGION)
    arns = {
        step: lam.create_function(
            FunctionName=f"covid-{step.lower()}",
            Runtime="python3.12",
            Role=role,
            Handler="app.lambda_handler",
            Code={"ZipFile": b"PK"},
        )["FunctionArn"]
        for step in ("Setup", "Crawl", "Stage", "Load")
    }
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="alerts")["TopicArn"]
    machine = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name="covid-pipeline", definition=_definition(arns, topic), roleArn=role
    )["stateMachineArn"]
    outputs = {
        "RawBucketName": NAMES["raw_bucket"],
        "LakeBucketName": NAMES["lake_bucket"],
        "StateMachineArn": machine,
        "AthenaWorkGroupName": NAMES["athena_workgroup"],
        "RedshiftWorkgroupName": NAMES["redshift_workgroup"],
        "RedshiftDatabaseName": NAMES["redshift_database"],
        "RawDatabaseName": NAMES["raw_database"],
        "CuratedDatabaseName": NAMES["curated_database"],
    }
    variables = {"PIPELINE_ENV": "aws", "LAKE_BUCKET": NAMES["lake_bucket"]}
    if secret_arn:
        variables["REDSHIFT_SECRET_ARN"] = secret_arn
    template = {
        "Resources": {
            "LoadFunction": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": "covid-dev-LoadFunction-AbC123",
                    "Runtime": "python3.12",
                    "Handler": "app.lambda_handler",
                    "Role": role,
                    "Code": {"ZipFile": "def lambda_handler(event, context): pass"},
                    "Environment": {"Variables": variables},
                },
            }
        },
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName=STACK, TemplateBody=json.dumps(template))
    return FakeStack(STACK, machine, outputs)


def run_execution(machine_arn: str, name: str, lambda_results: list[dict[str, Any]]) -> dict[str, Any]:
    """Start ``name`` with the Lambda results queued; wait for its end (moto runs it in a thread)."""
    _queue_lambda_results(lambda_results)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.start_execution(stateMachineArn=machine_arn, name=name, input="{}")["executionArn"]
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        if time.monotonic() > deadline:
            pytest.fail(f"execution {name} did not finish within 60 s")
        time.sleep(0.05)
    return described


# -- Redshift Data API from a DuckDB warehouse ----------------------------------------------------------------

# DuckDB's type of a result column -> the Data API's ColumnMetadata typeName and its Field member (Redshift
# sends DATE, TIMESTAMP and NUMERIC as stringValue: the Field union has no date or decimal member).
_TYPES = {
    "BIGINT": ("int8", "longValue"),
    "INTEGER": ("int4", "longValue"),
    "HUGEINT": ("numeric", "stringValue"),
    "DOUBLE": ("float8", "doubleValue"),
    "FLOAT": ("float4", "doubleValue"),
    "BOOLEAN": ("bool", "booleanValue"),
    "DATE": ("date", "stringValue"),
    "TIMESTAMP": ("timestamp", "stringValue"),
}


def _field(value: Any, member: str) -> dict[str, Any]:
    if value is None:
        return {"isNull": True}
    if member == "longValue":
        return {"longValue": int(value)}
    if member == "doubleValue":
        return {"doubleValue": float(value)}
    if member == "booleanValue":
        return {"booleanValue": bool(value)}
    if isinstance(value, datetime):
        return {"stringValue": value.strftime("%Y-%m-%d %H:%M:%S")}
    if isinstance(value, date | Decimal):
        return {"stringValue": str(value)}
    return {"stringValue": str(value)}


class DuckDbDataApi:
    """``redshift-data`` answered from ``warehouse`` (a DuckDB file), or each statement FAILED with ``fail``."""

    def __init__(self, warehouse: Path | None = None, fail: str | None = None) -> None:
        self.warehouse = warehouse
        self.fail = fail
        self.statements: dict[str, dict[str, Any]] = {}
        self.sent: list[dict[str, Any]] = []  # ExecuteStatement parameters, as the client sent them

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Every boto3 Session made from now on (resolve_stack's) answers redshift-data calls from here."""
        fake, original = self, boto3.Session

        class Session(original):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.events.register("before-parameter-build.redshift-data", fake._keep_params)
                self.events.register("before-call.redshift-data", fake._answer)

        monkeypatch.setattr(boto3, "Session", Session)

    @staticmethod
    def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        # The call's parameters as given (before-call only sees the serialized request).
        context["fake_data_api_params"] = dict(params)

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        response = getattr(self, model.name)(context["fake_data_api_params"])
        validate_parameters(response, model.output_shape)  # AWS's documented shape, or the test fails
        return AWSResponse("https://redshift-data.amazonaws.com", 200, {}, None), response

    def ExecuteStatement(self, params: dict[str, Any]) -> dict[str, Any]:
        self.sent.append(params)
        statement_id = str(uuid.uuid4())
        now = datetime.now(UTC)
        entry: dict[str, Any] = {
            "Id": statement_id,
            "CreatedAt": now,
            "UpdatedAt": now,
            "QueryString": params["Sql"],
            "Database": params["Database"],
            "WorkgroupName": params.get("WorkgroupName", ""),
            "SecretArn": params.get("SecretArn", ""),
            "Duration": 1000,
            "RedshiftPid": 1073815578,
            "RedshiftQueryId": 101,
        }
        if self.fail is not None:
            entry |= {"Status": "FAILED", "Error": self.fail, "HasResultSet": False}
        else:
            try:
                con = duckdb.connect(str(self.warehouse), read_only=True)
                try:
                    cursor = con.execute(params["Sql"])
                    columns = [(d[0], str(d[1])) for d in cursor.description or []]
                    rows = cursor.fetchall()
                finally:
                    con.close()
                entry |= {
                    "Status": "FINISHED",
                    "HasResultSet": True,
                    "ResultRows": len(rows),
                    "_result": (columns, rows),
                }
            except duckdb.Error as exc:
                entry |= {"Status": "FAILED", "Error": f"ERROR: {exc}", "HasResultSet": False}
        self.statements[statement_id] = entry
        return {k: v for k, v in entry.items() if k in {"Id", "CreatedAt", "Database", "WorkgroupName", "SecretArn"}}

    def DescribeStatement(self, params: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in self.statements[params["Id"]].items() if not k.startswith("_")}

    def GetStatementResult(self, params: dict[str, Any]) -> dict[str, Any]:
        columns, rows = self.statements[params["Id"]]["_result"]
        kinds = [_TYPES.get(kind, ("varchar", "stringValue")) for _, kind in columns]
        return {
            "ColumnMetadata": [
                {"name": name, "label": name, "typeName": kinds[i][0]} for i, (name, _) in enumerate(columns)
            ],
            "Records": [[_field(v, kinds[i][1]) for i, v in enumerate(row)] for row in rows],
            "TotalNumRows": len(rows),
        }
