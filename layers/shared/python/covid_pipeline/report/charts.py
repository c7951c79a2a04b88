"""The report's charts: matplotlib (Agg, no display) drawn to SVG for inlining into the page.

matplotlib is imported inside ``_figure`` only, never at module import: the CLI loads it when a report is
drawn, and no Lambda handler reaches it. Text is drawn as paths (matplotlib's default ``svg.fonttype``:
the glyphs of its bundled DejaVu Sans), so the page needs no font from anywhere; ``svg.hashsalt`` and no
date in the metadata make the same data give the same SVG.

That is also why a chart is drawn only when its inputs changed: each SVG carries a digest of what it was
drawn from (the function, its arguments, this module's source, matplotlib's version), and inside
``reusing(previous_page)`` a chart whose digest the previous page holds is taken from it. An upload of one
JHU day redraws the cases charts, not the testing and hospital ones (0.2-0.3 s each).
"""

from __future__ import annotations

import functools
import hashlib
import html
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

WIDTH_IN = 9.0
RC = {
    "svg.fonttype": "path",
    "text.parse_math": False,  # a region name with "$" is text, not mathtext
    "svg.hashsalt": "covid-pipeline-report",
    "font.size": 9.0,
    "axes.titlesize": 10.0,
}
DAILY = "#9ecae1"  # light: the daily values
AVERAGE = "#08519c"  # dark: the 7-day average
DEATHS_DAILY = "#fcbba1"
DEATHS_AVERAGE = "#a50f15"
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")


@contextmanager
def _drawing() -> Iterator[None]:
    """matplotlib, imported now, with the report's settings for everything drawn and saved inside."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed, ever
    with matplotlib.rc_context(RC):
        yield


# Margins of the time-series charts, in inches: left for a y label of up to 6 characters (_compact), top for
# the figure's title and the axes' titles, between rows for a row's date labels and the next row's title.
_LEFT, _RIGHT, _TOP, _BOTTOM, _BETWEEN_COLS, _BETWEEN_ROWS = 0.55, 0.15, 0.6, 0.4, 0.7, 0.65


def _figure(width: float, height: float, rows: int = 1, cols: int = 1, fixed: bool = False):  # type: ignore[no-untyped-def]
    """A figure of ``rows`` x ``cols`` axes: laid out by matplotlib's constrained layout, or (``fixed``) with the
    margins above, for charts whose labels are of a bounded size (dates, _compact numbers). The constrained
    layout measures every label twice before the drawing does: half of a time-series chart's drawing time."""
    from matplotlib.figure import Figure

    if not fixed:
        figure = Figure(figsize=(width, height), layout="constrained")
        return figure, figure.subplots(rows, cols, squeeze=False)
    figure = Figure(figsize=(width, height))
    axes = figure.subplots(rows, cols, squeeze=False)
    axes_width = (width - _LEFT - _RIGHT - (cols - 1) * _BETWEEN_COLS) / cols
    axes_height = (height - _TOP - _BOTTOM - (rows - 1) * _BETWEEN_ROWS) / rows
    figure.subplots_adjust(
        left=_LEFT / width,
        right=1 - _RIGHT / width,
        bottom=_BOTTOM / height,
        top=1 - _TOP / height,
        wspace=_BETWEEN_COLS / axes_width,  # matplotlib's spaces are fractions of an axes' size
        hspace=_BETWEEN_ROWS / axes_height,
    )
    return figure, axes


def _compact(value: float, _position: object = None) -> str:
    """A tick's count in at most 6 characters: 1.5M, -250k, 40, 0.5 (ticks are round numbers)."""
    size = abs(value)
    if size >= 1e9:
        return f"{value / 1e9:g}G"
    if size >= 1e6:
        return f"{value / 1e6:g}M"
    if size >= 1e3:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def _svg(figure: Any, label: str) -> str:
    """The figure as an inline ``<svg>`` element (no XML prolog, no DOCTYPE), scaled to its container."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    # Responsive: keep the viewBox, let CSS size it; a label for screen readers (the table holds the numbers).
    svg = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", svg, count=1)
    return svg.replace("<svg", f'<svg role="img" aria-label="{_attr(label)}"', 1)


# -- drawing a chart only when its inputs changed -----------------------------------------------------------

_DRAWN_FROM = re.compile(r'<svg data-chart="([0-9a-f]{64})".*?</svg>', re.DOTALL)
_previous: ContextVar[Mapping[str, str] | None] = ContextVar("previous_charts", default=None)
_Chart = TypeVar("_Chart", bound=Callable[..., str])


def previous_charts(page: str) -> dict[str, str]:
    """The charts of a page drawn before (``report.html``), by the digest of their inputs."""
    return {match.group(1): match.group(0) for match in _DRAWN_FROM.finditer(page)}


@contextmanager
def reusing(previous: Mapping[str, str]) -> Iterator[None]:
    """Charts drawn inside take the SVG of ``previous`` (previous_charts) whose inputs were the same."""
    token = _previous.set(previous)
    try:
        yield
    finally:
        _previous.reset(token)


@functools.cache
def _version() -> str:
    """What a chart's SVG depends on besides its arguments: this module's code and matplotlib's."""
    from importlib.metadata import version

    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest() + version("matplotlib")


def _canonical(value: Any) -> Any:
    """``value`` as JSON that tells apart what is drawn differently, and only that: a number is its float
    whatever its type (a local int, a Data API float or Decimal draw alike), a day is not its text (a string
    would be a category on the axis)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, datetime):
        return ["datetime", value.isoformat()]
    if isinstance(value, date):
        return ["date", value.isoformat()]
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, int | float) or hasattr(value, "__float__"):
        return float(value)
    return [type(value).__name__, repr(value)]


def _reused(draw: _Chart) -> _Chart:
    """``draw``, skipped when the previous page holds a chart of the same inputs (the same SVG, by construction)."""

    @functools.wraps(draw)
    def chart(*args: Any, **kwargs: Any) -> str:
        drawn_from = [_version(), draw.__name__, _canonical(args), _canonical(sorted(kwargs.items()))]
        digest = hashlib.sha256(json.dumps(drawn_from).encode()).hexdigest()
        previous = (_previous.get() or {}).get(digest)
        if previous is not None:
            return previous
        return draw(*args, **kwargs).replace("<svg", f'<svg data-chart="{digest}"', 1)

    return chart  # type: ignore[return-value]


def _attr(text: str) -> str:
    return html.escape(text, quote=True)


def _date_axis(ax: Any, days: Sequence[date]) -> None:
    from matplotlib.dates import MONTHLY, AutoDateLocator, ConciseDateFormatter

    if days:
        # The days' range and a day either side, always: one day is a range of zero, and a series whose
        # values are all missing (a state's deaths before its first) leaves autoscaling no range at all.
        # Either way AutoDateLocator warned on stderr that it cannot pick an interval (the user's
        # terminal, after a run).
        ax.set_xlim(min(days) - timedelta(days=1), max(days) + timedelta(days=1))
    locator = AutoDateLocator(maxticks=8)
    # Monthly ticks stop at every 6 months by default, enough for 42 months at 8 ticks: a series of 43 months
    # to 5 years (NYT's 2020-01 .. 2023-03) made it warn on stderr. Yearly ticks take over from 5 years.
    locator.intervald[MONTHLY] = [1, 2, 3, 4, 6, 12]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def _count_axis(ax: Any) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(_compact))


def _style(ax: Any) -> None:
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _nan(values: Sequence[float | None]) -> list[float]:
    return [float("nan") if v is None else float(v) for v in values]


def _daily_steps(days: Sequence[date], values: Sequence[float | None]) -> tuple[list[float], list[datetime]]:
    """``values`` as steps one day wide centred on their days: what bars of width 1 draw, as one path.

    One bar per day was one SVG path per day (over 1,100 per panel for the whole history) and most of the
    report's drawing time. Days the series lacks are steps of no value (NaN): a gap, as a missing bar was.
    """
    if not days:
        return [], [datetime(2020, 1, 1)]
    by_day = dict(zip(days, _nan(values), strict=True))
    first, last = min(days), max(days)
    every = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    start = datetime.combine(first, time()) - timedelta(hours=12)
    edges = [start + timedelta(days=i) for i in range(len(every) + 1)]
    return [by_day.get(day, float("nan")) for day in every], edges


@_reused
def daily_panels(
    title: str, days: Sequence[date], panels: Sequence[tuple[str, Sequence[float | None], Sequence[float | None]]]
) -> str:
    """One panel per (name, daily values, 7-day averages), side by side: daily as light bars, average as a line."""
    with _drawing():
        figure, axes = _figure(WIDTH_IN, 3.0, 1, len(panels), fixed=True)
        colours = ((DAILY, AVERAGE), (DEATHS_DAILY, DEATHS_AVERAGE))
        for i, (name, daily, average) in enumerate(panels):
            ax = axes[0][i]
            light, dark = colours[i % 2]
            ax.stairs(*_daily_steps(days, daily), fill=True, color=light, label="daily", linewidth=0)
            ax.plot(days, _nan(average), color=dark, linewidth=1.8, label="7-day average")
            ax.set_title(name)
            _date_axis(ax, days)
            _style(ax)
            _count_axis(ax)
            ax.legend(frameon=False, loc="upper left")
        figure.suptitle(title, fontsize=11)
        return _svg(figure, title)


@_reused
def small_multiples(
    title: str, series: Sequence[tuple[str, Sequence[date], Sequence[float | None], Sequence[float | None]]]
) -> str:
    """One row per (name, days, new cases 7-day average, new deaths 7-day average): cases left, deaths right."""
    with _drawing():
        figure, axes = _figure(WIDTH_IN, 1.7 * len(series) + 0.6, len(series), 2, fixed=True)
        for i, (name, days, cases, deaths) in enumerate(series):
            for j, (values, colour, what) in enumerate(
                ((cases, AVERAGE, "new cases"), (deaths, DEATHS_AVERAGE, "new deaths"))
            ):
                ax = axes[i][j]
                ax.plot(days, _nan(values), color=colour, linewidth=1.6)
                ax.fill_between(days, _nan(values), color=colour, alpha=0.15, linewidth=0)
                ax.set_title(f"{name}: {what}, 7-day average", loc="left")
                _date_axis(ax, days)
                _style(ax)
                _count_axis(ax)
        figure.suptitle(title, fontsize=11)
        return _svg(figure, title)


@_reused
def horizontal_bars(title: str, labels: Sequence[str], values: Sequence[float], unit: str) -> str:
    """Bars of ``values`` (largest on top), each labelled with its value."""
    with _drawing():
        figure, axes = _figure(WIDTH_IN, 0.18 * len(labels) + 0.9)
        ax = axes[0][0]
        positions = list(range(len(labels)))[::-1]
        ax.barh(positions, values, color=PALETTE[0], height=0.7)
        ax.set_yticks(positions, labels)
        ax.tick_params(axis="y", length=0)
        top = max(values, default=0) or 1.0
        for y, value in zip(positions, values, strict=True):
            ax.text(value + top * 0.01, y, f"{value:.1f}", va="center", fontsize=7)
        ax.set_xlim(0, top * 1.1)
        ax.set_ylim(-0.6, len(labels) - 0.4)
        ax.set_xlabel(unit)
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.set_title(title, loc="left")
        return _svg(figure, title)
