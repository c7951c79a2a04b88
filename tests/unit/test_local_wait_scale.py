"""Local executions keep a fraction of the ASL's waits: enough to poll a crawl another execution started, not
a second of sleep after a crawl that finished inside StartCrawl (the local crawler is synchronous)."""

from __future__ import annotations

import json
from pathlib import Path

from covid_pipeline.runner.local import RETRY_SCALE, WAIT_SCALE

ASL = Path(__file__).resolve().parents[2] / "statemachine" / "pipeline.asl.json"


def _states() -> dict:
    return json.loads(ASL.read_text())["States"]


def test_a_local_crawl_poll_waits_a_fifth_of_a_second_and_the_polls_still_span_seconds() -> None:
    states = _states()
    poll_wait = states["WaitForCrawl"]["Seconds"] * WAIT_SCALE
    (limit,) = [
        c["NumericGreaterThanEquals"] for c in states["CrawlFinished?"]["Choices"] if "NumericGreaterThanEquals" in c
    ]
    assert poll_wait <= 0.2  # every crawling execution (uploads of a new layout, first runs) waits it once
    # Another execution's crawl seen RUNNING (it started between our StartCrawl and our poll) gets the whole
    # loop: a local crawl of the bench's 1,151 objects takes 0.15 s.
    assert limit * poll_wait >= 15


def test_a_crawler_busy_retry_waits_longer_than_a_local_crawl() -> None:
    (busy,) = [r for r in _states()["StartCrawl"]["Retry"] if r["ErrorEquals"] == ["CrawlerBusy"]]
    assert busy["IntervalSeconds"] * RETRY_SCALE >= 1
