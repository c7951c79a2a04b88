"""Reads the EMF records a local home keeps, and checks a run's figures per dataset against its warehouse."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import yaml

from covid_pipeline.runner.function_output import METRICS_FILE
from tests.conftest import ROOT

# The namespace template.yaml's Globals give every function: the one the records must carry.
TEMPLATE_NAMESPACE = yaml.safe_load(
    "\n".join(ln for ln in (ROOT / "template.yaml").read_text().splitlines() if "POWERTOOLS_METRICS_NAMESPACE" in ln)
)["POWERTOOLS_METRICS_NAMESPACE"]


def metric_records(home: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (home / METRICS_FILE).read_text().splitlines()]


def dataset_figures(home: Path, run_id: str) -> dict[tuple[str, str], dict[str, float]]:
    """(step, dataset) -> metric name -> value, from the run's per-dataset EMF records."""
    figures: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for record in metric_records(home):
        if record.get("run_id") != run_id:
            continue
        (directive,) = record["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == TEMPLATE_NAMESPACE
        assert sorted(directive["Dimensions"][0]) == ["dataset", "service", "step"]
        for metric in directive["Metrics"]:
            (value,) = record[metric["Name"]]  # EMF holds a list of values: one per record here
            figures[(record["step"], record["dataset"])][metric["Name"]] = value
    return figures


def assert_figures_match_the_warehouse(home: Path, run_id: str) -> int:
    """RowsRead/RowsLoaded/RowsRejected per dataset = the run's load_audit sums, their rejected rows = its
    quarantine rows, and Stage's StepDuration for each dataset; returns the rows rejected."""
    figures = dataset_figures(home, run_id)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "warehouse.duckdb"
        shutil.copy(home / "warehouse.duckdb", db)  # no lock on the shared home's file
        con = duckdb.connect(str(db), read_only=True)
        audit = con.execute(
            "SELECT dataset, sum(rows_read), sum(rows_loaded), sum(rows_rejected) FROM load_audit "
            "WHERE run_id = ? GROUP BY 1",
            [run_id],
        ).fetchall()
        quarantined = con.execute("SELECT count(*) FROM quarantine WHERE run_id = ?", [run_id]).fetchone()
        con.close()
    assert audit
    for dataset, read, loaded, rejected in audit:
        assert figures[("Load", dataset)] == {"RowsRead": read, "RowsLoaded": loaded, "RowsRejected": rejected}
        assert figures[("Stage", dataset)]["StepDuration"] > 0
    assert {dataset for step, dataset in figures if step == "Load"} == {row[0] for row in audit}
    rejected_rows = sum(f.get("RowsRejected", 0) for f in figures.values())
    assert quarantined is not None
    assert rejected_rows == quarantined[0]
    return int(rejected_rows)
