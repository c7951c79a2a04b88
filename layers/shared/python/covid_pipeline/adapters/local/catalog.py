"""File-based catalog with a crawler that infers schemas from the raw files.

Like a Glue crawler configured to create one table per schema, the local crawler
groups the raw objects of each feed by their header layout (so files of
different JHU eras never share a table: position-based readers stay safe),
infers column types with pyarrow from the first block of each layout, and keeps
the tables as JSON files under ``<home>/catalog/<database>/``.

Each table's columns are the header's (a blank name becomes ``col<n>``, a repeated
one gets a suffix), then one trailing overflow column, named in the table's
``overflow_column`` parameter: a reader mapping fields by position (OpenCSVSerDe on
Athena, DuckDB here) puts a row's field past the header's last one there, so Stage
can tell a row with too many fields from a good one (see domain.staging_sql).

An object without a header line or without a data row (an empty file, a header
alone) is classified into no table, like an object of no feed; the crawler's state
lists it with the reason, and Stage refuses it as "not in the catalog".

A table's objects are read back live, as Athena reads whatever is under a Glue
table's location: those the crawl put in it that still exist, plus any object
written since whose feed and header layout are the table's. An object of a new
layout is in no table until the next crawl.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from covid_pipeline.adapters.local.object_store import LocalObjectStore
from covid_pipeline.feeds import FEEDS, feed_for_key
from covid_pipeline.headers import (
    HEADER_PROBE_BYTES,
    column_names,
    has_data_rows,
    header_signature,
    overflow_name,
    parse_header,
)
from covid_pipeline.ports import CatalogColumn, CatalogTable, CrawlerBusy, CrawlState, ObjectInfo, PipelineError
from covid_pipeline.uris import split_s3


def _write_json(path: Path, payload: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(payload, fh, indent=1, sort_keys=True)
    os.replace(tmp, path)


def _infer_types(head: bytes, columns: list[str]) -> list[str]:
    """Glue-like type names from a block of the file (best effort: string when unsure)."""
    block = head[: head.rfind(b"\n") + 1] if b"\n" in head else head
    try:
        table = pacsv.read_csv(
            io.BytesIO(block),
            parse_options=pacsv.ParseOptions(invalid_row_handler=lambda _row: "skip"),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return ["string"] * len(columns)
    types = {f.name: f.type for f in table.schema}
    out = []
    for name in columns:
        t = types.get(name)
        if t is None or pa.types.is_null(t):
            out.append("string")
        elif pa.types.is_integer(t):
            out.append("bigint")
        elif pa.types.is_floating(t):
            out.append("double")
        elif pa.types.is_boolean(t):
            out.append("boolean")
        else:
            out.append("string")
    return out


class LocalCatalog:
    def __init__(self, store: LocalObjectStore, home: Path, crawler_targets: dict[str, tuple[str, str]]):
        """``crawler_targets``: crawler name -> (database, s3 prefix it crawls)."""
        self.store = store
        self.root = Path(home).resolve() / "catalog"
        self.targets = crawler_targets

    def _crawler_file(self, name: str) -> Path:
        return self.root / "_crawlers" / f"{name}.json"

    def start_crawler(self, name: str) -> str:
        if name not in self.targets:
            raise PipelineError(f"no crawler named {name!r}")
        lock = self._lock(name)
        lock.parent.mkdir(parents=True, exist_ok=True)
        if not self._take(lock) and not (self._release_if_stale(lock) and self._take(lock)):
            raise CrawlerBusy(f"crawler {name} is already running")
        started = time.time()
        try:
            database, prefix = self.targets[name]
            summary = self._crawl(database, prefix)
            state = {"state": "READY", "last_status": "SUCCEEDED", "error": None}
        except Exception as exc:
            summary = {}
            state = {"state": "READY", "last_status": "FAILED", "error": str(exc)}
        finally:
            lock.unlink(missing_ok=True)
        _write_json(self._crawler_file(name), {**state, **summary, "duration_s": time.time() - started})
        return "STARTED"

    def _lock(self, name: str) -> Path:
        return self.root / "_crawlers" / f"{name}.lock"

    @staticmethod
    def _take(lock: Path) -> bool:
        """Create the lock with our pid in it; False when it exists (another crawl runs)."""
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        return True

    @staticmethod
    def _release_if_stale(lock: Path) -> bool:
        """Remove a lock whose process is gone (a crawl killed mid-way); True when it was removed."""
        try:
            pid = int(lock.read_text() or "0")
        except (FileNotFoundError, ValueError):
            return False  # vanished meanwhile, or being written: not ours to judge
        if pid <= 0:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            lock.unlink(missing_ok=True)
            return True
        except PermissionError:
            return False  # alive, another user's
        return False

    def crawler_state(self, name: str) -> CrawlState:
        lock = self._lock(name)
        if lock.exists() and not self._release_if_stale(lock):
            return CrawlState("RUNNING")
        path = self._crawler_file(name)
        if not path.exists():
            return CrawlState("READY", None)
        data = json.loads(path.read_text())
        return CrawlState(data["state"], data.get("last_status"), data.get("error"))

    def add_overflow_columns(self, database: str) -> list[str]:
        """Nothing to add: this crawler writes each table's overflow column itself."""
        return []

    def tables(self, database: str) -> list[CatalogTable]:
        folder = self.root / database
        if not folder.is_dir():
            return []
        found = []
        for path in sorted(folder.glob("*.json")):
            try:
                found.append(json.loads(path.read_text()))
            except FileNotFoundError:
                continue  # dropped by a concurrent crawl (a layout no object has any more)
        objects = self._live_objects(found)
        return [
            CatalogTable(
                database=database,
                name=d["name"],
                location=d["location"],
                columns=tuple(CatalogColumn(c["name"], c["type"]) for c in d["columns"]),
                objects=tuple(objects[d["name"]]),
                parameters=d.get("parameters", {}),
            )
            for d in found
        ]

    def _live_objects(self, tables: list[dict]) -> dict[str, list[str]]:
        """Each table's objects now: its crawled ones still present, then new ones of its feed and layout."""
        crawled = {uri for d in tables for uri in d["objects"]}
        by_layout = {(d["parameters"].get("feed"), d["parameters"].get("header_signature")): d["name"] for d in tables}
        out: dict[str, list[str]] = {d["name"]: [] for d in tables}
        present: set[str] = set()
        for location in sorted({d["location"] for d in tables}):
            bucket, _ = split_s3(location)
            for obj in self.store.list(location):
                present.add(obj.uri)
                if obj.uri in crawled:
                    continue
                layout = self._classify(obj, f"s3://{bucket}/")
                name = by_layout.get(layout) if isinstance(layout, tuple) else None
                if name is not None:
                    out[name].append(obj.uri)
        for d in tables:
            out[d["name"]] = [uri for uri in d["objects"] if uri in present] + out[d["name"]]
        return out

    def _classify(self, obj: ObjectInfo, bucket_root: str) -> tuple[str, str] | str | None:
        """(feed, header signature) of a raw object; the reason it has no table; None when of no feed."""
        feed = feed_for_key(obj.uri[len(bucket_root) :])
        if feed is None:
            return None
        head = self.store.get_bytes(obj.uri, HEADER_PROBE_BYTES)
        header = parse_header(head)
        if obj.size == 0:
            return "empty object (0 bytes)"
        if not any(header):
            return "no header line"
        if obj.size <= len(head) and not has_data_rows(head):
            return "header only: no data rows"
        return feed.name, header_signature(header)

    def _crawl(self, database: str, prefix_uri: str) -> dict[str, object]:
        bucket, _ = split_s3(prefix_uri)
        groups: dict[tuple[str, str], dict] = {}
        members: dict[tuple[str, str], list[str]] = defaultdict(list)
        unclassified = 0
        unreadable: dict[str, str] = {}
        for obj in self.store.list(prefix_uri):
            group = self._classify(obj, f"s3://{bucket}/")
            if group is None:
                unclassified += 1
                continue
            if isinstance(group, str):
                unreadable[obj.uri] = group
                continue
            if group not in groups:
                head = self.store.get_bytes(obj.uri, HEADER_PROBE_BYTES)
                columns = column_names(parse_header(head))
                groups[group] = {
                    "feed": FEEDS[group[0]],
                    "columns": [*columns, overflow_name(columns)],
                    "types": [*_infer_types(head, columns), "string"],
                }
            members[group].append(obj.uri)
        folder = self.root / database
        folder.mkdir(parents=True, exist_ok=True)
        wanted = set()
        for (feed_name, signature), info in sorted(groups.items()):
            name = f"{feed_name}_{signature}"
            wanted.add(f"{name}.json")
            _write_json(
                folder / f"{name}.json",
                {
                    "name": name,
                    "location": f"s3://{bucket}/{info['feed'].raw_prefix}",
                    "columns": [{"name": c, "type": t} for c, t in zip(info["columns"], info["types"], strict=True)],
                    "objects": members[(feed_name, signature)],
                    "parameters": {
                        "feed": feed_name,
                        "classification": "csv",
                        "header_signature": signature,
                        "overflow_column": info["columns"][-1],
                    },
                },
            )
        for stale in folder.glob("*.json"):
            if stale.name not in wanted:
                stale.unlink()
        return {
            "tables": len(groups),
            "objects": sum(len(v) for v in members.values()),
            "unclassified": unclassified,
            "unreadable": unreadable,
        }
