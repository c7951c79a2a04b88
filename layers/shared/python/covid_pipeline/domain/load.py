"""Load: MERGE the run's curated batch and its quarantine into the warehouse, in one transaction."""

from __future__ import annotations

from covid_pipeline.composition import Ports
from covid_pipeline.domain.models import LoadInput, LoadOutput
from covid_pipeline.observability import MetricUnit, logger, publish_dataset_metrics
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
    loads = table_loads(inp)
    result = ports.warehouse.load(inp.run_id, loads)
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
    # The run's figures per dataset, from load_audit (what Clean read, loaded and rejected per object).
    audit = ports.warehouse.query(
        "SELECT dataset, sum(rows_read), sum(rows_loaded), sum(rows_rejected) FROM load_audit "
        f"WHERE run_id = '{inp.run_id}' GROUP BY 1 ORDER BY 1"
    )
    for dataset, read, loaded, rejected_rows in audit:
        publish_dataset_metrics(
            "Load",
            str(dataset),
            inp.run_id,
            {
                "RowsRead": (int(read), MetricUnit.Count),
                "RowsLoaded": (int(loaded), MetricUnit.Count),
                "RowsRejected": (int(rejected_rows), MetricUnit.Count),
            },
        )
    logger.info("loaded", extra={"locations": {load.table: load.location for load in loads}})
    return LoadOutput(
        run_id=inp.run_id,
        rows_merged=dict(result.rows_merged),
        rows_total=dict(result.rows_total),
        rejected={str(reason): int(count) for reason, count in rejected},
        changes={table: dict(counts) for table, counts in result.changes.items()},
        unresolved_regions=int(unresolved[0][1]) if unresolved else 0,
        unresolved_names=[str(row[0]) for row in unresolved],
    )
