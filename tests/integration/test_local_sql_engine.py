"""The local Athena (DuckDB behind sqlglot): a query is parsed once, and a query it cannot read is a clear error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlglot

from covid_pipeline.adapters.local import sql_engine
from covid_pipeline.adapters.local.object_store import LocalObjectStore
from covid_pipeline.adapters.local.sql_engine import DuckDbSqlEngine
from covid_pipeline.ports import EngineError


class _NoTables:
    def tables(self, database: str) -> list[Any]:
        return []


@pytest.fixture
def engine(tmp_path: Path) -> DuckDbSqlEngine:
    return DuckDbSqlEngine(LocalObjectStore(tmp_path), _NoTables(), "covid_raw")  # type: ignore[arg-type]


def test_a_query_is_parsed_once(engine: DuckDbSqlEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """sqlglot took ~50 ms to parse a wide feed's stage query, which was parsed for the DuckDB text, for the
    tables it names and for its "$path" predicates: a third of a one-day upload's Stage."""
    parsed: list[str] = []
    for name in ("parse", "parse_one"):
        real = getattr(sqlglot, name)
        monkeypatch.setattr(
            sql_engine.sqlglot, name, lambda sql, *a, _real=real, **k: parsed.append(sql) or _real(sql, *a, **k)
        )
    query = (
        "SELECT try_cast('12' AS bigint) AS n, \"$path\" FROM (VALUES ('s3://raw/a.csv')) AS t(\"$path\") "
        "WHERE \"$path\" IN ('s3://raw/a.csv')"
    )
    assert engine.query(query) == [(12, "s3://raw/a.csv")]
    assert parsed.count(query) == 1  # (sqlglot parses type names and such by itself too)
    # What the views are built from comes from that one parse.
    tree = engine.parse(query)
    assert engine.named_paths(tree) == engine.named_paths(query) == {"s3://raw/a.csv"}
    assert engine.named_tables(tree) == engine.named_tables(query) == set()  # VALUES: no catalog table


@pytest.mark.parametrize("query", ["SELEC 1 FROM", "", "   ", "-- nothing but a comment"])
def test_a_query_that_is_not_athena_sql_is_refused_clearly(engine: DuckDbSqlEngine, query: str) -> None:
    with pytest.raises(EngineError, match="query is not valid Athena SQL"):
        engine.query(query)
