"""`covid-pipeline run --source data/sample` (CSSE daily reports and other uploads), checked against sums
computed here from the raw CSVs. The data lake sample (`make run`'s default) is tests/e2e/test_lake_run.py."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from covid_pipeline.feeds import bundled_files
from covid_pipeline.schema import FOREIGN_KEYS, TABLES
from tests.conftest import SAMPLE
from tests.helpers import check_dim_region_is_honest

pytestmark = [pytest.mark.slow, pytest.mark.spark]
CLI = str(Path(sys.executable).parent / "covid-pipeline")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, check=False, timeout=900)


@pytest.fixture(scope="module")
def home(sample_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's `covid-pipeline run` of the sample (the tests below rerun and upload into it)."""
    assert "SUCCEEDED" in (sample_home.parent / "run.stderr").read_text()
    home = tmp_path_factory.mktemp("e2e") / "home"
    shutil.copytree(sample_home, home)
    return home


@pytest.fixture(scope="module")
def db(home: Path) -> duckdb.DuckDBPyConnection:
    # A copy: the warehouse file stays free for the CLI tests below.
    copy = home.parent / "copy.duckdb"
    shutil.copy(home / "warehouse.duckdb", copy)
    return duckdb.connect(str(copy), read_only=True)


def _number(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else 0.0
    except ValueError:
        return 0.0


def _raw_sums(pattern: str, key_of, columns: dict[str, str]) -> dict[str, dict[str, float]]:
    """{group: {column: sum}} over the raw CSV files, columns read by header name."""
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for path in sorted(SAMPLE.glob(pattern)):
        with path.open(newline="", encoding="utf-8-sig") as fh:
            for row in csv.DictReader(fh):
                group = key_of(path, row)
                for out, header in columns.items():
                    sums[group][out] += _number(row.get(header))
    return sums


def _quarantined(db: duckdb.DuckDBPyConnection, feed: str, key_of, columns: dict[str, str]):
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    rows = db.execute("SELECT source_object, reason, record FROM quarantine WHERE feed = ?", [feed]).fetchall()
    for source_object, reason, record in rows:
        assert reason.strip(), f"quarantined row without a reason: {record}"
        values = json.loads(record)
        group = key_of(Path(source_object), values)
        for out, field in columns.items():
            sums[group][out] += _number(None if values.get(field) is None else str(values.get(field)))
    return sums


def _jhu_date(path: Path, _row: object) -> str:
    m = re.match(r"(\d{2})-(\d{2})-(\d{4})\.csv", path.name)
    assert m
    return f"{m.group(3)}{m.group(1)}{m.group(2)}"


def test_jhu_totals_per_date_equal_raw_minus_quarantine(db: duckdb.DuckDBPyConnection) -> None:
    raw = _raw_sums("enigma-jhu/csv/*.csv", _jhu_date, {"confirmed": "Confirmed", "deaths": "Deaths"})
    rejected = _quarantined(db, "jhu_daily", _jhu_date, {"confirmed": "confirmed", "deaths": "deaths"})
    loaded = {
        str(d): {"confirmed": c, "deaths": x}
        for d, c, x in db.execute(
            "SELECT date_key, sum(confirmed), sum(deaths) FROM fact_cases_daily WHERE source = 'jhu' GROUP BY 1"
        ).fetchall()
    }
    assert set(loaded) == set(raw) == {"20200122", "20200412", "20200413"}
    for date, sums in raw.items():
        for col in ("confirmed", "deaths"):
            assert loaded[date][col] == sums[col] - rejected[date][col], (date, col)


def test_nyt_totals_equal_raw_minus_quarantine(db: duckdb.DuckDBPyConnection) -> None:
    by_date = lambda _p, row: str(row["date"]).replace("-", "")  # noqa: E731
    raw = _raw_sums("enigma-nytimes-data-in-usa/csv/us_county/*.csv", by_date, {"cases": "cases", "deaths": "deaths"})
    rejected = _quarantined(db, "nyt_us_county", by_date, {"cases": "cases", "deaths": "deaths"})
    loaded = {
        str(d): {"cases": c, "deaths": x}
        for d, c, x in db.execute(
            "SELECT date_key, sum(confirmed), sum(deaths) FROM fact_cases_daily WHERE source = 'nyt' GROUP BY 1"
        ).fetchall()
    }
    assert set(raw) == {"20220420"}
    for date, sums in raw.items():
        for col in ("cases", "deaths"):
            assert loaded[date][col] == sums[col] - rejected[date][col], (date, col)


def test_ctp_totals_equal_raw_minus_quarantine(db: duckdb.DuckDBPyConnection) -> None:
    def by_date(_p: Path, row: dict) -> str:
        return str(row["date"]).replace("-", "")

    cols = {"positive": "positive", "negative": "negative"}
    raw = _raw_sums("rearc-covid-19-testing-data/csv/states_daily/*.csv", by_date, cols)
    rejected = _quarantined(db, "ctp_states_daily", by_date, cols)
    loaded = {
        str(d): (p, n)
        for d, p, n in db.execute(
            "SELECT date_key, sum(positive), sum(negative) FROM fact_testing_daily GROUP BY 1"
        ).fetchall()
    }
    assert len(raw) == 36 + 2
    for date, sums in raw.items():
        expected = (sums["positive"] - rejected[date]["positive"], sums["negative"] - rejected[date]["negative"])
        assert (loaded.get(date, (0, 0))[0] or 0, loaded.get(date, (0, 0))[1] or 0) == expected, date


def test_facts_have_one_row_per_key_and_every_key_in_its_dimension(db: duckdb.DuckDBPyConnection) -> None:
    for name in ("fact_cases_daily", "fact_testing_daily", "dim_region", "dim_date", "dim_hospital"):
        key = ", ".join(TABLES[name].key)
        rows, distinct = db.execute(f"SELECT count(*), count(DISTINCT ({key})) FROM {name}").fetchone()
        assert rows == distinct > 0, name
    for child, column, parent, parent_column in FOREIGN_KEYS:
        orphans = db.execute(
            f"SELECT count(*) FROM {child} c LEFT JOIN {parent} p ON p.{parent_column} = c.{column} "
            f"WHERE c.{column} IS NOT NULL AND p.{parent_column} IS NULL"
        ).fetchone()[0]
        assert orphans == 0, (child, column)


def test_dim_region_is_honest_and_new_york_city_is_one_region(db: duckdb.DuckDBPyConnection) -> None:
    per_level = check_dim_region_is_honest(db)
    assert per_level == {
        "country": 190, "state": 612, "county": 3226, "city": 3, "county_group": 7, "ship": 6,
        "aggregate": 2, "institution": 12, "unassigned": 157,
    }  # fmt: skip
    # JHU (Admin2 "New York City", FIPS 36061, 04-12/13) and NYT ("New York City", no FIPS) meet in one row,
    # the five boroughs; 36061 stays Manhattan's, the lookup's county "New York".
    nyc = db.execute(
        "SELECT level, fips, string_agg(DISTINCT f.source, ',' ORDER BY f.source), count(*) FROM dim_region r "
        "JOIN fact_cases_daily f USING (region_key) WHERE r.county = 'New York City' GROUP BY ALL"
    ).fetchall()
    assert nyc == [("city", None, "jhu,nyt", 3)]
    manhattan = db.execute("SELECT county, level FROM dim_region WHERE fips = '36061'").fetchall()
    assert manhattan == [("New York", "county")]
    # The hospital export writes "Fairfax County" (51059): the lookup's Fairfax, not a second region beside it.
    hospitals_outside = db.execute(
        "SELECT r.province_state, r.county FROM dim_hospital h JOIN dim_region r USING (region_key) "
        "WHERE r.level = 'county' AND NOT r.in_lookup"
    ).fetchall()
    assert hospitals_outside == []
    fairfax = db.execute(
        "SELECT DISTINCT r.county, r.fips FROM dim_hospital h JOIN dim_region r USING (region_key) "
        "WHERE h.county_fips = '51059'"
    ).fetchall()
    assert fairfax == [("Fairfax", "51059")]
    assert db.execute("SELECT count(*) FROM fact_testing_daily WHERE deaths > 0").fetchone()[0] > 0


def test_load_audit_accounts_for_every_raw_object(db: duckdb.DuckDBPyConnection) -> None:
    audit = db.execute(
        "SELECT source_object, rows_read, rows_loaded, rows_rejected, source_etag FROM load_audit"
    ).fetchall()
    # Every sample object, and the reference files the project ships (published by Setup).
    assert len(audit) == len(list(SAMPLE.rglob("*.csv"))) + len(bundled_files())
    for source_object, read, loaded, rejected, etag in audit:
        assert read == loaded + rejected, source_object
        assert etag
    jhu_0412 = next(a for a in audit if a[0].endswith("04-12-2020.csv"))
    assert jhu_0412[1] == 2989


def test_cli_sql_status_and_a_rerun_changes_nothing(home: Path) -> None:
    before = cli(
        "sql", "SELECT count(*) AS n, sum(confirmed) AS c FROM fact_cases_daily", "--home", str(home), "--format", "csv"
    )
    assert before.returncode == 0, before.stderr
    assert before.stdout.splitlines()[0] == "n,c"
    status = cli("status", "--home", str(home))
    assert "SUCCEEDED" in status.stdout
    rerun = cli("run", "--source", str(SAMPLE), "--home", str(home))
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    # Every object is in load_audit with its current ETag: the execution ends after Setup.
    assert "nothing to do" in rerun.stderr
    assert "Clean" not in rerun.stderr
    after = cli(
        "sql", "SELECT count(*) AS n, sum(confirmed) AS c FROM fact_cases_daily", "--home", str(home), "--format", "csv"
    )
    assert after.stdout == before.stdout
    bad = cli("sql", "SELECT * FROM no_such_table", "--home", str(home))
    assert bad.returncode == 2
    assert "no_such_table" in bad.stderr


def test_run_on_a_missing_source_fails_with_one_line(tmp_path: Path) -> None:
    proc = cli("run", "--source", str(tmp_path / "nowhere"), "--home", str(tmp_path / "h"))
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_upload_refuses_an_unknown_dataset(home: Path, tmp_path: Path) -> None:
    """What an upload of a new day loads, quarantines and prints is checked on its own execution in
    tests/reliability/test_incremental.py (test_an_upload_processes_only_its_object_...): one Clean run less."""
    report = tmp_path / "04-14-2020.csv"
    report.write_text("FIPS,Admin2,Province_State,Country_Region,Confirmed\n45001,Abbeville,South Carolina,US,10\n")
    unknown = cli("upload", str(report), "--dataset", "no-such-dataset", "--home", str(home))
    assert unknown.returncode == 2
    assert "unknown dataset" in unknown.stderr
