"""A local warehouse made by an older contract: a renamed column is migrated, any other difference refused clearly."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from covid_pipeline.adapters.local.object_store import LocalObjectStore
from covid_pipeline.adapters.local.warehouse import DuckDbWarehouse, create_table_sql
from covid_pipeline.ports import EngineError, TableLoad
from covid_pipeline.schema import TABLES
from tests.helpers import write_table_parquet

OLD_TESTING = create_table_sql(TABLES["fact_testing_daily"]).replace(" deaths BIGINT", " death BIGINT")
ROW = {"region_key": 1, "date_key": 20200412, "positive": 10, "deaths": 3, "feed": "ctp_states_daily",
       "precedence": 0, "source_object": "s3://raw/ctp.csv"}  # fmt: skip


def _warehouse(tmp_path: Path, old_ddl: str) -> DuckDbWarehouse:
    path = tmp_path / "home" / "warehouse.duckdb"
    path.parent.mkdir(parents=True)
    with duckdb.connect(str(path)) as con:
        con.execute(old_ddl)
        deaths = "death" if " death " in old_ddl else "deaths"
        con.execute(f"INSERT INTO fact_testing_daily (region_key, date_key, {deaths}, feed, precedence, source_object) "
                    "VALUES (2, 20200411, 7, 'ctp_states_daily', 0, 's3://raw/old.csv')")  # fmt: skip
    return DuckDbWarehouse(path, LocalObjectStore(tmp_path / "store"))


def _load_testing_row(warehouse: DuckDbWarehouse, tmp_path: Path) -> None:
    regions = [{"region_key": k, "level": "state", "country_region": "US", "precedence": 0} for k in (1, 2)]
    dates = [{"date_key": d, "date": f"2020-04-{d % 100}", "year": 2020, "quarter": 2, "month": 4, "day": d % 100,
              "day_of_week": 1, "week_of_year": 15, "is_weekend": False} for d in (20200411, 20200412)]  # fmt: skip
    run = tmp_path / "store" / "s3" / "lake" / "run-1"
    write_table_parquet(run / "dim_date", "dim_date", dates)
    write_table_parquet(run / "dim_region", "dim_region", regions)
    write_table_parquet(run / "fact_testing_daily", "fact_testing_daily", [ROW])
    names = ("dim_date", "dim_region", "fact_testing_daily")
    warehouse.load("run-1", [TableLoad(name, f"s3://lake/run-1/{name}/") for name in names])


def test_a_warehouse_with_ctps_death_column_is_migrated_to_deaths(tmp_path: Path) -> None:
    assert '"death"' not in OLD_TESTING
    assert " death BIGINT" in OLD_TESTING
    warehouse = _warehouse(tmp_path, OLD_TESTING)
    _load_testing_row(warehouse, tmp_path)
    # The old row keeps its value under the new name; the new row loads.
    assert warehouse.query("SELECT region_key, deaths FROM fact_testing_daily ORDER BY 1") == [(1, 3), (2, 7)]


def test_a_warehouse_of_another_shape_is_refused_with_what_differs(tmp_path: Path) -> None:
    odd = OLD_TESTING.replace(" death BIGINT", " death BIGINT, extra_column BIGINT")
    warehouse = _warehouse(tmp_path, odd.replace(" death BIGINT,", " deaths BIGINT,"))
    with pytest.raises(EngineError, match=r"fact_testing_daily does not match the schema contract .*"
                       r"unknown columns \['extra_column'\].*another --home"):  # fmt: skip
        _load_testing_row(warehouse, tmp_path)
