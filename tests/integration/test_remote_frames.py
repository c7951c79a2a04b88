"""``covid_pipeline.remote.frames.read_sql``: a deployed stack's warehouse into a DataFrame, against the stack
faked with moto (tests/fake_stack.py): Redshift through the fake Data API answering from a DuckDB warehouse
(awswrangler calls the same redshift-data client methods as the CLI), Athena through moto's results queue.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from moto import mock_aws

from covid_pipeline.ports import PipelineError
from covid_pipeline.remote.frames import read_sql
from tests.fake_stack import MOTO_CONFIG, NAMES, REGION, SECRET_ARN, STACK, DuckDbDataApi, make_stack
from tests.helpers import use_fake_aws
from tests.integration.test_remote_views import GAPS, RefusingDataApi, _queue_athena_result
from tests.unit.test_report import make_home


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_home(tmp_path_factory.mktemp("frames") / "home") / "warehouse.duckdb"


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch):
    use_fake_aws(monkeypatch)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)  # read_sql's region= must be what counts
    with mock_aws(config=MOTO_CONFIG):
        yield make_stack()


def _local(warehouse: Path, sql: str) -> tuple[list[str], list[tuple]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cursor = con.execute(sql)
        return [d[0] for d in cursor.description or []], cursor.fetchall()
    finally:
        con.close()


def _values(frame: pd.DataFrame) -> list[tuple]:
    """The frame's rows as plain values, None for a missing one (NaN, NA, NaT)."""
    return [tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False, name=None)]


def test_redshift_into_a_dataframe(stack, warehouse: Path, monkeypatch) -> None:
    fake = DuckDbDataApi(warehouse)
    fake.install(monkeypatch)
    frame = read_sql(GAPS, stack=STACK, region=REGION)
    names, rows = _local(warehouse, GAPS)
    assert list(frame.columns) == names
    # awswrangler's frame of plain values: an integer column with a NULL is float64, a DATE a string.
    assert frame["confirmed"].dtype == "float64"
    assert _values(frame) == [
        (key, day.isoformat(), None if c is None else float(c), None if d is None else float(d))
        for key, day, c, d in rows
    ]
    assert None in {r[2] for r in rows}  # the data has the NULL the dtype note is about
    (sent,) = fake.sent
    assert (sent["WorkgroupName"], sent["Database"], sent["SecretArn"]) == (
        NAMES["redshift_workgroup"],
        NAMES["redshift_database"],
        SECRET_ARN,
    )


def test_athena_into_a_dataframe(stack, warehouse: Path) -> None:
    _queue_athena_result(warehouse, GAPS)
    frame = read_sql(GAPS, stack=STACK, engine="athena", region=REGION)
    names, rows = _local(warehouse, GAPS)
    assert list(frame.columns) == names
    # numpy_nullable (awswrangler's default dtype_backend): nullable integers stay integers, dates are dates.
    assert str(frame["confirmed"].dtype) == "Int64"
    assert _values(frame) == rows
    assert isinstance(frame["date"].iloc[0], date)


def test_a_failed_statement_is_one_line(stack, monkeypatch) -> None:
    DuckDbDataApi(fail='ERROR: relation "nope"\n  does not exist').install(monkeypatch)
    with pytest.raises(PipelineError) as raised:
        read_sql("SELECT * FROM nope", stack=STACK, region=REGION)
    assert str(raised.value) == 'Redshift statement FAILED: ERROR: relation "nope" does not exist'


def test_a_refused_connection_names_the_workgroup_state(stack, monkeypatch) -> None:
    RefusingDataApi("ValidationException", "MODIFYING").install(monkeypatch)
    with pytest.raises(PipelineError, match=f"workgroup {NAMES['redshift_workgroup']} is MODIFYING, not AVAILABLE"):
        read_sql("SELECT 1", stack=STACK, region=REGION)


def test_a_missing_permission_is_one_line_as_in_the_cli(stack, monkeypatch) -> None:
    # Not a Data API error of its own: the CLI's aws_errors.explain says it, naming the action.
    user = "arn:aws:iam::123456789012:user/analyst"
    # IAM's documented message (aws_errors.NOT_AUTHORIZED cites it).
    message = (
        f"User: {user} is not authorized to perform: redshift-data:ExecuteStatement on resource: "
        f"arn:aws:redshift-serverless:{REGION}:123456789012:workgroup/wg because no identity-based policy allows "
        "the redshift-data:ExecuteStatement action"
    )
    RefusingDataApi("AccessDeniedException", message=message).install(monkeypatch)
    with pytest.raises(PipelineError, match=f"^permission missing: {user} may not call redshift-data:ExecuteStatement"):
        read_sql("SELECT 1", stack=STACK, region=REGION)


def test_an_unknown_stack_or_engine_is_one_line(stack) -> None:
    with pytest.raises(PipelineError, match=f"^stack nope not found in {REGION}"):
        read_sql("SELECT 1", stack="nope", region=REGION)
    with pytest.raises(PipelineError, match=r"^engine 'duckdb': give one of 'redshift', 'athena'$"):
        read_sql("SELECT 1", stack=STACK, engine="duckdb", region=REGION)  # type: ignore[arg-type]
