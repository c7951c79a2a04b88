"""Powertools Logger, Tracer and Metrics shared by every function.

The service name, namespace and sampling come from the POWERTOOLS_* variables
set in template.yaml. The logger writes to whatever ``sys.stdout`` is at write
time, so the local runner can send each invocation's logs (and EMF metric lines)
to the execution's log file, as CloudWatch would keep them.

The Tracer is created only where it would trace: in Lambda, outside SAM local,
without ``POWERTOOLS_TRACE_DISABLED`` (Powertools' own rule). Everywhere else a
Powertools Tracer is a no-op that still imports the X-Ray SDK and botocore
(about 150-250 ms of cold import), so there ``tracer`` is None and
:func:`capture_lambda_handler` leaves the handler as it is.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "covid-pipeline"

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
metrics = Metrics(namespace="CovidPipeline", service=SERVICE)


def capture_lambda_handler(handler: F) -> F:
    """``tracer.capture_lambda_handler`` when tracing is on; the handler unchanged otherwise."""
    if tracer is None:
        return handler
    return tracer.capture_lambda_handler(handler)  # type: ignore[return-value]


__all__ = ["SERVICE", "MetricUnit", "capture_lambda_handler", "logger", "metrics", "tracer", "tracing_enabled"]
