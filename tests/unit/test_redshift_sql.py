"""The Redshift SQL generated from the contract: parses for every table, exact text for one."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from covid_pipeline.adapters.aws import redshift_sql as rs
from covid_pipeline.day_over_day import day_over_day_sql
from covid_pipeline.schema import FOREIGN_KEYS, TABLES

ROLE = "arn:aws:iam::123456789012:role/covid-redshift-copy"


def _parse(sql: str) -> exp.Expression:
    tree = sqlglot.parse_one(sql, read="redshift")
    # sqlglot falls back to an opaque Command for syntax it does not understand: that is no check.
    assert not isinstance(tree, exp.Command), sql
    return tree


@pytest.mark.parametrize("name", list(TABLES))
def test_every_statement_parses_as_redshift(name: str) -> None:
    table = TABLES[name]
    staging = f"stage_{name}"
    create = _parse(rs.create_table_sql(table))
    assert isinstance(create, exp.Create)
    assert isinstance(_parse(rs.staging_table_sql(table, staging)), exp.Create)
    assert isinstance(_parse(rs.copy_sql(staging, table, f"s3://lake/curated/{name}/", ROLE)), exp.Copy)
    merge = _parse(rs.merge_sql(table, staging))
    assert isinstance(merge, exp.Merge)


@pytest.mark.parametrize("fk", FOREIGN_KEYS, ids=lambda fk: f"{fk[0]}.{fk[1]}")
def test_orphan_checks_parse(fk: tuple[str, str, str, str]) -> None:
    assert isinstance(_parse(rs.orphan_check_sql(*fk)), exp.Select)


def test_day_over_day_update_parses_and_never_touches_the_seed_row() -> None:
    table = TABLES["fact_cases_daily"]
    sql = day_over_day_sql(table, "stage_fact_cases_daily", rs.quote)
    assert sql is not None
    tree = _parse(sql)
    assert isinstance(tree, exp.Update)
    # Redshift has no IS DISTINCT FROM and no named WINDOW clause: neither may appear.
    assert "DISTINCT FROM" not in sql.upper()
    assert " WINDOW " not in sql.upper()
    assert sql.endswith('AND d."date_key" >= d.first_day')
    assert day_over_day_sql(TABLES["dim_date"], "stage_dim_date", rs.quote) is None


def test_loaded_etags_query_and_error_classification() -> None:
    sql = rs.loaded_etags_sql(["s3://raw/a.csv", "s3://raw/it's.csv"])
    assert isinstance(_parse(sql), exp.Select)
    assert "'s3://raw/it''s.csv'" in sql
    assert rs.is_missing_relation('ERROR: relation "load_audit" does not exist (SQLSTATE 42P01)')
    assert not rs.is_missing_relation("ERROR: permission denied")
    assert rs.is_serialization_conflict("ERROR: 1023 DETAIL: Serializable isolation violation on table")
    assert not rs.is_serialization_conflict("ERROR: syntax error")


def test_helper_statements_parse() -> None:
    _parse(rs.statement_timeout_sql(900))
    _parse(rs.counts_sql(list(TABLES)))
    _parse(rs.load_errors_sql(42))
    _parse(rs.load_errors_sql(None))


def test_create_table_text_for_a_fact() -> None:
    assert rs.create_table_sql(TABLES["fact_testing_daily"]) == (
        'CREATE TABLE IF NOT EXISTS "fact_testing_daily" ("region_key" BIGINT NOT NULL, "date_key" INTEGER NOT NULL, '
        '"positive" BIGINT, "negative" BIGINT, "pending" BIGINT, "total_test_results" BIGINT, '
        '"hospitalized_currently" BIGINT, "hospitalized_cumulative" BIGINT, "in_icu_currently" BIGINT, '
        '"on_ventilator_currently" BIGINT, "recovered" BIGINT, "deaths" BIGINT, "positive_increase" BIGINT, '
        '"negative_increase" BIGINT, "feed" VARCHAR(256) NOT NULL, "precedence" INTEGER NOT NULL, '
        '"source_object" VARCHAR(1100) NOT NULL, '
        'PRIMARY KEY ("region_key", "date_key")) DISTSTYLE KEY DISTKEY ("region_key") SORTKEY ("date_key")'
    )


def test_dimensions_are_replicated_and_sorted_on_their_key() -> None:
    sql = rs.create_table_sql(TABLES["dim_region"])
    assert sql.endswith('DISTSTYLE ALL SORTKEY ("region_key")')
    assert '"level" VARCHAR(16) NOT NULL' in sql
    assert '"latitude" DOUBLE PRECISION' in sql
    assert '"country_region" VARCHAR(65535) NOT NULL' in sql


def test_load_audit_text_staging_copy_merge() -> None:
    """The one table with a load-time column: absent from staging and COPY, set to GETDATE() by MERGE."""
    table = TABLES["load_audit"]
    file_cols = (
        '"run_id", "source_object", "dataset", "source_etag", "source_size", '
        '"rows_read", "rows_loaded", "rows_rejected", "started_at"'
    )
    assert rs.staging_table_sql(table, "stage_load_audit") == (
        'CREATE TEMP TABLE "stage_load_audit" ("run_id" VARCHAR(256) NOT NULL, '
        '"source_object" VARCHAR(1100) NOT NULL, "dataset" VARCHAR(256) NOT NULL, "source_etag" VARCHAR(64), '
        '"source_size" BIGINT, "rows_read" BIGINT NOT NULL, "rows_loaded" BIGINT NOT NULL, '
        '"rows_rejected" BIGINT NOT NULL, "started_at" TIMESTAMP NOT NULL)'
    )
    assert rs.copy_sql("stage_load_audit", table, "s3://lake/curated/load_audit/run=1/", ROLE) == (
        f"COPY \"stage_load_audit\" ({file_cols}) FROM 's3://lake/curated/load_audit/run=1/' "
        f"IAM_ROLE '{ROLE}' FORMAT AS PARQUET"
    )
    s = '"stage_load_audit"'
    assert rs.merge_sql(table, "stage_load_audit") == (
        f'MERGE INTO "load_audit" USING {s} ON "load_audit"."run_id" = {s}."run_id" '
        f'AND "load_audit"."source_object" = {s}."source_object" '
        f'WHEN MATCHED THEN UPDATE SET "dataset" = {s}."dataset", "source_etag" = {s}."source_etag", '
        f'"source_size" = {s}."source_size", "rows_read" = {s}."rows_read", "rows_loaded" = {s}."rows_loaded", '
        f'"rows_rejected" = {s}."rows_rejected", "started_at" = {s}."started_at", "finished_at" = GETDATE() '
        f'WHEN NOT MATCHED THEN INSERT ({file_cols}, "finished_at") VALUES ({s}."run_id", {s}."source_object", '
        f'{s}."dataset", {s}."source_etag", {s}."source_size", {s}."rows_read", {s}."rows_loaded", '
        f'{s}."rows_rejected", {s}."started_at", GETDATE())'
    )


def test_merge_never_updates_the_key() -> None:
    merge = rs.merge_sql(TABLES["fact_cases_daily"], "stage_fact_cases_daily")
    update_set = merge.split("UPDATE SET ")[1].split(" WHEN NOT MATCHED")[0]
    assert '"region_key" =' not in update_set
    assert '"source" =' not in update_set
    assert '"confirmed" = "stage_fact_cases_daily"."confirmed"' in update_set


def test_orphan_check_text_fails_with_a_data_dependent_cast() -> None:
    assert rs.orphan_check_sql("dim_hospital", "region_key", "dim_region", "region_key") == (
        "SELECT CASE WHEN q.orphans = 0 THEN 0 ELSE CAST('foreign key violation: rows of dim_hospital.region_key "
        "without a dim_region.region_key row: ' || CAST(q.orphans AS VARCHAR) AS INTEGER) END AS fk_check "
        'FROM (SELECT COUNT(*) AS orphans FROM "dim_hospital" LEFT JOIN "dim_region" '
        'ON "dim_region"."region_key" = "dim_hospital"."region_key" '
        'WHERE "dim_hospital"."region_key" IS NOT NULL AND "dim_region"."region_key" IS NULL) AS q'
    )


def test_literals_are_escaped() -> None:
    sql = rs.copy_sql("stage_quarantine", TABLES["quarantine"], "s3://lake/it's\\here/", "arn:aws:iam::1:role/r'x")
    tree = _parse(sql)
    literals = {lit.this for lit in tree.find_all(exp.Literal)}
    assert "s3://lake/it's\\here/" in literals
    assert "arn:aws:iam::1:role/r'x" in literals


@pytest.mark.parametrize("bad", ['x"; DROP TABLE y; --', "Upper", "1abc", ""])
def test_identifiers_are_validated(bad: str) -> None:
    with pytest.raises(ValueError, match="identifier"):
        rs.quote(bad)


def test_statement_timeout_in_milliseconds() -> None:
    assert rs.statement_timeout_sql(900) == "SET statement_timeout TO 900000"


def test_one_check_of_every_foreign_key_parses_and_names_each_one() -> None:
    sql = rs.orphans_check_sql(FOREIGN_KEYS)
    assert isinstance(_parse(sql), exp.Select)
    for fk in FOREIGN_KEYS:
        assert rs.orphan_message(*fk) in sql
