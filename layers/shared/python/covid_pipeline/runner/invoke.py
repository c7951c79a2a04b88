"""``covid-pipeline invoke``: one function with one event, in this process - `sam local invoke` without Docker.

The function is found in template.yaml by its logical id (any case); its handler, environment,
memory size and timeout come from there, exactly as the local runner invokes it from the state
machine (:meth:`LocalIntegrations.invoke_lambda`: the same Lambda context object, the local
adapters, its logs in ``<home>/logs/<LogicalId>.log`` and its metrics in ``<home>/logs/metrics.jsonl``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from covid_pipeline.ports import PipelineError
from covid_pipeline.runner.asl import TaskFailed
from covid_pipeline.runner.integrations import LocalIntegrations
from covid_pipeline.runner.local import LocalPipeline
from covid_pipeline.runner.template import FunctionSpec, LocalTemplate

# Where invocations outside an execution keep their logs (an execution's are under executions/<name>/logs).
LOG_DIR = Path("logs")


@dataclass(frozen=True)
class Invocation:
    function: str  # the logical id
    log_path: Path
    payload: Any = None  # the handler's result (what Lambda returns)
    error: dict[str, Any] | None = None  # Lambda's error JSON: errorMessage, errorType, requestId, stackTrace


def function_spec(template: LocalTemplate, name: str) -> FunctionSpec:
    """The template's function of logical id ``name``, in any case; the error lists the valid ids."""
    functions = template.functions()
    by_lower = {logical_id.lower(): spec for logical_id, spec in functions.items()}
    spec = by_lower.get(name.lower())
    if spec is None:
        raise PipelineError(f"template.yaml has no function {name!r}; functions: {', '.join(sorted(functions))}")
    return spec


def read_event(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        raise PipelineError(f"cannot read event file {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise PipelineError(f"event file {path} is not JSON: {exc}") from exc


def invoke(home: Path, function: str, event: Any, root: Path | None = None) -> Invocation:
    pipeline = LocalPipeline(home, root)
    spec = function_spec(pipeline.template, function)
    log_dir = pipeline.home / LOG_DIR
    integrations = LocalIntegrations(pipeline.template, pipeline.home, log_dir)
    log_path = log_dir / f"{spec.logical_id}.log"
    try:
        response = integrations.invoke_lambda({"FunctionName": spec.name, "Payload": event})
    except TaskFailed as exc:
        # invoke_lambda reports a function error as Step Functions does: Lambda's error JSON as the cause.
        return Invocation(spec.logical_id, log_path, error=json.loads(exc.cause))
    return Invocation(spec.logical_id, log_path, payload=response["Payload"])
