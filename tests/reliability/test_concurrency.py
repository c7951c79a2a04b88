"""Concurrent `covid-pipeline upload`s into one home: nothing lost, nothing doubled, day-over-day right.

Each upload runs in its own OS process, as S3 events start independent executions: they skip the
crawl when the catalog already reads their files (else race for the crawler: CrawlerBusy, retried
by the state machine), write their own run folders and queue for
the warehouse's single-writer lock, committing in whatever order they finish Clean. The ``home``
fixture (conftest.py) is a private copy of a home that holds the bundled sample.
"""

from __future__ import annotations

import csv
import itertools
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from bench.checksums import duplicate_keys
from covid_pipeline.keys import region_key
from covid_pipeline.schema import TABLES
from tests.conftest import SAMPLE
from tests.reliability.conftest import CLI

pytestmark = [pytest.mark.slow, pytest.mark.spark]
RAW = "s3://covid-pipeline-local-rawbucket/enigma-jhu/csv/"
SAMPLE_DAY = SAMPLE / "enigma-jhu" / "csv" / "04-13-2020.csv"
# Rows of the sample's 04-13 report the new days continue: four US counties and two countries.
REGIONS = (
    ("US", "South Carolina", "Abbeville"),
    ("US", "Louisiana", "Acadia"),
    ("US", "Virginia", "Accomack"),
    ("US", "Idaho", "Ada"),
    ("Afghanistan", "", ""),
    ("Germany", "", ""),
)
# Accomack is missing from 04-15: its 04-16 increase must be read from 04-14, whichever loads first.
GAPS = {15: {("US", "Virginia", "Accomack")}}
TIMEOUT_S = 1800


def upload_all_at_once(home: Path, files: list[Path]) -> list[tuple[int, str]]:
    """One `covid-pipeline upload` process per file, all started before any is waited for."""
    procs = [
        subprocess.Popen(
            [CLI, "upload", str(f), "--dataset", "enigma-jhu", "--home", str(home)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in files
    ]
    results = []
    for proc in procs:
        _, err = proc.communicate(timeout=TIMEOUT_S)
        results.append((proc.returncode, err))
    return results


def _sample_rows() -> dict[tuple[str, str, str], dict[str, str]]:
    with SAMPLE_DAY.open(newline="", encoding="utf-8-sig") as fh:
        rows = {(r["Country_Region"], r["Province_State"], r["Admin2"]): r for r in csv.DictReader(fh)}
    return {region: rows[region] for region in REGIONS}


def write_day(folder: Path, day: int) -> tuple[Path, dict[tuple[str, str, str], tuple[int, int]]]:
    """A valid JHU report of 2020-04-<day>, continuing the sample's 04-13 counts; returns it and its counts."""
    base = _sample_rows()
    path = folder / f"04-{day}-2020.csv"
    counts: dict[tuple[str, str, str], tuple[int, int]] = {}
    with SAMPLE_DAY.open(newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh))
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        for i, region in enumerate(REGIONS):
            if region in GAPS.get(day, set()):
                continue
            row = dict(base[region])
            # Distinct, growing increments per region and day: a LAG read from the wrong day shows.
            confirmed = int(row["Confirmed"]) + (day - 13) * (i + 1) * 3 + (day - 13) ** 2
            deaths = int(row["Deaths"]) + (day - 13)
            row.update(
                Last_Update=f"2020-04-{day} 23:07:54",
                Confirmed=str(confirmed),
                Deaths=str(deaths),
                Active=str(confirmed - deaths),
            )
            writer.writerow(row)
            counts[region] = (confirmed, deaths)
    return path, counts


def _db(home: Path) -> duckdb.DuckDBPyConnection:
    # A copy, so no test holds the warehouse's lock while asserting.
    copy = home.parent / "asserted.duckdb"
    shutil.copy(home / "warehouse.duckdb", copy)
    return duckdb.connect(str(copy), read_only=True)


def test_concurrent_uploads_of_different_days_lose_and_double_nothing(home: Path, tmp_path: Path) -> None:
    days = (14, 15, 16)
    written = {day: write_day(tmp_path, day) for day in days}
    results = upload_all_at_once(home, [written[day][0] for day in days])
    for day, (code, err) in zip(days, results, strict=True):
        assert code == 0, f"upload of 04-{day} exited {code}:\n{err[-3000:]}"
        assert "SUCCEEDED" in err, err[-3000:]

    db = _db(home)
    assert duplicate_keys(db) == dict.fromkeys(TABLES, 0)
    for day in days:
        path, counts = written[day]
        loaded = db.execute(
            "SELECT count(*), sum(confirmed), sum(deaths) FROM fact_cases_daily WHERE source = 'jhu' AND date_key = ?",
            [20200400 + day],
        ).fetchone()
        expected = (len(counts), sum(c for c, _ in counts.values()), sum(d for _, d in counts.values()))
        assert loaded == expected, f"04-{day}"
        audit = db.execute(
            "SELECT rows_read, rows_loaded, rows_rejected FROM load_audit WHERE source_object = ?",
            [RAW + path.name],
        ).fetchall()
        assert audit == [(len(counts), len(counts), 0)], f"04-{day}"

    # new_confirmed / new_deaths: this day minus the region's previous day present, whatever the commit order.
    commit_order = [
        name.rsplit("/", 1)[-1]
        for (name,) in db.execute(
            "SELECT source_object FROM load_audit WHERE source_object LIKE ? ORDER BY finished_at", [RAW + "04-1%"]
        ).fetchall()
    ]
    series = {region: {13: tuple(int(r[c]) for c in ("Confirmed", "Deaths"))} for region, r in _sample_rows().items()}
    for day in days:
        for region, counts in written[day][1].items():
            series[region][day] = counts
    for region, by_day in series.items():
        known = sorted(by_day)
        for before, day in itertools.pairwise(known):
            row = db.execute(
                "SELECT new_confirmed, new_deaths FROM fact_cases_daily "
                "WHERE source = 'jhu' AND region_key = ? AND date_key = ?",
                [region_key(*region), 20200400 + day],
            ).fetchone()
            expected = (by_day[day][0] - by_day[before][0], by_day[day][1] - by_day[before][1])
            assert row == expected, f"{region} 04-{day} (previous day 04-{before}; loads committed {commit_order})"


def test_the_same_file_uploaded_twice_at_once_is_processed_once(home: Path, tmp_path: Path) -> None:
    path, counts = write_day(tmp_path, 14)
    results = upload_all_at_once(home, [path, path])
    assert [code for code, _ in results] == [0, 0], [err[-3000:] for _, err in results]
    processed = [err for _, err in results if "SUCCEEDED" in err and "already processed" not in err]
    duplicate = [err for _, err in results if "already processed" in err]
    assert len(processed) == 1, [err[-3000:] for _, err in results]
    assert len(duplicate) == 1, [err[-3000:] for _, err in results]
    # One execution folder for the object: the deterministic name let only one of them start.
    started = [p.name for p in (home / "executions").iterdir() if p.name.startswith("upload-")]
    assert len(started) == 1, started

    db = _db(home)
    assert duplicate_keys(db) == dict.fromkeys(TABLES, 0)
    assert db.execute(
        "SELECT count(*), sum(confirmed) FROM fact_cases_daily WHERE source = 'jhu' AND date_key = 20200414"
    ).fetchone() == (len(counts), sum(c for c, _ in counts.values()))
    audit = db.execute("SELECT run_id FROM load_audit WHERE source_object = ?", [RAW + path.name]).fetchall()
    assert audit == [(started[0],)]
