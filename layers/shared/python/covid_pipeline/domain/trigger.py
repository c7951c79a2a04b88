"""Trigger: S3 "Object Created" events -> one state machine execution per batch, named by its content.

S3 delivers events at least once, and fifty uploads arrive as fifty events. The
events reach a queue that hands them over in batches; each batch becomes ONE
execution whose input lists its objects and whose name is derived from their keys
and ETags. A duplicate delivery of the same batch therefore asks for an execution
name that already exists - ``ExecutionAlreadyExists`` - which is the success of an
earlier delivery, never a second, racing load. (A duplicate landing in another
batch gets another name; Setup then finds its ETag in load_audit and the execution
ends as NothingToDo.)

A name that exists is not always work done: an execution that FAILED, TIMED_OUT or was ABORTED
must not swallow a later delivery of the same objects (a re-upload after the fix). Step Functions
answers ExecutionAlreadyExists for any *closed* execution of that name (a running one with the same
input is returned as is), so the trigger asks for its status and, if it ended without success,
starts the next attempt name (``<name>-r1``, ``-r2``, ...): deterministic too, so a redelivery of
the retried batch again finds its own execution.

Setup's copies of the source datasets into the raw zone are "Object Created" events as well; they
are loaded by the source run that made them, so the trigger drops them (the copy's metadata names
its source's ETag, see ``ObjectInfo.source_etag``) instead of starting racing executions over them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from covid_pipeline.domain.models import TriggerInput, TriggerOutput
from covid_pipeline.ports import ALREADY_EXISTS, STARTED, Executions, PipelineError

__all__ = [
    "ALREADY_EXISTS",
    "NOTHING_TO_DO",
    "STARTED",
    "TriggerDeps",
    "execution_name",
    "objects_of_events",
    "run_trigger",
    "start_once",
]
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
MAX_NAME = 80  # Step Functions execution names
# Closed without success: a later delivery of the same objects is new work, not a duplicate.
RETRYABLE = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
MAX_ATTEMPTS = 20
NOTHING_TO_DO = "NOTHING_TO_DO"  # every object of the batch was a copy the pipeline made itself


@dataclass(frozen=True)
class TriggerDeps:
    """What the trigger needs: where executions start, and how to tell the pipeline's own copies by key."""

    executions: Executions
    copied_by_pipeline: Callable[[str], bool] = lambda key: False


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


def attempt_name(name: str, attempt: int) -> str:
    """The execution name of the ``attempt``-th start of the same objects (0: the name itself)."""
    if attempt == 0:
        return name
    suffix = f"-r{attempt}"
    return name[: MAX_NAME - len(suffix)] + suffix


def start_once(executions: Executions, name: str, execution_input: dict[str, Any]) -> tuple[str, str]:
    """Start the objects' execution unless one of their attempts runs or succeeded: (name used, status)."""
    for attempt in range(MAX_ATTEMPTS):
        candidate = attempt_name(name, attempt)
        if executions.start(candidate, execution_input) == STARTED:
            return candidate, STARTED
        if executions.status(candidate) not in RETRYABLE:
            return candidate, ALREADY_EXISTS  # running or succeeded: this delivery is a duplicate
    raise PipelineError(f"{name}: {MAX_ATTEMPTS} executions of these objects ended without success; not retrying")


def run_trigger(inp: TriggerInput, deps: TriggerDeps) -> TriggerOutput:
    events = []
    for record in inp.Records:
        try:
            events.append(json.loads(record.body))
        except json.JSONDecodeError as exc:
            raise PipelineError(f"queue message {record.messageId} is not JSON: {exc}") from exc
    delivered = objects_of_events(events)
    objects = [o for o in delivered if not deps.copied_by_pipeline(o["key"])]
    counts = {"duplicate_events": len(events) - len(delivered), "pipeline_copies": len(delivered) - len(objects)}
    if not objects:
        return TriggerOutput(execution_name="", status=NOTHING_TO_DO, objects=0, **counts)
    name, status = start_once(
        deps.executions, execution_name((o["key"], o["etag"]) for o in objects), {"objects": objects}
    )
    return TriggerOutput(execution_name=name, status=status, objects=len(objects), **counts)
