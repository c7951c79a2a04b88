"""Setup: make sure the zones exist, bring the source datasets into the raw zone, list the run's inputs.

Idempotent: an object already in the raw zone with the same ETag is not copied
again, and raw objects are never modified or deleted (the raw zone is versioned).
"""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from pydantic import ValidationError

from covid_pipeline.composition import Ports
from covid_pipeline.domain.models import SetupInput, SetupOutput
from covid_pipeline.feeds import DATASETS, feed_for_key
from covid_pipeline.ports import PipelineError
from covid_pipeline.uris import check_key, join


def _relative_key(uri: str, root_uri: str) -> str:
    root = root_uri if root_uri.endswith("/") else root_uri + "/"
    return uri[len(root) :] if uri.startswith(root) else uri


def copy_source(ports: Ports, source_uri: str, datasets: list[str]) -> tuple[int, int, int]:
    """Copy each dataset's feed files from the source into the raw zone; returns (copied, unchanged, ignored)."""
    raw = ports.settings.raw_uri
    copied = unchanged = ignored = 0
    for dataset in datasets:
        for obj in ports.store.list(join(source_uri, dataset) + "/"):
            key = check_key(_relative_key(obj.uri, source_uri))
            if feed_for_key(key) is None:
                ignored += 1
                continue
            dest = join(raw, key)
            existing = ports.store.head(dest)
            if existing is not None and existing.etag == obj.etag:
                unchanged += 1
                continue
            ports.store.copy(obj.uri, dest)
            copied += 1
    return copied, unchanged, ignored


def _uploaded_object(request: dict) -> tuple[str, str] | None:
    """(bucket, key) when the execution was started by an S3 "Object Created" event."""
    if request.get("detail-type") != "Object Created":
        return None
    try:
        event = S3EventNotificationEventBridgeModel.model_validate(request)
    except ValidationError as exc:
        raise PipelineError(f"malformed S3 event: {exc.errors()[0]['msg']}") from exc
    return event.detail.bucket.name, event.detail.object.key


def run_setup(inp: SetupInput, ports: Ports) -> SetupOutput:
    settings = ports.settings
    for zone in settings.zone_uris:
        ports.store.ensure_bucket(zone)

    copied = unchanged = ignored = 0
    uploaded = _uploaded_object(inp.request)
    if uploaded is not None:
        bucket, key = uploaded
        if bucket != settings.raw_bucket:
            raise PipelineError(f"event is for bucket {bucket!r}, not the raw zone {settings.raw_bucket!r}")
        if feed_for_key(check_key(key)) is None:
            raise PipelineError(f"object {key!r} does not belong to any known dataset feed")
        if ports.store.head(join(settings.raw_uri, key)) is None:
            raise PipelineError(f"uploaded object s3://{bucket}/{key} is not in the raw zone")
        trigger = "upload"
    else:
        source = inp.request.get("source_uri") or settings.source_uri
        datasets = inp.request.get("datasets") or list(DATASETS)
        unknown = sorted(set(datasets) - set(DATASETS))
        if unknown:
            raise PipelineError(f"unknown dataset(s) {unknown}; known: {list(DATASETS)}")
        copied, unchanged, ignored = copy_source(ports, source, datasets)
        trigger = "source"

    # The run processes every feed object in the raw zone; MERGE keeps the warehouse free of duplicates.
    lines = []
    for obj in ports.store.list(settings.raw_uri):
        feed = feed_for_key(_relative_key(obj.uri, settings.raw_uri))
        if feed is not None:
            lines.append(
                json.dumps(
                    {
                        "uri": obj.uri,
                        "dataset": feed.dataset,
                        "feed": feed.name,
                        "size": obj.size,
                        "etag": obj.etag,
                    }
                )
            )
    if not lines:
        raise PipelineError(f"the raw zone {settings.raw_uri} holds no object of a known dataset")
    manifest_uri = join(settings.work_uri, inp.run_id, "manifest.jsonl")
    ports.store.put_bytes(manifest_uri, ("\n".join(lines) + "\n").encode())
    return SetupOutput(
        run_id=inp.run_id,
        started_at=inp.started_at,
        trigger=trigger,
        manifest_uri=manifest_uri,
        staged_uri=join(settings.staged_uri, inp.run_id) + "/",
        curated_uri=join(settings.curated_uri, inp.run_id) + "/",
        quarantine_uri=settings.quarantine_uri,
        objects=len(lines),
        copied=copied,
        unchanged=unchanged,
        ignored=ignored,
    )
