"""Runs the state machine from template.yaml on this machine, keeping each execution's history.

``<home>/executions/<name>/`` holds ``execution.json`` (status, input, output or
error, per-state timings) and ``history.jsonl`` (every event the interpreter
recorded), plus the function and Glue job logs under ``logs/``.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from covid_pipeline.ports import ALREADY_EXISTS, STARTED, PipelineError
from covid_pipeline.runner.asl import ExecutionFailed, HistoryEvent, StateMachine
from covid_pipeline.runner.integrations import LOCAL_ENV, LocalIntegrations
from covid_pipeline.runner.template import LocalTemplate
from covid_pipeline.settings import Settings, load_settings

EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
# Local runs keep 1 % of every Wait and 5 % of every Retry delay. Our own crawl is synchronous (the local
# crawler finishes inside StartCrawl: 0.15 s for the bench's 1,151 objects), so the first poll's wait (0.2 s,
# not 20) waits for nothing; a later execution's crawl that started in between still gets the 90 polls' 18 s.
# A CrawlerBusy retry (another execution crawling when ours starts) waits 1.5 s, not 30. Both kept above
# zero: a zero wait would spend the 90 polls in a blink.
WAIT_SCALE = 0.01
RETRY_SCALE = 0.05


class ExecutionAlreadyExists(PipelineError):
    """An execution of that name exists (Step Functions' error of the same name)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"ExecutionAlreadyExists: an execution named {name} already exists")
        self.name = name


def find_project_root(start: Path | None = None) -> Path:
    """The folder holding template.yaml: from COVID_PIPELINE_ROOT, the working directory or this package."""
    if env := os.environ.get("COVID_PIPELINE_ROOT"):
        return Path(env).resolve()
    for base in (start or Path.cwd(), Path(__file__).resolve()):
        for folder in (base, *base.parents):
            if (folder / "template.yaml").is_file() and (folder / "statemachine").is_dir():
                return folder
    raise PipelineError("cannot find the project's template.yaml; set COVID_PIPELINE_ROOT")


def bundled_lake(root: Path) -> Path:
    """The project's copy of the data lake's first parts: the local stand-in of s3://covid19-lake/."""
    return root / "data" / "lake"


def local_parameters(root: Path) -> dict[str, str]:
    """Template parameters that differ locally: Setup's default source is the bundled lake, not S3."""
    return {"SourceUri": bundled_lake(root).resolve().as_uri() + "/"}


def new_execution_name(prefix: str = "run") -> str:
    return f"{prefix}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


@dataclass
class ExecutionRecord:
    name: str
    status: str
    started_at: float
    stopped_at: float | None = None
    input: Any = None
    output: Any = None
    error: str | None = None
    cause: str | None = None
    failed_state: str | None = None
    state_durations: dict[str, float] = field(default_factory=dict)

    @property
    def duration_s(self) -> float | None:
        return None if self.stopped_at is None else self.stopped_at - self.started_at

    @property
    def reason(self) -> str:
        """A one-line reason for a failure: the function's error message when there is one."""
        from covid_pipeline.adapters.aws.execution_history import failure_reason  # the rule AWS histories share

        return failure_reason(self.error, self.cause)


def _write_json(path: Path, payload: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=str))
    tmp.replace(path)


class LocalPipeline:
    def __init__(
        self, home: Path, root: Path | None = None, wait_scale: float = WAIT_SCALE, retry_scale: float = RETRY_SCALE
    ) -> None:
        self.home = Path(home).resolve()
        self.root = root or find_project_root()
        self.template = LocalTemplate(self.root / "template.yaml", parameters=local_parameters(self.root))
        self.wait_scale = wait_scale
        self.retry_scale = retry_scale
        self.executions_dir = self.home / "executions"

    def execute(
        self,
        execution_input: dict[str, Any],
        name: str | None = None,
        listener: Callable[[HistoryEvent], None] | None = None,
    ) -> ExecutionRecord:
        name = name or new_execution_name()
        if not EXECUTION_NAME.match(name):
            raise PipelineError(f"invalid execution name {name!r}: use 1-80 letters, digits, - or _")
        folder = self.executions_dir / name
        self.executions_dir.mkdir(parents=True, exist_ok=True)
        try:
            folder.mkdir()  # atomic: of two processes starting the same name, one gets the error
        except FileExistsError:
            raise ExecutionAlreadyExists(name) from None
        machine_name, definition = self.template.state_machine()
        integrations = LocalIntegrations(self.template, self.home, folder / "logs")
        record = ExecutionRecord(name=name, status="RUNNING", started_at=time.time(), input=execution_input)
        _write_json(folder / "execution.json", asdict(record))
        entered: dict[str, float] = {}
        failed_tasks: list[str] = []  # the task whose error the execution ended on, once caught

        history = (folder / "history.jsonl").open("a")

        def on_event(event: HistoryEvent) -> None:
            history.write(json.dumps(asdict(event), default=str) + "\n")
            history.flush()
            if event.type == "StateEntered" and event.state:
                entered[event.state] = event.timestamp
            elif event.type == "TaskFailed" and event.state:
                failed_tasks.append(event.state)
            elif event.type == "StateExited" and event.state in entered:
                spent = event.timestamp - entered.pop(event.state)
                record.state_durations[event.state] = record.state_durations.get(event.state, 0.0) + spent
            if listener:
                listener(event)

        try:
            machine = StateMachine(
                definition,
                invoker=integrations,
                wait_scale=self.wait_scale,
                retry_scale=self.retry_scale,
                listener=on_event,
                supported_resources=integrations.supports,
            )
            record.output = machine.execute(
                execution_input,
                execution_name=name,
                execution_id=f"arn:aws:states:local:000000000000:execution:{machine_name}:{name}",
                state_machine_name=machine_name,
            )
            record.status = "SUCCEEDED"
        except ExecutionFailed as exc:
            record.status, record.error, record.cause = "FAILED", exc.error, exc.cause
            record.failed_state = failed_tasks[-1] if failed_tasks else exc.state
        except Exception as exc:
            record.status, record.error, record.cause = "FAILED", type(exc).__name__, str(exc)
            raise
        finally:
            history.close()
            record.stopped_at = time.time()
            _write_json(folder / "execution.json", asdict(record))
        return record

    def record(self, name: str) -> ExecutionRecord | None:
        """The execution's record, None when there is no such execution (or it has not written one yet)."""
        path = self.executions_dir / name / "execution.json"
        try:
            return ExecutionRecord(**json.loads(path.read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    def executions(self, limit: int = 20) -> list[ExecutionRecord]:
        if not self.executions_dir.is_dir():
            return []
        records = []
        for path in self.executions_dir.glob("*/execution.json"):
            try:
                records.append(ExecutionRecord(**json.loads(path.read_text())))
            except (json.JSONDecodeError, TypeError):
                continue
        records.sort(key=lambda r: r.started_at, reverse=True)
        return records[:limit]


class LocalExecutions:
    """The trigger's Executions port on this machine: runs the execution now, in this process."""

    def __init__(self, home: Path, root: Path | None = None) -> None:
        self.pipeline = LocalPipeline(home, root)

    def start(self, name: str, execution_input: dict[str, Any]) -> str:
        try:
            self.pipeline.execute(execution_input, name=name)
        except ExecutionAlreadyExists:
            return ALREADY_EXISTS
        return STARTED

    def status(self, name: str) -> str:
        path = self.pipeline.executions_dir / name / "execution.json"
        try:
            return str(json.loads(path.read_text())["status"])
        except (OSError, ValueError, KeyError) as exc:
            raise PipelineError(f"no readable record of execution {name}: {exc}") from exc


def local_settings(pipeline: LocalPipeline) -> Settings:
    """The settings every local function sees (they share Globals.Function.Environment)."""
    specs = list(pipeline.template.functions().values())
    if not specs:
        raise PipelineError("template.yaml defines no function")
    env = {**specs[0].environment, **LOCAL_ENV, "PIPELINE_HOME": str(pipeline.home)}
    return load_settings(env)
