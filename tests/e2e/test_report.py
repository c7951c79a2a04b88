"""The report of the data lake sample run (tests/e2e/conftest.py's session run): the run says where it wrote
it, and `covid-pipeline report` shows the warehouse's numbers, each computed here by a query of our own."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import duckdb
import pytest

from covid_pipeline.schema import TABLES
from tests.e2e.conftest import cli
from tests.report_html import Tables, number, parse, records

pytestmark = [pytest.mark.slow, pytest.mark.spark]
CHARTS = {"country": "data-country", "top-states": "data-top-states", "positivity": "data-positivity",
          "icu": "data-icu"}  # fmt: skip


@pytest.fixture(scope="module")
def report(lake_home: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Tables]:
    """`covid-pipeline report --out`: the home is only read (its warehouse opened read-only)."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    proc = cli("report", "--home", str(lake_home[0]), "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"report: {out}" in proc.stderr
    page = out.read_text()
    print(f"report of the lake run: {out} ({out.stat().st_size:,} bytes); {proc.stderr.strip()}")
    return page, parse(page)


@pytest.fixture(scope="module")
def db(lake_home: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    copy = tmp_path_factory.mktemp("report-db") / "warehouse.duckdb"
    shutil.copy(lake_home[0] / "warehouse.duckdb", copy)
    return duckdb.connect(str(copy), read_only=True)


def test_the_run_ends_by_writing_the_report_and_saying_where(lake_home: tuple[Path, str]) -> None:
    home, output = lake_home
    written = home.resolve() / "report.html"
    assert f"report: {written}" in output
    assert written.read_text().startswith("<!DOCTYPE html>")


def test_rows_per_table_and_rejected_rows_by_reason(report: tuple[str, Tables], db: duckdb.DuckDBPyConnection) -> None:
    _, tables = report
    shown = {r["table"]: number(r["rows"]) for r in records(tables, "rows-per-table")}
    assert shown == {name: db.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in TABLES}
    rejected = db.execute("SELECT reason, feed FROM quarantine").fetchall()
    reasons = Counter((reason.split(":", 1)[0], feed) for reason, feed in rejected)
    assert reasons  # the lake sample has rejected rows (Enigma's duplicate reports)
    shown_reasons = {(r["reason"], r["feed"]): number(r["row_count"]) for r in records(tables, "rejected-by-reason")}
    assert shown_reasons == reasons


def test_the_runs_and_their_states(report: tuple[str, Tables], lake_home: tuple[Path, str]) -> None:
    _, tables = report
    (execution,) = (lake_home[0] / "executions").glob("*/execution.json")
    record = json.loads(execution.read_text())
    assert [(r["execution"], r["status"]) for r in records(tables, "runs")] == [(record["name"], "SUCCEEDED")]
    seconds = {r["state"]: number(r["#1"]) for r in records(tables, "state-seconds")}
    assert seconds == {state: round(s, 2) for state, s in record["state_durations"].items()}
    assert {"Setup", "Stage", "Clean", "Load"} <= set(seconds)


def test_data_quality_checks(report: tuple[str, Tables], db: duckdb.DuckDBPyConnection) -> None:
    _, tables = report
    unresolved = db.execute("SELECT count(*) FROM dim_region WHERE NOT in_lookup").fetchone()[0]
    assert len(records(tables, "unresolved-regions")) == unresolved > 0
    negatives = dict(
        db.execute("SELECT feed, count(*) FROM fact_cases_daily WHERE new_confirmed < 0 GROUP BY feed").fetchall()
    )
    assert {r["feed"]: number(r["negative_new_confirmed"]) for r in records(tables, "negative-counts")} == negatives
    # Missing days of each cases series (region, source), counted here from the rows.
    days: dict[tuple[int, str], set[date]] = defaultdict(set)
    for region, source, day in db.execute(
        "SELECT f.region_key, f.source, d.date FROM fact_cases_daily f JOIN dim_date d USING (date_key)"
    ).fetchall():
        days[(region, source)].add(day)
    missing: Counter[str] = Counter()
    for (_, source), seen in days.items():
        missing[source] += (max(seen) - min(seen)).days + 1 - len(seen)
    summary = {
        r["source / feed"]: number(r["missing days"])
        for r in records(tables, "continuity-summary")
        if r["table"] == "fact_cases_daily"
    }
    assert summary == dict(missing)
    assert summary["jhu"] > 0  # Enigma's early history skips days for some countries


def test_country_chart_plots_the_daily_sums_and_their_7_day_average(
    report: tuple[str, Tables], db: duckdb.DuckDBPyConnection
) -> None:
    _, tables = report
    shown = records(tables, "data-country")
    # The sample's largest (country, source, level) by new cases: the US of NYT's states (to 2020-04-10).
    by_day = dict(
        db.execute(
            "SELECT d.date, sum(f.new_confirmed) FROM fact_cases_daily f JOIN dim_region r USING (region_key) "
            "JOIN dim_date d USING (date_key) WHERE r.country_region = 'US' AND r.level = 'state' "
            "AND f.source = 'nyt' GROUP BY 1 ORDER BY 1"
        ).fetchall()
    )
    assert [r["day"] for r in shown] == [str(day) for day in by_day]
    values = list(by_day.values())
    for i, row in enumerate(shown):
        assert (number(row["new_cases"]) if row["new_cases"] else None) == values[i], row
        window = [v for v in values[max(0, i - 6) : i + 1] if v is not None]
        if window:
            assert number(row["new_cases_7d"]) == pytest.approx(sum(window) / len(window), abs=0.006), row
    assert max(values[-7:]) > 10_000


def test_icu_beds_per_100k_by_state(report: tuple[str, Tables], db: duckdb.DuckDBPyConnection) -> None:
    _, tables = report
    beds: Counter[str] = Counter()
    for state, icu in db.execute("SELECT state_abbr, icu_beds FROM dim_hospital").fetchall():
        beds[state] += icu or 0
    population = dict(
        db.execute(
            "SELECT state_abbr, population FROM dim_region WHERE country_region = 'US' AND level = 'state'"
        ).fetchall()
    )
    expected = {s: round(100_000 * n / population[s], 2) for s, n in beds.items() if population.get(s)}
    shown = {r["state"]: number(r["icu_beds_per_100k"]) for r in records(tables, "data-icu")}
    names = dict(
        db.execute(
            "SELECT state_abbr, province_state FROM dim_region WHERE country_region = 'US' AND level = 'state'"
        ).fetchall()
    )
    assert shown == {names[s]: v for s, v in expected.items()}


def test_every_chart_has_data(report: tuple[str, Tables]) -> None:
    page, tables = report
    for chart, data in CHARTS.items():
        figure = re.search(rf'<figure id="chart-{chart}">(.*?)</figure>', page, re.S)
        assert figure, f"chart {chart} not drawn"
        assert figure.group(1).count("<path") > 10, chart
        rows = records(tables, data)
        assert rows, chart
        numeric = [v for row in rows for k, v in row.items() if k not in ("state", "day", "state_abbr") and v]
        assert any(number(v) != 0 for v in numeric), chart
    states = {r["state"] for r in records(tables, "data-top-states")}
    assert len(states) == 5
    assert "New York" in states
    assert "no data for" not in page
    assert "not available" not in page
