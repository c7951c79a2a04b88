"""Stage: one Athena UNLOAD per catalog table into typed, canonical Parquet per feed.

Only the run's manifest objects are read (an upload stages its own file, not the
whole history); a backfill's entries also limit the rows to their date range.
A table whose header lacks a required column is refused whole: its objects are
listed with the reason in ``quarantine/_refused/<run_id>.jsonl`` (beside, not inside, the
run's quarantine folder, which Clean rewrites whole) and counted in
the step's output, and nothing of it is staged. So is an object whose header does not
line up, position by position, with its table's columns (read by position, its values
would land in the wrong columns): on AWS a crawler may group files of similar headers.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict

from covid_pipeline.composition import Ports
from covid_pipeline.domain.header_check import header_fits
from covid_pipeline.domain.manifest import ManifestEntry, read_manifest
from covid_pipeline.domain.models import StageInput, StageOutput
from covid_pipeline.domain.staging_sql import TableMapping, map_columns, row_filter, staging_query
from covid_pipeline.feeds import FEEDS
from covid_pipeline.headers import EXACT, PREFIX
from covid_pipeline.observability import MetricUnit, logger, publish_dataset_metrics
from covid_pipeline.ports import CatalogTable
from covid_pipeline.uris import join


def _where(mapping: TableMapping, table: CatalogTable, entries: list[ManifestEntry]) -> str | None:
    """The table's row filter for this run; None when the run reads all of the table's objects whole."""
    if len(entries) == len(table.objects) and all(e.date_range is None for e in entries):
        return None
    groups: dict[tuple[str, str] | None, list[str]] = defaultdict(list)
    for entry in entries:
        groups[entry.date_range].append(entry.uri)
    return row_filter(mapping, sorted(((uris, rng) for rng, uris in groups.items()), key=lambda g: g[0]))


def run_stage(inp: StageInput, ports: Ports) -> StageOutput:
    manifest = read_manifest(ports.store, inp.manifest_uri)
    rows: dict[str, int] = {}
    refusals: list[dict[str, str]] = []
    unmapped: dict[str, list[str]] = {}
    staged_tables = 0
    seconds: dict[str, float] = defaultdict(float)  # dataset -> time spent staging its objects
    tables = ports.catalog.tables(ports.settings.glue_database)
    for table in tables:
        started = time.monotonic()
        feed = FEEDS.get(table.parameters.get("feed", ""))
        if feed is None:
            logger.warning("catalog table of no known feed skipped", extra={"table": table.name})
            continue
        entries = [manifest[uri] for uri in table.objects if uri in manifest]
        if not entries:
            continue  # none of this run's objects
        mapping = map_columns(feed, table)
        if mapping.missing_required:
            reason = f"missing required column(s): {', '.join(mapping.missing_required)}"
            refusals += [{"object": e.uri, "feed": feed.name, "reason": reason} for e in entries]
            continue
        fits = header_fits(ports.store, entries, table)
        shifted = [e for e in entries if fits[e.uri] not in (EXACT, PREFIX)]
        refusals += [{"object": e.uri, "feed": feed.name, "reason": fits[e.uri]} for e in shifted]
        entries = [e for e in entries if e not in shifted]
        if not entries:
            continue
        if mapping.unmapped:
            unmapped[table.name] = list(mapping.unmapped)
        short_rows = all(fits[e.uri] == EXACT for e in entries)
        query = staging_query(mapping, table, _where(mapping, table, entries), short_rows)
        logger.info("staging", extra={"table": table.name, "feed": feed.name, "objects": [e.uri for e in entries]})
        count = ports.sql.unload(query, join(inp.staged_uri, feed.name, table.name) + "/")
        rows[feed.name] = rows.get(feed.name, 0) + count
        staged_tables += 1
        seconds[feed.dataset] += time.monotonic() - started
    for dataset, spent in sorted(seconds.items()):
        publish_dataset_metrics("Stage", dataset, inp.run_id, {"StepDuration": (spent, MetricUnit.Seconds)})
    missing = sorted(set(manifest) - {uri for t in tables for uri in t.objects})
    refusals += [
        {"object": uri, "feed": manifest[uri].feed, "reason": "not in the catalog: the crawler did not classify it"}
        for uri in missing
    ]
    refusals_uri = None
    if refusals:
        refusals_uri = join(inp.quarantine_uri, "_refused", f"{inp.run_id}.jsonl")
        ports.store.put_bytes(refusals_uri, "".join(json.dumps(r) + "\n" for r in refusals).encode())
        logger.warning("objects refused", extra={"count": len(refusals), "uri": refusals_uri})
    return StageOutput(
        staged_uri=inp.staged_uri,
        tables=staged_tables,
        rows=rows,
        refused_objects=len(refusals),
        refusals_uri=refusals_uri,
        refusals=[f"{r['object']}: {r['reason']}" for r in refusals[:20]],
        unmapped_columns=unmapped,
    )
