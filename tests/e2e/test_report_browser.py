"""The report of the data lake sample run opened in headless Chromium (Debian's chromium package, driven by
playwright, which never downloads a browser here): no console error, no request but the page itself, and a
screenshot kept under test-output/ (git-ignored) for people and CI artifacts to look at.

Skipped with the reason when chromium or playwright is missing, except under `make test`
(COVID_PIPELINE_REQUIRE_BROWSER=1, after its `chromium` target installed the browser): there it fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import cli

pytestmark = [pytest.mark.slow, pytest.mark.spark]
CHROMIUM = os.environ.get("COVID_PIPELINE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# No background traffic of the browser's own (updates, sync, field trials): any request seen is the page's.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
OUTPUT = ROOT / "test-output"


def _missing() -> str | None:
    if not Path(CHROMIUM).is_file():
        return f"no chromium at {CHROMIUM} (Debian: apt-get install chromium, or make chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if reason := _missing():
        if os.environ.get("COVID_PIPELINE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"the browser test is required here (COVID_PIPELINE_REQUIRE_BROWSER=1): {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def open_page(browser: Any, path: Path, screenshot: Path | None = None) -> tuple[list[str], list[str]]:
    """Load ``path``; the console errors (and uncaught page errors) and every URL the page requested."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    context.on("request", lambda r: requests.append(r.url))
    page.goto(path.resolve().as_uri(), wait_until="networkidle")
    if screenshot is not None:
        page.screenshot(path=str(screenshot), full_page=True)
    context.close()
    return errors, requests


def test_the_report_opens_without_console_error_or_network_request(
    browser: Any, lake_home: tuple[Path, str], tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    proc = cli("report", "--home", str(lake_home[0]), "--out", str(report))
    assert proc.returncode == 0, proc.stderr[-3000:]
    OUTPUT.mkdir(exist_ok=True)
    screenshot = OUTPUT / "report-lake-run.png"
    errors, requests = open_page(browser, report, screenshot)
    print(f"report {report} ({report.stat().st_size:,} bytes); screenshot: {screenshot}")
    assert errors == []
    assert requests == [report.resolve().as_uri()]
    assert screenshot.stat().st_size > 50_000  # a whole page of tables and charts, not a blank one


def test_the_watch_sees_what_a_page_would_fetch_or_log(browser: Any, tmp_path: Path) -> None:
    """The same watch on a page that fetches an image and logs an error: both are seen (so an empty list above
    means there was nothing, not that nothing was watched)."""
    page = tmp_path / "control.html"
    page.write_text(
        '<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/pixel.png" alt="">'
        "<script>console.error('control')</script></body></html>"
    )
    errors, requests = open_page(browser, page)
    assert "http://127.0.0.1:9/pixel.png" in requests
    assert any("control" in e for e in errors)
