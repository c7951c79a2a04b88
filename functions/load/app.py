"""Load step handler: parse the event, call the domain function, return a small result."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from covid_pipeline.composition import ports_from_env
from covid_pipeline.domain.load import run_load
from covid_pipeline.domain.models import LoadInput
from covid_pipeline.observability import MetricUnit, logger, metrics, tracer


@logger.inject_lambda_context(correlation_id_path="run_id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=LoadInput)
def lambda_handler(event: LoadInput, context: LambdaContext) -> dict[str, Any]:
    result = run_load(event, ports_from_env())
    metrics.add_metric(name="LoadSucceeded", unit=MetricUnit.Count, value=1)
    logger.info("load done", extra={"result": result.model_dump()})
    return result.model_dump()
