"""Backfill: re-process one dataset's rows of a date range from the raw zone.

A feed with one file per day (JHU) contributes the files dated in the range; a
feed whose files hold many days (NYT, CTP) contributes every file, and Stage keeps
only the rows of the range (``date_from``/``date_to`` in the manifest). Feeds with
no date (hospital beds, lookups) are re-read whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from covid_pipeline.feeds import DATASETS, Feed
from covid_pipeline.ports import PipelineError


@dataclass(frozen=True)
class BackfillRequest:
    dataset: str
    date_from: date
    date_to: date

    @classmethod
    def from_request(cls, payload: Any) -> BackfillRequest:
        """Validate ``{"dataset": ..., "from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}``."""
        if not isinstance(payload, dict):
            raise PipelineError('"backfill" must be {"dataset": ..., "from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}')
        dataset = payload.get("dataset")
        if dataset not in DATASETS:
            raise PipelineError(f"backfill: unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
        start, end = _date(payload.get("from"), "from"), _date(payload.get("to"), "to")
        if start > end:
            raise PipelineError(f"backfill: from {start} is after to {end}")
        return cls(dataset, start, end)

    @property
    def date_from_text(self) -> str:
        return self.date_from.isoformat()

    @property
    def date_to_text(self) -> str:
        return self.date_to.isoformat()

    def describe(self) -> str:
        return f"{self.date_from} .. {self.date_to}"


def _date(value: Any, name: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise PipelineError(f"backfill: {name} must be a date YYYY-MM-DD, got {value!r}") from None


def path_date(feed: Feed, uri: str) -> date | None:
    """The day a file of a one-file-per-day feed holds (None for other feeds or an undatable name)."""
    if not feed.date_from_path or not feed.path_date_format:
        return None
    match = re.search(feed.date_from_path, uri)
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1), feed.path_date_format).date()
    except ValueError:
        return None


def covers(feed: Feed, uri: str, request: BackfillRequest) -> bool:
    """Whether the raw object may hold rows of the request's range."""
    if feed.date_from_path:
        day = path_date(feed, uri)
        return day is not None and request.date_from <= day <= request.date_to
    return True
