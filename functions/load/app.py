"""Load step: parse the event, call the domain function, return a small result."""

from covid_pipeline.domain.load import run_load
from covid_pipeline.domain.models import LoadInput
from covid_pipeline.handler import step_handler

lambda_handler = step_handler("Load", LoadInput, run_load)
