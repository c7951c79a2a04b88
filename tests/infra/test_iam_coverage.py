"""Every IAM action each function uses is granted by its role in template.yaml: checked, not eyeballed.

Policies: template.yaml goes through the real SAM transform (samtranslator expands S3CrudPolicy, S3ReadPolicy
... into statements), and each function's generated AWS::IAM::Role is read back, with Ref / GetAtt / Sub
resolved to placeholder ARNs by the same resolver that builds the functions' environment.

Calls: each functions/<step>/app.py handler runs with PIPELINE_ENV=aws and the template's environment, under
moto's mock_aws, while ``BaseClient._make_api_call`` is wrapped to record (service, operation, params):

* Setup, Crawl and Stage run entirely on moto (moto's Athena answers with canned, empty results, so Stage's
  UNLOAD falls back to its count query: it is the API calls that matter here).
* Load runs on moto for S3, but moto 5.2.5 has no BatchExecuteStatement and leaves statements STARTED
  forever, so the Redshift Data API is answered by a scripted responder at botocore's ``before-call`` hook
  (the mechanism botocore's Stubber uses); the calls are still recorded by the same wrapper.
* The timeout paths (Athena StopQueryExecution, Data API CancelStatement) cannot be reached through the
  handlers without waiting 900 s, so the adapters' own methods are driven with botocore Stubber and a fake
  clock, as the handlers' adapters would run them.

Each operation is mapped to the IAM action(s) and resource ARN(s) it needs by an explicit table
(tests/infra/iam_helpers.py OPERATIONS): an operation missing from it fails the test.

Gaps found in template.yaml are listed in KNOWN_GAPS: the main check skips exactly those permissions and
each gap has its own ``xfail(strict=True)`` test, which starts failing (XPASS) once the template is fixed.
"""

from __future__ import annotations

import fnmatch
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from moto import mock_aws

from covid_pipeline import composition
from covid_pipeline.adapters.aws.sql_engine import AthenaSqlEngine
from covid_pipeline.adapters.aws.warehouse import RedshiftDataApiWarehouse
from covid_pipeline.domain.load import table_loads
from covid_pipeline.domain.models import LoadInput
from covid_pipeline.ports import EngineError
from tests import strict_model
from tests.helpers import ROOT, FakeLambdaContext, load_handler, use_fake_aws
from tests.infra.iam_helpers import (
    REGION,
    Call,
    CallRecorder,
    Context,
    Resolver,
    Statement,
    UnmappedOperation,
    copy_source,
    is_granted,
    required_permissions,
    role_statements,
    transformed_template,
)

pytest.importorskip(
    "samtranslator",
    reason="aws-sam-translator is needed to expand the SAM policy templates (add it to the dev extras)",
)

STEPS = ("Setup", "Crawl", "Stage", "Load", "Trigger")
RUN_ID = "run-20261128T120000Z-iam"
JHU_KEY = "enigma-jhu/csv/04-13-2020.csv"
# A bundled reference file, as an earlier version left it: Setup publishes the current one over it.
FIPS_KEY = "reference/state-fips/state_fips_master.csv"
UPLOAD_KEY = "enigma-jhu/csv/04-14-2020.csv"
JHU_CSV = (ROOT / "data" / "sample" / JHU_KEY).read_text().splitlines()
JHU_HEADER = JHU_CSV[0].split(",")

# Operations each scenario must have made: the check below is only as good as the calls it sees.
EXPECTED_OPERATIONS = {
    "Setup": {
        ("s3", "HeadBucket"),
        ("s3", "ListObjectsV2"),
        ("s3", "HeadObject"),
        ("s3", "CopyObject"),
        ("s3", "PutObject"),
        # whether the catalog covers the run's objects (else the crawl runs)
        ("glue", "GetTables"),
        # load_audit: which objects are loaded already
        ("redshift-data", "ExecuteStatement"),
        ("redshift-data", "DescribeStatement"),
        ("redshift-data", "GetStatementResult"),
    },
    # A finished crawl: the overflow column is added to the CSV tables (GetTables, UpdateTable).
    "Crawl": {("glue", "StartCrawler"), ("glue", "GetCrawler"), ("glue", "GetTables"), ("glue", "UpdateTable")},
    "Stage": {
        ("glue", "GetTables"),
        ("s3", "ListObjectsV2"),
        ("s3", "DeleteObjects"),
        ("s3", "PutObject"),
        ("athena", "StartQueryExecution"),
        ("athena", "GetQueryExecution"),
        ("athena", "GetQueryResults"),
        ("athena", "StopQueryExecution"),
    },
    "Load": {
        ("s3", "ListObjectsV2"),
        ("redshift-data", "BatchExecuteStatement"),
        ("redshift-data", "ExecuteStatement"),
        ("redshift-data", "DescribeStatement"),
        ("redshift-data", "GetStatementResult"),
        ("redshift-data", "CancelStatement"),
    },
    # HeadObject: is the event's object a copy Setup made? DescribeExecution: did its execution fail?
    "Trigger": {("stepfunctions", "StartExecution"), ("stepfunctions", "DescribeExecution"), ("s3", "HeadObject")},
}

# Actions that have no resource-level scoping (or are SAM's standard logging/tracing): Resource "*" is
# acceptable for these and for nothing else.
RESOURCE_STAR_ALLOWED = {
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
    "redshift-data:DescribeStatement",
    "redshift-data:GetStatementResult",
    "redshift-data:CancelStatement",
    "redshift-data:ListStatements",
    # AWSLambdaSQSQueueExecutionRole, which SAM attaches for the trigger's SQS event source: the
    # Lambda service polls the queue with these. Scoping them needs a hand-written role (deviation).
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
}


@dataclass(frozen=True)
class Gap:
    id: str
    step: str
    action: str
    resource: str  # glob over the required resource ARN
    reason: str
    statement: str  # what to add to the function's Policies in template.yaml


# Empty: the three gaps this test found (Setup reading the source bucket, Stage stopping an Athena query,
# Load cancelling a Data API statement) are granted in template.yaml now.
KNOWN_GAPS: tuple[Gap, ...] = ()


def _gap_for(step: str, action: str, resource: str) -> Gap | None:
    for gap in KNOWN_GAPS:
        if gap.step == step and fnmatch.fnmatchcase(action, gap.action) and fnmatch.fnmatchcase(resource, gap.resource):
            return gap
    return None


# -- scenarios ------------------------------------------------------------------------------------


@dataclass
class Observed:
    template: dict[str, Any]
    resolver: Resolver
    env: dict[str, dict[str, str]]  # step -> function environment
    calls: dict[str, list[Call]]
    ctx: Context

    def statements(self, step: str) -> list[Statement]:
        return role_statements(self.template, f"{step}Function", self.resolver)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class ScriptedDataApi:
    """Answers the Redshift Data API at ``before-call`` (as Stubber does), by operation rather than by script."""

    def __init__(self) -> None:
        self.results: dict[str, bool] = {}  # statement id -> has a result set
        self.sql: dict[str, str] = {}  # statement id -> its SQL

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        op = model.name
        request = json.loads(params["body"] or b"{}")  # before-call sees the serialized request
        if op in ("BatchExecuteStatement", "ExecuteStatement"):
            statement = str(uuid.uuid4())
            self.results[statement] = op == "ExecuteStatement"
            self.sql[statement] = str(request.get("Sql", ""))
            body: dict[str, Any] = {"Id": statement}
        elif op == "DescribeStatement":
            body = {"Id": request["Id"], "Status": "FINISHED", "HasResultSet": self.results[request["Id"]]}
        elif op == "GetStatementResult":
            if "FROM load_audit" in self.sql[request["Id"]]:  # Load's figures per dataset
                body = {"Records": [[{"stringValue": "enigma-jhu"}, *[{"longValue": n} for n in (3, 2, 1)]]]}
            else:
                # Two columns fit Load's other reads: (table, row count) and (reason, count).
                body = {"Records": [[{"stringValue": "dim_date"}, {"longValue": 1}]]}
        else:
            raise AssertionError(f"the scripted Data API does not answer {op}")
        return AWSResponse("https://redshift-data.invalid", 200, {}, None), body


def _finished_crawl(model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
    """GetCrawler's answer for a crawler whose last crawl succeeded."""
    name = json.loads(params["body"])["Name"]
    body = {"Crawler": {"Name": name, "State": "READY", "LastCrawl": {"Status": "SUCCEEDED"}}}
    return AWSResponse("https://glue.invalid", 200, {}, None), body


def _trigger_batch(bucket: str, key: str) -> dict[str, Any]:
    """events/trigger-sqs-batch.json (two deliveries of one event) for ``key`` in ``bucket``."""
    batch = json.loads((ROOT / "events" / "trigger-sqs-batch.json").read_text())
    for record in batch["Records"]:
        body = json.loads(record["body"])
        body["detail"]["bucket"]["name"] = bucket
        body["detail"]["object"]["key"] = key
        record["body"] = json.dumps(body)
    return batch


def _env(resolver: Resolver, template: dict[str, Any], step: str) -> dict[str, str]:
    variables = template["Resources"][f"{step}Function"]["Properties"]["Environment"]["Variables"]
    env = {name: str(value) for name, value in resolver.resolve(variables).items()}
    assert env["PIPELINE_ENV"] == "aws"
    env["POWERTOOLS_TRACE_DISABLED"] = "true"  # test-only: no X-Ray daemon here
    return env


def _run_handler(mp: pytest.MonkeyPatch, env: dict[str, str], step: str, event: dict[str, Any]) -> dict[str, Any]:
    for name, value in env.items():
        mp.setenv(name, value)
    composition._ports.cache_clear()  # fresh adapters, hence fresh clients, per run
    return load_handler(step.lower()).lambda_handler(event, FakeLambdaContext())


def _create_world(template: dict[str, Any], resolver: Resolver, env: dict[str, str]) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    source_bucket = env["SOURCE_URI"].removeprefix("s3://").split("/")[0]
    for bucket in (env["RAW_BUCKET"], env["LAKE_BUCKET"], source_bucket):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=source_bucket, Key=JHU_KEY, Body="\n".join(JHU_CSV[:3]).encode())
    s3.put_object(Bucket=source_bucket, Key="enigma-jhu/README.txt", Body=b"not a feed file")
    s3.put_object(Bucket=env["RAW_BUCKET"], Key=FIPS_KEY, Body=b"state_name\nAlabama\n")
    # A previous attempt's output: Stage must empty the UNLOAD destination first.
    s3.put_object(Bucket=env["LAKE_BUCKET"], Key=f"staged/{RUN_ID}/jhu_daily/jhu_csv/old.parquet", Body=b"x")
    # Clean's output for the run: a file for every table, an empty table included (Load refuses a missing one).
    lake = f"s3://{env['LAKE_BUCKET']}/"
    for load in table_loads(
        LoadInput(run_id=RUN_ID, curated_uri=f"{lake}curated/{RUN_ID}/", quarantine_uri=f"{lake}quarantine/")
    ):
        s3.put_object(Bucket=env["LAKE_BUCKET"], Key=f"{load.location.removeprefix(lake)}part-0.parquet", Body=b"x")

    glue = boto3.client("glue", region_name=REGION)
    database = env["GLUE_DATABASE"]
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_crawler(
        Name=env["RAW_CRAWLER"],
        Role="arn:aws:iam::123456789012:role/crawler",
        DatabaseName=database,
        Targets={"S3Targets": [{"Path": f"s3://{env['RAW_BUCKET']}/"}]},
    )
    tables = {
        "jhu_csv": ("enigma-jhu/csv/", [h.lower() for h in JHU_HEADER]),
        # Lacks the feed's required state_abbr and fips: refused, listed under quarantine/.
        "state_fips": ("reference/state-fips/", ["state_name"]),
    }
    for name, (prefix, columns) in tables.items():
        glue.create_table(
            DatabaseName=database,
            TableInput={
                "Name": name,
                "StorageDescriptor": {
                    "Location": f"s3://{env['RAW_BUCKET']}/{prefix}",
                    "Columns": [{"Name": c, "Type": "string"} for c in columns],
                },
                "Parameters": {"classification": "csv"},
            },
        )

    # The trigger's target, under the name the template's Ref resolves to.
    state_machine = env["STATE_MACHINE_ARN"].rsplit(":", 1)[-1]
    boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name=state_machine,
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )

    wg = template["Resources"]["AthenaWorkGroup"]["Properties"]
    boto3.client("athena", region_name=REGION).create_work_group(
        Name=env["ATHENA_WORKGROUP"],
        Configuration={"ResultConfiguration": resolver.resolve(wg["WorkGroupConfiguration"]["ResultConfiguration"])},
    )


def _athena_timeout(env: dict[str, str]) -> None:
    """AthenaSqlEngine past its deadline, as the Stage function's adapter would run it (Stubber)."""
    client = boto3.client("athena", region_name=REGION)
    clock = FakeClock()
    engine = AthenaSqlEngine(
        env["ATHENA_WORKGROUP"], env["GLUE_DATABASE"], client=client, timeout_s=1, sleep=clock.sleep, clock=clock
    )
    with Stubber(client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-timeout"})
        for _ in range(2):
            stub.add_response("get_query_execution", {"QueryExecution": {"Status": {"State": "RUNNING"}}})
        stub.add_response("stop_query_execution", {})
        stub.add_response("get_query_execution", {"QueryExecution": {"Status": {"State": "CANCELLED"}}})
        with pytest.raises(EngineError, match="stopped"):
            engine.query("SELECT 1")
        stub.assert_no_pending_responses()


def _redshift_timeout(env: dict[str, str]) -> None:
    """RedshiftDataApiWarehouse past its deadline, as the Load function's adapter would run it (Stubber)."""
    client = boto3.client("redshift-data", region_name=REGION)
    clock = FakeClock()
    warehouse = RedshiftDataApiWarehouse(
        database=env["REDSHIFT_DATABASE"],
        iam_role_arn=env["REDSHIFT_COPY_ROLE_ARN"],
        workgroup_name=env["REDSHIFT_WORKGROUP"],
        secret_arn=env["REDSHIFT_SECRET_ARN"],  # as composition.aws_ports builds it
        client=client,
        timeout_s=1,
        sleep=clock.sleep,
        clock=clock,
    )
    with Stubber(client) as stub:
        stub.add_response("execute_statement", {"Id": "5e7a1c2d-0000-4000-8000-00000000000a"})
        for _ in range(2):
            stub.add_response("describe_statement", {"Id": "5e7a1c2d-0000-4000-8000-00000000000a", "Status": "STARTED"})
        stub.add_response("cancel_statement", {"Status": True})
        stub.add_response("describe_statement", {"Id": "5e7a1c2d-0000-4000-8000-00000000000a", "Status": "ABORTED"})
        with pytest.raises(EngineError, match="cancelled"):
            warehouse.query("SELECT 1")
        stub.assert_no_pending_responses()


@pytest.fixture(scope="module")
def observed() -> Iterator[Observed]:
    with pytest.MonkeyPatch.context() as mp:
        use_fake_aws(mp)
        template = transformed_template()
        resolver = Resolver(template)
        env = {step: _env(resolver, template, step) for step in STEPS}
        # Every request the handlers make is also held to the service model's maximums (strict_model).
        strict_model.install(mp)
        recorder = CallRecorder()
        recorder.install(mp)
        calls: dict[str, list[Call]] = {}
        with mock_aws():
            boto3.setup_default_session()
            _create_world(template, resolver, {**env["Setup"], **env["Trigger"]})
            recorder.take()  # the world's own set-up calls are not the functions'

            raw = env["Setup"]["RAW_BUCKET"]
            lake = env["Setup"]["LAKE_BUCKET"]
            started = "2026-11-28T12:00:00Z"
            responder = ScriptedDataApi()
            events = boto3.DEFAULT_SESSION.events
            # Setup asks load_audit (Redshift Data API) which objects are loaded already.
            events.register("before-call.redshift-data.*", responder, unique_id="iam-coverage-data-api")
            with pytest.MonkeyPatch.context() as step_mp:
                out = _run_handler(step_mp, env["Setup"], "Setup", {"run_id": RUN_ID, "started_at": started})
                assert out["copied"] == 1, out
                upload = {
                    "detail-type": "Object Created",
                    "source": "aws.s3",
                    "account": "123456789012",
                    "time": started,
                    "region": REGION,
                    "resources": [f"arn:aws:s3:::{raw}"],
                    "id": "17793124-05d4-b198-2fde-7ededc63b103",
                    "version": "0",
                    "detail": {
                        "version": "0",
                        "bucket": {"name": raw},
                        "object": {"key": JHU_KEY, "size": 1, "etag": "e", "sequencer": "1"},
                        "request-id": "r",
                        "requester": "123456789012",
                        "source-ip-address": "1.2.3.4",
                        "reason": "PutObject",
                    },
                }
                uploaded = _run_handler(
                    step_mp, env["Setup"], "Setup", {"run_id": RUN_ID, "started_at": started, "request": upload}
                )
            events.unregister("before-call.redshift-data.*", unique_id="iam-coverage-data-api")
            calls["Setup"] = recorder.take()

            # moto's crawls end COMPLETED, not Glue's SUCCEEDED: the finished crawl is answered at before-call.
            events.register("before-call.glue.GetCrawler", _finished_crawl, unique_id="iam-coverage-crawl")
            with pytest.MonkeyPatch.context() as step_mp:
                _run_handler(step_mp, env["Crawl"], "Crawl", {"run_id": RUN_ID, "action": "start"})
                polled = _run_handler(step_mp, env["Crawl"], "Crawl", {"run_id": RUN_ID, "action": "poll", "polls": 0})
                assert polled["done"], polled
                assert sorted(polled["tables_prepared"]) == ["jhu_csv", "state_fips"], polled
            events.unregister("before-call.glue.GetCrawler", unique_id="iam-coverage-crawl")
            calls["Crawl"] = recorder.take()

            with pytest.MonkeyPatch.context() as step_mp:
                stage_event = {
                    "run_id": RUN_ID,
                    "manifest_uri": uploaded["manifest_uri"],
                    "staged_uri": f"s3://{lake}/staged/{RUN_ID}/",
                    "quarantine_uri": f"s3://{lake}/quarantine/",
                }
                out = _run_handler(step_mp, env["Stage"], "Stage", stage_event)
                # The state table lacks required columns; the UID lookup Setup published is in no table.
                assert out["refused_objects"] == 2, out
                assert any("UID_ISO_FIPS" in r and "not in the catalog" in r for r in out["refusals"]), out
            _athena_timeout(env["Stage"])
            calls["Stage"] = recorder.take()

            events.register("before-call.redshift-data.*", responder, unique_id="iam-coverage-data-api")
            try:
                with pytest.MonkeyPatch.context() as step_mp:
                    load_event = {
                        "run_id": RUN_ID,
                        "curated_uri": f"s3://{lake}/curated/{RUN_ID}/",
                        "quarantine_uri": f"s3://{lake}/quarantine/",
                    }
                    _run_handler(step_mp, env["Load"], "Load", load_event)
            finally:
                events.unregister("before-call.redshift-data.*", unique_id="iam-coverage-data-api")
            _redshift_timeout(env["Load"])
            calls["Load"] = recorder.take()

            with pytest.MonkeyPatch.context() as step_mp:
                # The events of Setup's own copy (JHU_KEY): recognised by its metadata, nothing started.
                copied = _run_handler(step_mp, env["Trigger"], "Trigger", _trigger_batch(raw, JHU_KEY))
                assert (copied["status"], copied["pipeline_copies"]) == ("NOTHING_TO_DO", 1), copied
                # An upload: started; then, after that execution ended without success, started again.
                trigger_calls = recorder.take()
                boto3.client("s3", region_name=REGION).put_object(Bucket=raw, Key=UPLOAD_KEY, Body=b"a,b\n1,2\n")
                recorder.take()  # the test's own upload
                out = _run_handler(step_mp, env["Trigger"], "Trigger", _trigger_batch(raw, UPLOAD_KEY))
                assert out["status"] == "STARTED", out
                trigger_calls += recorder.take()
                sfn = boto3.client("stepfunctions", region_name=REGION)
                machine = env["Trigger"]["STATE_MACHINE_ARN"]
                sfn.stop_execution(
                    executionArn=machine.replace(":stateMachine:", ":execution:") + f":{out['execution_name']}"
                )
                again = _run_handler(step_mp, env["Trigger"], "Trigger", _trigger_batch(raw, UPLOAD_KEY))
                assert (again["status"], again["execution_name"]) == ("STARTED", out["execution_name"] + "-r1"), again
            calls["Trigger"] = trigger_calls + [c for c in recorder.take() if c.operation != "StopExecution"]
        composition._ports.cache_clear()
        boto3.DEFAULT_SESSION = None  # no session with this module's hooks and cached credentials outlives it

        out_loc = template["Resources"]["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"]
        glue_tables = {
            (env["Stage"]["GLUE_DATABASE"], "jhu_csv"): f"s3://{raw}/enigma-jhu/csv/",
            (env["Stage"]["GLUE_DATABASE"], "state_fips"): f"s3://{raw}/reference/state-fips/",
        }
        ctx = Context(resolver.resolve(out_loc["ResultConfiguration"]["OutputLocation"]), glue_tables)
        yield Observed(template, resolver, env, calls, ctx)


def _permissions(obs: Observed, step: str) -> list[tuple[Call, tuple[str, str]]]:
    try:
        return list(required_permissions(obs.calls[step], obs.ctx))
    except UnmappedOperation as exc:
        pytest.fail(f"{step}: {exc}")


def _describe(call: Call) -> str:
    where = {k: call.params[k] for k in ("Bucket", "Key", "Name", "DatabaseName", "WorkGroup") if k in call.params}
    return f"{call.service}.{call.operation}({where})"


# -- tests -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", STEPS)
def test_scenario_made_the_calls_that_matter(observed: Observed, step: str) -> None:
    made = {(c.service, c.operation) for c in observed.calls[step]}
    assert EXPECTED_OPERATIONS[step] <= made, f"{step} never made {sorted(EXPECTED_OPERATIONS[step] - made)}"


def test_setup_copies_from_the_template_source_uri(observed: Observed) -> None:
    source = observed.env["Setup"]["SOURCE_URI"].removeprefix("s3://").split("/")[0]
    sources = [copy_source(c.params["CopySource"]) for c in observed.calls["Setup"] if c.operation == "CopyObject"]
    assert sources, "Setup copied nothing"
    assert all(bucket == source for bucket, _ in sources), sources


@pytest.mark.parametrize("step", STEPS)
def test_role_grants_every_call(observed: Observed, step: str) -> None:
    statements = observed.statements(step)
    missing = []
    gaps_seen = set()
    for call, (action, resource) in _permissions(observed, step):
        if is_granted(statements, action, resource):
            continue
        gap = _gap_for(step, action, resource)
        if gap is not None:
            gaps_seen.add(gap.id)
            continue
        missing.append(f"{action} on {resource} (needed by {_describe(call)})")
    assert not missing, f"{step}Function's role in template.yaml does not grant:\n  " + "\n  ".join(
        sorted(set(missing))
    )
    # A known gap that no call hits any more must leave KNOWN_GAPS (or it hides a future real gap).
    stale = {g.id for g in KNOWN_GAPS if g.step == step} - gaps_seen
    granted_now = {gid for gid in stale if _gap_is_closed(observed, gid)}
    assert stale <= granted_now, f"known gaps no longer exercised by {step}: {sorted(stale - granted_now)}"


def _gap_is_closed(observed: Observed, gap_id: str) -> bool:
    gap = next(g for g in KNOWN_GAPS if g.id == gap_id)
    statements = observed.statements(gap.step)
    needed = [
        p
        for _, p in _permissions(observed, gap.step)
        if fnmatch.fnmatchcase(p[0], gap.action) and fnmatch.fnmatchcase(p[1], gap.resource)
    ]
    return bool(needed) and all(is_granted(statements, *p) for p in needed)


@pytest.mark.parametrize(
    "gap",
    [
        pytest.param(g, id=g.id, marks=pytest.mark.xfail(strict=True, reason=f"{g.reason} - template fix pending"))
        for g in KNOWN_GAPS
    ],
)
def test_known_gap_is_closed(observed: Observed, gap: Gap) -> None:
    statements = observed.statements(gap.step)
    needed = sorted(
        {
            (action, resource, _describe(call))
            for call, (action, resource) in _permissions(observed, gap.step)
            if fnmatch.fnmatchcase(action, gap.action) and fnmatch.fnmatchcase(resource, gap.resource)
        }
    )
    assert needed, f"{gap.id}: no recorded call needs it any more"
    missing = [f"{a} on {r} (needed by {c})" for a, r, c in needed if not is_granted(statements, a, r)]
    assert not missing, (
        f"{gap.step}Function lacks:\n  " + "\n  ".join(missing) + f"\nadd to its Policies:\n  {gap.statement}"
    )


@pytest.mark.parametrize("step", STEPS)
def test_role_has_no_wildcard_action_and_star_resource_only_where_unscopable(observed: Observed, step: str) -> None:
    statements = observed.statements(step)
    assert statements, f"{step}Function's role has no statement at all"
    for st in statements:
        if st.effect != "Allow":
            continue
        wild = [a for a in st.actions if a == "*" or a.endswith(":*")]
        assert not wild, f"{st.source} allows wildcard action(s) {wild} on {st.resources}"
        if "*" in st.resources:
            unscopable = set(st.actions) - RESOURCE_STAR_ALLOWED
            assert not unscopable, f"{st.source} allows {sorted(unscopable)} on Resource '*'"


def test_resource_matching_is_scoped(observed: Observed) -> None:
    """The matcher itself: grants hold per bucket / crawler / workgroup, not per service."""
    lake = observed.env["Setup"]["LAKE_BUCKET"]
    raw = observed.env["Setup"]["RAW_BUCKET"]
    setup = observed.statements("Setup")
    assert is_granted(setup, "s3:PutObject", f"arn:aws:s3:::{lake}/work/x")
    assert not is_granted(setup, "s3:PutObject", "arn:aws:s3:::some-other-bucket/x")
    assert not is_granted(setup, "s3:PutBucketPolicy", f"arn:aws:s3:::{raw}")
    stage = observed.statements("Stage")
    assert is_granted(stage, "s3:GetObject", f"arn:aws:s3:::{raw}/{JHU_KEY}")
    assert not is_granted(stage, "s3:PutObject", f"arn:aws:s3:::{raw}/{JHU_KEY}")  # the raw zone is read-only
    crawl = observed.statements("Crawl")
    crawler = observed.env["Crawl"]["RAW_CRAWLER"]
    assert is_granted(crawl, "glue:StartCrawler", f"arn:aws:glue:{REGION}:123456789012:crawler/{crawler}")
    assert not is_granted(crawl, "glue:StartCrawler", f"arn:aws:glue:{REGION}:123456789012:crawler/other")
    assert not is_granted(crawl, "s3:GetObject", f"arn:aws:s3:::{raw}/{JHU_KEY}")


def test_unmapped_operation_fails_loudly(observed: Observed) -> None:
    with pytest.raises(UnmappedOperation, match="s3:PutBucketPolicy"):
        list(required_permissions([Call("s3", "PutBucketPolicy", {"Bucket": "b"})], observed.ctx))


def _database_user(call: Call, role: str) -> str:
    """Who a Data API statement runs as: the secret's user, else the caller's role (``IAMR:<role>``).

    With IAM temporary credentials a Serverless workgroup maps each role to its own database user
    (Redshift docs, query-editor-v2-schedule-query-authentication: ``GRANT ... TO "IAMR:<role>"``).
    """
    if "SecretArn" in call.params:
        return f"secret {call.params['SecretArn']}"
    return f"IAMR:{role}"


def test_every_warehouse_statement_runs_as_one_database_user(observed: Observed) -> None:
    """Load creates the tables; Setup reads load_audit: both must be the same user (or it be granted)."""
    users: dict[str, set[str]] = {}
    for step in ("Setup", "Load"):
        role = observed.template["Resources"][f"{step}Function"]["Properties"]["Role"]["Fn::GetAtt"][0]
        for call in observed.calls[step]:
            if call.service == "redshift-data" and call.operation in ("ExecuteStatement", "BatchExecuteStatement"):
                users.setdefault(_database_user(call, role), set()).add(step)
    assert users, "no warehouse statement was recorded"
    assert len(users) == 1, f"the functions run as different database users: {users}"
    (user,) = users
    secret = observed.env["Load"]["REDSHIFT_SECRET_ARN"]
    assert user == f"secret {secret}", user
    assert observed.env["Setup"]["REDSHIFT_SECRET_ARN"] == secret
