"""DuckDB standing in for Athena.

Queries arrive in Athena's (Trino) dialect and are transpiled with sqlglot. Each
catalog table becomes a view over its raw CSV objects, read as text by header
name, with Athena's ``"$path"`` pseudo-column holding the object's s3:// URI.
``unload`` plays Athena's ``UNLOAD ... WITH (format = 'PARQUET')``.
"""

from __future__ import annotations

from typing import Any

import duckdb
import sqlglot
from sqlglot.errors import SqlglotError

from covid_pipeline.adapters.local.catalog import LocalCatalog
from covid_pipeline.adapters.local.object_store import LocalObjectStore
from covid_pipeline.ports import EngineError


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDbSqlEngine:
    def __init__(self, store: LocalObjectStore, catalog: LocalCatalog, database: str, threads: int = 2):
        self.store = store
        self.catalog = catalog
        self.database = database
        self.threads = threads

    def _connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(config={"threads": self.threads})
        con.execute(f"CREATE SCHEMA {_quote(self.database)}")
        root = str(self.store.root) + "/"
        for table in self.catalog.tables(self.database):
            paths = ", ".join(_literal(str(self.store.path(uri))) for uri in table.objects)
            # Columns by header name, all text: typing is the query's job (TRY_CAST), so a bad
            # value becomes a reported cast error instead of a failed read. The dialect is RFC 4180,
            # stated rather than sniffed: with null_padding on, a sniffer can settle on "no quoting"
            # for a file whose few quoted fields hold commas, and shift those rows' columns.
            con.execute(
                f"CREATE VIEW {_quote(self.database)}.{_quote(table.name)} AS "
                f"SELECT * EXCLUDE (__covid_file), "
                f"'s3://' || substr(__covid_file, {len(root) + 1}) AS \"$path\" "
                f"FROM read_csv([{paths}], header = true, all_varchar = true, null_padding = true, "
                f"delim = ',', quote = '\"', escape = '\"', filename = '__covid_file')"
            )
        return con

    @staticmethod
    def transpile(query: str) -> str:
        try:
            return sqlglot.transpile(query, read="trino", write="duckdb")[0]
        except SqlglotError as exc:
            raise EngineError(f"query is not valid Athena SQL: {exc}") from exc

    def query(self, query: str) -> list[tuple[Any, ...]]:
        con = self._connect()
        try:
            return con.execute(self.transpile(query)).fetchall()
        except duckdb.Error as exc:
            raise EngineError(f"query failed: {exc}") from exc
        finally:
            con.close()

    def unload(self, query: str, destination_uri: str) -> int:
        dest = self.store.path(destination_uri)
        self.store.delete_prefix(destination_uri)  # Athena UNLOAD needs an empty destination
        dest.mkdir(parents=True, exist_ok=True)
        con = self._connect()
        try:
            out = _literal(str(dest / "part-00000.parquet"))
            rows = con.execute(f"COPY ({self.transpile(query)}) TO {out} (FORMAT PARQUET)").fetchone()
            return int(rows[0]) if rows else 0
        except duckdb.Error as exc:
            raise EngineError(f"query failed: {exc}") from exc
        finally:
            con.close()
