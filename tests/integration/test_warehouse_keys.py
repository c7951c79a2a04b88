"""The local warehouse's primary keys: a first load adds them after its rows (DuckDB builds the index at once), and
ends with the tables create_table_sql makes; a duplicate key is refused, first load or later, and nothing of the
load is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from covid_pipeline.adapters.local.object_store import LocalObjectStore
from covid_pipeline.adapters.local.warehouse import DuckDbWarehouse, create_table_sql
from covid_pipeline.ports import EngineError, TableLoad
from covid_pipeline.schema import TABLES
from tests.helpers import write_table_parquet

REGIONS = [{"region_key": k, "level": "state", "country_region": "US", "precedence": 0} for k in (1, 2)]
DATES = [{"date_key": d, "date": f"2020-04-{d % 100}", "year": 2020, "quarter": 2, "month": 4, "day": d % 100,
          "day_of_week": 1, "week_of_year": 15, "is_weekend": False} for d in (20200411, 20200412)]  # fmt: skip


def _testing(region_key: int, date_key: int, positive: int) -> dict[str, Any]:
    return {"region_key": region_key, "date_key": date_key, "positive": positive, "deaths": 1,
            "feed": "ctp_states_daily", "precedence": 0, "source_object": "s3://raw/ctp.csv"}  # fmt: skip


def _load(warehouse: DuckDbWarehouse, store: Path, run: str, testing: list[dict[str, Any]]) -> None:
    batch = store / "s3" / "lake" / run
    write_table_parquet(batch / "dim_date", "dim_date", DATES)
    write_table_parquet(batch / "dim_region", "dim_region", REGIONS)
    write_table_parquet(batch / "fact_testing_daily", "fact_testing_daily", testing)
    names = ("dim_date", "dim_region", "fact_testing_daily")
    warehouse.load(run, [TableLoad(name, f"s3://lake/{run}/{name}/") for name in names])


def _shape(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Every table's columns (name, type, nullable, in order) and constraints (kind, columns)."""
    columns = con.execute(
        "SELECT table_name, column_index, column_name, data_type, is_nullable FROM duckdb_columns() "
        "WHERE NOT internal ORDER BY ALL"
    ).fetchall()
    constraints = con.execute(
        "SELECT table_name, constraint_type, constraint_column_names FROM duckdb_constraints() ORDER BY ALL"
    ).fetchall()
    return {"columns": columns, "constraints": constraints}


@pytest.fixture
def warehouse(tmp_path: Path) -> DuckDbWarehouse:
    return DuckDbWarehouse(tmp_path / "home" / "warehouse.duckdb", LocalObjectStore(tmp_path / "store"))


def test_a_first_load_leaves_the_tables_the_contracts_ddl_makes(warehouse: DuckDbWarehouse, tmp_path: Path) -> None:
    _load(warehouse, tmp_path / "store", "run-1", [_testing(1, 20200411, 5), _testing(2, 20200411, 6)])
    contract = duckdb.connect()
    for table in TABLES.values():
        contract.execute(create_table_sql(table))
    with duckdb.connect(str(warehouse.path), read_only=True) as con:
        loaded = _shape(con)
    assert loaded == _shape(contract)
    assert ("fact_testing_daily", "PRIMARY KEY", ["region_key", "date_key"]) in loaded["constraints"]


def test_a_duplicate_key_in_a_first_load_is_refused_and_nothing_is_kept(
    warehouse: DuckDbWarehouse, tmp_path: Path
) -> None:
    with pytest.raises(EngineError, match=r"rolled back: .*(PRIMARY KEY|primary key).*"):
        _load(warehouse, tmp_path / "store", "run-1", [_testing(1, 20200411, 5), _testing(1, 20200411, 6)])
    with duckdb.connect(str(warehouse.path), read_only=True) as con:
        assert con.execute("SELECT table_name FROM duckdb_tables()").fetchall() == []


def test_a_duplicate_key_in_a_later_load_is_refused_and_the_loaded_rows_stay(
    warehouse: DuckDbWarehouse, tmp_path: Path
) -> None:
    _load(warehouse, tmp_path / "store", "run-1", [_testing(1, 20200411, 5)])
    with pytest.raises(EngineError, match=r"rolled back: .*(PRIMARY KEY|primary key).*"):
        _load(warehouse, tmp_path / "store", "run-2", [_testing(2, 20200412, 7), _testing(2, 20200412, 8)])
    assert warehouse.query("SELECT region_key, date_key, positive FROM fact_testing_daily") == [(1, 20200411, 5)]
