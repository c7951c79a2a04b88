"""build_star: every contract table, exact columns, every row accounted for, deterministic."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from covid_pipeline import schema
from covid_transforms.audit import MANIFEST_SCHEMA
from covid_transforms.contract import spark_type
from covid_transforms.star import build_star

pytestmark = pytest.mark.spark

STARTED = datetime(2024, 1, 1, tzinfo=UTC)
JHU_A = "s3://raw/enigma-jhu/csv/04-12-2020.csv"
JHU_B = "s3://raw/enigma-jhu/csv/04-13-2020.csv"
NYT = "s3://raw/enigma-nytimes-data-in-usa/csv/us_county/us-counties.csv"
CTP = "s3://raw/rearc-covid-19-testing-data/csv/states_daily/states_daily_4pm_et.2020-04-08.csv"
BEDS = "s3://raw/rearc-usa-hospital-beds/definitivehc.csv"


def _jhu(day: int, **values: Any) -> dict[str, Any]:
    row = {"admin2": "Ada", "province_state": "Idaho", "country_region": "US", "report_date": date(2020, 4, day)}
    return row | values


@pytest.fixture(scope="module")
def inputs(spark, staged, reference) -> dict[str, DataFrame]:
    """Every feed but hospital_beds, which has no file in this run."""
    return {
        "jhu_daily": staged("jhu_daily", [_jhu(12, confirmed=5), _jhu(12, admin2="Boise", confirmed=-1)], JHU_A)
        .unionByName(staged("jhu_daily", [_jhu(13, confirmed=7), _jhu(13, confirmed=8)], JHU_B)),
        "nyt_us_county": staged(
            "nyt_us_county",
            [{"date": date(2020, 4, 13), "county": "New York City", "state": "New York", "cases": 9, "deaths": 1}],
            NYT,
        ),
        "ctp_states_daily": staged(
            "ctp_states_daily",
            [{"date": date(2020, 4, 8), "state": "ID", "fips": "16", "positive": 3},
             {"date": date(2020, 4, 8), "state": "XX", "positive": 1}],
            CTP,
        ),
        "uid_lookup": reference["uid_staged"],
        "state_fips": reference["state_fips_staged"],
    }  # fmt: skip


@pytest.fixture(scope="module")
def manifest(parquet_frame) -> DataFrame:
    # The hospital file is listed but staged nothing: it still gets an audit row.
    return parquet_frame([(uri, None, None, 1, "etag") for uri in (JHU_A, JHU_B, NYT, CTP, BEDS)], MANIFEST_SCHEMA)


@pytest.fixture(scope="module")
def star(inputs, manifest) -> dict[str, DataFrame]:
    return build_star(inputs, manifest, "run-1", STARTED)


@pytest.fixture(scope="module")
def rows(star) -> dict[str, list[Row]]:
    """Every table collected once (tiny), so the checks below run no further Spark job."""
    return {name: df.collect() for name, df in star.items()}


def test_every_contract_table_with_its_exact_columns(star) -> None:
    assert list(star) == list(schema.TABLES)
    for name, table in schema.TABLES.items():
        got = [(f.name, f.dataType) for f in star[name].schema.fields]
        assert got == [(c.name, spark_type(c.type)) for c in table.columns], name


def test_rows_are_loaded_or_quarantined_exactly_once(rows, reference) -> None:
    audit = {r.source_object: (r.rows_read, r.rows_loaded, r.rows_rejected) for r in rows["load_audit"]}
    assert sum(read for read, _, _ in audit.values()) == 4 + 1 + 2 + reference["staged_rows"]
    assert audit[JHU_A] == (2, 1, 1)
    assert audit[JHU_B] == (2, 1, 1)
    assert audit[CTP] == (2, 1, 1)
    assert audit[BEDS] == (0, 0, 0)
    assert sorted(r.reason.split(":")[0] for r in rows["quarantine"]) == [
        "duplicate key",
        "negative count",
        "unknown state",
    ]
    assert {(r.source, r.date_key, r.confirmed) for r in rows["fact_cases_daily"]} == {
        ("jhu", 20200412, 5),
        ("jhu", 20200413, 7),  # two rows of one object: the smaller record text wins
        ("nyt", 20200413, 9),
    }
    assert [r.positive for r in rows["fact_testing_daily"]] == [3]
    assert sorted(r.date_key for r in rows["dim_date"]) == [20200408, 20200412, 20200413]
    assert rows["dim_hospital"] == []  # no hospital file in this run: an empty feed


def test_keys_are_unique_and_foreign_keys_hold(rows) -> None:
    for name, table in schema.TABLES.items():
        keys = [tuple(r[k] for k in table.key) for r in rows[name]]
        assert len(keys) == len(set(keys)), name
    for table, column, parent, parent_column in schema.FOREIGN_KEYS:
        parents = {r[parent_column] for r in rows[parent]}
        assert {r[column] for r in rows[table] if r[column] is not None} <= parents, (table, column)


def test_output_does_not_depend_on_partitioning_or_order(spark, inputs, manifest, rows) -> None:
    shuffled = {
        name: df.repartition(3, F.rand(seed=7)).orderBy(F.rand(seed=11)) for name, df in reversed(inputs.items())
    }
    # ``rows`` came from the tests' session (one shuffle partition, adaptive execution off, expressions evaluated:
    # tests/conftest.py); this time Glue's adaptive execution and three shuffle partitions, so rows meet in other
    # partitions and another order, and Spark's default code generation, as every Clean compiles its queries.
    glue_like = {
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.shuffle.partitions": "3",
        "spark.sql.codegen.wholeStage": "true",
        "spark.sql.codegen.factoryMode": "FALLBACK",
    }
    before = {name: spark.conf.get(name) for name in glue_like}
    try:
        for name, value in glue_like.items():
            spark.conf.set(name, value)
        again = build_star(shuffled, manifest.repartition(2), "run-1", STARTED)
        # The tables whose rows come out of an ordering choice: duplicates, lag, first non-null.
        for name in ("quarantine", "fact_cases_daily", "dim_region"):
            assertDataFrameEqual(again[name], rows[name])
    finally:
        for name, value in before.items():
            spark.conf.set(name, value)


def test_unknown_feed_names_are_refused(inputs, manifest) -> None:
    with pytest.raises(ValueError, match="unknown feeds"):
        build_star({"jhu": inputs["jhu_daily"]}, manifest, "run-2", STARTED)
