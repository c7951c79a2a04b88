"""File-based catalog with a crawler that infers schemas from the raw files.

Like a Glue crawler configured to create one table per schema, the local crawler
groups the raw objects of each feed by their format and header layout (so files of
different JHU eras never share a table: position-based readers stay safe),
infers column types with pyarrow from the first block of each layout, and keeps
the tables as JSON files under ``<home>/catalog/<database>/``. A gzip object
(``.gz``) is read through its decompressed content, as Glue and Athena read it; a
JSON Lines object's columns are the keys of the objects of its first block (classification json).

Each table's columns are the header's (a blank name becomes ``col<n>``, a repeated
one gets a suffix), then one trailing overflow column, named in the table's
``overflow_column`` parameter: a reader mapping fields by position (OpenCSVSerDe on
Athena, DuckDB here) puts a row's field past the header's last one there, so Stage
can tell a row with too many fields from a good one (see domain.staging_sql).

An object without a header line or without a data row (an empty file, a header
alone), or that is no text at all (headers.text_problem: a PNG named .csv; Setup
refuses that one by name first), is classified into no table, like an object of no
feed; the crawler's state lists it with the reason, and Stage refuses it as "not in
the catalog".

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
from covid_pipeline.feeds import CSV, FEEDS, JSON, feed_for_key, object_format
from covid_pipeline.headers import (
    HEADER_PROBE_BYTES,
    column_names,
    decompressed_head,
    has_data_rows,
    header_signature,
    json_keys,
    overflow_name,
    parse_header,
    read_header,
    text_problem,
)
from covid_pipeline.ports import CatalogColumn, CatalogTable, CrawlerBusy, CrawlState, ObjectInfo, PipelineError
from covid_pipeline.uris import split_s3


def _write_json(path: Path, payload: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(payload, fh, indent=1, sort_keys=True)
    os.replace(tmp, path)


def _json_types(head: bytes, keys: list[str]) -> list[str]:
    """Glue-like type names of a JSON object's values (first line; informational: Stage types by the feed)."""
    line = next((ln for ln in head.decode("utf-8", errors="replace").splitlines() if ln.strip()), "{}")
    try:
        first = json.loads(line)
    except json.JSONDecodeError:
        first = {}
    names = {bool: "boolean", int: "bigint", float: "double"}
    return [names.get(type(first.get(k)), "string") for k in keys]


def _common_folder(uris: list[str]) -> str:
    """The deepest folder (ending in '/') holding every URI: a table's location."""
    folders = [uri.rsplit("/", 1)[0] + "/" for uri in uris]
    common = os.path.commonprefix(folders)  # noqa: RUF071 - character-wise on purpose, then cut back to a folder
    return common[: common.rfind("/") + 1]


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

    def prepare_raw_tables(self, database: str) -> list[str]:
        """Nothing to change: this crawler writes text columns and each CSV table's overflow column itself."""
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
        """(feed, layout) of a raw object; the reason it has no table; None when of no feed.

        The layout is the format and the header's signature: CSV and JSON Lines objects of one
        feed never share a table (a gzip CSV and a plain one of the same header do).
        """
        feed = feed_for_key(obj.uri[len(bucket_root) :])
        if feed is None:
            return None
        if obj.size == 0:
            return "empty object (0 bytes)"
        head = self.store.get_bytes(obj.uri, HEADER_PROBE_BYTES)
        problem = text_problem(head, obj.uri)
        if problem is not None:
            return problem  # Setup refuses it by name (domain.refused_objects); no table, and the crawl goes on
        header = read_header(head, obj.uri)
        fmt = object_format(obj.uri)
        if not any(header):
            return "no JSON object on its first line" if fmt == JSON else "no header line"
        if obj.size <= len(head) and not has_data_rows(head, obj.uri):
            return "header only: no data rows"
        signature = header_signature(header)
        return feed.name, signature if fmt == CSV else f"{fmt}-{signature}"

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
                head = decompressed_head(self.store.get_bytes(obj.uri, HEADER_PROBE_BYTES), obj.uri)
                fmt = object_format(obj.uri)
                columns = column_names(json_keys(head) if fmt == JSON else parse_header(head))
                if fmt == JSON:
                    # Read by key names: a line with other keys cannot shift values, so no overflow column.
                    groups[group] = {"feed": FEEDS[group[0]], "format": fmt, "columns": columns,
                                     "types": _json_types(head, columns)}  # fmt: skip
                else:
                    groups[group] = {
                        "feed": FEEDS[group[0]],
                        "format": fmt,
                        "columns": [*columns, overflow_name(columns)],
                        "types": [*_infer_types(head, columns), "string"],
                    }
            members[group].append(obj.uri)
        folder = self.root / database
        folder.mkdir(parents=True, exist_ok=True)
        wanted = set()
        for (feed_name, signature), info in sorted(groups.items()):
            name = f"{feed_name}_{signature}".replace("-", "_")
            wanted.add(f"{name}.json")
            objects = members[(feed_name, signature)]
            parameters = {"feed": feed_name, "classification": info["format"], "header_signature": signature}
            if info["format"] == CSV:
                parameters["overflow_column"] = info["columns"][-1]
            _write_json(
                folder / f"{name}.json",
                {
                    "name": name,
                    "location": _common_folder(objects),
                    "columns": [{"name": c, "type": t} for c, t in zip(info["columns"], info["types"], strict=True)],
                    "objects": objects,
                    "parameters": parameters,
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
