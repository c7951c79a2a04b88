"""Stage step: parse the event, call the domain function, return a small result."""

from covid_pipeline.domain.models import StageInput
from covid_pipeline.domain.stage import run_stage
from covid_pipeline.handler import step_handler

lambda_handler = step_handler("Stage", StageInput, run_stage)
