"""merge_rules on the DuckDB warehouse: precedence between feeds whatever the load order, unchanged rows left alone."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot

from covid_pipeline.adapters.aws import redshift_sql as rs
from covid_pipeline.adapters.local.object_store import LocalObjectStore
from covid_pipeline.adapters.local.warehouse import DuckDbWarehouse
from covid_pipeline.merge_rules import matched_count_sql, matched_touch_sql, superseded_sql, unchanged_sql
from covid_pipeline.ports import TableLoad
from covid_pipeline.schema import TABLES
from tests.helpers import write_table_parquet

DAY = 20200201
DATE = {"date_key": DAY, "date": "2020-02-01", "year": 2020, "quarter": 1, "month": 2, "day": 1, "day_of_week": 6,
        "week_of_year": 5, "is_weekend": True}  # fmt: skip
REGION = {"region_key": 1, "level": "state", "country_region": "China", "province_state": "Hubei", "precedence": 0}
FEED_ROWS = {
    # A CSSE daily report and Enigma's copy of the same region and day: the report wins (precedence 0).
    "jhu_daily": {"confirmed": 7153, "deaths": 249, "precedence": 0, "source_object": "s3://raw/02-01-2020.csv"},
    "enigma_jhu": {"confirmed": 7153, "deaths": 250, "precedence": 1, "source_object": "s3://raw/Enigma-JHU.csv.gz"},
}


def _load(warehouse: DuckDbWarehouse, lake: Path, run: str, feed: str) -> dict[str, dict[str, int]]:
    fact = {"region_key": 1, "date_key": DAY, "source": "jhu", "feed": feed, **FEED_ROWS[feed]}
    write_table_parquet(lake / run / "dim_date", "dim_date", [DATE])
    write_table_parquet(lake / run / "dim_region", "dim_region", [REGION])
    write_table_parquet(lake / run / "fact_cases_daily", "fact_cases_daily", [fact])
    tables = ("dim_date", "dim_region", "fact_cases_daily")
    result = warehouse.load(run, [TableLoad(name, f"s3://lake/{run}/{name}/") for name in tables])
    return {name: dict(counts) for name, counts in result.changes.items()}


@pytest.mark.parametrize("order", [("jhu_daily", "enigma_jhu"), ("enigma_jhu", "jhu_daily")])
def test_the_feed_of_lower_precedence_wins_whatever_the_order(tmp_path: Path, order: tuple[str, str]) -> None:
    store = LocalObjectStore(tmp_path)
    warehouse = DuckDbWarehouse(tmp_path / "w.duckdb", store)
    lake = store.path("s3://lake/")
    first = _load(warehouse, lake, "r1", order[0])
    second = _load(warehouse, lake, "r2", order[1])
    assert warehouse.query("SELECT feed, deaths, new_deaths FROM fact_cases_daily") == [("jhu_daily", 249, None)]
    assert first["fact_cases_daily"] == {"superseded": 0, "unchanged": 0, "changed": 0, "new": 1}
    if order[0] == "jhu_daily":  # Enigma's row arrives second and loses
        assert second["fact_cases_daily"] == {"superseded": 1, "unchanged": 0, "changed": 0, "new": 0}
    else:  # the report arrives second and replaces Enigma's row
        assert second["fact_cases_daily"] == {"superseded": 0, "unchanged": 0, "changed": 1, "new": 0}
    # The dimensions were the same both times: left alone.
    assert second["dim_date"] == second["dim_region"] == {"superseded": 0, "unchanged": 1, "changed": 0, "new": 0}


def test_a_reload_of_the_same_batch_changes_nothing(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    warehouse = DuckDbWarehouse(tmp_path / "w.duckdb", store)
    lake = store.path("s3://lake/")
    _load(warehouse, lake, "r1", "jhu_daily")
    again = _load(warehouse, lake, "r2", "jhu_daily")
    assert again["fact_cases_daily"] == {"superseded": 0, "unchanged": 1, "changed": 0, "new": 0}


@pytest.mark.parametrize("name", ["fact_cases_daily", "fact_testing_daily", "dim_region", "dim_hospital"])
def test_the_statements_are_valid_redshift(name: str) -> None:
    """The same statements run in the Redshift batch: they parse as Redshift SQL, quoted as it quotes."""
    table = TABLES[name]
    statements = [superseded_sql(table, "stage_x", rs.quote), unchanged_sql(table, "stage_x", rs.quote)]
    statements += [matched_count_sql(table, "stage_x", rs.quote), matched_touch_sql(table, "stage_x", rs.quote)]
    statements.append(rs.merge_sql(table, "stage_x"))
    for sql in filter(None, statements):
        sqlglot.parse_one(sql, read="redshift")
    assert (superseded_sql(table, "s", rs.quote) is None) == (name in ("dim_region", "dim_hospital"))
