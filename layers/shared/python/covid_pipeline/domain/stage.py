"""Stage: one Athena UNLOAD per catalog table into typed, canonical Parquet per feed.

A table whose header lacks a required column is refused whole: its objects are
listed with the reason in ``quarantine/<run_id>/_refused.jsonl`` and counted in
the step's output, and nothing of it is staged.
"""

from __future__ import annotations

import json

from covid_pipeline.composition import Ports
from covid_pipeline.domain.models import StageInput, StageOutput
from covid_pipeline.domain.staging_sql import map_columns, staging_query
from covid_pipeline.feeds import FEEDS
from covid_pipeline.observability import logger
from covid_pipeline.uris import join


def run_stage(inp: StageInput, ports: Ports) -> StageOutput:
    rows: dict[str, int] = {}
    refusals: list[dict[str, str]] = []
    unmapped: dict[str, list[str]] = {}
    tables = ports.catalog.tables(ports.settings.glue_database)
    for table in tables:
        feed = FEEDS.get(table.parameters.get("feed", ""))
        if feed is None:
            logger.warning("catalog table of no known feed skipped", extra={"table": table.name})
            continue
        mapping = map_columns(feed, table)
        if mapping.missing_required:
            reason = f"missing required column(s): {', '.join(mapping.missing_required)}"
            refusals += [{"object": uri, "feed": feed.name, "reason": reason} for uri in table.objects]
            continue
        if mapping.unmapped:
            unmapped[table.name] = list(mapping.unmapped)
        count = ports.sql.unload(staging_query(mapping, table), join(inp.staged_uri, feed.name, table.name) + "/")
        rows[feed.name] = rows.get(feed.name, 0) + count
    refusals_uri = None
    if refusals:
        refusals_uri = join(inp.quarantine_uri, inp.run_id, "_refused.jsonl")
        ports.store.put_bytes(refusals_uri, "".join(json.dumps(r) + "\n" for r in refusals).encode())
        logger.warning("objects refused", extra={"count": len(refusals), "uri": refusals_uri})
    return StageOutput(
        staged_uri=inp.staged_uri,
        tables=len(tables),
        rows=rows,
        refused_objects=len(refusals),
        refusals_uri=refusals_uri,
        unmapped_columns=unmapped,
    )
