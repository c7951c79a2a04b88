"""Parquet row counts from the footer alone (the UNLOAD count without a second scan)."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from covid_pipeline.adapters.aws.parquet_footer import ParquetFooterError, footer_length, num_rows


def _file(table: pa.Table, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, **kwargs)
    return buf.getvalue()


@pytest.mark.parametrize("rows", [0, 1, 999, 25_000])
def test_num_rows_matches_what_was_written(rows: int) -> None:
    table = pa.table(
        {
            "key": pa.array(range(rows), pa.int64()),
            "name": ["Bogotá ✓"] * rows,
            "flag": [True] * rows,
            "value": [1.5] * rows,
            "day": pa.array([None] * rows, pa.date32()),
            "tags": [["a", "b"]] * rows,
            "attrs": pa.array([{"k": 1}] * rows, pa.struct([("k", pa.int32())])),
        }
    )
    data = _file(table, row_group_size=1000, compression="snappy")
    assert num_rows(data) == rows
    # Only the end of the file is needed: the footer and the 8 bytes after it.
    assert num_rows(data[-(footer_length(data) + 8) :]) == rows


def test_key_value_metadata_and_statistics_are_skipped() -> None:
    table = pa.table({"a": [1, 2, 3]}).replace_schema_metadata({"origin": "athena", "x": "y" * 300})
    assert num_rows(_file(table, write_statistics=True)) == 3


def test_not_parquet_or_too_short_is_refused() -> None:
    with pytest.raises(ParquetFooterError, match="PAR1"):
        num_rows(b"just some csv,text\n")
    data = _file(pa.table({"a": [1]}))
    with pytest.raises(ParquetFooterError, match="need the last"):
        num_rows(data[-10:])
