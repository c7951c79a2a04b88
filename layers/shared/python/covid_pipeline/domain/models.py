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


class SetupOutput(RunLocations):
    run_id: str
    started_at: str
    trigger: str  # "source" | "upload"
    objects: int
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


class StageInput(StepModel):
    run_id: RunId
    staged_uri: str
    quarantine_uri: str


class StageOutput(StepModel):
    staged_uri: str
    tables: int
    rows: dict[str, int]
    refused_objects: int
    refusals_uri: str | None = None
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
