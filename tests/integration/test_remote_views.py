"""``status``, ``sql``, ``report`` and ``refused`` with ``--stack``, against a stack faked with moto
(tests/fake_stack.py): outputs from a CloudFormation stack, executions of the real definition in moto's Step
Functions, the Redshift Data API answered from a DuckDB warehouse in AWS's documented shapes, Athena results
queued through moto's API, refusals in the lake bucket. The CLI's own entry point runs each command.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.awsrequest import AWSResponse
from botocore.validate import validate_parameters
from moto import mock_aws

from covid_pipeline.adapters.aws.execution_history import summarize
from covid_pipeline.adapters.aws.object_store import S3ObjectStore
from covid_pipeline.cli import main
from covid_pipeline.domain.refused_objects import RefusedRecord, remember
from covid_pipeline.report import write_report
from tests.fake_stack import MOTO_CONFIG, NAMES, REGION, SECRET_ARN, STACK, DuckDbDataApi, make_stack, run_execution
from tests.helpers import use_fake_aws
from tests.infra.test_definition_moto import SETUP, STAGE
from tests.report_html import number, parse, records
from tests.unit.test_report import make_home

QUARANTINE = f"s3://{NAMES['lake_bucket']}/quarantine/"
REFUSED_UPLOAD = {"key": "jhu/<pic>.csv", "reason": "not text: PNG image data"}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small warehouse of tests/unit/test_report.py (its numbers are known there)."""
    return make_home(tmp_path_factory.mktemp("remote") / "home") / "warehouse.duckdb"


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch):
    use_fake_aws(monkeypatch)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws(config=MOTO_CONFIG):
        yield make_stack()


def _cli(*argv: str) -> int:
    return main([*argv, "--stack", STACK, "--region", REGION])


def _failed_and_succeeded(machine_arn: str) -> None:
    """run-1: Clean fails (moto cannot complete glue:startJobRun.sync), caught, alerted, then Failed.
    run-2: nothing to do (every object already loaded), with an upload Setup refused."""
    run_execution(
        machine_arn,
        "run-1",
        [SETUP, {"polls": 0, "done": False}, {"polls": 1, "done": True, "state": "READY"}, STAGE],
    )
    run_execution(machine_arn, "run-2", [{**SETUP, "run_id": "run-2", "objects": 0, "refused": [REFUSED_UPLOAD]}])


# -- status ---------------------------------------------------------------------------------------------------


def test_status_names_the_failed_state_and_its_error(stack, capsys) -> None:
    _failed_and_succeeded(stack.state_machine_arn)
    assert _cli("status") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    run1 = next(line for line in lines if line.lstrip().startswith("run-1 "))
    run2 = next(line for line in lines if line.lstrip().startswith("run-2 "))
    assert "FAILED" in run1
    assert "SUCCEEDED" in run2
    assert lines.index(run2) < lines.index(run1)  # newest first
    # The history's failed state is the task whose error the execution ended on, not the Fail state.
    sfn = boto3.client("stepfunctions", region_name=REGION)
    execution = next(e for e in sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]
                     if e["name"] == "run-1")  # fmt: skip
    events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
    ended = next(e for e in events if e["type"] == "ExecutionFailed")["executionFailedEventDetails"]
    failure = next(line for line in lines if line.startswith("run-1 failed in "))
    assert failure.startswith("run-1 failed in Clean: ")
    assert ended["error"] in failure


def test_status_with_no_execution_says_so(stack, capsys) -> None:
    assert _cli("status") == 0
    assert f"no executions yet of stack {STACK}" in capsys.readouterr().err


# -- the history, on AWS's documented event shapes -------------------------------------------------------------


def _event(n: int, kind: str, seconds: float, **details: Any) -> dict[str, Any]:
    from datetime import UTC, datetime

    event: dict[str, Any] = {"id": n, "type": kind, "timestamp": datetime.fromtimestamp(seconds, UTC)}
    if details:
        member = kind[0].lower() + kind[1:] + "EventDetails"
        if kind.endswith("StateEntered"):
            member = "stateEnteredEventDetails"
        elif kind.endswith("StateExited"):
            member = "stateExitedEventDetails"
        event[member] = details
    return event


def test_an_uncaught_lambda_error_after_retries_is_the_reason() -> None:
    from datetime import UTC, datetime

    cause = json.dumps({"errorMessage": "warehouse load FAILED: duplicate key", "errorType": "EngineError"})
    events = [
        _event(1, "ExecutionStarted", 100),
        _event(2, "TaskStateEntered", 100, name="Setup"),
        _event(3, "TaskStateExited", 102, name="Setup"),
        _event(4, "TaskStateEntered", 102, name="Load"),
        _event(5, "TaskFailed", 103, error="States.Timeout", cause="first try"),
        _event(6, "TaskFailed", 110, error="EngineError", cause=cause),
        _event(7, "ExecutionFailed", 110, error="EngineError", cause=cause),
    ]
    item = {"name": "x", "status": "FAILED", "startDate": datetime.fromtimestamp(100, UTC),
            "stopDate": datetime.fromtimestamp(110, UTC)}  # fmt: skip
    run = summarize(item, events)
    assert (run.failed_state, run.reason) == ("Load", "EngineError: warehouse load FAILED: duplicate key")
    assert run.duration_s == 10.0
    assert run.state_durations == {"Setup": 2.0}


# -- sql ------------------------------------------------------------------------------------------------------


@pytest.fixture
def data_api(stack, warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> DuckDbDataApi:
    fake = DuckDbDataApi(warehouse)
    fake.install(monkeypatch)
    return fake


SQL = "SELECT state_abbr, COUNT(*) AS hospitals, SUM(icu_beds) AS beds FROM dim_hospital GROUP BY 1 ORDER BY 1"


def test_sql_on_redshift_as_csv(data_api: DuckDbDataApi, capsys) -> None:
    assert _cli("sql", SQL, "--format", "csv") == 0
    assert list(csv.reader(io.StringIO(capsys.readouterr().out))) == [
        ["state_abbr", "hospitals", "beds"],
        ["NY", "2", "15"],
        ["TX", "1", "20"],
    ]
    (sent,) = data_api.sent
    # Connection parameters from the stack: its outputs and the LoadFunction's environment.
    assert (sent["WorkgroupName"], sent["Database"], sent["SecretArn"]) == (
        NAMES["redshift_workgroup"],
        NAMES["redshift_database"],
        SECRET_ARN,
    )


def test_sql_on_redshift_as_json_and_table(data_api: DuckDbDataApi, capsys) -> None:
    assert _cli("sql", "SELECT date_key, date, is_weekend, county FROM dim_date d "
                "LEFT JOIN dim_region r ON FALSE ORDER BY date_key LIMIT 2", "--format", "json") == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out) == [
        {"date_key": 20200301, "date": "2020-03-01", "is_weekend": False, "county": None},
        {"date_key": 20200302, "date": "2020-03-02", "is_weekend": False, "county": None},
    ]
    assert _cli("sql", SQL) == 0
    captured = capsys.readouterr()
    assert [line.split() for line in captured.out.splitlines() if line.strip().startswith(("NY", "TX"))] == [
        ["NY", "│", "2", "│", "15"],
        ["TX", "│", "1", "│", "20"],
    ]
    assert "2 row(s)" in captured.err


# A day without a row of the first region: an integer column with a NULL (a DataFrame makes it floats, 10.0),
# next to a DATE (a DataFrame makes it a string).
GAPS = (
    "SELECT d.date_key, d.date, f.confirmed, f.new_deaths FROM dim_date d LEFT JOIN fact_cases_daily f "
    "ON f.date_key = d.date_key AND f.region_key = (SELECT MIN(region_key) FROM fact_cases_daily) ORDER BY 1"
)


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_sql_on_redshift_prints_what_the_local_sql_prints(
    data_api: DuckDbDataApi, warehouse: Path, fmt, capsys
) -> None:
    # The same DuckDB warehouse, read locally and through the (fake) Data API: the same bytes on stdout.
    assert main(["sql", GAPS, "--home", str(warehouse.parent), "--format", fmt]) == 0
    local = capsys.readouterr().out
    assert _cli("sql", GAPS, "--format", fmt) == 0
    assert capsys.readouterr().out == local
    assert len(data_api.sent) == 1  # it did go through the Data API
    if fmt == "csv":  # the data has what a DataFrame would change: integers next to a NULL, dates
        rows = list(csv.reader(io.StringIO(local)))
        assert rows[1] == ["20200301", "2020-03-01", "10", ""]
        assert ["20200305", "2020-03-05", "", ""] in rows


def test_a_failed_statement_is_one_line_with_redshift_error(stack, monkeypatch, capsys) -> None:
    DuckDbDataApi(fail='ERROR: relation "nope" does not exist').install(monkeypatch)
    assert _cli("sql", "SELECT * FROM nope") == 2
    err = capsys.readouterr().err
    assert err.strip() == 'error: Redshift statement FAILED: ERROR: relation "nope" does not exist'


class RefusingDataApi(DuckDbDataApi):
    """The fake Data API with ExecuteStatement refused (``code``: an HTTP 400 in AWS's error shape, which
    botocore raises as ClientError) or its statements never finishing (``code`` None), and Redshift
    Serverless' GetWorkgroup answering ``workgroup_status`` (moto has no redshift-serverless)."""

    def __init__(self, code: str | None, workgroup_status: str = "AVAILABLE", message: str | None = None) -> None:
        super().__init__()
        self.code = code
        self.message = message or f"{code} from the service"
        self.workgroup_status = workgroup_status
        self.cancelled: list[str] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        super().install(monkeypatch)
        fake, base = self, boto3.Session

        class Session(base):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.events.register("before-call.redshift-serverless.GetWorkgroup", fake._workgroup)

        monkeypatch.setattr(boto3, "Session", Session)

    def _workgroup(self, model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        response = {"workgroup": {"workgroupName": NAMES["redshift_workgroup"], "status": self.workgroup_status}}
        validate_parameters(response, model.output_shape)
        return AWSResponse("https://redshift-serverless.amazonaws.com", 200, {}, None), response

    def _answer(self, model: Any, context: dict[str, Any], **kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        if model.name == "ExecuteStatement" and self.code:
            error = {"Error": {"Code": self.code, "Message": self.message}}
            return AWSResponse("https://redshift-data.amazonaws.com", 400, {}, None), error
        return super()._answer(model, context, **kwargs)

    def DescribeStatement(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**super().DescribeStatement(params), "Status": "STARTED"}

    def CancelStatement(self, params: dict[str, Any]) -> dict[str, Any]:
        self.cancelled.append(params["Id"])
        return {"Status": True}


@pytest.mark.parametrize(
    ("code", "workgroup", "expected"),
    [
        ("ActiveStatementsExceededException", "AVAILABLE",
         "error: Redshift Data API: too many statements running (ActiveStatementsExceededException from the "
         "service); try again shortly"),
        ("ValidationException", "MODIFYING",
         f"error: Redshift Serverless workgroup {NAMES['redshift_workgroup']} is MODIFYING, not AVAILABLE: wait "
         f"until it is (aws redshift-serverless get-workgroup --workgroup-name {NAMES['redshift_workgroup']}) "
         "and try again"),
        ("DatabaseConnectionException", "AVAILABLE",
         f"error: Redshift refused the statement on workgroup {NAMES['redshift_workgroup']} "
         "(DatabaseConnectionException: DatabaseConnectionException from the service); if a usage limit that "
         "turns off user queries was reached, raise it (Redshift Serverless console: workgroup, Limits)"),
    ],
)  # fmt: skip
def test_a_refused_statement_is_one_line(stack, monkeypatch, capsys, code, workgroup, expected) -> None:
    RefusingDataApi(code, workgroup).install(monkeypatch)
    assert _cli("sql", "SELECT 1") == 2
    assert capsys.readouterr().err.strip() == expected


def test_a_statement_past_the_deadline_is_cancelled_and_one_line(stack, monkeypatch, capsys) -> None:
    from covid_pipeline.adapters.aws import client_queries

    fake = RefusingDataApi(None)
    fake.install(monkeypatch)
    made = client_queries.redshift_warehouse
    ticks = iter(range(0, 10**6, 100))  # every look at the clock: 100 s later, so the deadline passes at once

    def impatient(*args: Any, **kwargs: Any) -> Any:
        warehouse = made(*args, **kwargs)
        warehouse.sleep, warehouse.clock = (lambda _s: None), (lambda: float(next(ticks)))
        return warehouse

    monkeypatch.setattr(client_queries, "redshift_warehouse", impatient)
    assert _cli("sql", "SELECT 1") == 2
    err = capsys.readouterr().err.strip()
    (statement,) = fake.cancelled
    assert err.startswith(f"error: Redshift statement {statement} did not finish within ")
    assert err.endswith(
        f"(last state STARTED); cancelled: the workgroup {NAMES['redshift_workgroup']} may be resuming or busy; "
        "try again in a minute"
    )
    assert "\n" not in err


def test_a_function_without_the_secret_says_to_deploy(monkeypatch, capsys) -> None:
    use_fake_aws(monkeypatch)
    with mock_aws(config=MOTO_CONFIG):
        make_stack(secret_arn=None)
        assert _cli("sql", "SELECT 1") == 2
    assert "has no REDSHIFT_SECRET_ARN in its environment" in capsys.readouterr().err


def test_engine_without_stack_is_refused(capsys) -> None:
    assert main(["sql", "SELECT 1", "--engine", "athena"]) == 2
    assert "--engine athena goes with --stack NAME" in capsys.readouterr().err


# -- sql --engine athena ----------------------------------------------------------------------------------------


def test_sql_on_athena(stack, capsys) -> None:
    # moto's documented way to give a query its result: a queue of results, taken by the next query.
    results = {
        "account_id": "123456789012",
        "region": REGION,
        "results": [
            {
                "rows": [
                    {"Data": [{"VarCharValue": "state"}, {"VarCharValue": "rows"}]},
                    {"Data": [{"VarCharValue": "NY"}, {"VarCharValue": "12"}]},
                    {"Data": [{"VarCharValue": "TX"}, {}]},
                ],
                "column_info": [
                    {"CatalogName": "AwsDataCatalog", "SchemaName": NAMES["curated_database"], "TableName": "t",
                     "Name": "state", "Label": "state", "Type": "varchar", "Precision": 0, "Scale": 0,
                     "Nullable": "UNKNOWN", "CaseSensitive": True},
                    {"CatalogName": "AwsDataCatalog", "SchemaName": NAMES["curated_database"], "TableName": "t",
                     "Name": "rows", "Label": "rows", "Type": "bigint", "Precision": 19, "Scale": 0,
                     "Nullable": "UNKNOWN", "CaseSensitive": False},
                ],
            }
        ],
    }  # fmt: skip
    resp = requests.post("http://motoapi.amazonaws.com/moto-api/static/athena/query-results", json=results, timeout=5)
    assert resp.status_code == 201
    assert (
        _cli("sql", "SELECT state, COUNT(*) AS rows FROM t GROUP BY 1", "--engine", "athena", "--format", "json") == 0
    )
    assert json.loads(capsys.readouterr().out) == [{"state": "NY", "rows": 12}, {"state": "TX", "rows": None}]
    athena = boto3.client("athena", region_name=REGION)
    (query_id,) = athena.list_query_executions(WorkGroup=NAMES["athena_workgroup"])["QueryExecutionIds"]
    query = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    assert query["QueryExecutionContext"]["Database"] == NAMES["curated_database"]
    assert not query["Query"].upper().lstrip().startswith("CREATE")  # no CTAS in the user's catalog


# DuckDB's type of a result column -> Athena's (Trino's) name for it in GetQueryResults' ColumnInfo.
ATHENA_TYPES = {"INTEGER": "integer", "BIGINT": "bigint", "DATE": "date", "VARCHAR": "varchar", "DOUBLE": "double"}


def _queue_athena_result(warehouse: Path, sql: str) -> None:
    """The local warehouse's answer to ``sql`` as the next Athena query's result (moto's results queue), in
    GetQueryResults' shape: a header row, then every value as VarCharValue, a NULL as an empty Datum."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cursor = con.execute(sql)
        columns = [(d[0], ATHENA_TYPES[str(d[1])]) for d in cursor.description or []]
        rows = cursor.fetchall()
    finally:
        con.close()
    info = [{"Name": name, "Label": name, "Type": kind, "Nullable": "UNKNOWN"} for name, kind in columns]
    data = [{"Data": [{"VarCharValue": name} for name, _ in columns]}]
    data += [{"Data": [{} if v is None else {"VarCharValue": str(v)} for v in row]} for row in rows]
    results = {"account_id": "123456789012", "region": REGION, "results": [{"rows": data, "column_info": info}]}
    resp = requests.post("http://motoapi.amazonaws.com/moto-api/static/athena/query-results", json=results, timeout=5)
    assert resp.status_code == 201


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_sql_on_athena_prints_what_the_local_sql_prints(stack, warehouse: Path, fmt, capsys) -> None:
    # awswrangler's default dtype_backend (numpy_nullable) keeps an integer column with a NULL as Int64.
    assert main(["sql", GAPS, "--home", str(warehouse.parent), "--format", fmt]) == 0
    local = capsys.readouterr().out
    _queue_athena_result(warehouse, GAPS)
    assert _cli("sql", GAPS, "--engine", "athena", "--format", fmt) == 0
    assert capsys.readouterr().out == local


# -- refused ----------------------------------------------------------------------------------------------------


def test_refused_lists_and_clears_on_the_lake_bucket(stack, capsys) -> None:
    store = S3ObjectStore(boto3.client("s3", region_name=REGION))
    remember(
        store, QUARANTINE, RefusedRecord("jhu/[b]pic.csv", "abc", "not text: PNG", "2026-12-01T00:00:00Z", "run-9")
    )
    assert _cli("refused") == 0
    err = capsys.readouterr().err
    assert "jhu/[b]pic.csv\n    etag abc, refused 2026-12-01T00:00:00Z by run run-9: not text: PNG" in err
    assert _cli("refused", "--clear", "jhu/[b]pic.csv") == 0
    assert "forgot the refusal of jhu/[b]pic.csv" in capsys.readouterr().err
    assert _cli("refused") == 0
    assert f"no refused objects in {QUARANTINE}" in capsys.readouterr().err
    assert _cli("refused", "--clear", "jhu/[b]pic.csv") == 2


# -- report -----------------------------------------------------------------------------------------------------


def _figure(page: str, chart: str) -> str:
    """A chart as drawn, without the digest of its inputs: the Data API gives a BIGINT as text, which draws as
    the local int does but is another input (report/charts.py draws it again rather than reuse it)."""
    found = re.search(rf'<figure id="chart-{chart}">(.*?)</figure>', page, re.S)
    assert found, chart
    drawn, digests = re.subn(r'<svg data-chart="[0-9a-f]{64}"', "<svg", found.group(1), count=1)
    assert digests == 1, chart
    return drawn


def test_the_report_renders_from_the_deployed_stack(
    data_api: DuckDbDataApi, stack, warehouse: Path, tmp_path, monkeypatch
) -> None:
    _failed_and_succeeded(stack.state_machine_arn)
    store = S3ObjectStore(boto3.client("s3", region_name=REGION))
    store.put_bytes(
        QUARANTINE + "_refused/run-1.jsonl",
        json.dumps({"object": "s3://raw/a&b.csv", "feed": "f", "reason": "missing required <x>"}).encode(),
    )
    monkeypatch.chdir(tmp_path)
    assert _cli("report") == 0
    page = (tmp_path / f"report-{STACK}.html").read_text()
    tables = parse(page)
    # The warehouse's numbers, through the Data API (the same as tests/unit/test_report.py's local page).
    rows = {r["table"]: number(r["rows"]) for r in records(tables, "rows-per-table")}
    assert rows == {"dim_date": 10, "dim_region": 4, "dim_hospital": 3, "fact_cases_daily": 19,
                    "fact_testing_daily": 3, "load_audit": 1, "quarantine": 3}  # fmt: skip
    icu = {r["state"]: number(r["icu_beds_per_100k"]) for r in records(tables, "data-icu")}
    assert icu == {"New <York>": 1.5, "Texas": 1.0}
    by_day = {r["day"]: r["new_cases"] for r in records(tables, "data-country")}
    assert by_day["2020-03-06"] == "23"
    # The same data as the local page of the same warehouse: the same tables and the same charts (a date the
    # Data API sends as a string must be a date again, or the date axes would differ).
    local = write_report(warehouse.parent, tmp_path / "local.html").read_text()
    for chart in ("country", "top-states", "positivity", "icu"):
        assert records(tables, f"data-{chart}") == records(parse(local), f"data-{chart}"), chart
        assert _figure(page, chart) == _figure(local, chart), chart
    # Executions from Step Functions, with the failed state; refusals from Setup's output and Stage's list.
    runs = {r["execution"]: r["status"] for r in records(tables, "runs")}
    assert runs == {"run-1": "FAILED", "run-2": "SUCCEEDED"}
    assert "Clean" in {r["state"] for r in records(tables, "state-seconds")}
    refused = {(r["step"], r["object"]) for r in records(tables, "refused-objects")}
    assert refused == {("Setup", REFUSED_UPLOAD["key"]), ("Stage", "s3://raw/a&b.csv")}
    assert f"stack {STACK} ({REGION})" in page


def test_local_commands_do_not_import_the_aws_client_side() -> None:
    """boto3, awswrangler and pandas load only when --stack is given: not for --help or a local command."""
    import subprocess
    import sys

    probe = (
        "import sys; from covid_pipeline.cli import build_parser; build_parser(); "
        "import covid_pipeline.remote, covid_pipeline.remote.frames; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 'awswrangler', 'pandas', 'botocore'}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
