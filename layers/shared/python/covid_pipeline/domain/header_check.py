"""Does each object's header line up, by position, with its catalog table's columns?

Readers of a catalog table (OpenCSVSerDe on Athena, the local DuckDB view) map fields
by position, so an object whose header differs from its table's would be read with
shifted values: a crawler that groups files of similar headers into one table (Glue
does, at 70 % similarity) can do that. Stage refuses such objects; Setup skips the
crawl when every object of the run already lines up exactly with a table.

A JSON Lines object is read by key names, not positions: it fits when its table has a
column for each of its keys.

Setup reads each object's header once and records it in the manifest; Stage judges
from the manifest (it reads a header itself only for an entry without one). The same
first bytes tell whether the object is text at all (headers.text_problem): one that is
not (a PNG named .csv) is refused by Setup, by name, before any crawl or reader sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from covid_pipeline.domain.manifest import ManifestEntry
from covid_pipeline.domain.staging_sql import header_columns
from covid_pipeline.feeds import JSON, object_format
from covid_pipeline.headers import EXACT, HEADER_PROBE_BYTES, PREFIX, keys_fit, lines_up, read_header, text_problem
from covid_pipeline.ports import CatalogTable, ObjectStore, PipelineError

# Concurrent header reads (S3 GETs on AWS): enough to hide request latency, few enough for a Lambda.
HEADER_READERS = 8


class NotText(PipelineError):
    """The object is not a feed's text (binary, not UTF-8): no header can be read from it."""


def read_headers(store: ObjectStore, uris: Sequence[str]) -> dict[str, list[str] | PipelineError]:
    """Each object's header line (or why it could not be read: NotText when it is no text), read concurrently."""

    def read(uri: str) -> tuple[str, list[str] | PipelineError]:
        try:
            head = store.get_bytes(uri, HEADER_PROBE_BYTES)
            problem = text_problem(head, uri)
            if problem is not None:
                return uri, NotText(problem)
            return uri, read_header(head, uri)
        except PipelineError as exc:
            return uri, exc

    with ThreadPoolExecutor(max_workers=HEADER_READERS) as pool:
        return dict(pool.map(read, uris))


def header_fits(store: ObjectStore, entries: Sequence[ManifestEntry], table: CatalogTable) -> dict[str, str]:
    """For each entry of ``table``: EXACT, PREFIX (headers.lines_up) or why it would be read shifted."""
    unread = [e.uri for e in entries if e.header is None]
    headers: dict[str, list[str] | PipelineError] = {e.uri: list(e.header) for e in entries if e.header is not None}
    headers |= read_headers(store, unread) if unread else {}
    columns = [c.name for c in header_columns(table)]
    fits = {}
    for uri, header in headers.items():
        if isinstance(header, PipelineError):
            fits[uri] = f"cannot read its header: {header}"
            continue
        if object_format(uri) == JSON:
            # JSON readers map keys by name: only a key the table lacks matters (its values would be lost).
            outcome = keys_fit(header, columns)
            if outcome != EXACT:
                outcome = f"its keys do not fit catalog table {table.name} ({outcome})"
            fits[uri] = outcome
            continue
        outcome = lines_up(header, columns)
        if outcome not in (EXACT, PREFIX):
            outcome = f"header does not line up with catalog table {table.name} ({outcome}): it would be read shifted"
        fits[uri] = outcome
    return fits
