"""Trigger: S3 "Object Created" events -> one state machine execution per batch, named by its content.

S3 delivers events at least once, and fifty uploads arrive as fifty events. The
events reach a queue that hands them over in batches; each batch becomes ONE
execution whose input lists its objects and whose name is derived from their keys
and ETags. A duplicate delivery of the same batch therefore asks for an execution
name that already exists - ``ExecutionAlreadyExists`` - which is the success of an
earlier delivery, never a second, racing load. (A duplicate landing in another
batch gets another name; Setup then finds its ETag in load_audit and the execution
ends as NothingToDo.)
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

from covid_pipeline.domain.models import TriggerInput, TriggerOutput
from covid_pipeline.ports import ALREADY_EXISTS, STARTED, Executions, PipelineError

__all__ = ["ALREADY_EXISTS", "STARTED", "execution_name", "objects_of_events", "run_trigger"]
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
MAX_NAME = 80  # Step Functions execution names


def execution_name(objects: Iterable[tuple[str, str | None]], prefix: str = "upload") -> str:
    """A deterministic, valid execution name for a set of (key, etag): same set, same name."""
    unique = sorted({(key, etag or "") for key, etag in objects})
    if not unique:
        raise PipelineError("no object to name an execution after")
    digest = hashlib.sha256("\n".join(f"{k}\0{e}" for k, e in unique).encode()).hexdigest()[:24]
    # A readable hint of what the run is for, then the digest that makes it unique.
    hint = _UNSAFE.sub("-", unique[0][0].rsplit("/", 1)[-1]).strip("-")[:32] or "object"
    return f"{prefix}-{hint}-{len(unique)}-{digest}"[:MAX_NAME]


def objects_of_events(events: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """{"key", "etag"} of each S3 "Object Created" event (EventBridge shape), duplicates removed, sorted."""
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for event in events:
        if event.get("detail-type") != "Object Created":
            raise PipelineError(f"not an S3 Object Created event: detail-type={event.get('detail-type')!r}")
        obj = (event.get("detail") or {}).get("object") or {}
        key, etag = obj.get("key"), obj.get("etag") or ""
        if not isinstance(key, str) or not key:
            raise PipelineError("S3 event without detail.object.key")
        seen[(key, etag)] = {"key": key, "etag": etag}
    return [seen[k] for k in sorted(seen)]


def run_trigger(inp: TriggerInput, executions: Executions) -> TriggerOutput:
    events = []
    for record in inp.Records:
        try:
            events.append(json.loads(record.body))
        except json.JSONDecodeError as exc:
            raise PipelineError(f"queue message {record.messageId} is not JSON: {exc}") from exc
    objects = objects_of_events(events)
    name = execution_name((o["key"], o["etag"]) for o in objects)
    status = executions.start(name, {"objects": objects})
    return TriggerOutput(
        execution_name=name,
        status=status,
        objects=len(objects),
        duplicate_events=len(events) - len(objects),
    )
