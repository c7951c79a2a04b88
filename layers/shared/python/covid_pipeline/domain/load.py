"""Load: MERGE the run's curated batch and its quarantine into the warehouse, in one transaction."""

from __future__ import annotations

from covid_pipeline.composition import Ports
from covid_pipeline.domain.models import LoadInput, LoadOutput
from covid_pipeline.ports import TableLoad
from covid_pipeline.schema import LOAD_ORDER, QUARANTINE
from covid_pipeline.uris import join

# Unresolved region names the step's output lists (the count is whole); keeps the payload small.
MAX_UNRESOLVED_NAMES = 20


def table_loads(inp: LoadInput) -> list[TableLoad]:
    loads = []
    for name in LOAD_ORDER:
        if name == QUARANTINE.name:
            loads.append(TableLoad(name, join(inp.quarantine_uri, inp.run_id) + "/"))
        else:
            loads.append(TableLoad(name, join(inp.curated_uri, name) + "/"))
    return loads


def run_load(inp: LoadInput, ports: Ports) -> LoadOutput:
    result = ports.warehouse.load(inp.run_id, table_loads(inp))
    # run_id is validated by the input model (letters, digits, - and _ only).
    rejected = ports.warehouse.query(
        "SELECT split_part(reason, ':', 1) AS reason, count(*) FROM quarantine "
        f"WHERE run_id = '{inp.run_id}' GROUP BY 1 ORDER BY 2 DESC"
    )
    # The first names and (on every row) how many there are in all: one round trip.
    unresolved = ports.warehouse.query(
        "SELECT country_region || coalesce(' / ' || province_state, '') || coalesce(' / ' || county, ''), "
        f"count(*) OVER () FROM dim_region WHERE NOT in_lookup ORDER BY 1 LIMIT {MAX_UNRESOLVED_NAMES}"
    )
    return LoadOutput(
        run_id=inp.run_id,
        rows_merged=dict(result.rows_merged),
        rows_total=dict(result.rows_total),
        rejected={str(reason): int(count) for reason, count in rejected},
        changes={table: dict(counts) for table, counts in result.changes.items()},
        unresolved_regions=int(unresolved[0][1]) if unresolved else 0,
        unresolved_names=[str(row[0]) for row in unresolved],
    )
