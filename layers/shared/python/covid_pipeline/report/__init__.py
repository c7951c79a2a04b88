"""The run report: one self-contained HTML page (no script, no external resource) drawn from the warehouse
and the execution history through a small port (``source.ReportSource``), so the same page can be drawn
from the local home or from a deployed stack (adapters/aws/report_source.py).

matplotlib is imported only while a chart is drawn (charts.py): nothing a Lambda handler imports reaches it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from covid_pipeline.report.source import ReportSource

REPORT_NAME = "report.html"


def write_report(home: Path | None, out: Path | None = None, source: ReportSource | None = None) -> Path:
    """Draw the report into ``out`` (default ``<home>/report.html``); its path.

    From the local ``home`` unless another ``source`` is given (``--stack``: adapters/aws/report_source.py,
    with ``out`` then required): the page code is the same, only the source differs.
    """
    from covid_pipeline.report import charts
    from covid_pipeline.report.page import render_page
    from covid_pipeline.report.source import LocalReportSource

    if source is None:
        if home is None:
            raise ValueError("write_report needs a home or a source")
        local = LocalReportSource(home)
        source, default = local, local.home / REPORT_NAME
    elif out is None:
        raise ValueError("write_report from a given source needs out")
    target = Path(out) if out is not None else default
    started = time.monotonic()
    # The page this one replaces: its charts whose inputs did not change are not drawn again (charts.py).
    previous = target.read_text(encoding="utf-8", errors="replace") if target.is_file() else ""
    with charts.reusing(charts.previous_charts(previous)):
        page = render_page(source, drawn_in=lambda: time.monotonic() - started)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A name of this process's own: concurrent uploads into one home each write the report at their end.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)  # never a half-written page where a browser may be looking
    return target
