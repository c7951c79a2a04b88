"""The run report: one self-contained HTML page (no script, no external resource) drawn from the warehouse
and the execution history through a small port (``source.ReportSource``), so the same page can be drawn
from the local home or, later, from AWS.

matplotlib is imported only while a chart is drawn (charts.py): nothing a Lambda handler imports reaches it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

REPORT_NAME = "report.html"


def write_report(home: Path, out: Path | None = None) -> Path:
    """Draw the report of the local ``home`` into ``out`` (default ``<home>/report.html``); its path."""
    from covid_pipeline.report.page import render_page
    from covid_pipeline.report.source import LocalReportSource

    source = LocalReportSource(home)
    target = Path(out) if out is not None else source.home / REPORT_NAME
    started = time.monotonic()
    page = render_page(source, drawn_in=lambda: time.monotonic() - started)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A name of this process's own: concurrent uploads into one home each write the report at their end.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)  # never a half-written page where a browser may be looking
    return target
