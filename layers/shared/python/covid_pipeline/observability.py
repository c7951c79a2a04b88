"""Powertools Logger, Tracer and Metrics shared by every function.

The service name, namespace and sampling come from the POWERTOOLS_* variables
set in template.yaml. The logger writes to whatever ``sys.stdout`` is at write
time, so the local runner can send each invocation's logs (and EMF metric lines)
to the execution's log file, as CloudWatch would keep them.
"""

from __future__ import annotations

import sys

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "covid-pipeline"


class _CurrentStdout:
    """A stream that always writes to the current sys.stdout (redirectable per invocation)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


logger = Logger(service=SERVICE, stream=_CurrentStdout())  # type: ignore[arg-type]
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace="CovidPipeline", service=SERVICE)

__all__ = ["SERVICE", "MetricUnit", "logger", "metrics", "tracer"]
