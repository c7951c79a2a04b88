"""Helpers used by tests of several kinds."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from covid_pipeline.adapters.local.warehouse import DUCKDB_TYPES
from covid_pipeline.schema import TABLES

ROOT = Path(__file__).resolve().parents[1]
# Column types as Parquet columns, by name: feeds.py's staged types, which are also Spark's simpleString.
ARROW_TYPES = {
    "string": pa.string(),
    "bigint": pa.int64(),
    "int": pa.int32(),
    "double": pa.float64(),
    "date": pa.date32(),
    "boolean": pa.bool_(),
}


def load_handler(step: str) -> ModuleType:
    """Import functions/<step>/app.py as its own module, as Lambda does."""
    path = ROOT / "functions" / step / "app.py"
    spec = importlib.util.spec_from_file_location(f"test_fn_{step}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeLambdaContext:
    function_name = "test-function"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:test-function"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def write_table_parquet(path: Path, table: str, rows: list[dict[str, Any]]) -> None:
    """Write rows as Parquet with exactly the contract's file columns and types (as Clean does)."""
    contract = TABLES[table]
    path.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    cols = contract.file_columns
    con.execute("CREATE TABLE t (" + ", ".join(f"{c.name} {DUCKDB_TYPES[c.type]}" for c in cols) + ")")
    for row in rows:
        con.execute(f"INSERT INTO t VALUES ({', '.join('?' for _ in cols)})", [row.get(c.name) for c in cols])
    con.execute(f"COPY t TO '{path / 'part-00000.parquet'}' (FORMAT PARQUET)")
    con.close()


# Fake credentials and a region for tests of AWS code (moto, Stubber): never real ones, and the
# shared config/credentials files pointed away so no local profile leaks in.
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-2",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def use_fake_aws(mp: pytest.MonkeyPatch) -> None:
    for name, value in FAKE_AWS_ENV.items():
        mp.setenv(name, value)
    mp.delenv("AWS_PROFILE", raising=False)


def invoke(step: str, event: dict[str, Any]) -> dict[str, Any]:
    """functions/<step>/app.py's handler, invoked as Lambda would (configuration from the environment)."""
    return load_handler(step).lambda_handler(event, FakeLambdaContext())


def check_dim_region_is_honest(db: Any) -> dict[str, int]:
    """One region per FIPS, only documented levels, no ship or count posing as a US state: rows per level."""
    from covid_pipeline.schema import REGION_LEVELS

    shared = db.execute("SELECT fips, count(*) FROM dim_region WHERE fips IS NOT NULL GROUP BY 1 HAVING count(*) > 1")
    assert shared.fetchall() == []
    per_level = dict(db.execute("SELECT level, count(*) FROM dim_region GROUP BY 1").fetchall())
    assert set(per_level) <= set(REGION_LEVELS), sorted(set(per_level) - set(REGION_LEVELS))
    not_states = db.execute(
        "SELECT province_state, level FROM dim_region WHERE country_region = 'US' AND county IS NULL "
        "AND province_state IN ('Diamond Princess', 'Grand Princess', 'Recovered') ORDER BY 1"
    ).fetchall()
    assert not_states == [("Diamond Princess", "ship"), ("Grand Princess", "ship"), ("Recovered", "aggregate")]
    return per_level
