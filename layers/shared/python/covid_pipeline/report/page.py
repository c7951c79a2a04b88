"""The report page: HTML with its style inline, charts as inline SVG, and no script at all.

Every value that comes from data or from the run history is escaped (``_esc``): region names, object keys and
reasons may hold ``<`` or ``&``. A Content-Security-Policy of ``default-src 'none'`` makes sure the page
itself can fetch nothing, whatever a future edit adds. Each table has an ``id`` so the numbers can be
checked (tests/e2e/test_report.py reads them back).
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from covid_pipeline.ports import PipelineError
from covid_pipeline.report import charts, queries
from covid_pipeline.report.queries import MAX_LISTED, Result
from covid_pipeline.report.source import ReportSource

RUNS_SHOWN = 10
REFUSED_SHOWN = 100

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0 auto;
max-width:1000px;padding:1rem 1.5rem 3rem;color:#1b1b1b;line-height:1.4}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}
h3{font-size:1.05rem;margin-bottom:.3rem} nav a{margin-right:.8rem}
table{border-collapse:collapse;margin:.4rem 0 1rem;font-size:.85rem}
th,td{border-bottom:1px solid #e4e4e4;padding:.2rem .6rem;text-align:left;vertical-align:top}
th{background:#f4f4f4} td.n{text-align:right;font-variant-numeric:tabular-nums}
.SUCCEEDED{color:#137333;font-weight:600} .FAILED{color:#b3261e;font-weight:600} .RUNNING{color:#8a6d00}
.note,.meta{color:#555;font-size:.85rem} .empty{color:#8a6d00} .error{color:#b3261e}
figure{margin:1rem 0} svg{max-width:100%;height:auto} details{margin:.3rem 0 1rem} summary{cursor:pointer}
"""
# The page may load nothing: inline style only, no script, no image, no font, no frame.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _cell(value: Any) -> str:
    if value is None:
        return "<td></td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, int):
        return f'<td class="n">{value:,}</td>'
    if isinstance(value, float):
        return f'<td class="n">{value:,.2f}</td>'
    if isinstance(value, datetime):
        return f"<td>{_esc(value.strftime('%Y-%m-%d %H:%M:%S'))}</td>"
    if isinstance(value, date):
        return f"<td>{_esc(value.isoformat())}</td>"
    if hasattr(value, "__float__") and not isinstance(value, str):  # Decimal (Redshift NUMERIC)
        return _cell(float(value))
    return f"<td>{_esc(value)}</td>"


def _table(table_id: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], css: str = "") -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f'<table id="{_esc(table_id)}" class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _result_table(table_id: str, result: Result, empty: str) -> str:
    if not result.rows:
        return f'<p class="empty" id="{_esc(table_id)}-empty">{_esc(empty)}</p>'
    return _table(table_id, result.columns, result.rows)


def _guarded(build: Callable[[], str]) -> str:
    """A section's body, or why it could not be drawn (no warehouse yet, a table missing): never a traceback."""
    try:
        return build()
    except PipelineError as exc:
        return f'<p class="error">not available: {_esc(exc)}</p>'


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_esc(title)}</h2>{body}</section>'


def _utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


# -- sections -------------------------------------------------------------------------------------------------


def _runs(source: ReportSource) -> str:
    runs = source.executions(RUNS_SHOWN)
    if not runs:
        return '<p class="empty">no executions yet</p>'
    rows = "".join(
        f"<tr><td class='n'>{i}</td><td>{_esc(r.name)}</td><td class='{_esc(r.status)}'>{_esc(r.status)}</td>"
        f"<td>{_esc(_utc(r.started_at))}</td>"
        + _cell(_round(r.duration_s))
        + f"<td>{_esc(f'{r.failed_state}: {r.reason}' if r.status == 'FAILED' else '')}</td></tr>"
        for i, r in enumerate(runs, 1)
    )
    summary = (
        '<table id="runs"><thead><tr><th>#</th><th>execution</th><th>status</th><th>started (UTC)</th>'
        f"<th>seconds</th><th>failed state: reason</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    # One row per state, in the order the executions went through them; one column per run (# above).
    states: dict[str, None] = {}
    for r in runs:
        states.update(dict.fromkeys(r.state_durations))
    per_state = _table(
        "state-seconds",
        ["state", *(f"#{i}" for i in range(1, len(runs) + 1))],
        ([state, *(_round(r.state_durations.get(state)) for r in runs)] for state in states),
    )
    return (
        f"{summary}<h3>Seconds per state</h3>"
        '<p class="note">Time from entering to leaving each state (retries and polls summed), per run (# above); '
        "blank: not visited.</p>"
        f"{per_state}"
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _warehouse(source: ReportSource) -> str:
    counts = queries.rows_per_table(source)
    audit = queries.audit_per_run(source)
    return (
        _table("rows-per-table", ["table", "rows"], counts.rows)
        + "<h3>Loads per run (load_audit)</h3>"
        + _result_table("audit-per-run", audit, "no load recorded yet")
    )


def _rejected(source: ReportSource) -> str:
    by_reason = queries.rejected_by_reason(source)
    examples = queries.rejected_examples(source)
    body = "<h3>Rows rejected, by reason (quarantine)</h3>" + _result_table(
        "rejected-by-reason", by_reason, "no row rejected"
    )
    if examples.rows:
        body += (
            "<details><summary>Latest rejected rows with their full reason</summary>"
            + _result_table("rejected-examples", examples, "")
            + "</details>"
        )
    return body


def _refused(source: ReportSource) -> str:
    refused = source.refused_objects(REFUSED_SHOWN)
    body = (
        "<h3>Objects refused whole</h3>"
        '<p class="note">Setup refuses uploads that belong to no feed; Stage refuses objects whose header lacks a '
        "required column or does not line up with its table (listed in quarantine/_refused/&lt;run&gt;.jsonl).</p>"
    )
    if not refused:
        return body + '<p class="empty" id="refused-objects-empty">no object refused</p>'
    return body + _table(
        "refused-objects", ["run", "step", "object", "reason"], ([r.run, r.step, r.object, r.reason] for r in refused)
    )


def _quality(source: ReportSource) -> str:
    gaps = queries.series_continuity(source)
    totals: dict[tuple[str, str], list[int]] = {}
    for g in gaps:
        entry = totals.setdefault((g.fact, g.series_of), [0, 0, 0])
        entry[0] += 1
        entry[1] += g.missing > 0
        entry[2] += g.missing
    with_gaps = [g for g in gaps if g.missing > 0]
    body = (
        "<h3>Continuity of each series</h3>"
        '<p class="note">A series is one region of one source (cases) or feed (testing); missing days are the '
        "days between its first and last day that it has no row for.</p>"
        + _table(
            "continuity-summary",
            ["table", "source / feed", "series", "series with gaps", "missing days"],
            ([fact, of, *counts] for (fact, of), counts in sorted(totals.items())),
        )
    )
    if with_gaps:
        body += (
            f"<details><summary>Series with missing days ({len(with_gaps):,}; up to {MAX_LISTED} shown, "
            "most missing first)</summary>"
            + _table(
                "continuity-gaps",
                ["table", "source / feed", "region", "first day", "last day", "days", "missing days"],
                (
                    [g.fact, g.series_of, g.region, g.first_day, g.last_day, g.days, g.missing]
                    for g in with_gaps[:MAX_LISTED]
                ),
            )
            + "</details>"
        )
    unresolved = queries.unresolved_regions(source)
    body += (
        f"<h3>Regions left unresolved ({len(unresolved.rows):,})</h3>"
        '<p class="note">Outside JHU\'s UID lookup (dim_region.in_lookup = false): kept as the feeds wrote them, '
        "without population or coordinates from the lookup.</p>"
        + _result_table("unresolved-regions", unresolved, "every region resolved")
    )
    negatives = queries.negative_counts(source)
    body += (
        "<h3>Day-over-day negatives</h3>"
        '<p class="note">Rows whose cumulative count fell from the previous loaded day (new_confirmed or '
        "new_deaths &lt; 0): a feed's correction, kept as delivered.</p>"
        + _result_table("negative-counts", negatives, "no negative day-over-day difference")
    )
    if negatives.rows:
        body += (
            f"<details><summary>The rows (up to {MAX_LISTED}, largest drop first)</summary>"
            + _result_table("negative-rows", queries.negative_rows(source), "")
            + "</details>"
        )
    return body


def _data(table_id: str, result: Result, columns: Sequence[str]) -> str:
    index = [result.columns.index(c) for c in columns]
    rows = ([row[i] for i in index] for row in result.rows)
    return (
        f"<details><summary>The plotted numbers ({len(result.rows):,} rows)</summary>"
        + _table(table_id, columns, rows)
        + "</details>"
    )


def _figure(chart_id: str, svg: str, caption: str, data: str) -> str:
    return f'<figure id="{chart_id}">{svg}<figcaption class="note">{_esc(caption)}</figcaption></figure>{data}'


def _no_data(chart_id: str, what: str) -> str:
    return f'<p class="empty" id="{chart_id}-empty">no data for {_esc(what)}</p>'


def _country_chart(source: ReportSource) -> str:
    result = queries.country_daily(source)
    if not result.rows:
        return _no_data("chart-country", "a country's daily cases")
    first = result.dicts()[0]
    rows = result.dicts()
    name = f"{first['country_region']} ({first['source']}, sum of its {first['level']} rows)"
    svg = charts.daily_panels(
        f"{name}: daily new cases and deaths",
        [r["day"] for r in rows],
        [
            ("new cases", [r["new_cases"] for r in rows], [r["new_cases_7d"] for r in rows]),
            ("new deaths", [r["new_deaths"] for r in rows], [r["new_deaths_7d"] for r in rows]),
        ],
    )
    caption = (
        "The country, source and region level with the most new cases in the warehouse. Bars: the day's new "
        "count (blank on a series' first day: no previous day to subtract); line: average of the last 7 rows."
    )
    columns = ["day", "regions", "new_cases", "new_cases_7d", "new_deaths", "new_deaths_7d"]
    return f"<h3>{_esc(name)}</h3>" + _figure("chart-country", svg, caption, _data("data-country", result, columns))


def _states_chart(source: ReportSource) -> str:
    result = queries.top_states_daily(source)
    if not result.rows:
        return _no_data("chart-top-states", "US states' daily cases")
    series: dict[str, list[dict[str, Any]]] = {}
    for row in result.dicts():
        series.setdefault(row["state"], []).append(row)
    svg = charts.small_multiples(
        f"Top {len(series)} US states by cases ({result.rows[0][1]})",
        [
            (state, [r["day"] for r in rows], [r["new_cases_7d"] for r in rows], [r["new_deaths_7d"] for r in rows])
            for state, rows in series.items()
        ],
    )
    caption = "The US states with the most confirmed cases: 7-day averages of their daily new cases and deaths."
    columns = ["state", "day", "new_cases", "new_cases_7d", "new_deaths", "new_deaths_7d"]
    return f"<h3>Top US states: {_esc(', '.join(series))}</h3>" + _figure(
        "chart-top-states", svg, caption, _data("data-top-states", result, columns)
    )


def _positivity_chart(source: ReportSource) -> str:
    result = queries.testing_positivity(source)
    if not result.rows:
        return _no_data("chart-positivity", "testing by state")
    rows = result.dicts()
    svg = charts.horizontal_bars(
        "Share of tests positive, by state (%)",
        [r["state"] or r["state_abbr"] or "?" for r in rows],
        [float(r["positivity_pct"]) for r in rows],
        "% of test results positive",
    )
    days = sorted({r["day"] for r in rows})
    caption = (
        f"Cumulative positive / total test results (COVID Tracking Project) on each state's latest day "
        f"({days[0]} to {days[-1]}); positive + negative where the total is missing."
    )
    columns = ["state", "day", "positive", "negative", "tests", "positivity_pct"]
    return "<h3>Testing positivity by state</h3>" + _figure(
        "chart-positivity", svg, caption, _data("data-positivity", result, columns)
    )


def _icu_chart(source: ReportSource) -> str:
    result = queries.icu_beds_per_100k(source)
    if not result.rows:
        return _no_data("chart-icu", "ICU beds by state")
    rows = result.dicts()
    svg = charts.horizontal_bars(
        "ICU beds per 100,000 people, by state",
        [r["state"] or r["state_abbr"] for r in rows],
        [float(r["icu_beds_per_100k"]) for r in rows],
        "ICU beds per 100,000 people",
    )
    hospitals = sum(int(r["hospitals"]) for r in rows)
    caption = (
        f"ICU beds of the {hospitals:,} hospitals in dim_hospital, per 100,000 people of their state "
        "(population from JHU's UID lookup, dim_region). A partial hospital list gives partial sums."
    )
    columns = ["state", "hospitals", "icu_beds", "population", "icu_beds_per_100k"]
    return "<h3>ICU beds per 100k people by state</h3>" + _figure(
        "chart-icu", svg, caption, _data("data-icu", result, columns)
    )


SECTIONS: tuple[tuple[str, str, Callable[[ReportSource], str]], ...] = (
    ("runs", "Last runs", _runs),
    ("warehouse", "Warehouse: rows per table", _warehouse),
    ("rejected", "Rejected rows and refused objects", lambda s: _guarded(lambda: _rejected(s)) + _refused(s)),
    ("quality", "Data quality", _quality),
    ("cases", "Daily cases and deaths", lambda s: _guarded(lambda: _country_chart(s)) + _states_chart(s)),
    ("testing", "Testing", _positivity_chart),
    ("hospitals", "Hospital capacity", _icu_chart),
)


def render_page(source: ReportSource, drawn_in: Callable[[], float] | None = None) -> str:
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    nav = "".join(f'<a href="#{anchor}">{_esc(title)}</a>' for anchor, title, _ in SECTIONS)
    sections = "".join(
        _section(anchor, title, _guarded(lambda build=build: build(source))) for anchor, title, build in SECTIONS
    )
    took = f" in {drawn_in():.1f} s" if drawn_in else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>covid-pipeline report</title><style>{STYLE}</style></head><body>"
        "<header><h1>covid-pipeline report</h1>"
        f'<p class="meta">Generated {_esc(generated)} from {_esc(source.describe())}</p><nav>{nav}</nav></header>'
        f"<main>{sections}</main>"
        f'<footer class="meta"><p>Drawn{_esc(took)} with matplotlib (SVG inline); no script, nothing fetched.'
        "</p></footer></body></html>\n"
    )
