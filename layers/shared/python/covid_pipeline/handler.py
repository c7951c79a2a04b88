"""The one shape of every step's Lambda handler: Powertools around a single domain call.

Each ``functions/<step>/app.py`` is ``lambda_handler = step_handler(...)``: the
event is parsed into the step's input model, the domain function runs against the
ports of this environment, and the small result model is returned as JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from covid_pipeline.composition import ports_from_env
from covid_pipeline.observability import MetricUnit, capture_lambda_handler, logger, metrics

In = TypeVar("In", bound=BaseModel)

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def step_handler(
    step: str,
    model: type[In],
    run: Callable[[In, Any], BaseModel],
    dependencies: Callable[[], Any] = ports_from_env,
) -> Handler:
    """``run(event, dependencies())``: the pipeline's Ports by default (the trigger passes its own)."""

    @logger.inject_lambda_context(correlation_id_path="run_id", clear_state=True)
    @capture_lambda_handler
    @metrics.log_metrics
    @event_parser(model=model)
    def lambda_handler(event: In, context: LambdaContext) -> dict[str, Any]:
        result = run(event, dependencies()).model_dump()
        metrics.add_metric(name=f"{step}Succeeded", unit=MetricUnit.Count, value=1)
        logger.info(f"{step} done", extra={"result": result})
        return result

    return lambda_handler  # type: ignore[return-value]
