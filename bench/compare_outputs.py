"""Whether two Clean runs wrote the same tables: every row, as a multiset, in DuckDB.

    python -m bench.compare_outputs BEFORE AFTER

BEFORE and AFTER are ``--out`` folders of bench.clean_phases (``curated/<table>/`` and the quarantine
under ``q/``). Per table of schema.TABLES: the row counts, and the rows of each side that the other
lacks (``EXCEPT ALL``, so a duplicated row counts). Both runs of bench.clean_phases use the same run id
and start time, so no column is left out. Exits 1 when any table differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

from covid_pipeline import schema


def table_glob(out: Path, table: str) -> str:
    folder = out / "q" if table == schema.QUARANTINE.name else out / "curated" / table
    return f"{folder}/**/*.parquet"


def compare(before: Path, after: Path) -> dict[str, tuple[int, int, int, int]]:
    """Per table: (rows before, rows after, before EXCEPT ALL after, after EXCEPT ALL before)."""
    con = duckdb.connect()
    result = {}
    for table in schema.TABLES:
        old, new = (f"read_parquet('{table_glob(out, table)}')" for out in (before, after))
        counts = [con.execute(f"SELECT count(*) FROM {side}").fetchone()[0] for side in (old, new)]  # type: ignore[index]
        missing = con.execute(f"SELECT count(*) FROM (SELECT * FROM {old} EXCEPT ALL SELECT * FROM {new})").fetchone()
        extra = con.execute(f"SELECT count(*) FROM (SELECT * FROM {new} EXCEPT ALL SELECT * FROM {old})").fetchone()
        result[table] = (counts[0], counts[1], missing[0], extra[0])  # type: ignore[index]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    differ = False
    print(f"{'table':<20} {'rows before':>11} {'rows after':>10} {'before-after':>12} {'after-before':>12}")
    for table, (old, new, missing, extra) in compare(args.before, args.after).items():
        differ |= old != new or missing != 0 or extra != 0
        print(f"{table:<20} {old:>11} {new:>10} {missing:>12} {extra:>12}")
    print("DIFFERENT" if differ else "IDENTICAL")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
