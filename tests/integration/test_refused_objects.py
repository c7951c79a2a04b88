"""A raw object that is no text (a PNG named .csv) is refused by Setup by name, remembered, and never
breaks the crawl (issue #12): the handlers as Lambda invokes them, on the local adapters, no Spark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from covid_pipeline.composition import Ports
from covid_pipeline.domain.manifest import read_manifest
from covid_pipeline.domain.refused_objects import forget, refused_objects
from tests.helpers import invoke

FOLDER = "enigma-nytimes-data-in-usa/csv/us_county/"
GOOD = FOLDER + "good.csv"
PNG_KEY = FOLDER + "chart.csv"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"


def _setup(source: Path, run_id: str) -> dict[str, Any]:
    event = {"run_id": run_id, "started_at": f"2026-01-01T00:00:0{run_id[-1]}Z", "request": {}}
    event["request"] = {"source_uri": source.as_uri() + "/", "datasets": ["enigma-nytimes-data-in-usa"]}
    return invoke("setup", event)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    (root / FOLDER).mkdir(parents=True)
    (root / GOOD).write_bytes(b"date,county,state,fips,cases,deaths\n2020-04-01,Autauga,Alabama,01001,5,1\n")
    (root / PNG_KEY).write_bytes(PNG)
    return root


def test_a_png_named_csv_is_refused_by_name_remembered_and_skipped_until_it_changes(
    handler_env: dict[str, str], ports: Ports, source: Path
) -> None:
    raw = ports.settings.raw_uri
    first = _setup(source, "r1")
    reason = "not UTF-8 text: byte 0x89 at offset 0"
    assert first["refused"] == [{"key": PNG_KEY, "reason": reason}]
    assert first["objects"] == 1  # the rest of the run goes on
    manifest = read_manifest(ports.store, first["manifest_uri"])
    assert raw + GOOD in manifest
    assert raw + PNG_KEY not in manifest
    (record,) = refused_objects(ports.store, ports.settings.quarantine_uri).values()
    assert (record.key, record.reason, record.run_id) == (PNG_KEY, reason, "r1")
    assert record.etag == ports.store.head(raw + PNG_KEY).etag

    # The crawl (the local one reads every raw object) goes on past it instead of failing the run.
    invoke("crawl", {"action": "start"})
    crawled = invoke("crawl", {"action": "poll"})
    assert crawled["done"], crawled
    stage = invoke("stage", {k: first[k] for k in ("run_id", "manifest_uri", "staged_uri", "quarantine_uri")})
    assert stage["rows"]["nyt_us_county"] == 1

    # The next run skips that version with a note; the raw object is kept as delivered.
    second = _setup(source, "r2")
    assert second["refused"] == [{"key": PNG_KEY, "reason": f"refused by run r1, unchanged since (skipped): {reason}"}]
    assert ports.store.get_bytes(raw + PNG_KEY) == PNG

    # Forgotten: the next run reads it again (and refuses it again, it is still a PNG).
    assert forget(ports.store, ports.settings.quarantine_uri, PNG_KEY) == record
    assert forget(ports.store, ports.settings.quarantine_uri, PNG_KEY) is None
    third = _setup(source, "r3")
    assert third["refused"] == [{"key": PNG_KEY, "reason": reason}]

    # A new version (another ETag) is read again without anything to clear: here, fixed into text.
    (source / PNG_KEY).write_bytes(b"date,county,state,fips,cases,deaths\n2020-04-01,Baldwin,Alabama,01003,7,0\n")
    fourth = _setup(source, "r4")
    assert fourth["refused"] == []
    assert raw + PNG_KEY in read_manifest(ports.store, fourth["manifest_uri"])


def test_an_upload_of_only_a_binary_object_fails_naming_it(handler_env: dict[str, str], ports: Ports) -> None:
    ports.store.put_bytes(ports.settings.raw_uri + PNG_KEY, PNG)
    event = {"run_id": "u1", "started_at": "t", "request": {"objects": [{"key": PNG_KEY}]}}
    with pytest.raises(Exception, match=rf"no uploaded object can be processed: '{PNG_KEY}': not UTF-8 text"):
        invoke("setup", event)
    assert list(refused_objects(ports.store, ports.settings.quarantine_uri)) == [PNG_KEY]
