"""bench/checksums.py on a tiny DuckDB built from the contract (no Spark, no pipeline run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from bench.checksums import differences, duplicate_keys, row_counts, table_checksums, volatile_columns
from covid_pipeline.adapters.local.warehouse import DUCKDB_TYPES, create_table_sql
from covid_pipeline.schema import TABLES

RAW = "s3://raw/enigma-jhu/csv/"


def _fact(date_key: int, confirmed: int | None, new_confirmed: int | None, region: int = 1) -> dict[str, Any]:
    return {
        "region_key": region,
        "date_key": date_key,
        "source": "jhu",
        "confirmed": confirmed,
        "deaths": 0,
        "new_confirmed": new_confirmed,
        "new_deaths": 0,
        "feed": "jhu_daily",
        "precedence": 0,
        "source_object": f"{RAW}{date_key}.csv",
    }


def _audit(run: str, obj: str, rows_read: int, finished: str, etag: str = "e1") -> dict[str, Any]:
    return {
        "run_id": run,
        "source_object": obj,
        "dataset": "enigma-jhu",
        "source_etag": etag,
        "source_size": 10,
        "rows_read": rows_read,
        "rows_loaded": rows_read,
        "rows_rejected": 0,
        "started_at": finished,
        "finished_at": finished,
    }


def _warehouse(
    tables: dict[str, list[dict[str, Any]]], path: Path | None = None, keys: bool = True
) -> duckdb.DuckDBPyConnection:
    """A warehouse with the contract's DDL; ``keys=False`` drops the PRIMARY KEYs, as Redshift never enforces them."""
    con = duckdb.connect(str(path) if path else ":memory:")
    for name, rows in tables.items():
        table = TABLES[name]
        if keys:
            con.execute(create_table_sql(table))
        else:
            con.execute(
                f"CREATE TABLE {name} (" + ", ".join(f"{c.name} {DUCKDB_TYPES[c.type]}" for c in table.columns) + ")"
            )
        if rows:
            # Rows in the given order, in one statement (thousands of single INSERTs are slow).
            cols = list(rows[0])
            values = ", ".join("(" + ", ".join("?" for _ in cols) + ")" for _ in rows)
            con.execute(f"INSERT INTO {name} ({', '.join(cols)}) VALUES {values}", [r[c] for r in rows for c in cols])
    return con


FACTS = [_fact(20200412, 9, None), _fact(20200413, 12, 3), _fact(20200413, 5, None, region=2)]


def test_digest_does_not_depend_on_row_order() -> None:
    forward = table_checksums(_warehouse({"fact_cases_daily": FACTS}))
    backward = table_checksums(_warehouse({"fact_cases_daily": FACTS[::-1]}))
    assert forward == backward
    assert forward["fact_cases_daily"].rows == 3


@pytest.mark.parametrize(
    "changed",
    [
        _fact(20200413, 13, 3),  # a cumulative count
        _fact(20200413, 12, 4),  # a day-over-day column: warehouse-filled but data, so hashed
        _fact(20200413, None, 3),  # NULL is not 0
        _fact(20200413, 12, 3, region=3),  # a key
    ],
)
def test_digest_changes_with_any_value_that_is_data(changed: dict[str, Any]) -> None:
    base = table_checksums(_warehouse({"fact_cases_daily": FACTS}))
    other = table_checksums(_warehouse({"fact_cases_daily": [FACTS[0], changed, FACTS[2]]}))
    assert base["fact_cases_daily"] != other["fact_cases_daily"]
    assert differences(base, other) == [f"fact_cases_daily: {base['fact_cases_daily']} -> {other['fact_cases_daily']}"]


def test_run_identity_and_load_time_columns_are_left_out() -> None:
    assert volatile_columns(TABLES["load_audit"]) == ("finished_at", "run_id", "started_at")
    assert volatile_columns(TABLES["quarantine"]) == ("run_id",)
    assert volatile_columns(TABLES["fact_cases_daily"]) == ()
    quarantined = {"row_id": "r1", "feed": "jhu_daily", "source_object": f"{RAW}x.csv", "reason": "r", "record": "{}"}
    first = _warehouse(
        {
            "load_audit": [_audit("run-1", f"{RAW}a.csv", 5, "2020-01-01 00:00:00")],
            "quarantine": [{**quarantined, "run_id": "run-1"}],
        }
    )
    rerun = _warehouse(
        {
            "load_audit": [_audit("run-2", f"{RAW}a.csv", 5, "2021-06-30 12:00:00")],
            "quarantine": [{**quarantined, "run_id": "run-2"}],
        }
    )
    assert table_checksums(first) == table_checksums(rerun)


def test_load_audit_digest_covers_the_latest_row_of_each_object_version() -> None:
    a, b = f"{RAW}a.csv", f"{RAW}b.csv"
    once = _warehouse(
        {"load_audit": [_audit("run-2", a, 5, "2020-01-02 00:00:00"), _audit("run-2", b, 7, "2020-01-02")]}
    )
    # A re-run: older audit rows stay (with other counts), a newer version of b was loaded as well.
    history = [
        _audit("run-1", a, 4, "2020-01-01 00:00:00"),
        _audit("run-1", b, 6, "2020-01-01 00:00:00"),
        _audit("run-2", a, 5, "2020-01-02 00:00:00"),
        _audit("run-2", b, 7, "2020-01-02 00:00:00"),
    ]
    rerun = _warehouse({"load_audit": history})
    assert table_checksums(rerun) == table_checksums(once)
    assert table_checksums(rerun)["load_audit"].rows == 2
    assert row_counts(rerun) == {"load_audit": 4}
    newer_version = _warehouse({"load_audit": [*history, _audit("run-3", b, 7, "2020-01-03", etag="e2")]})
    assert table_checksums(newer_version)["load_audit"].rows == 3
    # The latest row of a version decides: a re-run reading fewer rows changes the digest.
    fewer = _warehouse({"load_audit": [*history, _audit("run-3", a, 3, "2020-01-03 00:00:00")]})
    assert table_checksums(fewer) != table_checksums(once)


def test_a_duplicated_row_is_counted_and_changes_the_digest() -> None:
    # Without PRIMARY KEYs (as on Redshift) a double load leaves two rows per key.
    single = _warehouse({"fact_cases_daily": FACTS}, keys=False)
    doubled = _warehouse({"fact_cases_daily": [*FACTS, FACTS[1]]}, keys=False)
    same_key = _warehouse({"fact_cases_daily": [*FACTS, _fact(20200413, 99, 90)]}, keys=False)
    assert duplicate_keys(single) == {"fact_cases_daily": 0}
    assert duplicate_keys(doubled) == {"fact_cases_daily": 1}
    assert duplicate_keys(same_key) == {"fact_cases_daily": 1}
    # A sum of row hashes, not a XOR: two equal rows do not cancel each other out.
    assert table_checksums(doubled)["fact_cases_daily"] != table_checksums(single)["fact_cases_daily"]
    assert table_checksums(doubled)["fact_cases_daily"].rows == 4


def test_a_path_is_opened_read_only_and_released(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    con = _warehouse({"fact_cases_daily": FACTS, "dim_date": []}, path=path)
    expected = table_checksums(con)
    con.close()
    assert table_checksums(path) == expected
    assert duplicate_keys(path) == {"dim_date": 0, "fact_cases_daily": 0}
    assert table_checksums(path, tables=["dim_date", "no_such_table"]) == {"dim_date": expected["dim_date"]}
    # The read-only connection is closed again: a loader can take the write lock.
    duckdb.connect(str(path)).close()


def test_an_empty_warehouse_has_no_checksums() -> None:
    con = duckdb.connect()
    assert table_checksums(con) == {}
    assert duplicate_keys(con) == {}


def test_the_digest_is_exact_whatever_the_row_order_of_many_rows() -> None:
    # Thousands of 64-bit row hashes: a floating-point sum would round differently per order (and
    # miss small changes); the digest must be an exact integer sum.
    rows = [_fact(20200101 + day, day * 7, day, region=region) for region in range(1, 41) for day in range(60)]
    forward = table_checksums(_warehouse({"fact_cases_daily": rows}))
    backward = table_checksums(_warehouse({"fact_cases_daily": rows[::-1]}))
    interleaved = table_checksums(_warehouse({"fact_cases_daily": rows[1::2] + rows[::2]}))
    assert forward == backward == interleaved
    assert forward["fact_cases_daily"].rows == 2400
