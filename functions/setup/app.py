"""Setup step: parse the event, call the domain function, return a small result."""

from covid_pipeline.domain.models import SetupInput
from covid_pipeline.domain.setup import run_setup
from covid_pipeline.handler import step_handler

lambda_handler = step_handler("Setup", SetupInput, run_setup)
