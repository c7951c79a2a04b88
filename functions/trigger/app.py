"""Trigger: a queue batch of S3 upload events -> one deterministically named execution."""

from covid_pipeline.composition import trigger_deps_from_env
from covid_pipeline.domain.models import TriggerInput
from covid_pipeline.domain.trigger import run_trigger
from covid_pipeline.handler import step_handler

lambda_handler = step_handler("Trigger", TriggerInput, run_trigger, dependencies=trigger_deps_from_env)
