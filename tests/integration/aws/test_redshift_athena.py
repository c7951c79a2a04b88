"""Redshift Data API warehouse and Athena engine against stubbed boto3 clients (botocore Stubber).

moto answers these APIs with canned, instantly-finished data, so the polling paths
(SUBMITTED -> STARTED -> FINISHED, FAILED, ABORTED, the deadline) are scripted here.
No network, no real credentials, no real waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from covid_pipeline.adapters.aws import redshift_sql as rs
from covid_pipeline.adapters.aws.sql_engine import AthenaSqlEngine
from covid_pipeline.adapters.aws.warehouse import RedshiftDataApiWarehouse
from covid_pipeline.merge_rules import matched_touch_sql, unchanged_sql
from covid_pipeline.ports import BatchMissing, EngineError, ObjectInfo, TableLoad
from covid_pipeline.schema import FOREIGN_KEYS, TABLES
from tests.helpers import use_fake_aws

REGION = "us-east-2"
ROLE = "arn:aws:iam::123456789012:role/covid-redshift-copy"
BATCH_ID = "d9b6c0c9-0000-4000-8000-000000000001"
DDL_ID = "d9b6c0c9-0000-4000-8000-000000000003"
# Statement ids are UUIDs: the strict model check (conftest.py) holds them to the model's pattern.
ERRS_ID, Q1_ID, Q2_ID = (f"d9b6c0c9-0000-4000-8000-00000000001{n}" for n in range(3))
COUNT_ID = "d9b6c0c9-0000-4000-8000-000000000002"
LOAD = TableLoad("dim_date", "s3://lake/curated/dim_date/run=r1/")
FIRST_LOAD_SQL = 1  # after SET statement_timeout (the tables are created by a batch of their own)
COPY_SUB = f"{BATCH_ID}:{FIRST_LOAD_SQL + 2}"  # 1-based: stage, COPY, unchanged, matched, MERGE


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_aws(monkeypatch)


class FakeClock:
    """time.monotonic + time.sleep stand-in: sleeping advances the clock instantly."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def redshift() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("redshift-data", region_name=REGION)
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


@pytest.fixture
def athena() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("athena", region_name=REGION)
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def _warehouse(client: Any, clock: FakeClock, **kwargs: Any) -> RedshiftDataApiWarehouse:
    return RedshiftDataApiWarehouse(
        workgroup_name="covid-wg",
        database="covid",
        iam_role_arn=ROLE,
        client=client,
        sleep=clock.sleep,
        clock=clock,
        **{"timeout_s": 60.0, **kwargs},
    )


def _expected_batch_sqls(timeout_ms: int = 60000) -> list[str]:
    table = TABLES["dim_date"]
    return [
        f"SET statement_timeout TO {timeout_ms}",
        rs.staging_table_sql(table, "stage_dim_date"),
        rs.copy_sql("stage_dim_date", table, LOAD.location, ROLE),
        unchanged_sql(table, "stage_dim_date", rs.quote),
        matched_touch_sql(table, "stage_dim_date", rs.quote),
        rs.merge_sql(table, "stage_dim_date"),
        rs.orphans_check_sql(FOREIGN_KEYS),
    ]


def _ddl(stub: Stubber, timeout_ms: int = 60000) -> None:
    """The batch of CREATE TABLE IF NOT EXISTS that precedes every load batch."""
    sqls = [f"SET statement_timeout TO {timeout_ms}", *(rs.create_table_sql(t) for t in TABLES.values())]
    target = {"Database": "covid", "WorkgroupName": "covid-wg"}
    stub.add_response(
        "batch_execute_statement",
        {"Id": DDL_ID},
        {"Sqls": sqls, "StatementName": "r1-ddl", "WithEvent": False, **target},
    )
    _describe(stub, DDL_ID, "FINISHED")


def _describe(stub: Stubber, statement_id: str, status: str, **extra: Any) -> None:
    stub.add_response("describe_statement", {"Id": statement_id, "Status": status, **extra}, {"Id": statement_id})


def _start_batch(stub: Stubber, timeout_ms: int = 60000) -> None:
    _ddl(stub, timeout_ms)
    stub.add_response(
        "batch_execute_statement",
        {"Id": BATCH_ID, "Database": "covid", "WorkgroupName": "covid-wg"},
        {
            "Sqls": _expected_batch_sqls(timeout_ms),
            "StatementName": "r1-load",
            "WithEvent": False,
            "Database": "covid",
            "WorkgroupName": "covid-wg",
        },
    )


def _execute(stub: Stubber, statement_id: str, sql: Any = ANY) -> None:
    stub.add_response(
        "execute_statement",
        {"Id": statement_id},
        {"Sql": sql, "WithEvent": False, "Database": "covid", "WorkgroupName": "covid-wg"},
    )


def _sub(n: int, status: str = "FINISHED", rows: int = 0, **extra: Any) -> dict[str, Any]:
    return {"Id": f"{BATCH_ID}:{n}", "Status": status, "ResultRows": rows, **extra}


def _counts(stub: Stubber) -> None:
    _execute(stub, COUNT_ID, rs.counts_sql(list(TABLES)))
    _describe(stub, COUNT_ID, "FINISHED", HasResultSet=True)
    records = [[{"stringValue": name}, {"longValue": 366 if name == "dim_date" else 0}] for name in TABLES]
    # Two pages: the totals must survive NextToken pagination.
    stub.add_response("get_statement_result", {"Records": records[:3], "NextToken": "page-2"}, {"Id": COUNT_ID})
    stub.add_response("get_statement_result", {"Records": records[3:]}, {"Id": COUNT_ID, "NextToken": "page-2"})


# -- Redshift Data API warehouse ---------------------------------------------------------------


def test_load_polls_to_finished_and_reports_rows(redshift: tuple[Any, Stubber], clock: FakeClock) -> None:
    client, stub = redshift
    _start_batch(stub)
    _describe(stub, BATCH_ID, "SUBMITTED")
    _describe(stub, BATCH_ID, "STARTED")
    subs = [_sub(n) for n in range(1, len(_expected_batch_sqls()) + 1)]
    subs[FIRST_LOAD_SQL + 1] = _sub(FIRST_LOAD_SQL + 2, rows=366)  # COPY: the staged batch
    subs[FIRST_LOAD_SQL + 2] = _sub(FIRST_LOAD_SQL + 3, rows=300)  # DELETE: unchanged rows left out
    subs[FIRST_LOAD_SQL + 3] = _sub(FIRST_LOAD_SQL + 4, rows=60)  # no-op UPDATE: rows matching a loaded one
    subs[FIRST_LOAD_SQL + 4] = _sub(FIRST_LOAD_SQL + 5, rows=66)  # MERGE: rows affected
    _describe(stub, BATCH_ID, "FINISHED", SubStatements=subs)
    _counts(stub)

    result = _warehouse(client, clock).load("r1", [LOAD])

    assert result.rows_merged == {"dim_date": 366}
    assert result.changes == {"dim_date": {"superseded": 0, "unchanged": 300, "changed": 60, "new": 6}}
    assert result.rows_total == {name: (366 if name == "dim_date" else 0) for name in TABLES}
    assert clock.sleeps == [1.0, 1.0]  # polled twice before FINISHED, then the count query at once


def test_orphans_fail_the_batch_with_the_foreign_key_named(redshift: tuple[Any, Stubber], clock: FakeClock) -> None:
    client, stub = redshift
    _start_batch(stub)
    fk_index = len(_expected_batch_sqls())  # the one check of every foreign key, last
    error = (
        'ERROR: invalid input syntax for integer: "foreign key violation: rows of dim_hospital.region_key '
        'without a dim_region.region_key row: 3; "'
    )
    subs = [_sub(n) for n in range(1, fk_index)] + [_sub(fk_index, "FAILED", Error=error)]
    _describe(stub, BATCH_ID, "FAILED", Error=error, SubStatements=subs)

    with pytest.raises(EngineError) as caught:
        _warehouse(client, clock).load("r1", [LOAD])

    message = str(caught.value)
    assert "rolled back" in message
    assert "foreign key violation: rows of dim_hospital.region_key without a dim_region.region_key row: 3" in message
    assert error in message


def test_failed_copy_reports_the_row_level_reason(redshift: tuple[Any, Stubber], clock: FakeClock) -> None:
    client, stub = redshift
    _start_batch(stub)
    error = "ERROR: Load into table 'stage_dim_date' failed. Check 'sys_load_error_detail' system table for details."
    subs = [_sub(n) for n in range(1, FIRST_LOAD_SQL + 2)]
    subs.append({"Id": COPY_SUB, "Status": "FAILED", "Error": error, "RedshiftQueryId": 4242})
    _describe(stub, BATCH_ID, "FAILED", Error=error, SubStatements=subs)
    _execute(stub, ERRS_ID, rs.load_errors_sql(4242))
    _describe(stub, ERRS_ID, "FINISHED", HasResultSet=True)
    row = [
        {"stringValue": "s3://lake/curated/dim_date/run=r1/part-0.parquet   "},
        {"longValue": 17},
        {"stringValue": "date_key  "},
        {"stringValue": "Invalid digit, Value 'x', Pos 0, Type: Integer"},
    ]
    stub.add_response("get_statement_result", {"Records": [row]}, {"Id": ERRS_ID})

    with pytest.raises(EngineError) as caught:
        _warehouse(client, clock).load("r1", [LOAD])

    message = str(caught.value)
    assert "COPY into dim_date failed" in message
    assert (
        "s3://lake/curated/dim_date/run=r1/part-0.parquet line 17 column date_key: "
        "Invalid digit, Value 'x', Pos 0, Type: Integer"
    ) in message


def test_aborted_batch_is_an_engine_error(redshift: tuple[Any, Stubber], clock: FakeClock) -> None:
    client, stub = redshift
    _start_batch(stub)
    _describe(stub, BATCH_ID, "ABORTED", Error="Query was cancelled by user")

    with pytest.raises(EngineError, match=r"r1 ABORTED .*Query was cancelled by user"):
        _warehouse(client, clock).load("r1", [LOAD])


def test_deadline_cancels_and_names_the_statement(redshift: tuple[Any, Stubber], clock: FakeClock) -> None:
    client, stub = redshift
    _start_batch(stub, timeout_ms=3000)  # the server-side statement_timeout follows the same limit
    for _ in range(4):  # t = 0, 1, 2, 3: the deadline (3 s) is reached on the fourth look
        _describe(stub, BATCH_ID, "STARTED")
    stub.add_response("cancel_statement", {"Status": True}, {"Id": BATCH_ID})
    _describe(stub, BATCH_ID, "STARTED")  # the settle poll: the cancel has not landed yet ...
    _describe(stub, BATCH_ID, "ABORTED")  # ... now it has, and the batch rolled back

    with pytest.raises(EngineError, match=f"statement {BATCH_ID} did not finish within 3 s .*ABORTED"):
        _warehouse(client, clock, timeout_s=3.0).load("r1", [LOAD])
    assert clock.now == 5.0  # no real waiting: the deadline, then two settle polls


def test_a_batch_that_commits_despite_the_cancel_is_reported_loaded(
    redshift: tuple[Any, Stubber], clock: FakeClock
) -> None:
    """Cancelling is asynchronous: a batch already committing may finish, and then it did load."""
    client, stub = redshift
    _start_batch(stub, timeout_ms=1000)
    for _ in range(2):
        _describe(stub, BATCH_ID, "STARTED")
    stub.add_response("cancel_statement", {"Status": True}, {"Id": BATCH_ID})
    subs = [_sub(n) for n in range(1, len(_expected_batch_sqls()) + 1)]
    _describe(stub, BATCH_ID, "FINISHED", SubStatements=subs)
    _counts(stub)

    result = _warehouse(client, clock, timeout_s=1.0).load("r1", [LOAD])

    assert result.rows_total["dim_date"] == 366  # not an error: the data is in the warehouse


def test_query_maps_typed_fields_across_pages(redshift: tuple[Any, Stubber], clock: FakeClock) -> None:
    client, stub = redshift
    _execute(stub, Q1_ID, "SELECT 1")
    _describe(stub, Q1_ID, "PICKED")
    _describe(stub, Q1_ID, "FINISHED", HasResultSet=True)
    page1 = [[{"longValue": 1}, {"stringValue": "a"}, {"doubleValue": 1.5}, {"booleanValue": True}]]
    page2 = [[{"longValue": 2}, {"isNull": True}, {"doubleValue": -0.25}, {"booleanValue": False}]]
    stub.add_response("get_statement_result", {"Records": page1, "NextToken": "t"}, {"Id": Q1_ID})
    stub.add_response("get_statement_result", {"Records": page2}, {"Id": Q1_ID, "NextToken": "t"})

    rows = _warehouse(client, clock).query("SELECT 1")

    assert rows == [(1, "a", 1.5, True), (2, None, -0.25, False)]


def test_query_failure_surfaces_the_engine_message(redshift: tuple[Any, Stubber], clock: FakeClock) -> None:
    client, stub = redshift
    _execute(stub, Q2_ID)
    _describe(stub, Q2_ID, "FAILED", Error='ERROR: relation "nope" does not exist')

    with pytest.raises(EngineError, match='relation "nope" does not exist'):
        _warehouse(client, clock).query("SELECT * FROM nope")


class FakeStore:
    """The ObjectStore methods the adapters use."""

    def __init__(self, objects: dict[str, list[str]] | None = None, tails: dict[str, bytes] | None = None) -> None:
        self.objects = objects or {}
        self.tails = tails or {}
        self.deleted: list[str] = []
        self.tail_reads: list[tuple[str, int]] = []

    def list(self, prefix_uri: str) -> Iterator[ObjectInfo]:
        return iter([ObjectInfo(uri, len(self.tails.get(uri, b"x")), "e") for uri in self.objects.get(prefix_uri, [])])

    def get_tail(self, uri: str, max_bytes: int) -> bytes:
        self.tail_reads.append((uri, max_bytes))
        return self.tails[uri][-max_bytes:]

    def delete_prefix(self, prefix_uri: str) -> int:
        self.deleted.append(prefix_uri)
        return 3


def test_a_prefix_without_parquet_is_refused_before_any_statement(
    redshift: tuple[Any, Stubber], clock: FakeClock
) -> None:
    """COPY fails on a prefix matching no object; Clean writes a file per table (an empty one too): a missing batch."""
    client, stub = redshift
    store = FakeStore({LOAD.location: ["s3://lake/curated/dim_date/run=r1/_SUCCESS"]})

    with pytest.raises(BatchMissing, match=r"run r1: no Parquet file for table dim_date under s3://lake/curated/"):
        _warehouse(client, clock, store=store).load("r1", [LOAD])
    stub.assert_no_pending_responses()  # no response queued, none consumed: no DDL, no batch ran


def test_default_clients_retry_throttling_adaptively() -> None:
    warehouse = RedshiftDataApiWarehouse(workgroup_name="wg", database="db", iam_role_arn=ROLE)
    engine = AthenaSqlEngine("primary", "covid_raw", "s3://results/")
    for client in (warehouse.client, engine.client):
        # botocore normalises max_attempts (retries) into total_max_attempts (first call + retries).
        assert client.meta.config.retries == {"total_max_attempts": 11, "mode": "adaptive"}
        assert client.meta.region_name == REGION


def test_warehouse_needs_exactly_one_target() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        RedshiftDataApiWarehouse(database="db", iam_role_arn=ROLE, client=object())


# -- Athena ---------------------------------------------------------------------------------------


def _engine(client: Any, clock: FakeClock, store: FakeStore | None = None, **kwargs: Any) -> AthenaSqlEngine:
    return AthenaSqlEngine(
        "primary", "covid_raw", "s3://results/", client=client, s3_store=store, sleep=clock.sleep, clock=clock, **kwargs
    )


def _start_query(stub: Stubber, execution_id: str, sql: Any = ANY) -> None:
    stub.add_response(
        "start_query_execution",
        {"QueryExecutionId": execution_id},
        {
            "QueryString": sql,
            "WorkGroup": "primary",
            "QueryExecutionContext": {"Database": "covid_raw"},
            "ResultConfiguration": {"OutputLocation": "s3://results/"},
        },
    )


def _state(stub: Stubber, execution_id: str, state: str, **status: Any) -> None:
    stub.add_response(
        "get_query_execution",
        {"QueryExecution": {"QueryExecutionId": execution_id, "Status": {"State": state, **status}}},
        {"QueryExecutionId": execution_id},
    )


def _columns(*types: str) -> dict[str, Any]:
    return {"ColumnInfo": [{"Name": f"c{i}", "Type": t} for i, t in enumerate(types)]}


def _row(*values: str | None) -> dict[str, Any]:
    return {"Data": [{} if v is None else {"VarCharValue": v} for v in values]}


def test_athena_query_polls_and_paginates(athena: tuple[Any, Stubber], clock: FakeClock) -> None:
    client, stub = athena
    _start_query(stub, "qe-1", "SELECT n, name, share, ok FROM t")
    _state(stub, "qe-1", "QUEUED")
    _state(stub, "qe-1", "RUNNING")
    _state(stub, "qe-1", "SUCCEEDED")
    meta = _columns("bigint", "varchar", "double", "boolean")
    page1 = {"Rows": [_row("n", "name", "share", "ok"), _row("1", "Ohio", "0.5", "true")], "ResultSetMetadata": meta}
    page2 = {"Rows": [_row("2", None, "1e3", "false")], "ResultSetMetadata": meta}
    stub.add_response("get_query_results", {"ResultSet": page1, "NextToken": "p2"}, {"QueryExecutionId": "qe-1"})
    stub.add_response("get_query_results", {"ResultSet": page2}, {"QueryExecutionId": "qe-1", "NextToken": "p2"})

    rows = _engine(client, clock).query("SELECT n, name, share, ok FROM t")

    # Only the first page's first row is the header; the second page starts with data.
    assert rows == [(1, "Ohio", 0.5, True), (2, None, 1000.0, False)]
    assert clock.sleeps == [1.0, 1.0]


def test_athena_failure_carries_reason_and_athena_error(athena: tuple[Any, Stubber], clock: FakeClock) -> None:
    client, stub = athena
    _start_query(stub, "qe-2")
    _state(
        stub,
        "qe-2",
        "FAILED",
        StateChangeReason="COLUMN_NOT_FOUND: line 1:8: Column 'x' cannot be resolved",
        AthenaError={"ErrorCategory": 2, "ErrorType": 1006, "ErrorMessage": "Column 'x' cannot be resolved"},
    )

    with pytest.raises(EngineError) as caught:
        _engine(client, clock).query("SELECT x FROM t")
    assert "qe-2 FAILED: COLUMN_NOT_FOUND: line 1:8: Column 'x' cannot be resolved" in str(caught.value)
    assert "; Column 'x' cannot be resolved" in str(caught.value)


def test_athena_cancelled_is_an_engine_error(athena: tuple[Any, Stubber], clock: FakeClock) -> None:
    client, stub = athena
    _start_query(stub, "qe-3")
    _state(stub, "qe-3", "CANCELLED", StateChangeReason="Query cancelled by user")

    with pytest.raises(EngineError, match="qe-3 CANCELLED: Query cancelled by user"):
        _engine(client, clock).query("SELECT 1")


def test_athena_deadline_stops_the_query(athena: tuple[Any, Stubber], clock: FakeClock) -> None:
    client, stub = athena
    _start_query(stub, "qe-4")
    for _ in range(3):
        _state(stub, "qe-4", "RUNNING")
    stub.add_response("stop_query_execution", {}, {"QueryExecutionId": "qe-4"})
    _state(stub, "qe-4", "CANCELLED")  # the settle poll: how the stopped query ended

    with pytest.raises(EngineError, match="qe-4 did not finish within 2 s"):
        _engine(client, clock, timeout_s=2.0).query("SELECT 1")
    assert clock.now == 3.0  # the deadline, then one settle poll that saw it CANCELLED


def test_unload_empties_destination_then_reports_update_count(athena: tuple[Any, Stubber], clock: FakeClock) -> None:
    client, stub = athena
    store = FakeStore()
    sql = "UNLOAD (SELECT 1 AS a) TO 's3://lake/staged/jhu/o''brien/' WITH (format = 'PARQUET', compression = 'SNAPPY')"
    _start_query(stub, "qe-5", sql)
    _state(stub, "qe-5", "SUCCEEDED")
    stub.add_response(
        "get_query_results",
        {"UpdateCount": 1234, "ResultSet": {"Rows": []}},
        {"QueryExecutionId": "qe-5", "MaxResults": 1},
    )

    written = _engine(client, clock, store).unload("SELECT 1 AS a;\n", "s3://lake/staged/jhu/o'brien")

    assert written == 1234
    assert store.deleted == ["s3://lake/staged/jhu/o'brien/"]


def _parquet(rows: int) -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table({"a": list(range(rows)), "b": ["x" * 3] * rows}), buf, row_group_size=500)
    return buf.getvalue()


def test_unload_without_an_update_count_reads_the_parquet_footers_not_the_query_again(
    athena: tuple[Any, Stubber], clock: FakeClock
) -> None:
    client, stub = athena
    _start_query(stub, "qe-6")
    _state(stub, "qe-6", "SUCCEEDED")
    stub.add_response("get_query_results", {"ResultSet": {"Rows": []}}, {"QueryExecutionId": "qe-6", "MaxResults": 1})
    # No second StartQueryExecution is stubbed: a count query (a second scan of the input) would fail here.
    files = {"s3://lake/staged/x/part-0": _parquet(1200), "s3://lake/staged/x/part-1": _parquet(42)}
    store = FakeStore({"s3://lake/staged/x/": list(files)}, tails=files)

    assert _engine(client, clock, store).unload("SELECT 1 AS a", "s3://lake/staged/x/") == 1242
    assert store.tail_reads == [("s3://lake/staged/x/part-0", 65536), ("s3://lake/staged/x/part-1", 65536)]


def test_unload_without_a_store_refuses_before_running(athena: tuple[Any, Stubber], clock: FakeClock) -> None:
    client, _ = athena
    with pytest.raises(EngineError, match="s3_store"):
        _engine(client, clock).unload("SELECT 1", "s3://lake/x/")
