"""The warehouse tables as Markdown, generated from the schema contract (schema.py) so the README cannot drift.

``python -m covid_pipeline.schema_docs`` prints the reference; ``--write README.md`` replaces the
README's section between the markers (tests/unit/test_schema_docs.py fails when they differ).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from covid_pipeline.schema import FOREIGN_KEYS, TABLES, Table

BEGIN = "<!-- schema:begin -->"
END = "<!-- schema:end -->"
REGENERATE = "python -m covid_pipeline.schema_docs --write README.md"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _table(table: Table) -> list[str]:
    refs = {
        column: f"{parent}.{parent_column}"
        for child, column, parent, parent_column in FOREIGN_KEYS
        if child == table.name
    }
    lines = [
        f"### `{table.name}` ({table.kind})",
        "",
        _cell(table.doc),
        "",
        f"Key: ({', '.join(f'`{k}`' for k in table.key)}).",
        "",
        "| column | type | nullable | meaning |",
        "|---|---|---|---|",
    ]
    for c in table.columns:
        meaning = c.doc + (f" (references `{refs[c.name]}`)" if c.name in refs else "")
        lines.append(f"| `{c.name}` | {c.type} | {'yes' if c.nullable else 'no'} | {_cell(meaning)} |")
    return [*lines, ""]


def markdown() -> str:
    """The reference of every table of schema.TABLES (the text between the README's markers)."""
    lines = [
        f"<!-- generated from covid_pipeline/schema.py by `{REGENERATE}`: edit the contract, not this text -->",
        "",
        "Types are the contract's logical types (Redshift: int = INTEGER, bigint = BIGINT, double = DOUBLE "
        "PRECISION, string = VARCHAR; DuckDB alike). Keys are informational on Redshift: the load MERGEs on them.",
        "",
    ]
    for table in TABLES.values():
        lines += _table(table)
    return "\n".join(lines).rstrip("\n")


def replace_section(text: str, section: str) -> str:
    """``text`` with what lies between the markers replaced by ``section``."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no {BEGIN} ... {END} section")
    return text[: start + len(BEGIN)] + "\n" + section + "\n" + text[end:]


def section_of(text: str) -> str:
    """What lies between the markers (as replace_section writes it)."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no {BEGIN} ... {END} section")
    return text[start + len(BEGIN) : end].strip("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m covid_pipeline.schema_docs", description=__doc__)
    parser.add_argument("--write", type=Path, metavar="README", help="replace the file's section between the markers")
    args = parser.parse_args(argv)
    if args.write is None:
        sys.stdout.write(markdown() + "\n")
        return 0
    args.write.write_text(replace_section(args.write.read_text(encoding="utf-8"), markdown()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
