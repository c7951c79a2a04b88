"""The local warehouse's look-up of loaded objects (Setup's skip of what is loaded): exact for any object
name, and without DuckDB's parameter binding, which imports pandas (0.2 s of every command's start)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb

from covid_pipeline.adapters.local.object_store import LocalObjectStore
from covid_pipeline.adapters.local.warehouse import DuckDbWarehouse, create_table_sql
from covid_pipeline.schema import TABLES

HOSTILE = [
    "s3://raw/enigma-jhu/csv/it's.csv",
    "s3://raw/enigma-jhu/csv/back\\slash'); DROP TABLE load_audit; --.csv",
    's3://raw/enigma-jhu/csv/"double".csv',
    "s3://raw/enigma-jhu/csv/ünïcödé 🦠.csv",
]


def _warehouse(tmp_path: Path) -> DuckDbWarehouse:
    path = tmp_path / "home" / "warehouse.duckdb"
    path.parent.mkdir(parents=True)
    with duckdb.connect(str(path)) as con:
        con.execute(create_table_sql(TABLES["load_audit"]))
        for i, uri in enumerate(HOSTILE):
            con.execute(
                "INSERT INTO load_audit (run_id, source_object, dataset, source_etag, rows_read, rows_loaded, "
                "rows_rejected, started_at) VALUES (?, ?, 'enigma-jhu', ?, 1, 1, 0, TIMESTAMP '2026-12-05')",
                [f"run-{i}", uri, f"etag-{i}"],
            )
        con.execute(  # a second etag of one object (it changed and was loaded again), and a null one
            "INSERT INTO load_audit VALUES ('run-9', ?, 'enigma-jhu', 'etag-new', 1, 1, 1, 0, "
            "TIMESTAMP '2026-12-05', NULL), ('run-10', 's3://raw/other.csv', 'x', NULL, 1, 1, 1, 0, "
            "TIMESTAMP '2026-12-05', NULL)",
            [HOSTILE[0]],
        )
    return DuckDbWarehouse(path, LocalObjectStore(tmp_path / "store"))


def test_loaded_etags_of_hostile_object_names_are_exact(tmp_path: Path) -> None:
    warehouse = _warehouse(tmp_path)
    asked = [*HOSTILE, "s3://raw/never-loaded.csv", "s3://raw/other.csv"]
    assert warehouse.loaded_etags(asked) == {
        HOSTILE[0]: {"etag-0", "etag-new"},
        HOSTILE[1]: {"etag-1"},
        HOSTILE[2]: {"etag-2"},
        HOSTILE[3]: {"etag-3"},
    }
    assert warehouse.loaded_etags([HOSTILE[1]]) == {HOSTILE[1]: {"etag-1"}}
    assert warehouse.query("SELECT count(*) FROM load_audit") == [(6,)]  # nothing ran but the look-up


def test_looking_up_loaded_objects_does_not_import_pandas(tmp_path: Path) -> None:
    _warehouse(tmp_path)
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from covid_pipeline.adapters.local.object_store import LocalObjectStore
        from covid_pipeline.adapters.local.warehouse import DuckDbWarehouse
        warehouse = DuckDbWarehouse(Path({str(tmp_path / "home" / "warehouse.duckdb")!r}), LocalObjectStore(Path(".")))
        found = warehouse.loaded_etags([{HOSTILE[0]!r}])
        assert found == {{{HOSTILE[0]!r}: {{"etag-0", "etag-new"}}}}, found
        print("pandas" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert done.stdout.strip() == "False", done.stderr
