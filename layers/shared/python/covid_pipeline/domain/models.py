"""Inputs and outputs of the pipeline steps: the state machine's payload contract.

Steps pass locations, ids and counts only (a Step Functions payload is at most 256 KB).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

# Execution names are used in zone paths: keep them to what Step Functions allows and no more.
RunId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,80}$")]


class StepModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SetupInput(StepModel):
    run_id: RunId
    started_at: str
    request: dict[str, Any] = Field(default_factory=dict, description="the execution input, as given")


class RunLocations(StepModel):
    manifest_uri: str
    staged_uri: str
    curated_uri: str
    quarantine_uri: str


class RefusedObject(StepModel):
    key: str
    reason: str


class SetupOutput(RunLocations):
    run_id: str
    started_at: str
    trigger: str  # "source" | "upload" | "backfill"
    objects: int = Field(description="input objects to process; 0 = nothing to do (all already loaded)")
    references: int = Field(0, description="reference-feed objects read alongside the inputs")
    needs_crawl: bool = Field(True, description="false: every object already lines up with a catalog table")
    skipped: int = Field(0, description="objects whose current ETag the warehouse already loaded")
    refused: list[RefusedObject] = Field(default_factory=list, description="uploaded objects refused (at most 50)")
    refused_count: int = 0
    copied: int
    unchanged: int
    ignored: int


class CrawlInput(StepModel):
    run_id: RunId | None = None
    action: str = Field(pattern="^(start|poll)$")
    polls: int = 0


class CrawlOutput(StepModel):
    crawler: str
    state: str
    last_status: str | None = None
    done: bool
    polls: int
    tables_prepared: list[str] = Field(default_factory=list)  # tables made text (+ overflow column) after the crawl


class StageInput(StepModel):
    run_id: RunId
    manifest_uri: str
    staged_uri: str
    quarantine_uri: str


class StageOutput(StepModel):
    staged_uri: str
    tables: int
    rows: dict[str, int]
    refused_objects: int
    refusals_uri: str | None = None
    refusals: list[str] = Field(default_factory=list, description="'<object>: <reason>', at most 20")
    unmapped_columns: dict[str, list[str]] = Field(default_factory=dict)


class LoadInput(StepModel):
    run_id: RunId
    curated_uri: str
    quarantine_uri: str


class LoadOutput(StepModel):
    run_id: str
    rows_merged: dict[str, int]
    rows_total: dict[str, int]
    rejected: dict[str, int]
    # table -> {"new", "changed", "unchanged", "superseded"} rows of the batch
    changes: dict[str, dict[str, int]] = {}
    # Regions the warehouse holds that JHU's lookup does not know (dim_region.in_lookup false), a few names
    unresolved_regions: int = 0
    unresolved_names: list[str] = []


class QueueMessage(StepModel):
    messageId: str
    body: str


class TriggerInput(StepModel):
    """An SQS batch whose messages are EventBridge S3 "Object Created" events."""

    Records: list[QueueMessage] = Field(min_length=1)


class TriggerOutput(StepModel):
    execution_name: str
    status: str  # STARTED | ALREADY_EXISTS | NOTHING_TO_DO
    objects: int
    duplicate_events: int
    pipeline_copies: int = 0  # events of Setup's own copies into the raw zone, not started
