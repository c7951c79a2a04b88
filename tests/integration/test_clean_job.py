"""End to end: stage the real sample files, run glue/clean_job.py as local Spark, check the star.

The job runs as the local runner runs a small one: its ``main(argv, spark)`` on the session's warm Spark
driver (adapters/local/warm_spark.py), here with the driver's own settings (shuffle partitions 4, adaptive
execution on). Run as a script in a JVM of its own it took 43 s, here 16 s (the suite's driver is warm);
tests/integration/test_small_input_settings.py runs a job that way and compares its tables with the warm
driver's, row for row.

Staging here is deliberately simple (csv + pyarrow): headers mapped by name with
feeds.py, text cast per the feed's types, failures recorded in ``_cast_errors``.
One synthetic JHU report (made here, not a sample file) adds the broken rows the
real samples lack, so every quarantine reason travels the whole path.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from covid_pipeline import feeds, keys, schema
from covid_pipeline.adapters.local import warm_spark
from covid_pipeline.adapters.local.job_runner import WARM_DRIVER_SPARK_ARGS
from tests.helpers import ARROW_TYPES

pytestmark = [pytest.mark.spark, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
REFERENCE = ROOT / "layers" / "shared" / "python" / "covid_pipeline" / "reference"
JOB = ROOT / "glue" / "clean_job.py"
RAW_ROOT = "s3://covid-raw"
RUN_ID = "run-20240101T000000Z"
STARTED_AT = "2024-01-01T00:00:00Z"

# A JHU report made for this test: a county listed twice (same object: the smaller record
# text, confirmed=10, is kept), a bad number, a negative count, a bad FIPS, a row without
# country, next to good rows (one FIPS written 16001.0, one negative 'active').
SYNTHETIC_JHU_NAME = "04-14-2020.csv"
SYNTHETIC_JHU_LINES = [
    "FIPS,Admin2,Province_State,Country_Region,Last_Update,Lat,Long_,Confirmed,Deaths,Recovered,Active,Combined_Key",
    '45001,Abbeville,South Carolina,US,2020-04-14 23:33:31,34.2,-82.4,10,0,0,10,"Abbeville, South Carolina, US"',
    '45001,Abbeville,South Carolina,US,2020-04-14 23:33:31,34.2,-82.4,11,0,0,11,"Abbeville, South Carolina, US"',
    '22001,Acadia,Louisiana,US,2020-04-14 23:33:31,30.29,-92.41,abc,5,0,96,"Acadia, Louisiana, US"',
    '51001,Accomack,Virginia,US,2020-04-14 23:33:31,37.76,-75.63,-4,0,0,15,"Accomack, Virginia, US"',
    '16001.0,Ada,Idaho,US,2020-04-14 23:33:31,43.45,-116.24,530,7,0,523,"Ada, Idaho, US"',
    'X1,Adair,Iowa,US,2020-04-14 23:33:31,41.33,-94.47,1,0,0,1,"Adair, Iowa, US"',
    ",,,,2020-04-14 23:33:31,,,3,0,0,3,",
    ',Unassigned,Alaska,US,2020-04-14 23:33:31,,,0,3,0,-3,"Unassigned, Alaska, US"',
]


def _cast(column: feeds.FeedColumn, text: str) -> object:
    if column.type == "string":
        return text
    if column.type == "bigint":
        return int(text.strip())
    if column.type == "double":
        return float(text.strip())
    return datetime.strptime(text.strip(), column.date_format or "%Y-%m-%d").date()


def stage_file(feed: feeds.Feed, raw: Path, key: str) -> list[dict[str, object]]:
    """Staged rows of one raw CSV: canonical columns by header name, provenance, cast errors."""
    path_date = None
    if feed.date_from_path:
        match = re.search(feed.date_from_path, key)
        assert match, key
        path_date = datetime.strptime(match.group(1), feed.path_date_format or "").date()
    with raw.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        mapping = {}
        for index, name in enumerate(header):
            column = next((c for c in feed.columns if c.matches(name)), None)
            if column is not None and column.name not in mapping.values():
                mapping[index] = column.name
        rows = []
        for values in reader:
            row: dict[str, object] = {c.name: None for c in feed.columns}
            errors = []
            for index, name in mapping.items():
                text = values[index] if index < len(values) else ""
                if not text.strip():
                    continue
                column = feed.column(name)
                try:
                    row[name] = _cast(column, text)
                except ValueError:
                    errors.append(f"{name}='{text}'")
            for column in feed.columns:
                if column.from_path:
                    row[column.name] = path_date
            row[feeds.SOURCE_OBJECT] = f"{RAW_ROOT}/{key}"
            row[feeds.CAST_ERRORS] = "; ".join(errors) or None
            rows.append(row)
    return rows


def write_staged(feed: feeds.Feed, rows: list[dict[str, object]], target: Path) -> None:
    fields = [pa.field(c.name, ARROW_TYPES[c.type]) for c in feed.columns]
    fields += [pa.field(feeds.SOURCE_OBJECT, pa.string()), pa.field(feeds.CAST_ERRORS, pa.string())]
    arrow_schema = pa.schema(fields)
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema), target)


@pytest.fixture(scope="module")
def raw_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Raw key -> file: every sample CSV plus the synthetic JHU report."""
    files = {p.relative_to(SAMPLE).as_posix(): p for p in SAMPLE.rglob("*.csv")}
    # The reference files the project ships, at the keys Setup publishes them under.
    files |= {key: REFERENCE / name for key, (_feed, name) in feeds.bundled_files().items()}
    synthetic = tmp_path_factory.mktemp("raw") / SYNTHETIC_JHU_NAME
    synthetic.write_text("\n".join(SYNTHETIC_JHU_LINES) + "\n", encoding="utf-8")
    files[f"enigma-jhu/csv/{SYNTHETIC_JHU_NAME}"] = synthetic
    return files


@pytest.fixture(scope="module")
def job_run(tmp_path_factory: pytest.TempPathFactory, raw_files: dict[str, Path]) -> dict[str, object]:
    """Stage every raw file, write the manifest, run the job once; its folders and summary."""
    base = tmp_path_factory.mktemp("clean_job")
    staged_root, manifest_lines, staged_rows = base / "staged", [], {}
    for key, path in sorted(raw_files.items()):
        feed = feeds.feed_for_key(key)
        assert feed is not None, key
        rows = stage_file(feed, path, key)
        staged_rows[f"{RAW_ROOT}/{key}"] = rows
        # Nested below the feed folder, as Stage may write it: the job reads recursively.
        write_staged(feed, rows, staged_root / feed.name / f"run={RUN_ID}" / f"{path.stem}.parquet")
        data = path.read_bytes()
        manifest_lines.append(
            {
                "uri": f"{RAW_ROOT}/{key}",
                "dataset": feed.dataset,
                "feed": feed.name,
                "size": len(data),
                "etag": hashlib.md5(data).hexdigest(),  # S3's ETag of a one-part upload
            }
        )
    manifest = base / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(line) + "\n" for line in manifest_lines), encoding="utf-8")
    curated, quarantine = base / "curated", base / "quarantine"
    args = {
        "JOB_NAME": "covid-pipeline-clean",
        "run_id": RUN_ID,
        "staged_uri": staged_root.as_uri(),  # file:// URI
        "curated_uri": str(curated),  # plain path
        "quarantine_uri": str(quarantine),
        "manifest_uri": str(manifest),
        "started_at": STARTED_AT,
    }
    argv = [str(JOB), *[part for name, value in args.items() for part in (f"--{name}", value)]]
    log = base / "clean_job.log"
    result = warm_spark.run_job(JOB, argv, {}, WARM_DRIVER_SPARK_ARGS, log)
    assert result.exit_code == 0, log.read_text()[-4000:]
    summary_lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(summary_lines) == 1, result.stdout
    return {
        "summary": json.loads(summary_lines[0]),
        "curated": curated,
        "quarantine": quarantine / RUN_ID,
        "staged_rows": staged_rows,
    }


@pytest.fixture(scope="module")
def db(job_run: dict[str, object]) -> duckdb.DuckDBPyConnection:
    """DuckDB views over every written table."""
    con = duckdb.connect()
    for name in schema.TABLES:
        folder = job_run["quarantine"] if name == "quarantine" else job_run["curated"] / name
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{folder}/*.parquet')")
    return con


def test_summary_counts_match_written_tables(job_run, db) -> None:
    summary = job_run["summary"]
    assert set(summary["tables"]) == set(schema.TABLES)
    for name, count in summary["tables"].items():
        assert db.sql(f"SELECT count(*) FROM {name}").fetchone()[0] == count, name
    rejected = dict(db.sql("SELECT split_part(reason, ':', 1), count(*) FROM quarantine GROUP BY 1").fetchall())
    assert summary["rejected"] == rejected


def test_written_columns_follow_the_contract(db) -> None:
    duck_types = {
        "int": "INTEGER",
        "bigint": "BIGINT",
        "double": "DOUBLE",
        "string": "VARCHAR",
        "date": "DATE",
        "boolean": "BOOLEAN",
        "timestamp": "TIMESTAMP WITH TIME ZONE",
    }
    for name, table in schema.TABLES.items():
        described = [(row[0], row[1]) for row in db.sql(f"DESCRIBE {name}").fetchall()]
        assert described == [(c.name, duck_types[c.type]) for c in table.file_columns], name


def test_row_counts_equal_distinct_keys(db) -> None:
    for name, table in schema.TABLES.items():
        total, distinct = db.sql(f"SELECT count(*), count(DISTINCT ({', '.join(table.key)})) FROM {name}").fetchone()
        assert total == distinct, name
        assert total > 0, name


def test_not_null_columns_hold(db) -> None:
    for name, table in schema.TABLES.items():
        for column in table.file_columns:
            if not column.nullable:
                nulls = db.sql(f"SELECT count(*) FROM {name} WHERE {column.name} IS NULL").fetchone()[0]
                assert nulls == 0, f"{name}.{column.name}"


def test_foreign_keys_hold(db) -> None:
    for table, column, parent, parent_column in schema.FOREIGN_KEYS:
        orphans = db.sql(
            f"SELECT count(*) FROM {table} t WHERE t.{column} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {parent} p WHERE p.{parent_column} = t.{column})"
        ).fetchone()[0]
        assert orphans == 0, f"{table}.{column} -> {parent}.{parent_column}"


def test_every_staged_row_is_loaded_or_quarantined(job_run, db) -> None:
    staged = {uri: len(rows) for uri, rows in job_run["staged_rows"].items()}
    audit = {
        row[0]: row[1:]
        for row in db.sql(
            "SELECT source_object, rows_read, rows_loaded, rows_rejected, dataset, run_id FROM load_audit"
        ).fetchall()
    }
    assert set(audit) == set(staged)
    quarantined = dict(db.sql("SELECT source_object, count(*) FROM quarantine GROUP BY 1").fetchall())
    for uri, count in staged.items():
        rows_read, rows_loaded, rows_rejected, dataset, run_id = audit[uri]
        assert (rows_read, rows_rejected, run_id) == (count, quarantined.get(uri, 0), RUN_ID), uri
        assert rows_loaded == rows_read - rows_rejected
        assert uri.startswith(f"{RAW_ROOT}/{dataset}/")
    loaded = {
        "jhu_daily": "SELECT count(*) FROM fact_cases_daily WHERE source = 'jhu'",
        "nyt_us_county": "SELECT count(*) FROM fact_cases_daily WHERE source = 'nyt'",
        "ctp_states_daily": "SELECT count(*) FROM fact_testing_daily",
        "hospital_beds": "SELECT count(*) FROM dim_hospital",
    }
    for feed_name, query in loaded.items():
        feed = feeds.FEEDS[feed_name]
        uris = [u for u in staged if feed.accepts(u.removeprefix(f"{RAW_ROOT}/"))]
        assert db.sql(query).fetchone()[0] == sum(audit[u][1] for u in uris), feed_name


def test_jhu_sums_per_day_equal_raw_minus_quarantined(job_run, db) -> None:
    raw = defaultdict(lambda: [0, 0])
    for uri, rows in job_run["staged_rows"].items():
        if "/enigma-jhu/" not in uri:
            continue
        for row in rows:
            day = row["report_date"]
            raw[day][0] += row["confirmed"] or 0
            raw[day][1] += row["deaths"] or 0
    for (record,) in db.sql("SELECT record FROM quarantine WHERE feed = 'jhu_daily'").fetchall():
        row = json.loads(record)
        day = date.fromisoformat(row["report_date"])
        raw[day][0] -= row["confirmed"] or 0
        raw[day][1] -= row["deaths"] or 0
    facts = {
        day: [confirmed, deaths]
        for day, confirmed, deaths in db.sql(
            "SELECT d.date, coalesce(sum(confirmed), 0), coalesce(sum(deaths), 0) FROM fact_cases_daily f "
            "JOIN dim_date d USING (date_key) WHERE source = 'jhu' GROUP BY 1"
        ).fetchall()
    }
    assert facts == dict(raw)


def test_synthetic_rows_get_their_reasons(db) -> None:
    reasons = sorted(
        r[0]
        for r in db.sql(
            f"SELECT reason FROM quarantine WHERE source_object = '{RAW_ROOT}/enigma-jhu/csv/{SYNTHETIC_JHU_NAME}'"
        ).fetchall()
    )
    assert reasons == [
        f"duplicate key: region_key={keys.region_key('US', 'South Carolina', 'Abbeville')} (country_region=us, "
        "province_state=south carolina, county=abbeville), date_key=20200414, "
        f"source=jhu (kept {RAW_ROOT}/enigma-jhu/csv/{SYNTHETIC_JHU_NAME})",
        "invalid fips: 'X1'",
        "missing required value: country_region",
        "negative count: confirmed=-4",
        "unparseable value: confirmed='abc'",
    ]
    # JHU's 1001.0 style FIPS is accepted and padded; a negative 'active' is allowed.
    assert db.sql("SELECT count(*) FROM fact_cases_daily WHERE date_key = 20200414 AND active < 0").fetchone()[0] == 1


def test_sample_regions_and_keys(db) -> None:
    # NYT's New York City (no FIPS) and JHU's (Manhattan's 36061) are one region, the five boroughs: a city,
    # with NYT's facts; 36061 stays the lookup's county New York (Manhattan).
    nyc = keys.region_key("US", "New York", "New York City")
    assert db.sql("SELECT level, state_abbr, fips FROM dim_region WHERE region_key = ?", params=[nyc]).fetchall() == [
        ("city", "NY", None)
    ]
    assert (
        db.sql(
            "SELECT count(*) FROM fact_cases_daily WHERE source = 'nyt' AND region_key = ?", params=[nyc]
        ).fetchone()[0]
        == 1
    )
    # JHU's "Mainland China" is China; states get 2-digit FIPS, counties 5.
    assert (
        db.sql(
            "SELECT count(*) FROM fact_cases_daily WHERE region_key = ?",
            params=[keys.region_key("China", "Hubei", None)],
        ).fetchone()[0]
        == 3
    )
    alabama = db.sql(
        "SELECT fips, state_abbr, level FROM dim_region WHERE region_key = ?",
        params=[keys.region_key("US", "Alabama", None)],
    ).fetchone()
    assert alabama == ("01", "AL", "state")
    # Every CTP state resolved (territories included) and kept its 2-digit FIPS.
    assert db.sql("SELECT count(DISTINCT region_key) FROM fact_testing_daily").fetchone()[0] == 56
