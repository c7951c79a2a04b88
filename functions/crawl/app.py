"""Crawl step: parse the event, call the domain function, return a small result."""

from covid_pipeline.domain.crawl import run_crawl
from covid_pipeline.domain.models import CrawlInput
from covid_pipeline.handler import step_handler

lambda_handler = step_handler("Crawl", CrawlInput, run_crawl)
