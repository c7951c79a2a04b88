"""Powertools Logger, Tracer and Metrics shared by every function.

The service name, namespace and sampling come from the POWERTOOLS_* variables
set in template.yaml. Logs and EMF metric records go to stdout, as Lambda wants
them: CloudWatch Logs keeps the logs and makes metrics of the EMF records. The
logger writes to whatever ``sys.stdout`` is at write time, so the local runner
sends each invocation's logs to its log file and the EMF records to
``<home>/logs/metrics.jsonl`` (runner/function_output.py), never to the terminal.

Metrics: every step publishes ``StepDuration`` and ``<Step>Succeeded``/``<Step>Failed``
(dimensions service, step; handler.py); per dataset (dimensions service, dataset,
step) Load publishes ``RowsRead``/``RowsLoaded``/``RowsRejected`` from load_audit and
Stage its ``StepDuration`` (:func:`publish_dataset_metrics`).

The Tracer is created only where it would trace: in Lambda, outside SAM local,
without ``POWERTOOLS_TRACE_DISABLED`` (Powertools' own rule). Everywhere else a
Powertools Tracer is a no-op that still imports the X-Ray SDK and botocore
(about 150-250 ms of cold import), so there ``tracer`` is None and
:func:`capture_lambda_handler` leaves the handler as it is.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

# template.yaml's Globals set both (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE): they win, as
# Powertools itself would let them if no value were passed; these apply only where no template environment
# is given (a test importing a handler module directly).
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "covid-pipeline"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "CovidPipeline"

F = TypeVar("F", bound=Callable[..., Any])


class _CurrentStdout:
    """A stream that always writes to the current sys.stdout (redirectable per invocation)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def tracing_enabled() -> bool:
    """Whether a Powertools Tracer would trace here (the rule ``Tracer()`` applies when not told).

    Asks Powertools itself rather than copying its rule; the version is pinned in pyproject.toml and
    tests/unit/test_cold_import.py checks both sides (no X-Ray SDK when off, a traced handler when on).
    """
    return not Tracer._is_tracer_disabled()


logger = Logger(service=SERVICE, stream=_CurrentStdout())  # type: ignore[arg-type]
# Decided once, at import (cold start), as Tracer() itself decides: the environment of a
# Lambda execution environment does not change between invocations.
tracer: Tracer | None = Tracer(service=SERVICE) if tracing_enabled() else None
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def publish_dataset_metrics(step: str, dataset: str, run_id: str, figures: Mapping[str, tuple[float, str]]) -> None:
    """One EMF record of a dataset's figures (name -> (value, unit)), dimensions ``dataset`` and ``step``.

    An EMF record has one value per dimension, so each dataset gets its own record: an
    EphemeralMetrics (Powertools' isolated metrics, "Metrics isolation" in its Metrics docs)
    flushed at once, instead of the handler's shared ``metrics`` whose dimensions hold for the whole
    invocation. ``run_id`` rides along as metadata (searchable in Logs Insights, not a dimension).
    Printed to stdout like every EMF record: CloudWatch Logs makes metrics of it on AWS, the local
    runner puts it in ``<home>/logs/metrics.jsonl``.
    """
    record = EphemeralMetrics(namespace=metrics.namespace, service=SERVICE)
    record.add_dimension(name="dataset", value=dataset)
    record.add_dimension(name="step", value=step)
    record.add_metadata(key="run_id", value=run_id)
    for name, (value, unit) in figures.items():
        record.add_metric(name=name, unit=unit, value=value)
    record.flush_metrics(raise_on_empty_metrics=True)


def capture_lambda_handler(handler: F) -> F:
    """``tracer.capture_lambda_handler`` when tracing is on; the handler unchanged otherwise."""
    if tracer is None:
        return handler
    return tracer.capture_lambda_handler(handler)  # type: ignore[return-value]


__all__ = [
    "SERVICE",
    "MetricUnit",
    "capture_lambda_handler",
    "logger",
    "metrics",
    "publish_dataset_metrics",
    "tracer",
    "tracing_enabled",
]
