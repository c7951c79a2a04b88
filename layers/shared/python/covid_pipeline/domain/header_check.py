"""Does each object's header line up, by position, with its catalog table's columns?

Readers of a catalog table (OpenCSVSerDe on Athena, the local DuckDB view) map fields
by position, so an object whose header differs from its table's would be read with
shifted values: a crawler that groups files of similar headers into one table (Glue
does, at 70 % similarity) can do that. Stage refuses such objects; Setup skips the
crawl when every object of the run already lines up exactly with a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from covid_pipeline.domain.staging_sql import header_columns
from covid_pipeline.headers import EXACT, HEADER_PROBE_BYTES, PREFIX, lines_up, parse_header
from covid_pipeline.ports import CatalogTable, ObjectStore, PipelineError

# Concurrent header reads (S3 GETs on AWS): enough to hide request latency, few enough for a Lambda.
HEADER_READERS = 8


def header_fits(store: ObjectStore, objects: Sequence[tuple[str, CatalogTable]]) -> dict[str, str]:
    """For each object, EXACT, PREFIX (headers.lines_up) or why it would be read shifted."""

    def fit(item: tuple[str, CatalogTable]) -> tuple[str, str]:
        uri, table = item
        try:
            header = parse_header(store.get_bytes(uri, HEADER_PROBE_BYTES))
        except PipelineError as exc:
            return uri, f"cannot read its header: {exc}"
        columns = [c.name for c in header_columns(table)]
        outcome = lines_up(header, columns)
        if outcome in (EXACT, PREFIX):
            return uri, outcome
        return uri, f"header does not line up with catalog table {table.name} ({outcome}): it would be read shifted"

    with ThreadPoolExecutor(max_workers=HEADER_READERS) as pool:
        return dict(pool.map(fit, objects))
