"""Where a report reads from: the ``ReportSource`` port and its local adapter (the home's DuckDB warehouse,
the local runner's executions and the refused-object lists in the lake zone).

An AWS adapter (Redshift Data API + Step Functions histories) implements the same three methods; the SQL the
report sends (queries.py) is plain enough for both engines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from covid_pipeline.ports import PipelineError


@dataclass(frozen=True)
class RunSummary:
    """One execution as the report shows it."""

    name: str
    status: str
    started_at: float  # epoch seconds
    duration_s: float | None
    failed_state: str | None = None
    reason: str = ""
    state_durations: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RefusedObject:
    """A raw object a run refused whole, with the step that refused it and why."""

    run: str
    step: str
    object: str
    reason: str


class ReportSource(Protocol):
    def describe(self) -> str:
        """Where the data comes from, for the page's header."""
        ...

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and rows of a read-only warehouse query (PipelineError when it cannot run)."""
        ...

    def executions(self, limit: int) -> list[RunSummary]:
        """The most recent executions, newest first."""
        ...

    def refused_objects(self, limit: int) -> list[RefusedObject]:
        """Objects refused whole (by Setup or Stage), newest runs first."""
        ...


def setup_refusals(name: str, output: Any) -> list[RefusedObject]:
    """Setup's refused uploads, as its output lists them (the execution's output carries Setup's fields)."""
    if not isinstance(output, dict):
        return []
    return [
        RefusedObject(name, "Setup", str(r.get("key", "")), str(r.get("reason", "")))
        for r in output.get("refused") or []
        if isinstance(r, dict)
    ]


def stage_refusals(run: str, jsonl: bytes) -> list[RefusedObject]:
    """Stage's ``quarantine/_refused/<run_id>.jsonl`` lines (object, feed, reason)."""
    refused = []
    for line in jsonl.decode("utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            refused.append(RefusedObject(run, "Stage", str(entry.get("object", "")), str(entry.get("reason", ""))))
    return refused


class LocalReportSource:
    """The local home: ``warehouse.duckdb`` (opened read-only, per query), ``executions/`` and the lake zone."""

    def __init__(self, home: Path) -> None:
        from covid_pipeline.adapters.local.object_store import LocalObjectStore
        from covid_pipeline.adapters.local.warehouse import DuckDbWarehouse
        from covid_pipeline.runner.local import LocalPipeline, local_settings

        if Path(home).exists() and not Path(home).is_dir():
            raise PipelineError(f"--home {home} is a file, not a pipeline home folder")
        self.pipeline = LocalPipeline(home)
        self.home = self.pipeline.home
        self.settings = local_settings(self.pipeline)
        self.store = LocalObjectStore(self.home)
        # Read-only connections, waiting while a run holds DuckDB's single-writer lock.
        self.warehouse = DuckDbWarehouse(self.home / "warehouse.duckdb", self.store)

    def describe(self) -> str:
        return f"local home {self.home}"

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        return self.warehouse.query_with_columns(sql)

    def executions(self, limit: int) -> list[RunSummary]:
        return [
            RunSummary(
                name=r.name,
                status=r.status,
                started_at=r.started_at,
                duration_s=r.duration_s,
                failed_state=r.failed_state,
                reason=r.reason,
                state_durations=dict(r.state_durations),
            )
            for r in self.pipeline.executions(limit=limit)
        ]

    def refused_objects(self, limit: int) -> list[RefusedObject]:
        records = self.pipeline.executions(limit=limit)
        started = {r.name: r.started_at for r in records}
        dated: list[tuple[float, RefusedObject]] = []
        for record in records:
            dated += [(record.started_at, r) for r in setup_refusals(record.name, record.output)]
        for info in self.store.list(self.settings.quarantine_uri + "_refused/"):
            run = info.uri.rsplit("/", 1)[-1].removesuffix(".jsonl")
            when = started.get(run, self.store.path(info.uri).stat().st_mtime)
            dated += [(when, r) for r in stage_refusals(run, self.store.get_bytes(info.uri))]
        dated.sort(key=lambda d: d[0], reverse=True)
        return [r for _, r in dated[:limit]]
