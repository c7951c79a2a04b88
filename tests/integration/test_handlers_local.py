"""Each Lambda handler, invoked as Lambda would, against the local adapters."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from covid_pipeline.composition import Ports
from covid_pipeline.domain.manifest import read_manifest
from covid_pipeline.feeds import CAST_ERRORS
from covid_pipeline.ports import EngineError
from tests.conftest import SAMPLE
from tests.helpers import invoke, write_table_parquet


@pytest.fixture
def env(handler_env: dict[str, str]) -> dict[str, str]:
    return handler_env


def test_setup_copies_sample_once_and_writes_manifest(env: dict[str, str], ports: Ports) -> None:
    event = {
        "run_id": "r1",
        "started_at": "2026-01-01T00:00:00Z",
        "request": {"source_uri": SAMPLE.as_uri() + "/"},
    }
    first = invoke("setup", event)
    assert first["copied"] == 7
    assert first["objects"] == 7
    assert first["staged_uri"] == "s3://test-lake/staged/r1/"
    manifest = [json.loads(line) for line in ports.store.get_bytes(first["manifest_uri"]).decode().splitlines()]
    # The sample's 7 objects, and the 2 reference files the project ships, published into the raw zone by Setup.
    assert len(manifest) == 9
    references = {m["uri"]: m for m in manifest if m["role"] == "reference"}
    assert sorted(references) == [
        "s3://test-raw/reference/jhu-uid-lookup/UID_ISO_FIPS_LookUp_Table.csv",
        "s3://test-raw/reference/state-fips/state_fips_master.csv",
    ]
    assert references["s3://test-raw/reference/jhu-uid-lookup/UID_ISO_FIPS_LookUp_Table.csv"]["header"][:2] == [
        "UID",
        "iso2",
    ]
    published = ports.store.head("s3://test-raw/reference/state-fips/state_fips_master.csv")
    second = invoke("setup", {**event, "run_id": "r2"})
    assert second["copied"] == 0
    assert second["unchanged"] == 7
    # Published only when the content differs: the same object version, the same ETag.
    assert ports.store.head("s3://test-raw/reference/state-fips/state_fips_master.csv") == published


def test_setup_refuses_an_empty_source_with_a_reason(env: dict[str, str], tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    event = {"run_id": "r1", "started_at": "t", "request": {"source_uri": empty.as_uri() + "/"}}
    with pytest.raises(Exception, match="holds no object of"):
        invoke("setup", event)


def test_setup_accepts_an_s3_object_created_event(env: dict[str, str], ports: Ports) -> None:
    key = "enigma-jhu/csv/01-22-2020.csv"
    ports.store.copy((SAMPLE / key).as_uri(), f"s3://test-raw/{key}")
    event = {
        "run_id": "u1",
        "started_at": "t",
        "request": {
            "version": "0",
            "id": "x",
            "detail-type": "Object Created",
            "source": "aws.s3",
            "account": "1",
            "time": "2026-01-01T00:00:00Z",
            "region": "us-east-2",
            "resources": [],
            "detail": {
                "version": "0",
                "bucket": {"name": "test-raw"},
                "object": {"key": key, "size": 1, "etag": "e", "sequencer": "0"},
                "request-id": "r",
                "requester": "q",
                "source-ip-address": "1.2.3.4",
                "reason": "PutObject",
            },
        },
    }
    assert invoke("setup", event)["trigger"] == "upload"
    wrong_bucket = {
        **event,
        "request": {
            **event["request"],
            "detail": {**event["request"]["detail"], "bucket": {"name": "elsewhere"}},
        },
    }
    with pytest.raises(Exception, match="not the raw zone"):
        invoke("setup", wrong_bucket)


def test_crawl_start_then_poll_and_busy(env: dict[str, str], ports: Ports) -> None:
    invoke("setup", {"run_id": "r1", "started_at": "t", "request": {"source_uri": SAMPLE.as_uri() + "/"}})
    started = invoke("crawl", {"run_id": "r1", "action": "start"})
    assert started["done"] is False
    polled = invoke("crawl", {"run_id": "r1", "action": "poll", "polls": 3})
    assert polled == {
        "crawler": "test-raw-crawler",
        "state": "READY",
        "last_status": "SUCCEEDED",
        "done": True,
        "polls": 4,
        "tables_prepared": [],  # the local crawler writes them as Stage reads them itself
    }
    tables = ports.catalog.tables("test_raw")
    assert all(t.parameters.get("overflow_column") for t in tables)
    assert {t.parameters["feed"] for t in tables} >= {"jhu_daily", "nyt_us_county", "ctp_states_daily"}
    # Two JHU header eras in the sample: never mixed in one table.
    assert len([t for t in tables if t.parameters["feed"] == "jhu_daily"]) == 2
    lock = Path(env["PIPELINE_HOME"]) / "catalog" / "_crawlers" / "test-raw-crawler.lock"
    lock.touch()
    with pytest.raises(Exception, match="already running") as busy:
        invoke("crawl", {"run_id": "r1", "action": "start"})
    assert type(busy.value).__name__ == "CrawlerBusy"


def test_stage_writes_typed_parquet_per_feed_and_refuses_bad_headers(env: dict[str, str], ports: Ports) -> None:
    ports.store.ensure_bucket("s3://test-raw/")
    ports.store.put_bytes("s3://test-raw/enigma-jhu/csv/05-01-2020.csv", b"Country_Region,Deaths\nUS,1\n")
    setup = invoke("setup", {"run_id": "r1", "started_at": "t", "request": {"source_uri": SAMPLE.as_uri() + "/"}})
    invoke("crawl", {"action": "start"})
    out = invoke("stage", {key: setup[key] for key in ("run_id", "manifest_uri", "staged_uri", "quarantine_uri")})
    assert out["rows"]["jhu_daily"] == 39 + 2989 + 3002
    assert out["rows"]["nyt_us_county"] == 3257
    assert out["rows"]["ctp_states_daily"] == 1876 + 106 + 1
    assert out["refused_objects"] == 1
    refusals = ports.store.get_bytes(out["refusals_uri"]).decode()
    assert "05-01-2020.csv" in refusals
    assert "missing required column(s): confirmed" in refusals


ERA3 = "FIPS,Admin2,Province_State,Country_Region,Last_Update,Lat,Long_,Confirmed,Deaths,Recovered,Active,Combined_Key"


def test_setup_skips_the_crawl_only_when_the_catalog_covers_every_object(env: dict[str, str], ports: Ports) -> None:
    first = invoke("setup", {"run_id": "r1", "started_at": "t", "request": {"source_uri": SAMPLE.as_uri() + "/"}})
    assert first["needs_crawl"] is True  # nothing catalogued yet
    invoke("crawl", {"action": "start"})

    def upload(run_id: str, key: str, body: str) -> dict[str, Any]:
        info = ports.store.put_bytes(f"s3://test-raw/{key}", body.encode())
        request = {"objects": [{"key": key, "etag": info.etag}]}
        return invoke("setup", {"run_id": run_id, "started_at": "t", "request": request})

    row = '\n53033,King,Washington,US,2020-05-03 02:32:28,47.49,-121.83,6000,420,,5580,"King, Washington, US"\n'
    known = upload("r2", "enigma-jhu/csv/05-03-2020.csv", ERA3 + row)
    assert known["needs_crawl"] is False
    # Setup records each header in the manifest: Stage judges from it without reading the object again.
    manifest = read_manifest(ports.store, known["manifest_uri"])
    assert manifest["s3://test-raw/enigma-jhu/csv/05-03-2020.csv"].header == tuple(ERA3.split(","))
    assert all(e.header for e in manifest.values())
    # Without a crawl, the new object is read through the table of its header layout.
    staged = invoke("stage", {key: known[key] for key in ("run_id", "manifest_uri", "staged_uri", "quarantine_uri")})
    assert staged["rows"]["jhu_daily"] == 1
    assert staged["refused_objects"] == 0

    drifted = upload("r3", "enigma-jhu/csv/05-04-2020.csv", ERA3 + ",People_Tested" + row)
    assert drifted["needs_crawl"] is True
    rewritten = upload("r4", "enigma-jhu/csv/04-12-2020.csv", ERA3.replace("Admin2,", "") + row)
    assert rewritten["needs_crawl"] is True, "same key, new header: the catalogued table no longer fits"
    assert upload("r5", "enigma-jhu/csv/05-05-2020.csv", ERA3 + "\n")["needs_crawl"] is True  # header only


def test_stage_reads_a_crawler_grouped_table_by_position_and_refuses_shifted_objects(
    env: dict[str, str], ports: Ports
) -> None:
    """As a Glue crawler may: one table for JHU files of several header eras (the 14-column one's columns).

    The 12-column era only lacks trailing columns: staged, its rows not taken as short. The
    6-column era's columns sit elsewhere: read by position its values would shift, so it is refused.
    """
    ports.store.ensure_bucket("s3://test-raw/")
    era4 = f"{ERA3},Incident_Rate,Case_Fatality_Ratio\n"
    era4 += ",,,Andorra,2020-05-02 02:32:27,42.5,1.5,747,45,472,230,Andorra,966.8,6.02\n"
    ports.store.put_bytes("s3://test-raw/enigma-jhu/csv/05-02-2020.csv", era4.encode())
    setup = invoke("setup", {"run_id": "r1", "started_at": "t", "request": {"source_uri": SAMPLE.as_uri() + "/"}})
    invoke("crawl", {"action": "start"})
    folder = Path(env["PIPELINE_HOME"]) / "catalog" / "test_raw"
    jhu = {p: json.loads(p.read_text()) for p in folder.glob("jhu_daily_*.json")}
    assert len(jhu) == 3, "one table per header era, as the local crawler makes them"
    widest = max(jhu, key=lambda p: len(jhu[p]["columns"]))
    grouped = jhu[widest] | {"objects": sorted(uri for table in jhu.values() for uri in table["objects"])}
    for path in jhu:
        path.unlink()
    widest.write_text(json.dumps(grouped))

    out = invoke("stage", {key: setup[key] for key in ("run_id", "manifest_uri", "staged_uri", "quarantine_uri")})

    assert out["rows"]["jhu_daily"] == 2989 + 3002 + 1
    assert out["refused_objects"] == 1
    (refusal,) = [json.loads(line) for line in ports.store.get_bytes(out["refusals_uri"]).decode().splitlines()]
    assert refusal["object"].endswith("/01-22-2020.csv")
    assert "column 1 is 'Province/State' in the object but 'FIPS'" in refusal["reason"]
    staged = Path(env["PIPELINE_HOME"]).glob("s3/test-lake/staged/r1/jhu_daily/**/*.parquet")
    rows = duckdb.sql(
        f"SELECT count(*) FILTER (WHERE {CAST_ERRORS} LIKE '%malformed row%'), count(*) FILTER (WHERE "
        f"incident_rate IS NOT NULL), max(case_fatality_ratio) FROM read_parquet({sorted(map(str, staged))})"
    ).fetchone()
    assert rows == (0, 1, 6.02)


def _batch(curated: Path, quarantine: Path, confirmed: int, region_key: int = 1) -> None:
    write_table_parquet(
        curated / "dim_date",
        "dim_date",
        [
            {
                "date_key": 20200412,
                "date": "2020-04-12",
                "year": 2020,
                "quarter": 2,
                "month": 4,
                "day": 12,
                "day_of_week": 7,
                "week_of_year": 15,
                "is_weekend": True,
            }
        ],
    )
    write_table_parquet(
        curated / "dim_region",
        "dim_region",
        [
            {
                "region_key": 1,
                "level": "state",
                "country_region": "US",
                "province_state": "Alabama",
                "fips": "01",
                "precedence": 0,
            }
        ],
    )
    write_table_parquet(
        curated / "fact_cases_daily",
        "fact_cases_daily",
        [
            {
                "region_key": region_key,
                "date_key": 20200412,
                "source": "jhu",
                "confirmed": confirmed,
                "deaths": 1,
                "feed": "jhu_daily",
                "precedence": 0,
                "source_object": "s3://test-raw/enigma-jhu/csv/04-12-2020.csv",
            }
        ],
    )
    write_table_parquet(
        curated / "load_audit",
        "load_audit",
        [
            {
                "run_id": "r1",
                "source_object": "s3://test-raw/enigma-jhu/csv/04-12-2020.csv",
                "dataset": "enigma-jhu",
                "rows_read": 2,
                "rows_loaded": 1,
                "rows_rejected": 1,
                "started_at": "2026-01-01 00:00:00",
            }
        ],
    )
    write_table_parquet(
        quarantine / "r1",
        "quarantine",
        [
            {
                "row_id": "abc",
                "run_id": "r1",
                "feed": "jhu_daily",
                "source_object": "s3://x",
                "reason": "negative count: x",
                "record": "{}",
            }
        ],
    )
    # Clean writes every table, an empty one as a schema-only file (Load refuses a prefix without one).
    for name in ("dim_hospital", "fact_testing_daily"):
        write_table_parquet(curated / name, name, [])


def test_load_merges_idempotently_and_rolls_back_bad_batches(env: dict[str, str], ports: Ports) -> None:
    curated = ports.store.path("s3://test-lake/curated/r1/")
    quarantine = ports.store.path("s3://test-lake/quarantine/")
    _batch(curated, quarantine, confirmed=10)
    event = {
        "run_id": "r1",
        "curated_uri": "s3://test-lake/curated/r1/",
        "quarantine_uri": "s3://test-lake/quarantine/",
    }
    first = invoke("load", event)
    assert first["rows_total"]["fact_cases_daily"] == 1
    assert first["rejected"] == {"negative count": 1}
    again = invoke("load", event)
    assert again["rows_total"] == first["rows_total"]
    _batch(curated, quarantine, confirmed=12)
    invoke("load", event)
    assert ports.warehouse.query("SELECT confirmed FROM fact_cases_daily") == [(12,)]
    audit = ports.warehouse.query(
        "SELECT rows_read, rows_loaded, rows_rejected, finished_at IS NOT NULL FROM load_audit"
    )
    assert audit == [(2, 1, 1, True)]
    # A fact pointing at a region that does not exist: the whole load is rolled back.
    _batch(curated, quarantine, confirmed=99, region_key=2)
    with pytest.raises(EngineError, match="rolled back"):
        invoke("load", event)
    assert ports.warehouse.query("SELECT region_key, confirmed FROM fact_cases_daily") == [(1, 12)]


def test_gzip_csv_and_json_lines_objects_are_staged_by_header_name(env: dict[str, str], ports: Ports) -> None:
    """The lake's formats: Enigma's history gzip-compressed (and as JSON Lines), hospital beds as JSON Lines
    (upper-case keys, ``longtitude`` sic). A JSON line that is not JSON reads as a row of NULLs: staged, so
    Clean quarantines it (missing hospital name), never silently dropped."""
    import gzip

    lake = SAMPLE.parent / "lake"
    enigma = (lake / "enigma-jhu/csv/Enigma-JHU.csv").read_bytes()
    ports.store.ensure_bucket("s3://test-raw/")
    ports.store.put_bytes("s3://test-raw/enigma-jhu/csv/Enigma-JHU.csv.gz", gzip.compress(enigma))
    lines = [json.loads(line) for line in (lake / "rearc-usa-hospital-beds/json/usa-hospital-beds.geojson").open()]
    beds = "".join(json.dumps(row) + "\n" for row in lines[:3]) + "{not json\n\n" + json.dumps(lines[3]) + "\n"
    ports.store.put_bytes("s3://test-raw/rearc-usa-hospital-beds/json/beds.geojson", beds.encode())
    keys = ["enigma-jhu/csv/Enigma-JHU.csv.gz", "rearc-usa-hospital-beds/json/beds.geojson"]
    objects = [{"key": k, "etag": ports.store.head(f"s3://test-raw/{k}").etag} for k in keys]  # type: ignore[union-attr]
    setup = invoke("setup", {"run_id": "r1", "started_at": "t", "request": {"objects": objects}})
    manifest = read_manifest(ports.store, setup["manifest_uri"])
    assert manifest["s3://test-raw/enigma-jhu/csv/Enigma-JHU.csv.gz"].header[:3] == ("fips", "admin2", "province_state")
    assert manifest["s3://test-raw/rearc-usa-hospital-beds/json/beds.geojson"].header[-1] == "longtitude"
    invoke("crawl", {"action": "start"})

    out = invoke("stage", {key: setup[key] for key in ("run_id", "manifest_uri", "staged_uri", "quarantine_uri")})

    assert out["refused_objects"] == 0
    assert out["rows"]["enigma_jhu"] == enigma.count(b"\n") - 1
    assert out["rows"]["hospital_beds"] == 5  # four hospitals and the malformed line; the blank line is no row
    con = duckdb.connect()
    staged = ports.store.path(setup["staged_uri"])
    beds_rows = con.execute(
        f"SELECT hospital_name, longitude, num_staffed_beds FROM read_parquet('{staged}/hospital_beds/**/*.parquet') "
        "ORDER BY hospital_name NULLS LAST"
    ).fetchall()
    assert beds_rows[-1] == (None, None, None)
    assert sorted(r[1] for r in beds_rows[:-1]) == sorted(row["longtitude"] for row in lines[:4])
    days = con.execute(
        f"SELECT min(report_date), max(report_date), count(*) FILTER (WHERE _cast_errors IS NOT NULL) "
        f"FROM read_parquet('{staged}/enigma_jhu/**/*.parquet')"
    ).fetchone()
    assert days == (date(2020, 1, 22), date(2020, 2, 9), 0)  # the day of Last_Update, every row
