"""DuckDB standing in for Athena.

Queries arrive in Athena's (Trino) dialect and are transpiled with sqlglot. Each
catalog table the query names becomes a view over its raw CSV objects, with
Athena's ``"$path"`` pseudo-column holding the object's s3:// URI. The view reads
the way Athena's OpenCSVSerDe does: every column as text, mapped by POSITION onto
the catalog table's columns (the crawler's header, plus the trailing overflow
column it declares), a missing trailing field as NULL while an empty field stays
``''``, and invalid UTF-8 bytes replaced by U+FFFD. Rows whose fields do not line
up with the header are then visible to the staging SQL (see domain.staging_sql).
An object whose name DuckDB would take for a glob pattern (``*?[]{}``) is read
through a plain-named link, never as a pattern matching other objects.
``unload`` plays Athena's ``UNLOAD ... WITH (format = 'PARQUET')``. Like Athena,
a query with ``"$path" IN (...)`` reads only the objects it names.
"""

from __future__ import annotations

import codecs
import gzip
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from covid_pipeline.adapters.local.catalog import LocalCatalog
from covid_pipeline.adapters.local.object_store import LocalObjectStore
from covid_pipeline.feeds import JSON, is_gzip
from covid_pipeline.ports import CatalogTable, EngineError

# Never present in a CSV field: an empty field then reads as '' and only a missing one as NULL.
_NO_NULL_STRING = "\x1fcovid-pipeline: no null string\x1f"
_CHUNK = 8 * 1024 * 1024
# Characters DuckDB's file readers take for a glob pattern.
_GLOB = re.compile(r"[*?\[\]{}]")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _bounded(condition: exp.Expression) -> bool:
    """Whether every row the condition admits has a "$path" named by an IN predicate."""
    if isinstance(condition, exp.Paren):
        return _bounded(condition.this)
    if isinstance(condition, exp.Or):
        return _bounded(condition.left) and _bounded(condition.right)
    if isinstance(condition, exp.And):
        return _bounded(condition.left) or _bounded(condition.right)
    return isinstance(condition, exp.In) and isinstance(condition.this, exp.Column) and condition.this.name == "$path"


# Never in a JSON text (control characters must be escaped there): JSON Lines are read one line per field.
_NO_DELIMITER = "\x1e"


def _open(path: Path):  # type: ignore[no-untyped-def]
    """The object's content: gzip objects (.gz) are decompressed, as Athena reads them."""
    return gzip.open(path, "rb") if is_gzip(path.name) else path.open("rb")


def _is_valid_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with _open(path) as fh:
            while chunk := fh.read(_CHUNK):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _replace_invalid_utf8(source: Path, dest: Path) -> None:
    """A copy of ``source`` with each invalid UTF-8 sequence replaced by U+FFFD (as Hadoop's Text decodes)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    with _open(source) as src, dest.open("w", encoding="utf-8", newline="") as out:
        while chunk := src.read(_CHUNK):
            out.write(decoder.decode(chunk))
        out.write(decoder.decode(b"", final=True))


def _is_encoding_error(error: duckdb.Error) -> bool:
    text = str(error)
    return "not utf-8 encoded" in text or "Invalid unicode" in text


class DuckDbSqlEngine:
    def __init__(self, store: LocalObjectStore, catalog: LocalCatalog, database: str, threads: int = 2):
        self.store = store
        self.catalog = catalog
        self.database = database
        self.threads = threads

    def _tables(self, only: set[str] | None, names: set[str] | None) -> list[tuple[CatalogTable, list[str]]]:
        """The catalog tables a query may read (``names``: the tables it names), each with its readable objects."""
        selected = []
        for table in self.catalog.tables(self.database):
            if names is not None and table.name not in names:
                continue
            objects = [uri for uri in table.objects if only is None or uri in only]
            # A table without columns has no header to read by: nothing of it can be queried.
            if objects and table.columns:
                selected.append((table, objects))
        return selected

    def _connect(
        self, tables: list[tuple[CatalogTable, list[str]]], substitutes: dict[str, Path]
    ) -> duckdb.DuckDBPyConnection:
        """A connection with one view per table; ``substitutes``: URI -> readable copy of an object."""
        # Row order is not kept (nor is it by Athena's UNLOAD): DuckDB then streams a COPY instead of
        # buffering it, which took a 1 GB CSV's Stage from 2.4 GB to under 0.3 GB of memory.
        con = duckdb.connect(config={"threads": self.threads, "preserve_insertion_order": False})
        con.execute(f"CREATE SCHEMA {_quote(self.database)}")
        root = str(self.store.root) + "/"
        for table, objects in tables:
            files = {uri: str(substitutes.get(uri) or self.store.path(uri)) for uri in objects}
            paths = ", ".join(_literal(path) for path in files.values())
            path_expr = f"'s3://' || substr(__covid_file, {len(root) + 1})"
            renamed = {path: uri for uri, path in files.items() if uri in substitutes}
            if renamed:
                whens = " ".join(f"WHEN {_literal(p)} THEN {_literal(u)}" for p, u in renamed.items())
                path_expr = f"CASE __covid_file {whens} ELSE {path_expr} END"
            if table.parameters.get("classification") == JSON:
                con.execute(self._json_view(table, paths, path_expr))
                continue
            columns = ", ".join(f"{_literal(c.name)}: 'VARCHAR'" for c in table.columns)
            # By position onto the catalog's columns, all text: typing is the query's job (TRY_CAST), so a
            # bad value becomes a reported cast error instead of a failed read. Nothing is sniffed (the
            # dialect is RFC 4180): a sniffer can settle on "no quoting" for a file whose few quoted fields
            # hold commas, and widen the table for a ragged row. strict_mode off: a row with more fields than
            # the columns keeps its first ones (the overflow column then holds one more), as OpenCSVSerDe does.
            con.execute(
                f"CREATE VIEW {_quote(self.database)}.{_quote(table.name)} AS "
                f'SELECT * EXCLUDE (__covid_file), {path_expr} AS "$path" '
                f"FROM read_csv([{paths}], header = true, auto_detect = false, columns = {{{columns}}}, "
                f"null_padding = true, strict_mode = false, nullstr = {_literal(_NO_NULL_STRING)}, "
                f"delim = ',', quote = '\"', escape = '\"', filename = '__covid_file')"
            )
        return con

    def _json_view(self, table: CatalogTable, paths: str, path_expr: str) -> str:
        """A JSON Lines table: one object per line, each column the value of its key, as text.

        Read by key name (as Athena's JSON SerDe does); a value that is an object or array
        is its JSON text. A line that is not valid JSON gives a row of NULLs, which Stage
        then quarantines for its missing values, so nothing is lost silently here (Athena's
        SerDe with ``ignore.malformed.json`` skips it; see aws.catalog.prepare_raw_tables);
        blank lines are no rows.
        """

        def value(name: str) -> str:
            path = _literal("$." + '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"')
            return f"CASE WHEN json_valid(__covid_line) THEN json_extract_string(__covid_line, {path}) END"

        columns = ", ".join(f"{value(c.name)} AS {_quote(c.name)}" for c in table.columns)
        return (
            f"CREATE VIEW {_quote(self.database)}.{_quote(table.name)} AS "
            f'SELECT {columns}, {path_expr} AS "$path" '
            f"FROM read_csv([{paths}], header = false, auto_detect = false, columns = {{'__covid_line': 'VARCHAR'}}, "
            f"delim = {_literal(_NO_DELIMITER)}, quote = '', escape = '', strict_mode = false, null_padding = true, "
            f"filename = '__covid_file') WHERE trim(__covid_line) <> ''"
        )

    @staticmethod
    def named_paths(query: str | exp.Expression) -> set[str] | None:
        """The object URIs of the query's ``"$path" IN (...)`` predicates; None when it has none.

        Only an upper bound of what the query reads (the WHERE still applies), which is
        all the views need; a query with any other use of "$path" reads every object.
        """
        try:
            tree = query if isinstance(query, exp.Expression) else sqlglot.parse_one(query, read="trino")
        except SqlglotError:
            return None
        named: set[str] = set()
        for node in tree.find_all(exp.In):
            column = node.this
            if isinstance(column, exp.Column) and column.name == "$path":
                values = node.expressions
                if not values or not all(isinstance(v, exp.Literal) and v.is_string for v in values):
                    return None
                named.update(v.this for v in values)
        if not named:
            return None
        where = tree.find(exp.Where)
        # A "$path" IN under an OR with other terms would not bound the read: only AND/OR of such groups.
        return named if where is not None and _bounded(where.this) else None

    @staticmethod
    def named_tables(query: str | exp.Expression) -> set[str] | None:
        """The table names the query mentions (an upper bound of what it reads); None when it cannot be parsed."""
        try:
            tree = query if isinstance(query, exp.Expression) else sqlglot.parse_one(query, read="trino")
        except SqlglotError:
            return None
        return {table.name for table in tree.find_all(exp.Table)}

    @staticmethod
    def parse(query: str) -> exp.Expression:
        """The query's (first) statement, as Athena (Trino's dialect) reads it."""
        try:
            statements = sqlglot.parse(query, read="trino")
        except SqlglotError as exc:
            raise EngineError(f"query is not valid Athena SQL: {exc}") from exc
        if not statements or statements[0] is None:
            raise EngineError("query is not valid Athena SQL: no statement")
        return statements[0]

    def _run(self, query: str, action: Callable[[duckdb.DuckDBPyConnection, str], Any]) -> Any:
        # Parsed once: a stage query of a wide feed took sqlglot ~50 ms a parse, and it was parsed three times.
        tree = self.parse(query)
        sql = tree.sql(dialect="duckdb")
        tables = self._tables(self.named_paths(tree), self.named_tables(tree))
        objects = [uri for _, uris in tables for uri in uris]
        with tempfile.TemporaryDirectory(prefix="covid-pipeline-sql-") as scratch:
            folder = Path(scratch)
            # DuckDB expands glob patterns in file names: an object whose key holds * ? [ or { would read
            # other objects (or none). Such objects are read through a link with a plain name.
            substitutes = {}
            for number, uri in enumerate(objects):
                path = self.store.path(uri)
                if _GLOB.search(str(path)):
                    # The suffix tells DuckDB the compression, as the object's own name does.
                    substitutes[uri] = folder / f"{number}.data{'.gz' if is_gzip(path.name) else ''}"
                    substitutes[uri].symlink_to(path)
            transcoded = False
            while True:
                con = self._connect(tables, substitutes)
                try:
                    return action(con, sql)
                except duckdb.Error as exc:
                    # DuckDB stops at the first invalid UTF-8 byte, where Athena reads the text with U+FFFD
                    # for each invalid sequence: retried once, on copies with those sequences replaced.
                    if not transcoded and _is_encoding_error(exc):
                        transcoded = True
                        for number, uri in enumerate(objects):
                            source = self.store.path(uri)
                            if not _is_valid_utf8(source):
                                substitutes[uri] = folder / f"{number}.utf-8.txt"
                                _replace_invalid_utf8(source, substitutes[uri])
                        continue
                    raise EngineError(f"query failed: {exc}") from exc
                finally:
                    con.close()

    def query(self, query: str) -> list[tuple[Any, ...]]:
        return self._run(query, lambda con, sql: con.execute(sql).fetchall())

    def unload(self, query: str, destination_uri: str) -> int:
        dest = self.store.path(destination_uri)
        self.store.delete_prefix(destination_uri)  # Athena UNLOAD needs an empty destination
        dest.mkdir(parents=True, exist_ok=True)
        out = _literal(str(dest / "part-00000.parquet"))

        def copy(con: duckdb.DuckDBPyConnection, sql: str) -> int:
            rows = con.execute(f"COPY ({sql}) TO {out} (FORMAT PARQUET)").fetchone()
            return int(rows[0]) if rows else 0

        return self._run(query, copy)
