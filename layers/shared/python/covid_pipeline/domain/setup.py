"""Setup: make sure the zones exist, decide what this run processes, write its manifest.

What a run processes depends on how it was started (the execution input):

* an S3 "Object Created" event, or ``{"objects": [{"key", "etag"}, ...]}`` (the
  trigger's batch of such events): those raw objects only;
* ``{"source_uri": ..., "datasets": [...]}``: the datasets are first copied from the
  source into the raw zone, then every raw object of them;
* ``{"backfill": {"dataset", "from", "to"}}``: the dataset's raw objects that hold
  rows of that date range, and only those rows (see ``domain.backfill``).

An object whose current ETag the warehouse's load_audit already records is
skipped (a duplicate event, a re-run of a finished execution), unless the input
says ``"reprocess": true`` or is a backfill. When nothing is left, the output has
``objects = 0`` and the state machine ends without running the other steps.
The reference feeds (state and UID lookups) are added to every run that has
work, since Clean needs them to resolve any feed's regions. ``needs_crawl`` is false
when every manifest object already lines up exactly with a catalog table (an upload
of a known layout): the state machine then goes straight to Stage.

An object that is no feed's text (a PNG named .csv: headers.text_problem) is refused by
name with its reason before any crawl sees it, and remembered (domain.refused_objects):
later runs skip that version of it with a note, a new version is read again.

Raw objects are never modified or deleted here (the raw zone is versioned);
copying an object already in the raw zone with the same ETag is skipped. A dataset
the source keeps under ``archived/`` (the data lake does, for older copies) is copied
to the same key and read as the same dataset.

The reference data the project ships (JHU's UID lookup, the state FIPS table; see
feeds.bundled_files) is published into the raw zone under ``reference/`` by every
run (written only when its content differs), so every run resolves regions with
them whatever its source or upload holds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

from covid_pipeline.composition import Ports
from covid_pipeline.domain.backfill import BackfillRequest, covers
from covid_pipeline.domain.header_check import NotText, header_fits, read_headers
from covid_pipeline.domain.manifest import ROLE_INPUT, ROLE_REFERENCE, ManifestEntry, write_manifest
from covid_pipeline.domain.models import RefusedObject, SetupInput, SetupOutput
from covid_pipeline.domain.refused_objects import RefusedRecord, refused_objects, remember
from covid_pipeline.feeds import (
    ARCHIVED,
    DATASETS,
    FEEDS,
    REFERENCE_FEEDS,
    Feed,
    bundled_files,
    feed_for_key,
    without_archived,
)
from covid_pipeline.headers import EXACT
from covid_pipeline.observability import logger
from covid_pipeline.ports import ObjectInfo, PipelineError
from covid_pipeline.reference_data import reference_bytes
from covid_pipeline.uris import check_key, join

# Keeps the step's output (state machine payload) small whatever a batch holds.
MAX_REPORTED_REFUSALS = 50
MAX_LOGGED_OBJECTS = 500


@dataclass(frozen=True)
class RunInput:
    """One raw object the run reads, and why."""

    obj: ObjectInfo
    feed: Feed
    role: str = ROLE_INPUT
    date_from: str | None = None  # ISO dates: only rows of this range are staged
    date_to: str | None = None

    def entry(self) -> ManifestEntry:
        return ManifestEntry(
            uri=self.obj.uri,
            dataset=self.feed.dataset,
            feed=self.feed.name,
            size=self.obj.size,
            etag=self.obj.etag,
            role=self.role,
            date_from=self.date_from,
            date_to=self.date_to,
        )


def _relative_key(uri: str, root_uri: str) -> str:
    root = root_uri if root_uri.endswith("/") else root_uri + "/"
    return uri[len(root) :] if uri.startswith(root) else uri


def dataset_folders(datasets: list[str] | tuple[str, ...]) -> list[str]:
    """The folders (relative to a root) that hold the datasets' objects: each one, and under archived/."""
    return [folder for dataset in datasets for folder in (f"{dataset}/", f"{ARCHIVED}{dataset}/")]


def source_objects(ports: Ports, source_uri: str, datasets: list[str]) -> tuple[list[tuple[ObjectInfo, str]], int]:
    """The source's objects a run copies, with their keys, and how many it leaves out.

    Left out: objects of no feed; an ``archived/`` copy of an object the source also holds at
    its current key (the lake keeps both: the same data twice would only be quarantined as
    duplicates); and, for a feed whose folders hold the same data in several formats
    (feeds.Feed.alternate_prefixes: Enigma's csv/ and json/), the folders after the first one
    that has objects.
    """
    listed: list[tuple[ObjectInfo, str, Feed]] = []
    ignored = 0
    for folder in dataset_folders(datasets):
        for obj in ports.store.list(join(source_uri, folder) + "/"):
            key = check_key(_relative_key(obj.uri, source_uri))
            feed = feed_for_key(key)
            if feed is None:
                ignored += 1
            else:
                listed.append((obj, key, feed))
    current = {key for _, key, _ in listed if not key.startswith(ARCHIVED)}
    kept = [(o, k, f) for o, k, f in listed if not (k.startswith(ARCHIVED) and k[len(ARCHIVED) :] in current)]
    chosen: dict[str, str] = {}  # feed name -> the prefix it is copied from
    for _, key, feed in kept:
        if feed.alternate_prefixes:
            prefix = next(p for p in feed.raw_prefixes if without_archived(key).startswith(p))
            best = min((chosen.get(feed.name, prefix), prefix), key=feed.raw_prefixes.index)
            chosen[feed.name] = best
    out = [
        (obj, key)
        for obj, key, feed in kept
        if not feed.alternate_prefixes or without_archived(key).startswith(chosen[feed.name])
    ]
    return out, ignored + len(listed) - len(out)


def copy_source(ports: Ports, source_uri: str, datasets: list[str]) -> tuple[int, int, int]:
    """Copy each dataset's feed files from the source into the raw zone; returns (copied, unchanged, ignored)."""
    raw = ports.settings.raw_uri
    copied = unchanged = 0
    objects, ignored = source_objects(ports, source_uri, datasets)
    for obj, key in objects:
        dest = join(raw, key)
        if already_copied(ports.store.head(dest), obj):
            unchanged += 1
            continue
        ports.store.copy(obj.uri, dest)
        copied += 1
    return copied, unchanged, ignored


def already_copied(existing: ObjectInfo | None, source: ObjectInfo) -> bool:
    """Whether the raw zone's object is a copy of this version of the source object.

    A copy records its source's ETag (``source_etag``): its own ETag differs whenever the store
    copied it in parts (S3 above 8 MB). An object without that record (an upload, a local copy)
    is compared by its own ETag.
    """
    if existing is None:
        return False
    if existing.source_etag is not None:
        return existing.source_etag == source.etag
    return existing.etag == source.etag


def raw_objects(ports: Ports, datasets: list[str] | tuple[str, ...]) -> list[tuple[ObjectInfo, Feed]]:
    """Every object of a known feed under the given datasets of the raw zone, in key order."""
    raw = ports.settings.raw_uri
    found = []
    for folder in dataset_folders(datasets):
        for obj in ports.store.list(join(raw, folder) + "/"):
            feed = feed_for_key(_relative_key(obj.uri, raw))
            if feed is not None:
                found.append((obj, feed))
    return found


def uploaded_objects(request: dict[str, Any]) -> list[tuple[str, str | None]] | None:
    """(key, etag) of each object the execution was started for; None for a source run or backfill."""
    if request.get("detail-type") == "Object Created":
        detail = request.get("detail")
        obj = detail.get("object") if isinstance(detail, dict) else None
        bucket = detail.get("bucket", {}).get("name") if isinstance(detail, dict) else None
        if not isinstance(obj, dict) or not isinstance(obj.get("key"), str) or not isinstance(bucket, str):
            raise PipelineError("malformed S3 event: detail.bucket.name and detail.object.key are required")
        return [(obj["key"], obj.get("etag"))]
    if "objects" in request:
        items = request["objects"]
        if not isinstance(items, list) or not items:
            raise PipelineError('"objects" must be a non-empty list of {"key": ..., "etag": ...}')
        out = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("key"), str):
                raise PipelineError(f'each entry of "objects" needs a "key": {item!r}')
            out.append((item["key"], item.get("etag")))
        return out
    return None


def _event_bucket(request: dict[str, Any]) -> str | None:
    detail = request.get("detail")
    return detail.get("bucket", {}).get("name") if isinstance(detail, dict) else request.get("bucket")


def _resolve_uploads(ports: Ports, uploads: list[tuple[str, str | None]]) -> tuple[list[RunInput], list[RefusedObject]]:
    """The uploaded objects that are feed files present in the raw zone; the others refused with a reason."""
    inputs: dict[str, RunInput] = {}
    refused: list[RefusedObject] = []
    for key, _etag in uploads:
        try:
            check_key(key)
        except PipelineError as exc:
            refused.append(RefusedObject(key=key, reason=str(exc)))
            continue
        feed = feed_for_key(key)
        if feed is None:
            refused.append(RefusedObject(key=key, reason="does not belong to any known dataset feed"))
            continue
        # The object as it is now: if it was overwritten since the event, its newer
        # version is processed here and the newer event becomes a duplicate.
        info = ports.store.head(join(ports.settings.raw_uri, key))
        if info is None:
            refused.append(RefusedObject(key=key, reason="not in the raw zone (deleted since the event?)"))
            continue
        inputs[info.uri] = RunInput(info, feed)
    return list(inputs.values()), refused


def _not_loaded(ports: Ports, inputs: list[RunInput]) -> tuple[list[RunInput], int]:
    """The inputs whose current ETag the warehouse has not loaded yet, and how many were skipped."""
    loaded = ports.warehouse.loaded_etags([i.obj.uri for i in inputs])
    fresh = [i for i in inputs if i.obj.etag not in loaded.get(i.obj.uri, set())]
    return fresh, len(inputs) - len(fresh)


def publish_reference(ports: Ports) -> int:
    """Write the project's bundled reference files into the raw zone where missing or different; how many written.

    An object of the same content is left alone, so load_audit's ETag check still sees it as loaded. The
    comparison rests on S3's documented ETag (Object.ETag in the S3 API reference): an object created by
    PutObject and encrypted with SSE-S3 (the raw bucket's default) or unencrypted has the MD5 of its data
    as ETag; the local store gives the same.
    """
    written = 0
    for key, (_feed, name) in bundled_files().items():
        data = reference_bytes(name)
        uri = join(ports.settings.raw_uri, key)
        existing = ports.store.head(uri)
        if existing is not None and existing.etag == hashlib.md5(data, usedforsecurity=False).hexdigest():
            continue
        ports.store.put_bytes(uri, data)
        written += 1
    return written


def _references(ports: Ports, inputs: list[RunInput]) -> list[RunInput]:
    """The reference feeds' raw objects the run does not already read as inputs."""
    taken = {i.obj.uri for i in inputs}
    datasets = tuple(dict.fromkeys(FEEDS[name].dataset for name in REFERENCE_FEEDS))
    return [
        RunInput(obj, feed, role=ROLE_REFERENCE)
        for obj, feed in raw_objects(ports, datasets)
        if feed.name in REFERENCE_FEEDS and obj.uri not in taken
    ]


def with_headers(ports: Ports, entries: list[ManifestEntry]) -> tuple[list[ManifestEntry], dict[str, str]]:
    """The entries with each object's header line, read once here for the crawl decision and Stage;
    and, by URI, why each object that is no text at all was left out (header_check.NotText)."""
    headers = read_headers(ports.store, [e.uri for e in entries])
    kept, not_text = [], {}
    for e in entries:
        header = headers[e.uri]
        if isinstance(header, NotText):
            not_text[e.uri] = str(header)
        else:  # an otherwise unreadable header: Stage says why
            kept.append(replace(e, header=tuple(header)) if isinstance(header, list) else e)
    return kept, not_text


def _not_refused_before(ports: Ports, inputs: list[RunInput]) -> tuple[list[RunInput], list[RefusedObject]]:
    """The inputs but the versions refused by an earlier run (skipped, with a note naming the object)."""
    remembered = refused_objects(ports.store, ports.settings.quarantine_uri)
    kept, notes = [], []
    for i in inputs:
        record = remembered.get(_relative_key(i.obj.uri, ports.settings.raw_uri))
        if record is not None and record.etag == i.obj.etag:
            reason = f"refused by run {record.run_id}, unchanged since (skipped): {record.reason}"
            notes.append(RefusedObject(key=record.key, reason=reason))
        else:
            kept.append(i)
    return kept, notes


def _refuse_not_text(
    ports: Ports, inp: SetupInput, inputs: list[RunInput], not_text: dict[str, str]
) -> list[RefusedObject]:
    """Remember each object that is no text (later runs skip that version) and report it by key."""
    refused = []
    for i in inputs:
        if i.obj.uri in not_text:
            key = _relative_key(i.obj.uri, ports.settings.raw_uri)
            record = RefusedRecord(key, i.obj.etag, not_text[i.obj.uri], inp.started_at, inp.run_id)
            remember(ports.store, ports.settings.quarantine_uri, record)
            refused.append(RefusedObject(key=key, reason=record.reason))
    return refused


def crawl_needed(ports: Ports, entries: list[ManifestEntry]) -> bool:
    """Whether the raw crawler must run before Stage: some object is in no catalog table, or
    its header is not exactly its table's (a new layout, a header rewritten in place).

    Otherwise the catalog already reads every object right (Athena reads whatever is under
    a table's location) and the crawl would only cost its 10-minute billing minimum.
    """
    table_of = {uri: t for t in ports.catalog.tables(ports.settings.glue_database) for uri in t.objects}
    if any(e.uri not in table_of for e in entries):
        return True
    by_table: dict[str, list[ManifestEntry]] = {}
    for e in entries:
        by_table.setdefault(table_of[e.uri].name, []).append(e)
    return any(
        fit != EXACT
        for group in by_table.values()
        for fit in header_fits(ports.store, group, table_of[group[0].uri]).values()
    )


def run_setup(inp: SetupInput, ports: Ports) -> SetupOutput:
    settings = ports.settings
    for zone in settings.zone_uris:
        ports.store.ensure_bucket(zone)
    publish_reference(ports)

    request = inp.request
    copied = unchanged = ignored = 0
    refused: list[RefusedObject] = []
    force = bool(request.get("reprocess", False))
    uploads = uploaded_objects(request)
    if uploads is not None:
        bucket = _event_bucket(request)
        if bucket is not None and bucket != settings.raw_bucket:
            raise PipelineError(f"event is for bucket {bucket!r}, not the raw zone {settings.raw_bucket!r}")
        inputs, refused = _resolve_uploads(ports, uploads)
        if not inputs:
            reasons = "; ".join(f"{r.key!r}: {r.reason}" for r in refused[:5])
            raise PipelineError(f"no uploaded object can be processed: {reasons}")
        trigger = "upload"
    elif "backfill" in request:
        backfill = BackfillRequest.from_request(request["backfill"])
        inputs = [
            RunInput(obj, feed, date_from=backfill.date_from_text, date_to=backfill.date_to_text)
            if feed.date_column
            else RunInput(obj, feed)
            for obj, feed in raw_objects(ports, [backfill.dataset])
            if covers(feed, obj.uri, backfill)
        ]
        if not inputs:
            raise PipelineError(f"the raw zone holds no object of {backfill.dataset} for {backfill.describe()}")
        force, trigger = True, "backfill"
    else:
        source = request.get("source_uri") or settings.source_uri
        datasets = request.get("datasets") or list(DATASETS)
        unknown = sorted(set(datasets) - set(DATASETS))
        if unknown:
            raise PipelineError(f"unknown dataset(s) {unknown}; known: {list(DATASETS)}")
        copied, unchanged, ignored = copy_source(ports, source, datasets)
        inputs = [RunInput(obj, feed) for obj, feed in raw_objects(ports, datasets)]
        if not inputs:
            raise PipelineError(f"the raw zone {settings.raw_uri} holds no object of a known dataset ({datasets})")
        trigger = "source"

    skipped = 0
    if not force:
        inputs, skipped = _not_loaded(ports, inputs)
    inputs, refused_before = _not_refused_before(ports, inputs)
    refused += refused_before
    manifest_uri = join(settings.work_uri, inp.run_id, "manifest.jsonl")
    references = _references(ports, inputs) if inputs else []
    needs_crawl = False
    logger.info(
        "objects to process",
        # A CloudWatch log event is at most 256 KB: the first keys and the count.
        extra={"count": len(inputs), "objects": [i.obj.uri for i in inputs[:MAX_LOGGED_OBJECTS]], "skipped": skipped},
    )
    if inputs:
        entries, not_text = with_headers(ports, [i.entry() for i in [*inputs, *references]])
        if not_text:
            not_text_refused = _refuse_not_text(ports, inp, [*inputs, *references], not_text)
            refused += not_text_refused
            inputs = [i for i in inputs if i.obj.uri not in not_text]
            if uploads is not None and not inputs:
                reasons = "; ".join(f"{r.key!r}: {r.reason}" for r in not_text_refused[:5])
                raise PipelineError(f"no uploaded object can be processed: {reasons}")
            references = [r for r in references if r.obj.uri not in not_text] if inputs else []
            entries = [e for e in entries if e.uri not in not_text] if inputs else []
    if inputs:
        write_manifest(ports.store, manifest_uri, entries)
        needs_crawl = crawl_needed(ports, entries)
    return SetupOutput(
        run_id=inp.run_id,
        started_at=inp.started_at,
        trigger=trigger,
        manifest_uri=manifest_uri,
        staged_uri=join(settings.staged_uri, inp.run_id) + "/",
        curated_uri=join(settings.curated_uri, inp.run_id) + "/",
        quarantine_uri=settings.quarantine_uri,
        objects=len(inputs),
        references=len(references),
        needs_crawl=needs_crawl,
        skipped=skipped,
        refused=refused[:MAX_REPORTED_REFUSALS],
        refused_count=len(refused),
        copied=copied,
        unchanged=unchanged,
        ignored=ignored,
    )
