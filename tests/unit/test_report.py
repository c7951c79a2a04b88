"""The report page from a small warehouse made here: every section drawn, data escaped, numbers as inserted,
SQL that Redshift's dialect parses, and matplotlib loaded only when a chart is drawn.

The report of a real run (the data lake sample) is tests/e2e/test_report.py.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot

from covid_pipeline.adapters.local.warehouse import create_table_sql
from covid_pipeline.report import write_report
from covid_pipeline.report.page import render_page
from covid_pipeline.report.source import LocalReportSource
from covid_pipeline.runner.local import ExecutionRecord
from covid_pipeline.schema import TABLES
from tests.report_html import number, parse, records

NY, TX, US, GOTHAM = 11, 12, 10, 13
DAYS = [20200301 + i for i in range(10)]


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        names = ", ".join(row)
        con.execute(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(row))})", list(row.values()))


def make_home(home: Path) -> Path:
    """A home with a small warehouse, one execution record and one refused-object list."""
    home.mkdir(parents=True)
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    for table in TABLES.values():
        con.execute(create_table_sql(table))
    _insert(
        con,
        "dim_date",
        [
            {"date_key": k, "date": f"2020-03-{k % 100:02d}", "year": 2020, "quarter": 1, "month": 3,
             "day": k % 100, "day_of_week": 1, "week_of_year": 10, "is_weekend": False}
            for k in DAYS
        ],
    )  # fmt: skip
    _insert(
        con,
        "dim_region",
        [
            {"region_key": US, "level": "country", "country_region": "US", "in_lookup": True, "precedence": 0},
            {"region_key": NY, "level": "state", "country_region": "US", "province_state": "New <York>",
             "state_abbr": "NY", "population": 1_000_000, "in_lookup": True, "precedence": 0},
            {"region_key": TX, "level": "state", "country_region": "US", "province_state": "Texas",
             "state_abbr": "TX", "population": 2_000_000, "in_lookup": True, "precedence": 0},
            {"region_key": GOTHAM, "level": "county", "country_region": "US", "province_state": "New <York>",
             "county": "<b>Gotham</b>", "in_lookup": False, "precedence": 2},
        ],
    )  # fmt: skip
    cases = []
    for region, skip, per_day in ((NY, 20200305, 10), (TX, None, 3)):
        previous = None
        for i, day in enumerate(DAYS):
            if day == skip:
                continue
            confirmed = per_day * (i + 1) - (15 if (region, day) == (NY, 20200308) else 0)
            cases.append(
                {"region_key": region, "date_key": day, "source": "nyt", "confirmed": confirmed, "deaths": i,
                 "new_confirmed": None if previous is None else confirmed - previous[0],
                 "new_deaths": None if previous is None else i - previous[1],
                 "feed": "nyt_us_states", "precedence": 1, "source_object": "s3://raw/us_states.csv"}
            )  # fmt: skip
            previous = (confirmed, i)
    _insert(con, "fact_cases_daily", cases)
    _insert(
        con,
        "fact_testing_daily",
        [
            {"region_key": NY, "date_key": 20200309, "positive": 10, "negative": 90, "total_test_results": 100,
             "feed": "ctp_states_daily", "precedence": 0, "source_object": "s3://raw/states_daily.csv"},
            {"region_key": NY, "date_key": 20200310, "positive": 30, "negative": 170, "total_test_results": None,
             "feed": "ctp_states_daily", "precedence": 0, "source_object": "s3://raw/states_daily.csv"},
            {"region_key": TX, "date_key": 20200310, "positive": 5, "negative": 95, "total_test_results": 50,
             "feed": "ctp_states_daily", "precedence": 0, "source_object": "s3://raw/states_daily.csv"},
        ],
    )  # fmt: skip
    _insert(
        con,
        "dim_hospital",
        [
            {"hospital_key": 1, "name": "A", "state_abbr": "NY", "icu_beds": 10},
            {"hospital_key": 2, "name": "B", "state_abbr": "NY", "icu_beds": 5},
            {"hospital_key": 3, "name": "C", "state_abbr": "TX", "icu_beds": 20},
        ],
    )
    _insert(
        con,
        "quarantine",
        [
            {"row_id": str(i), "run_id": "run-1", "feed": "nyt_us_states", "source_object": "s3://raw/x.csv",
             "reason": reason, "record": "{}"}
            for i, reason in enumerate(["duplicate key: a", "duplicate key: b", "bad <value>: c"])
        ],
    )  # fmt: skip
    _insert(
        con,
        "load_audit",
        [{"run_id": "run-1", "source_object": "s3://raw/x.csv", "dataset": "d", "rows_read": 40, "rows_loaded": 37,
          "rows_rejected": 3, "started_at": "2026-01-01 00:00:00"}],
    )  # fmt: skip
    con.close()
    folder = home / "executions" / "run-1"
    folder.mkdir(parents=True)
    record = ExecutionRecord(
        name="run-1", status="FAILED", started_at=1.0, stopped_at=4.5, error="Boom", cause="<oops>",
        failed_state="Load", state_durations={"Setup": 1.0, "Load": 2.5},
        output={"refused": [{"key": "raw/<pic>.csv", "reason": "does not belong to any known dataset feed"}]},
    )  # fmt: skip
    (folder / "execution.json").write_text(json.dumps(asdict(record)))
    source = LocalReportSource(home)
    refused = source.store.path(source.settings.quarantine_uri + "_refused/run-1.jsonl")
    refused.parent.mkdir(parents=True)
    refused.write_text(json.dumps({"object": "s3://raw/a&b.csv", "feed": "f", "reason": "missing required <x>"}))
    return home


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_home(tmp_path_factory.mktemp("report") / "home")


@pytest.fixture(scope="module")
def page(home: Path) -> str:
    return write_report(home).read_text()


def test_the_report_is_written_beside_the_warehouse_by_default(home: Path, page: str) -> None:
    assert (home / "report.html").read_text() == page
    assert page.startswith("<!DOCTYPE html>")


def test_data_values_are_escaped(page: str) -> None:
    for raw in ("<b>Gotham", "New <York>", "bad <value>", "raw/<pic>.csv", "a&b.csv", "required <x>", "<oops>"):
        assert raw not in page
    for escaped in ("&lt;b&gt;Gotham&lt;/b&gt;", "New &lt;York&gt;", "bad &lt;value&gt;", "raw/&lt;pic&gt;.csv",
                    "s3://raw/a&amp;b.csv", "missing required &lt;x&gt;", "Boom: &lt;oops&gt;"):  # fmt: skip
        assert escaped in page


def test_the_page_references_nothing_outside_itself(page: str) -> None:
    tables = parse(page)
    assert "<script" not in page.lower()
    assert tables.links
    assert all(link.startswith("#") for link in tables.links), tables.links
    assert "default-src 'none'" in page


def test_numbers_are_those_of_the_warehouse(page: str) -> None:
    tables = parse(page)
    rows = {r["table"]: number(r["rows"]) for r in records(tables, "rows-per-table")}
    assert rows == {"dim_date": 10, "dim_region": 4, "dim_hospital": 3, "fact_cases_daily": 19,
                    "fact_testing_daily": 3, "load_audit": 1, "quarantine": 3}  # fmt: skip
    assert {(r["reason"], number(r["row_count"])) for r in records(tables, "rejected-by-reason")} == {
        ("duplicate key", 2),
        ("bad <value>", 1),
    }
    icu = {r["state"]: number(r["icu_beds_per_100k"]) for r in records(tables, "data-icu")}
    assert icu == {"New <York>": 1.5, "Texas": 1.0}
    # Each state's latest day; NY's total is missing there: positive + negative.
    positivity = {r["state"]: number(r["positivity_pct"]) for r in records(tables, "data-positivity")}
    assert positivity == {"New <York>": 15.0, "Texas": 10.0}
    gaps = records(tables, "continuity-gaps")
    assert [(g["region"], g["missing days"]) for g in gaps] == [("US / New <York>", "1")]
    assert [(r["feed"], r["negative_new_confirmed"]) for r in records(tables, "negative-counts")] == [
        ("nyt_us_states", "1")
    ]
    assert [r["county"] for r in records(tables, "unresolved-regions")] == ["<b>Gotham</b>"]
    runs = records(tables, "runs")
    assert [(r["execution"], r["status"], r["seconds"]) for r in runs] == [("run-1", "FAILED", "3.50")]
    assert {r["state"]: r["#1"] for r in records(tables, "state-seconds")} == {"Setup": "1.00", "Load": "2.50"}
    refused = {(r["step"], r["object"]) for r in records(tables, "refused-objects")}
    assert refused == {("Setup", "raw/<pic>.csv"), ("Stage", "s3://raw/a&b.csv")}


def test_country_chart_sums_the_states_with_a_7_day_average(page: str) -> None:
    country = records(parse(page), "data-country")
    # NY (10 a day, 03-05 missing, 15 less on 03-08) + TX (3 a day); a series' first day has no new count.
    by_day = {r["day"]: r["new_cases"] for r in country}
    assert by_day["2020-03-02"] == "13"
    assert by_day["2020-03-06"] == "23"  # NY's 2 days since 03-04 + TX's 1
    assert by_day["2020-03-08"] == "-2"
    daily = [number(r["new_cases"]) for r in country if r["new_cases"]]
    assert number(country[-1]["new_cases_7d"]) == pytest.approx(sum(daily[-7:]) / 7, abs=0.01)


def test_every_chart_is_drawn_with_its_numbers(page: str) -> None:
    tables = parse(page)
    for chart, data in (("country", "data-country"), ("top-states", "data-top-states"),
                        ("positivity", "data-positivity"), ("icu", "data-icu")):  # fmt: skip
        figure = re.search(rf'<figure id="chart-{chart}">(.*?)</figure>', page, re.S)
        assert figure, chart
        assert figure.group(1).count("<path") > 5, chart
        assert len(tables.tables[data]) > 1, chart


def test_every_query_parses_as_redshift_sql(home: Path) -> None:
    sent: list[str] = []

    class Recording(LocalReportSource):
        def query(self, sql: str):  # type: ignore[no-untyped-def]
            sent.append(sql)
            return super().query(sql)

    render_page(Recording(home))
    assert len(sent) >= 12
    for sql in sent:
        sqlglot.parse_one(sql, read="redshift")


def test_a_home_without_warehouse_or_runs_still_gets_a_page(tmp_path: Path) -> None:
    page = write_report(tmp_path / "empty").read_text()
    assert "no executions yet" in page
    assert "not available: no warehouse yet" in page


def test_matplotlib_is_imported_only_to_draw() -> None:
    code = (
        "import sys\n"
        "import covid_pipeline.cli, covid_pipeline.report, covid_pipeline.report.page\n"
        "assert 'matplotlib' not in sys.modules, 'imported'\n"
        "from covid_pipeline.report import charts\n"
        "charts.horizontal_bars('t', ['a'], [1.0], 'u')\n"
        "assert 'matplotlib' in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("span_days", [1, 10, 800, 1300, 1500, 2500])
def test_charts_of_any_date_range_draw_without_a_warning(span_days: int) -> None:
    """A series of one day (a first upload), or of 43 months to 5 years (NYT's whole history), made
    matplotlib's AutoDateLocator warn on stderr, which the CLI prints after every run: nothing but the CLI's
    own lines may reach the user's terminal."""
    import warnings
    from datetime import date, timedelta

    from covid_pipeline.report import charts

    days = [date(2020, 1, 21) + timedelta(days=i) for i in range(span_days)]
    ones = [1.0] * span_days
    # A state's deaths: no 7-day average on its first days, then zeros (the sample's Idaho, after an upload).
    half = span_days // 2
    late_zeros: list[float | None] = [None] * half + [0.0] * (span_days - half)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        svgs = [
            charts.daily_panels("US", days, [("new cases", ones, ones), ("new deaths", ones, ones)]),
            charts.small_multiples("states", [("New York", days, ones, ones), ("Idaho", days, ones, late_zeros)]),
        ]
    assert [str(w.message) for w in caught] == []
    assert all(svg.startswith("<svg") for svg in svgs)


def test_daily_bars_are_one_path_per_panel_whatever_the_days() -> None:
    """Bars of one day each were one SVG path per day: over 2,000 for the whole history's two panels, and
    most of the report's drawing time. As steps they are one path per panel: the count is the axes' and
    ticks' paths (a few dozen), whatever the days."""
    from datetime import date, timedelta

    from covid_pipeline.report import charts

    def paths(span_days: int) -> int:
        days = [date(2020, 1, 22) + timedelta(days=i) for i in range(span_days)]
        values = [float(i % 50) for i in range(span_days)]
        svg = charts.daily_panels("US", days, [("new cases", values, values), ("new deaths", values, values)])
        return svg.count("<path")

    few = paths(30)
    assert few < 100
    assert paths(1100) < few + 20  # ticks differ; 1,100 bars per panel would add over 2,000


def test_daily_steps_are_a_day_wide_and_a_missing_day_is_a_gap() -> None:
    import math
    from datetime import date, datetime, timedelta

    from covid_pipeline.report.charts import _daily_steps

    values, edges = _daily_steps([date(2020, 3, 1), date(2020, 3, 2), date(2020, 3, 4)], [1.0, None, 3.0])
    assert len(values) == 4  # 1 to 4 March
    assert values[0] == 1.0
    assert values[3] == 3.0
    assert all(math.isnan(v) for v in values[1:3])  # the day without a value, the day without a row
    assert edges == [datetime(2020, 2, 29, 12) + timedelta(days=i) for i in range(5)]


def test_continuity_counts_rows_as_days_because_a_series_has_one_row_per_day() -> None:
    """queries.series_continuity counts a series' rows (COUNT(*), not COUNT(DISTINCT date_key), which took
    seconds on the whole history): right only while each fact's key makes its series' days unique."""
    assert set(TABLES["fact_cases_daily"].key) == {"region_key", "date_key", "source"}  # series: source, region
    assert set(TABLES["fact_testing_daily"].key) <= {"region_key", "date_key"}  # series: feed, region


def test_a_chart_is_drawn_again_only_when_its_inputs_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from covid_pipeline.report import charts

    home = make_home(tmp_path / "home")
    first = charts.previous_charts(write_report(home).read_text())
    assert len(first) == 4  # every chart carries the digest of what it was drawn from
    drawn: list[tuple[Any, ...]] = []
    real = charts._figure

    def counted(*args: Any, **kwargs: Any) -> Any:
        drawn.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(charts, "_figure", counted)
    assert charts.previous_charts(write_report(home).read_text()) == first
    assert drawn == []  # nothing changed: every chart is the previous page's

    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute(f"UPDATE fact_testing_daily SET positive = 6 WHERE region_key = {TX}")
    again = charts.previous_charts(write_report(home).read_text())
    assert len(drawn) == 1  # the positivity chart, alone
    assert len(set(again) - set(first)) == len(set(first) - set(again)) == 1
    # What was kept and what was redrawn is what a page drawn from nothing has.
    fresh = charts.previous_charts(write_report(home, out=tmp_path / "fresh.html").read_text())
    assert fresh == again
    assert len(drawn) == 5


def test_a_damaged_previous_page_is_drawn_from_nothing() -> None:
    from covid_pipeline.report import charts

    digest = "ab" * 32
    assert charts.previous_charts(f'<svg data-chart="{digest}" role="img"><path d="M0 0"/>') == {}  # cut short
    assert charts.previous_charts(f'<svg data-chart="{digest[:-1]}"><path/></svg>') == {}  # not a digest
    svg = f'<svg data-chart="{digest}" role="img"><path/></svg>'
    assert charts.previous_charts(f"<p>x</p>{svg}<p>y</p>") == {digest: svg}


def test_inputs_that_draw_alike_share_a_digest_and_others_do_not() -> None:
    from datetime import date
    from decimal import Decimal

    from covid_pipeline.report import charts

    assert charts._canonical((1, 1.0, Decimal("1.0"), None)) == [1.0, 1.0, 1.0, None]
    assert charts._canonical(date(2020, 3, 1)) != charts._canonical("2020-03-01")  # a day, or a category


def _drawn_texts(figure: Any) -> list[Any]:
    """The figure's texts that are drawn: titles, legends, offsets, and the labels of ticks in view."""
    texts = [t for t in (figure._suptitle,) if t is not None]
    for ax in figure.axes:
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.offsetText, ax.yaxis.offsetText]
        if ax.get_legend() is not None:
            texts += ax.get_legend().get_texts()
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            texts += [tick.label1 for tick in axis.get_major_ticks() if low <= tick.get_loc() <= high]
    return texts


@pytest.mark.parametrize("scale", [0.01, 1.0, 2_500.0, 1.5e6, 4e8, 3e9])
def test_time_series_labels_stay_inside_the_figure_and_apart(scale: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """Those charts have fixed margins (charts._figure): whatever the counts' size and sign, no label is cut
    off by the figure's edge or drawn over another label or another chart."""
    import math
    from datetime import date, timedelta

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from covid_pipeline.report import charts

    figures: list[Any] = []
    real = charts._svg
    monkeypatch.setattr(charts, "_svg", lambda figure, label: figures.append(figure) or real(figure, label))
    days = [date(2020, 1, 22) + timedelta(days=i) for i in range(1143)]
    wave = [scale * (math.sin(i / 40) - 0.3) + scale / 3 * (i % 3) for i in range(len(days))]
    long_name = "District of Columbia"
    charts.daily_panels.__wrapped__(f"{long_name}: daily new cases and deaths", days, [("new cases", wave, wave)] * 2)
    charts.small_multiples.__wrapped__(
        "Top states", [(long_name, days, wave, wave), ("Texas", days[-30:], wave[-30:], wave[-30:])]
    )
    assert len(figures) == 2
    for figure in figures:
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        renderer = canvas.get_renderer()
        texts = [t for t in _drawn_texts(figure) if t.get_visible() and t.get_text().strip()]
        boxes = [t.get_window_extent(renderer) for t in texts]
        page = figure.bbox
        for text, box in zip(texts, boxes, strict=True):
            inside = page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1
            assert inside, (scale, text.get_text(), box, page)
            for ax in figure.axes:
                if ax is not text.axes and text.axes is not None:
                    assert not box.overlaps(ax.bbox), (scale, text.get_text(), "over another chart")
        for (one, one_box), (other, other_box) in itertools.combinations(zip(texts, boxes, strict=True), 2):
            if one.axes is not None and one.axes is other.axes:
                continue  # within one chart matplotlib spaces ticks and legend itself
            assert not one_box.overlaps(other_box), (scale, one.get_text(), other.get_text())
