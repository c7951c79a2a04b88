"""new_confirmed/new_deaths are derived by the warehouse across loads (DuckDB warehouse, real SQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from covid_pipeline.adapters.local.object_store import LocalObjectStore
from covid_pipeline.adapters.local.warehouse import DuckDbWarehouse, create_table_sql
from covid_pipeline.ports import TableLoad
from covid_pipeline.schema import TABLES
from tests.helpers import write_table_parquet

JHU = "s3://raw/enigma-jhu/csv/{}.csv"


def _load(warehouse: DuckDbWarehouse, root: Path, run: str, days: dict[int, tuple[int | None, int]]) -> None:
    """Load one batch: {date_key: (confirmed, deaths)} for region 1 (jhu) and region 2 (nyt, confirmed x2)."""
    folder = root / run
    dates = [
        {"date_key": d, "date": f"{str(d)[:4]}-{str(d)[4:6]}-{str(d)[6:]}", "year": 2020, "quarter": 1,
         "month": 1, "day": 1, "day_of_week": 1, "week_of_year": 1, "is_weekend": False}
        for d in days
    ]  # fmt: skip
    regions = [{"region_key": k, "level": "state", "country_region": "US", "precedence": 0} for k in (1, 2)]
    facts = [
        {"region_key": 1, "date_key": d, "source": "jhu", "confirmed": c, "deaths": x, "feed": "jhu_daily",
         "precedence": 0, "source_object": JHU.format(d)}
        for d, (c, x) in days.items()
    ] + [
        {"region_key": 2, "date_key": d, "source": "nyt", "confirmed": None if c is None else 2 * c, "deaths": x,
         "feed": "nyt_us_county", "precedence": 0, "source_object": "s3://raw/nyt.csv"}
        for d, (c, x) in days.items()
    ]  # fmt: skip
    write_table_parquet(folder / "dim_date", "dim_date", dates)
    write_table_parquet(folder / "dim_region", "dim_region", regions)
    write_table_parquet(folder / "fact_cases_daily", "fact_cases_daily", facts)
    store_uri = f"s3://lake/{run}/"
    loads = [TableLoad(name, store_uri + name + "/") for name in ("dim_date", "dim_region", "fact_cases_daily")]
    warehouse.load(run, loads)


def _series(warehouse: DuckDbWarehouse) -> list[tuple]:
    return warehouse.query("SELECT region_key, date_key, new_confirmed, new_deaths FROM fact_cases_daily ORDER BY 1, 2")


def test_differences_use_days_of_earlier_loads_and_a_late_day_fixes_the_next(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    warehouse = DuckDbWarehouse(tmp_path / "w.duckdb", store)
    lake = store.path("s3://lake/")
    _load(warehouse, lake, "r1", {20200101: (10, 1), 20200103: (30, 3)})
    assert _series(warehouse) == [
        (1, 20200101, None, None), (1, 20200103, 20, 2),
        (2, 20200101, None, None), (2, 20200103, 40, 2),
    ]  # fmt: skip
    # A later load brings the next day: its difference is taken from the day already loaded.
    _load(warehouse, lake, "r2", {20200104: (35, 3)})
    # A late file brings a day in the middle: it gets its own difference and the day after is fixed.
    _load(warehouse, lake, "r3", {20200102: (25, 2)})
    assert _series(warehouse) == [
        (1, 20200101, None, None), (1, 20200102, 15, 1), (1, 20200103, 5, 1), (1, 20200104, 5, 0),
        (2, 20200101, None, None), (2, 20200102, 30, 1), (2, 20200103, 10, 1), (2, 20200104, 10, 0),
    ]  # fmt: skip
    # A correction of a day (same key, new value) moves its own difference and the next day's.
    _load(warehouse, lake, "r4", {20200103: (28, 3)})
    assert _series(warehouse)[1:4] == [(1, 20200102, 15, 1), (1, 20200103, 3, 1), (1, 20200104, 7, 0)]
    # A null count gives null differences on both sides, as Clean used to within one batch.
    _load(warehouse, lake, "r5", {20200104: (None, 3)})
    assert _series(warehouse)[3] == (1, 20200104, None, 0)


def test_loading_day_by_day_equals_loading_everything_at_once(tmp_path: Path) -> None:
    days = {20200101 + i: (10 * i + (i % 3), i) for i in range(9)}
    store = LocalObjectStore(tmp_path)
    lake = store.path("s3://lake/")
    together = DuckDbWarehouse(tmp_path / "together.duckdb", store)
    _load(together, lake, "all", days)
    one_by_one = DuckDbWarehouse(tmp_path / "one_by_one.duckdb", store)
    for day in [20200105, 20200101, 20200109, 20200103, 20200102, 20200104, 20200108, 20200106, 20200107]:
        _load(one_by_one, lake, f"d{day}", {day: days[day]})
    assert _series(one_by_one) == _series(together)


@pytest.mark.parametrize("order", [("jhu", "nyt"), ("nyt", "jhu")])
def test_a_batch_that_lacks_an_attribute_does_not_erase_it_and_the_order_does_not_matter(
    tmp_path: Path, order: tuple[str, str]
) -> None:
    """dim_region keeps known values (merge_keeps_known): an NYT-only batch knows no coordinates. Where two feeds
    know an attribute, the one of lower precedence wins whichever was loaded first (schema.DIM_REGION.precedence)."""
    store = LocalObjectStore(tmp_path)
    warehouse = DuckDbWarehouse(tmp_path / "w.duckdb", store)
    lake = store.path("s3://lake/")
    batches = {
        "jhu": {"latitude": 40.7, "longitude": -74.0, "fips": None, "population": None, "precedence": 1},
        "nyt": {"latitude": 41.0, "longitude": None, "fips": "36061", "population": 8, "precedence": 3},
    }
    for run in order:
        row = {"region_key": 7, "level": "county", "country_region": "US", "county": "New York City", **batches[run]}
        write_table_parquet(lake / run / "dim_region", "dim_region", [row])
        warehouse.load(run, [TableLoad("dim_region", f"s3://lake/{run}/dim_region/")])
    assert warehouse.query("SELECT latitude, longitude, fips, population, precedence FROM dim_region") == [
        (40.7, -74.0, "36061", 8, 1)
    ]


def test_a_batch_that_matches_no_loaded_row_is_inserted_with_the_same_result_as_a_merge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB's MERGE inserted 7 M new rows in 11 s, its INSERT ... SELECT in 6: a batch none of whose rows
    matches a loaded one (a first load, a new day) is inserted. The tables are those of a MERGE, load after load."""
    from covid_pipeline.adapters.local import warehouse as module

    batches = [
        ("r1", {20200101: (1, 0), 20200102: (3, 1), 20200104: (None, 1)}),  # first load: inserted
        ("r2", {20200105: (10, 2), 20200106: (12, 2)}),  # new days: inserted
        ("r3", {20200103: (5, 1), 20200106: (13, 3)}),  # a late day and a changed one: merged
    ]
    tables = ("fact_cases_daily", "dim_date", "dim_region")

    def load_all(folder: Path, merge_only: bool) -> tuple[dict[str, list[tuple]], list[str]]:
        store = LocalObjectStore(folder)
        warehouse = DuckDbWarehouse(folder / "w.duckdb", store)
        ran: list[str] = []

        def merge(table: Any, staging: str) -> str:
            ran.append(f"merge {table.name}")
            return real_merge(table, staging)

        def insert(table: Any, staging: str, day_over_day: bool = False) -> str:
            # A table the load creates takes its differences in the INSERT (nothing to MERGE with): compared with
            # the UPDATE's by test_a_first_load_derives_what_the_update_derives_on_tables_that_exist.
            if merge_only and not day_over_day:
                return merge(table, staging)
            ran.append(f"{'first insert' if day_over_day else 'insert'} {table.name}")
            return real_insert(table, staging, day_over_day)

        with monkeypatch.context() as patched:
            patched.setattr(module, "merge_sql", merge)
            patched.setattr(module, "insert_sql", insert)
            for run, days in batches:
                _load(warehouse, store.path("s3://lake/"), run, days)
        return {name: warehouse.query(f"SELECT * FROM {name} ORDER BY ALL") for name in tables}, ran

    real_merge, real_insert = module.merge_sql, module.insert_sql
    inserted, ran = load_all(tmp_path / "insert", merge_only=False)
    facts = [step for step in ran if step.endswith("fact_cases_daily")]
    assert facts == ["first insert fact_cases_daily", "insert fact_cases_daily", "merge fact_cases_daily"]
    merged, ran = load_all(tmp_path / "merge", merge_only=True)
    assert all(step.startswith(("merge", "first insert")) for step in ran)
    assert [step for step in ran if step.endswith("fact_cases_daily")][1:] == ["merge fact_cases_daily"] * 2
    assert inserted == merged
    assert len(inserted["fact_cases_daily"]) == 12


def test_a_first_load_derives_what_the_update_derives_on_tables_that_exist(tmp_path: Path) -> None:
    """A load that creates the table inserts the differences taken within the batch; onto tables that exist (here
    empty, made by the contract's DDL) the same batch is inserted, then updated: the same rows either way."""
    store = LocalObjectStore(tmp_path)
    lake = store.path("s3://lake/")
    days = {20200101: (10, 1), 20200103: (None, 3), 20200104: (35, 2), 20200102: (12, 1), 20200107: (40, 5)}
    fresh = DuckDbWarehouse(tmp_path / "fresh" / "w.duckdb", store)
    made = tmp_path / "made" / "w.duckdb"
    made.parent.mkdir()
    with duckdb.connect(str(made)) as con:
        for table in TABLES.values():
            con.execute(create_table_sql(table))
    existing = DuckDbWarehouse(made, store)
    _load(fresh, lake, "r1", days)
    _load(existing, lake, "r1", days)
    rows = "SELECT * FROM fact_cases_daily ORDER BY region_key, date_key"
    assert fresh.query(rows) == existing.query(rows)
    assert _series(fresh) == [
        (1, 20200101, None, None), (1, 20200102, 2, 0), (1, 20200103, None, 2), (1, 20200104, None, -1),
        (1, 20200107, 5, 3),
        (2, 20200101, None, None), (2, 20200102, 4, 0), (2, 20200103, None, 2), (2, 20200104, None, -1),
        (2, 20200107, 10, 3),
    ]  # fmt: skip
