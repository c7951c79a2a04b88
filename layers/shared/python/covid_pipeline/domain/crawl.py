"""Crawl: start the raw-zone crawler, then report its state for the state machine's polling loop."""

from __future__ import annotations

from covid_pipeline.composition import Ports
from covid_pipeline.domain.models import CrawlInput, CrawlOutput
from covid_pipeline.ports import EngineError


class CrawlerFailed(EngineError):
    pass


def run_crawl(inp: CrawlInput, ports: Ports) -> CrawlOutput:
    name = ports.settings.raw_crawler
    if inp.action == "start":
        # CrawlerBusy propagates: the state machine retries with backoff, so a crawl that
        # started before our files landed is never mistaken for ours.
        ports.catalog.start_crawler(name)
        return CrawlOutput(crawler=name, state="RUNNING", done=False, polls=0)
    state = ports.catalog.crawler_state(name)
    if state.finished and state.last_status not in (None, "SUCCEEDED"):
        raise CrawlerFailed(f"crawler {name} ended {state.last_status}: {state.error or 'no reason given'}")
    done = state.finished and state.last_status == "SUCCEEDED"
    # A Glue crawl rewrites its tables' columns: they are made text again, with the overflow column, after each one.
    prepared = ports.catalog.prepare_raw_tables(ports.settings.glue_database) if done else []
    return CrawlOutput(
        crawler=name,
        state=state.state,
        last_status=state.last_status,
        done=done,
        polls=inp.polls + 1,
        tables_prepared=prepared,
    )
