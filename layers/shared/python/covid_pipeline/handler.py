"""The one shape of every step's Lambda handler: Powertools around a single domain call.

Each ``functions/<step>/app.py`` is ``lambda_handler = step_handler(...)``: the
event is parsed into the step's input model, the domain function runs against the
ports of this environment, and the small result model is returned as JSON.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from covid_pipeline.composition import ports_from_env
from covid_pipeline.observability import MetricUnit, capture_lambda_handler, logger, metrics

In = TypeVar("In", bound=BaseModel)

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def _measured(step: str, handler: Handler) -> Handler:
    """The step's own metrics around the whole invocation, event parsing included.

    Every invocation publishes ``StepDuration`` and ``<step>Succeeded`` or ``<step>Failed``: log_metrics
    never flushes an empty set (Powertools then warns "No application metrics to publish" on stderr,
    the user's terminal when run locally).
    """

    @functools.wraps(handler)
    def measured(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        started = time.monotonic()
        outcome = "Failed"
        try:
            result = handler(event, context)
            outcome = "Succeeded"
            return result
        finally:
            # Set last: locally the trigger runs a whole execution in process, whose handlers flush and
            # clear the metrics Powertools shares between instances.
            metrics.add_dimension(name="step", value=step)
            metrics.add_metric(name="StepDuration", unit=MetricUnit.Seconds, value=time.monotonic() - started)
            metrics.add_metric(name=f"{step}{outcome}", unit=MetricUnit.Count, value=1)

    return measured


def step_handler(
    step: str,
    model: type[In],
    run: Callable[[In, Any], BaseModel],
    dependencies: Callable[[], Any] = ports_from_env,
) -> Handler:
    """``run(event, dependencies())``: the pipeline's Ports by default (the trigger passes its own)."""

    # Named lambda_handler: the Tracer names its subsegment after the function ("## lambda_handler").
    @event_parser(model=model)
    def lambda_handler(event: In, context: LambdaContext) -> dict[str, Any]:
        result = run(event, dependencies()).model_dump()
        logger.info(f"{step} done", extra={"result": result})
        return result

    return logger.inject_lambda_context(  # type: ignore[no-any-return]
        capture_lambda_handler(metrics.log_metrics(_measured(step, lambda_handler))),
        correlation_id_path="run_id",
        clear_state=True,
    )
