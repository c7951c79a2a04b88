"""Local stand-ins for the Step Functions service integrations the definition uses.

* ``arn:aws:states:::lambda:invoke``       -> the function's handler from its CodeUri, in this process,
  with the environment template.yaml gives it (plus PIPELINE_ENV=local and PIPELINE_HOME); its stdout
  goes to its log file and its EMF metric records to ``<home>/logs/metrics.jsonl`` (function_output);
* ``arn:aws:states:::glue:startJobRun.sync`` -> the job's script on local PySpark;
* ``arn:aws:states:::sns:publish``          -> the local notifier.

Results and errors have the shapes AWS returns, so ResultSelector, Retry and
Catch in the definition behave the same in both places.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from covid_pipeline.adapters.local.job_runner import LocalSparkJobRunner
from covid_pipeline.adapters.local.notifier import LogNotifier
from covid_pipeline.adapters.local.object_store import LocalObjectStore
from covid_pipeline.ports import PipelineError
from covid_pipeline.runner.asl import TaskFailed
from covid_pipeline.runner.function_output import function_output
from covid_pipeline.runner.template import FunctionSpec, LocalTemplate

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
GLUE_START_JOB_RUN_SYNC = "arn:aws:states:::glue:startJobRun.sync"
SNS_PUBLISH = "arn:aws:states:::sns:publish"
SUPPORTED_RESOURCES = frozenset({LAMBDA_INVOKE, GLUE_START_JOB_RUN_SYNC, SNS_PUBLISH})

# Set for every local invocation: no X-Ray daemon here.
LOCAL_ENV = {"PIPELINE_ENV": "local", "POWERTOOLS_TRACE_DISABLED": "true"}


@dataclass
class LocalLambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str
    function_version: str = "$LATEST"

    def __post_init__(self) -> None:
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@contextlib.contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class LocalIntegrations:
    def __init__(self, template: LocalTemplate, home: Path, log_dir: Path) -> None:
        self.template = template
        self.home = Path(home).resolve()
        self.log_dir = Path(log_dir)
        self.functions = {spec.arn: spec for spec in template.functions().values()}
        self.functions.update({spec.name: spec for spec in template.functions().values()})
        self.jobs = template.glue_jobs()
        self.store = LocalObjectStore(self.home)
        self.notifier = LogNotifier(self.home)
        self._modules: dict[str, ModuleType] = {}
        self.job_runner = LocalSparkJobRunner(self.store, self.log_dir)

    def supports(self, resource: str) -> bool:
        return resource in SUPPORTED_RESOURCES

    def __call__(self, resource: str, parameters: Any, context: Any) -> Any:
        handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            LAMBDA_INVOKE: self.invoke_lambda,
            GLUE_START_JOB_RUN_SYNC: self.run_glue_job,
            SNS_PUBLISH: self.publish,
        }
        if resource not in handlers:
            raise TaskFailed("States.Runtime", f"resource {resource} is not supported locally")
        return handlers[resource](parameters)

    # -- Lambda ---------------------------------------------------------------
    def _handler(self, spec: FunctionSpec) -> Callable[..., Any]:
        module_name, _, attr = spec.handler.rpartition(".")
        module = self._modules.get(spec.logical_id)
        if module is None:
            path = spec.code_dir / (module_name.replace(".", "/") + ".py")
            if not path.is_file():
                raise PipelineError(f"{spec.logical_id}: handler module {path} not found")
            module_spec = importlib.util.spec_from_file_location(f"covid_fn_{spec.logical_id}", path)
            if module_spec is None or module_spec.loader is None:
                raise PipelineError(f"{spec.logical_id}: cannot load {path}")
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
            self._modules[spec.logical_id] = module
        return getattr(module, attr)

    def invoke_lambda(self, parameters: dict[str, Any]) -> dict[str, Any]:
        name = parameters.get("FunctionName", "")
        spec = self.functions.get(name)
        if spec is None:
            raise TaskFailed("Lambda.ResourceNotFoundException", f"Function not found: {name}")
        request_id = str(uuid.uuid4())
        env = {**spec.environment, **LOCAL_ENV, "PIPELINE_HOME": str(self.home)}
        context = LocalLambdaContext(spec.name, spec.arn, spec.memory_mb, spec.timeout_s, request_id)
        with (
            _environment(env),
            function_output(self.log_dir / f"{spec.logical_id}.log", self.home) as log,
            contextlib.redirect_stdout(log),  # type: ignore[type-var]
        ):
            try:
                payload = self._handler(spec)(parameters.get("Payload", {}), context)
            except Exception as exc:
                # What Step Functions reports for a function error: the exception's type as the
                # error name, and Lambda's error JSON as the cause.
                cause = {
                    "errorMessage": str(exc),
                    "errorType": type(exc).__name__,
                    "requestId": request_id,
                    "stackTrace": traceback.format_exception(exc)[-6:],
                }
                traceback.print_exc(file=log)
                raise TaskFailed(type(exc).__name__, json.dumps(cause)) from exc
        return {"ExecutedVersion": "$LATEST", "Payload": payload, "StatusCode": 200}

    # -- Glue -------------------------------------------------------------------
    def run_glue_job(self, parameters: dict[str, Any]) -> dict[str, Any]:
        name = parameters.get("JobName", "")
        job = self.jobs.get(name)
        if job is None:
            raise TaskFailed("Glue.EntityNotFoundException", f"Job {name} not found")
        arguments = {**job.default_arguments, **parameters.get("Arguments", {})}
        started = time.time()
        try:
            run = self.job_runner.run(job.name, job.script, arguments)
        except PipelineError as exc:
            raise TaskFailed(
                "States.TaskFailed",
                json.dumps({"JobName": name, "JobRunState": "FAILED", "ErrorMessage": str(exc)}),
            ) from exc
        return {
            "Id": run.id,
            "JobName": run.job_name,
            "JobRunState": run.state,
            "StartedOn": started,
            "CompletedOn": time.time(),
            "ExecutionTime": round(run.execution_time_s),
            "Arguments": arguments,
            "GlueVersion": "5.0",
        }

    # -- SNS ----------------------------------------------------------------------
    def publish(self, parameters: dict[str, Any]) -> dict[str, Any]:
        message = parameters.get("Message", "")
        if not isinstance(message, str):
            message = json.dumps(message)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / "sns.log").open("a") as log, contextlib.redirect_stdout(log):
            return {"MessageId": self.notifier.publish(str(parameters.get("Subject", "")), message)}
