"""The warehouse contract is documented: every column has a meaning, and README.md shows exactly the generated text."""

from __future__ import annotations

from pathlib import Path

import pytest

from covid_pipeline import schema_docs
from covid_pipeline.adapters.aws import redshift_sql as rs
from covid_pipeline.schema import REGION_LEVELS, TABLES

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_warehouse_tables_section_is_the_generated_one() -> None:
    shown = schema_docs.section_of(README.read_text(encoding="utf-8"))
    assert shown == schema_docs.markdown(), (
        f"README.md's section between {schema_docs.BEGIN} and {schema_docs.END} differs from the schema "
        f"contract: regenerate it with `{schema_docs.REGENERATE}`"
    )


@pytest.mark.parametrize("table", TABLES.values(), ids=lambda t: t.name)
def test_every_column_and_table_is_documented(table) -> None:
    assert table.doc.strip()
    undocumented = [c.name for c in table.columns if not c.doc.strip()]
    assert undocumented == [], f"{table.name}: columns without a doc: {undocumented}"
    # Every column appears in the reference, with its type and meaning.
    text = schema_docs.markdown()
    for c in table.columns:
        assert f"| `{c.name}` | {c.type} | {'yes' if c.nullable else 'no'} | " in text


def test_every_region_level_is_documented_in_the_level_column_and_fits_redshift() -> None:
    doc = TABLES["dim_region"].column("level").doc
    for level, meaning in REGION_LEVELS.items():
        assert f"`{level}`: {meaning}" in doc
        assert len(level) <= rs.STRING_WIDTHS["level"]


def test_replace_section_writes_what_section_of_reads() -> None:
    text = f"# t\n\n{schema_docs.BEGIN}\nold\n{schema_docs.END}\n\nafter\n"
    new = schema_docs.replace_section(text, "new | text")
    assert schema_docs.section_of(new) == "new | text"
    assert new.startswith("# t\n\n")
    assert new.endswith(f"{schema_docs.END}\n\nafter\n")
    with pytest.raises(ValueError, match="schema:begin"):
        schema_docs.section_of("no markers")


def test_both_facts_name_deaths_alike() -> None:
    for name in ("fact_cases_daily", "fact_testing_daily"):
        assert "deaths" in TABLES[name].column_names
        assert "death" not in TABLES[name].column_names
    # A Redshift deployment made before the rename is migrated by one documented statement.
    assert rs.rename_columns_sql(TABLES["fact_testing_daily"]) == [
        'ALTER TABLE "fact_testing_daily" RENAME COLUMN "death" TO "deaths"'
    ]
    assert rs.rename_columns_sql(TABLES["fact_cases_daily"]) == []
