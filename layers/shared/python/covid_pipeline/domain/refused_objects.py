"""Raw objects Setup refused whole because they are no feed's text, remembered until they change or are cleared.

A PNG or random bytes named ``.csv`` would make the crawl, or every reader of its table,
fail. Setup refuses it by name (header_check.NotText) and records the refusal here, so
later runs skip that version of it with a one-line note instead of reading it again; a
new version of the object (another ETag) is read again. ``covid-pipeline refused``
lists the records; ``--clear KEY`` forgets one (the next run reads the object again).

The raw object itself is never moved or deleted: the raw zone keeps what was delivered.
So crawlers still see it: the local one lists it among its unreadable objects; Glue's gives it a
table classified ``UNKNOWN`` when no classifier recognises it (AWS Glue developer guide, "Defining
and managing classifiers"), or some CSV table. Either way no step reads it: Stage reads only the
objects of the run's manifest (a ``"$path"`` filter where a table holds others), and Setup left it out.

Where: the quarantine zone, one small JSON object per raw key under
``quarantine/_refused_objects/`` (the name is the SHA-256 of the key). One object per key,
not one shared file: S3 has no append, and two executions refusing different objects at
the same time must not overwrite each other's record.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from covid_pipeline.ports import ObjectNotFound, ObjectStore
from covid_pipeline.uris import join

REGISTRY_FOLDER = "_refused_objects"


@dataclass(frozen=True)
class RefusedRecord:
    key: str  # relative to the raw zone
    etag: str  # the version refused; another ETag is read again
    reason: str
    refused_at: str  # ISO 8601, UTC
    run_id: str


def _from_json(data: bytes) -> RefusedRecord:
    fields = json.loads(data)
    return RefusedRecord(**{name: str(fields.get(name, "")) for name in RefusedRecord.__dataclass_fields__})


def registry_uri(quarantine_uri: str) -> str:
    return join(quarantine_uri, REGISTRY_FOLDER) + "/"


def _record_uri(quarantine_uri: str, key: str) -> str:
    return join(registry_uri(quarantine_uri), hashlib.sha256(key.encode()).hexdigest() + ".json")


def refused_objects(store: ObjectStore, quarantine_uri: str) -> dict[str, RefusedRecord]:
    """Every remembered refusal, by raw key (one LIST, one GET per record: refusals are few)."""
    records = {}
    for info in store.list(registry_uri(quarantine_uri)):
        try:
            record = _from_json(store.get_bytes(info.uri))
        except ObjectNotFound:
            continue  # cleared meanwhile
        records[record.key] = record
    return records


def remember(store: ObjectStore, quarantine_uri: str, record: RefusedRecord) -> None:
    store.put_bytes(_record_uri(quarantine_uri, record.key), json.dumps(asdict(record), indent=1).encode())


def forget(store: ObjectStore, quarantine_uri: str, key: str) -> RefusedRecord | None:
    """Drop the refusal of ``key``; the record dropped, None when there was none."""
    uri = _record_uri(quarantine_uri, key)
    if store.head(uri) is None:
        return None
    record = _from_json(store.get_bytes(uri))
    # The name is a fixed-length digest + ".json": as a prefix it matches this one object only.
    store.delete_prefix(uri)
    return record
