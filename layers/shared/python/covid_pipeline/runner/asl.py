"""Local interpreter for AWS Step Functions state machines (Amazon States Language, JSONPath).

The definition that is deployed to AWS runs unchanged on one machine: every ``Task`` is handed to
an injected invoker, everything else (paths, intrinsics, Choice, Wait, Retry/Catch, Parallel,
inline Map) is interpreted here as the AWS documentation describes it. The whole definition is
validated when a ``StateMachine`` is built, so mistakes surface before any work is done.

Parallel branches and Map iterations run sequentially (MaxConcurrency is accepted and recorded).

History event types (``HistoryEvent.type``): ExecutionStarted, StateEntered, StateExited (output,
next, duration_s), StateFailed (error, cause; the state did not handle it), TaskScheduled (resource,
parameters, timeouts), TaskSucceeded, TaskFailed (error, cause), TaskRetry (error, cause, attempt,
retrier, delay_seconds; also used for Parallel/Map retries), CaughtError (error, cause, next,
failed_state), WaitStarted (seconds, scaled_seconds), ParallelBranch{Started,Succeeded,Failed},
MapIteration{Started,Succeeded,Failed} (index), ExecutionSucceeded, ExecutionFailed. Events of
nested states carry a ``scope`` detail such as ``"Fan/branch 1"`` or ``"PerFile[3]"``.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from covid_pipeline.runner.asl_choice import ChoiceRule, compile_choice_rule, parse_timestamp
from covid_pipeline.runner.asl_intrinsics import Expression, PayloadTemplate, compile_expression
from covid_pipeline.runner.asl_paths import (
    ROOT_PATH,
    RUNTIME_ERROR,
    AslDefinitionError,
    JsonPath,
    PathNotFoundError,
    StatesError,
    json_type,
    parse_path,
    preview,
    write_result_path,
)

__all__ = [
    "AslDefinitionError",
    "Context",
    "ExecutionFailed",
    "HistoryEvent",
    "Invoker",
    "StateMachine",
    "TaskFailed",
]

NO_CHOICE_MATCHED = "States.NoChoiceMatched"
# Errors that no Retry or Catch handles, not even States.ALL (AWS: "terminal" errors).
TERMINAL_ERRORS = frozenset({RUNTIME_ERROR, "States.DataLimitExceeded"})
_MAX_SECONDS = 99999999
_REGION_ACCOUNT = "local:000000000000"


class TaskFailed(Exception):
    """Raised by an invoker to report a task error (``error`` is what Retry/Catch match on)."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause


class ExecutionFailed(Exception):
    """The execution ended FAILED; ``state`` is where the error was raised (innermost state)."""

    def __init__(self, error: str, cause: str = "", state: str | None = None) -> None:
        where = f" (in state '{state}')" if state else ""
        super().__init__(f"{error}{where}: {cause}" if cause else f"{error}{where}")
        self.error = error
        self.cause = cause
        self.state = state


@dataclass
class HistoryEvent:
    """One entry of the execution history."""

    type: str
    timestamp: float
    state: str | None
    details: dict[str, Any]


class Context:
    """The context object (``$$``) as seen by one state attempt; ``data`` is a plain dict."""

    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        """``data.get``."""
        return self.data.get(key, default)

    @property
    def execution_name(self) -> str:
        """``$$.Execution.Name``."""
        return self.data["Execution"]["Name"]

    @property
    def state_name(self) -> str:
        """``$$.State.Name``."""
        return self.data["State"]["Name"]

    @property
    def retry_count(self) -> int:
        """``$$.State.RetryCount``."""
        return self.data["State"]["RetryCount"]

    def __repr__(self) -> str:
        return f"Context({self.data!r})"


Invoker = Callable[[str, Any, Context], Any]


# =========================================================================== compiled form


@dataclass(frozen=True)
class _Retrier:
    errors: tuple[str, ...]
    interval: float
    max_attempts: int
    backoff: float
    max_delay: float | None
    jitter: str


@dataclass(frozen=True)
class _Catcher:
    errors: tuple[str, ...]
    next: str
    result_path: JsonPath | None  # None: ResultPath null, the error output is discarded


@dataclass
class _State:
    name: str
    type: str
    next: str | None = None
    input_path: JsonPath | None = ROOT_PATH  # None: InputPath null -> {}
    output_path: JsonPath | None = ROOT_PATH  # None: OutputPath null -> {}
    result_path: JsonPath | None = ROOT_PATH  # None: ResultPath null -> result discarded
    parameters: PayloadTemplate | None = None
    result_selector: PayloadTemplate | None = None
    retriers: tuple[_Retrier, ...] = ()
    catchers: tuple[_Catcher, ...] = ()
    # Task
    resource: str = ""
    timeouts: dict[str, int | JsonPath] = field(default_factory=dict)
    # Pass
    has_result: bool = False
    result: Any = None
    # Choice
    choices: tuple[ChoiceRule, ...] = ()
    default: str | None = None
    # Wait
    seconds: int | None = None
    seconds_path: JsonPath | None = None
    timestamp: datetime | None = None
    timestamp_path: JsonPath | None = None
    # Fail
    error: str | Expression | None = None
    cause: str | Expression | None = None
    # Parallel / Map
    branches: tuple[_Scope, ...] = ()
    items_path: JsonPath = ROOT_PATH
    item_selector: PayloadTemplate | None = None
    max_concurrency: int | JsonPath | None = None


@dataclass
class _Scope:
    """A StartAt/States graph: the whole machine, a Parallel branch or a Map processor."""

    start_at: str
    states: dict[str, _State]
    label: str  # "" for the top level; e.g. "Fan/branch 1" for nested scopes


# =========================================================================== validation

_COMMON = {"Type", "Comment", "QueryLanguage"}
_IO = {"InputPath", "OutputPath"}
_FLOW = {"Next", "End"}
_ALLOWED_FIELDS: dict[str, set[str]] = {
    "Pass": _COMMON | _IO | _FLOW | {"Parameters", "Result", "ResultPath"},
    "Task": _COMMON
    | _IO
    | _FLOW
    | {"Resource", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch", "Credentials"}
    | {"TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath"},
    "Choice": _COMMON | _IO | {"Choices", "Default"},
    "Wait": _COMMON | _IO | _FLOW | {"Seconds", "SecondsPath", "Timestamp", "TimestampPath"},
    "Succeed": _COMMON | _IO,
    "Fail": _COMMON | {"Error", "ErrorPath", "Cause", "CausePath"},
    "Parallel": _COMMON | _IO | _FLOW | {"Branches", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch"},
    "Map": _COMMON
    | _IO
    | _FLOW
    | {"Iterator", "ItemProcessor", "ItemsPath", "ItemSelector", "Parameters", "ResultSelector", "ResultPath"}
    | {"Retry", "Catch", "MaxConcurrency", "MaxConcurrencyPath"},
}
_UNSUPPORTED_HINTS = {
    "Arguments": "JSONata states are not supported",
    "Output": "JSONata states are not supported",
    "Assign": "workflow variables (Assign) are not supported",
    "ItemReader": "distributed Map is not supported",
    "ItemBatcher": "distributed Map is not supported",
    "ResultWriter": "distributed Map is not supported",
    "Label": "distributed Map is not supported",
    "ToleratedFailurePercentage": "distributed Map is not supported",
    "ToleratedFailurePercentagePath": "distributed Map is not supported",
    "ToleratedFailureCount": "distributed Map is not supported",
    "ToleratedFailureCountPath": "distributed Map is not supported",
}
_TOP_LEVEL_FIELDS = {"StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"}
_SCOPE_FIELDS = {"StartAt", "States", "Comment"}
_RETRIER_FIELDS = {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds"}
_RETRIER_FIELDS |= {"JitterStrategy", "Comment"}
_CATCHER_FIELDS = {"ErrorEquals", "Next", "ResultPath", "Comment"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Compiler:
    """Validates a definition and compiles it into ``_Scope``/``_State`` objects."""

    def __init__(self, supported_resources: Callable[[str], bool] | None) -> None:
        self.supported_resources = supported_resources
        self.names: set[str] = set()  # state names must be unique across the whole machine

    def top_level(self, definition: Any) -> _Scope:
        if not isinstance(definition, dict):
            raise AslDefinitionError("the state machine definition must be a JSON object")
        extra = set(definition) - _TOP_LEVEL_FIELDS
        if extra:
            raise AslDefinitionError(f"state machine: unknown top-level field(s) {sorted(extra)}")
        self._query_language(definition, "state machine")
        timeout = definition.get("TimeoutSeconds")
        if timeout is not None and not (_is_int(timeout) and 0 < timeout <= _MAX_SECONDS):
            raise AslDefinitionError("state machine: TimeoutSeconds must be a positive integer")
        if "Version" in definition and not isinstance(definition["Version"], str):
            raise AslDefinitionError("state machine: Version must be a string")
        return self.scope(definition, "", "state machine")

    @staticmethod
    def _query_language(spec: dict[str, Any], where: str) -> None:
        language = spec.get("QueryLanguage", "JSONPath")
        if language != "JSONPath":
            raise AslDefinitionError(f"{where}: QueryLanguage {language!r} is not supported (only 'JSONPath')")

    def scope(self, spec: Any, label: str, where: str, extra_fields: Iterable[str] = ()) -> _Scope:
        if not isinstance(spec, dict):
            raise AslDefinitionError(f"{where}: must be an object with StartAt and States")
        if where != "state machine":
            unknown = set(spec) - _SCOPE_FIELDS - set(extra_fields)
            if unknown:
                raise AslDefinitionError(f"{where}: unknown field(s) {sorted(unknown)}")
        states = spec.get("States")
        if not isinstance(states, dict) or not states:
            raise AslDefinitionError(f"{where}: 'States' must be a non-empty object")
        start_at = spec.get("StartAt")
        if not isinstance(start_at, str):
            raise AslDefinitionError(f"{where}: 'StartAt' is missing or not a string")
        if start_at not in states:
            raise AslDefinitionError(f"{where}: StartAt '{start_at}' is not a state in this scope")
        compiled: dict[str, _State] = {}
        for name, state_spec in states.items():
            if name in self.names:
                raise AslDefinitionError(f"State '{name}': duplicate state name (names must be unique)")
            if not 0 < len(name) <= 80:
                raise AslDefinitionError(f"State '{name}': state names must be 1-80 characters long")
            self.names.add(name)
            compiled[name] = self.state(name, state_spec, label)
        for state in compiled.values():
            for target in _targets(state):
                if target not in compiled:
                    raise AslDefinitionError(
                        f"State '{state.name}': transition target '{target}' is not a state in this scope"
                    )
        reachable = _reachable(start_at, compiled)
        unreachable = [name for name in compiled if name not in reachable]
        if unreachable:
            raise AslDefinitionError(f"State '{unreachable[0]}': is not reachable from StartAt '{start_at}'")
        return _Scope(start_at, compiled, label)

    # ----------------------------------------------------------------- one state

    def state(self, name: str, spec: Any, label: str) -> _State:
        where = f"State '{name}'"
        if not isinstance(spec, dict):
            raise AslDefinitionError(f"{where}: must be an object")
        kind = spec.get("Type")
        if kind not in _ALLOWED_FIELDS:
            raise AslDefinitionError(f"{where}: unknown state Type {kind!r}")
        where = f"State '{name}' ({kind})"
        for key in spec:
            if key not in _ALLOWED_FIELDS[kind]:
                hint = f" ({_UNSUPPORTED_HINTS[key]})" if key in _UNSUPPORTED_HINTS else ""
                raise AslDefinitionError(f"{where}: field '{key}' is not valid for a {kind} state{hint}")
        self._query_language(spec, where)
        state = _State(name=name, type=kind)
        if "InputPath" in spec:
            state.input_path = self.optional_path(spec["InputPath"], f"{where} InputPath")
        if "OutputPath" in spec:
            state.output_path = self.optional_path(spec["OutputPath"], f"{where} OutputPath")
        if "ResultPath" in spec:
            state.result_path = self.optional_path(spec["ResultPath"], f"{where} ResultPath", reference=True)
        if "Parameters" in spec:
            state.parameters = PayloadTemplate(spec["Parameters"], where=f"{where} Parameters")
        if "ResultSelector" in spec:
            state.result_selector = PayloadTemplate(spec["ResultSelector"], where=f"{where} ResultSelector")
        if kind in {"Task", "Parallel", "Map"}:
            state.retriers = self.retriers(spec.get("Retry", []), where)
            state.catchers = self.catchers(spec.get("Catch", []), where)
        if kind in {"Pass", "Task", "Wait", "Parallel", "Map"}:
            state.next = self.transition(spec, where)
        getattr(self, f"_{kind.lower()}")(state, spec, where, label)
        return state

    @staticmethod
    def optional_path(value: Any, where: str, *, reference: bool = False) -> JsonPath | None:
        if value is None:
            return None
        return parse_path(value, where=where, reference=reference, allow_context=not reference)

    @staticmethod
    def transition(spec: dict[str, Any], where: str) -> str | None:
        end = spec.get("End", False)
        if not isinstance(end, bool):
            raise AslDefinitionError(f"{where}: 'End' must be true or false")
        if "Next" in spec:
            if end:
                raise AslDefinitionError(f"{where}: has both 'Next' and 'End'")
            if not isinstance(spec["Next"], str):
                raise AslDefinitionError(f"{where}: 'Next' must be a state name")
            return spec["Next"]
        if not end:
            raise AslDefinitionError(f"{where}: a non-terminal state needs 'Next' (or 'End': true)")
        return None

    @staticmethod
    def error_names(spec: dict[str, Any], where: str, is_last: bool) -> tuple[str, ...]:
        errors = spec.get("ErrorEquals")
        if not isinstance(errors, list) or not errors or not all(isinstance(e, str) for e in errors):
            raise AslDefinitionError(f"{where}: 'ErrorEquals' must be a non-empty array of strings")
        if "States.ALL" in errors and (len(errors) != 1 or not is_last):
            raise AslDefinitionError(f"{where}: 'States.ALL' must appear alone and in the last element")
        return tuple(errors)

    def retriers(self, specs: Any, where: str) -> tuple[_Retrier, ...]:
        if not isinstance(specs, list):
            raise AslDefinitionError(f"{where}: 'Retry' must be an array")
        out = []
        for index, spec in enumerate(specs):
            at = f"{where} Retry[{index}]"
            if not isinstance(spec, dict):
                raise AslDefinitionError(f"{at}: must be an object")
            unknown = set(spec) - _RETRIER_FIELDS
            if unknown:
                raise AslDefinitionError(f"{at}: unknown field(s) {sorted(unknown)}")
            errors = self.error_names(spec, at, index == len(specs) - 1)
            interval = spec.get("IntervalSeconds", 1)
            attempts = spec.get("MaxAttempts", 3)
            backoff = spec.get("BackoffRate", 2.0)
            max_delay = spec.get("MaxDelaySeconds")
            jitter = spec.get("JitterStrategy", "NONE")
            if not (_is_int(interval) and 0 < interval <= _MAX_SECONDS):
                raise AslDefinitionError(f"{at}: IntervalSeconds must be a positive integer")
            if not (_is_int(attempts) and 0 <= attempts <= _MAX_SECONDS):
                raise AslDefinitionError(f"{at}: MaxAttempts must be a non-negative integer")
            if not (_is_number(backoff) and backoff >= 1.0):
                raise AslDefinitionError(f"{at}: BackoffRate must be a number >= 1.0")
            if max_delay is not None and not (_is_int(max_delay) and 0 < max_delay < 31622401):
                raise AslDefinitionError(f"{at}: MaxDelaySeconds must be a positive integer")
            if jitter not in {"FULL", "NONE"}:
                raise AslDefinitionError(f"{at}: JitterStrategy must be 'FULL' or 'NONE'")
            out.append(_Retrier(errors, interval, attempts, float(backoff), max_delay, jitter))
        return tuple(out)

    def catchers(self, specs: Any, where: str) -> tuple[_Catcher, ...]:
        if not isinstance(specs, list):
            raise AslDefinitionError(f"{where}: 'Catch' must be an array")
        out = []
        for index, spec in enumerate(specs):
            at = f"{where} Catch[{index}]"
            if not isinstance(spec, dict):
                raise AslDefinitionError(f"{at}: must be an object")
            unknown = set(spec) - _CATCHER_FIELDS
            if unknown:
                raise AslDefinitionError(f"{at}: unknown field(s) {sorted(unknown)}")
            errors = self.error_names(spec, at, index == len(specs) - 1)
            if not isinstance(spec.get("Next"), str):
                raise AslDefinitionError(f"{at}: 'Next' must be a state name")
            result_path = ROOT_PATH
            if "ResultPath" in spec:
                result_path = self.optional_path(spec["ResultPath"], f"{at} ResultPath", reference=True)
            out.append(_Catcher(errors, spec["Next"], result_path))
        return tuple(out)

    def seconds_or_path(self, spec: dict[str, Any], key: str, where: str, *, minimum: int) -> int | JsonPath | None:
        if key in spec:
            value = spec[key]
            if not (_is_int(value) and minimum <= value <= _MAX_SECONDS):
                raise AslDefinitionError(f"{where}: {key} must be an integer >= {minimum}")
            if f"{key}Path" in spec:
                raise AslDefinitionError(f"{where}: only one of {key} and {key}Path may be given")
            return value
        if f"{key}Path" in spec:
            return parse_path(spec[f"{key}Path"], where=f"{where} {key}Path", reference=True)
        return None

    # ----------------------------------------------------------------- per type

    def _pass(self, state: _State, spec: dict[str, Any], where: str, label: str) -> None:
        if "Result" in spec:
            state.has_result, state.result = True, spec["Result"]

    def _task(self, state: _State, spec: dict[str, Any], where: str, label: str) -> None:
        resource = spec.get("Resource")
        if not isinstance(resource, str) or not resource:
            raise AslDefinitionError(f"{where}: 'Resource' must be a non-empty string")
        if self.supported_resources is not None and not self.supported_resources(resource):
            raise AslDefinitionError(f"{where}: Resource {resource!r} is not supported by this runner")
        state.resource = resource
        for key in ("TimeoutSeconds", "HeartbeatSeconds"):
            value = self.seconds_or_path(spec, key, where, minimum=1)
            if value is not None:
                state.timeouts[key] = value
        timeout, heartbeat = state.timeouts.get("TimeoutSeconds"), state.timeouts.get("HeartbeatSeconds")
        if _is_int(timeout) and _is_int(heartbeat) and heartbeat >= timeout:
            raise AslDefinitionError(f"{where}: HeartbeatSeconds must be smaller than TimeoutSeconds")
        if "Credentials" in spec:
            # Compiled only to validate it (paths/intrinsics); credentials are the invoker's business.
            PayloadTemplate(spec["Credentials"], where=f"{where} Credentials")

    def _choice(self, state: _State, spec: dict[str, Any], where: str, label: str) -> None:
        choices = spec.get("Choices")
        if not isinstance(choices, list) or not choices:
            raise AslDefinitionError(f"{where}: 'Choices' must be a non-empty array")
        state.choices = tuple(
            compile_choice_rule(rule, where=f"{where} Choices[{i}]", top_level=True) for i, rule in enumerate(choices)
        )
        if "Default" in spec:
            if not isinstance(spec["Default"], str):
                raise AslDefinitionError(f"{where}: 'Default' must be a state name")
            state.default = spec["Default"]

    def _wait(self, state: _State, spec: dict[str, Any], where: str, label: str) -> None:
        given = [key for key in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if key in spec]
        if len(given) != 1:
            raise AslDefinitionError(
                f"{where}: exactly one of Seconds, SecondsPath, Timestamp, TimestampPath is required, got {given}"
            )
        if "Seconds" in spec or "SecondsPath" in spec:
            value = self.seconds_or_path(spec, "Seconds", where, minimum=0)
            if isinstance(value, JsonPath):
                state.seconds_path = value
            else:
                state.seconds = value
        elif "Timestamp" in spec:
            state.timestamp = parse_timestamp(spec["Timestamp"])
            if state.timestamp is None:
                raise AslDefinitionError(f"{where}: Timestamp {spec['Timestamp']!r} is not an RFC 3339 timestamp")
        else:
            state.timestamp_path = parse_path(spec["TimestampPath"], where=f"{where} TimestampPath", reference=True)

    def _succeed(self, state: _State, spec: dict[str, Any], where: str, label: str) -> None:
        """Nothing beyond the common fields."""

    def _fail(self, state: _State, spec: dict[str, Any], where: str, label: str) -> None:
        for key in ("Error", "Cause"):
            if key in spec and f"{key}Path" in spec:
                raise AslDefinitionError(f"{where}: only one of {key} and {key}Path may be given")
            if key in spec:
                if not isinstance(spec[key], str):
                    raise AslDefinitionError(f"{where}: '{key}' must be a string")
                setattr(state, key.lower(), spec[key])
            elif f"{key}Path" in spec:
                setattr(state, key.lower(), compile_expression(spec[f"{key}Path"], where=f"{where} {key}Path"))

    def _parallel(self, state: _State, spec: dict[str, Any], where: str, label: str) -> None:
        branches = spec.get("Branches")
        if not isinstance(branches, list) or not branches:
            raise AslDefinitionError(f"{where}: 'Branches' must be a non-empty array")
        state.branches = tuple(
            self.scope(branch, _join(label, f"{state.name}/branch {i}"), f"{where} Branches[{i}]")
            for i, branch in enumerate(branches)
        )

    def _map(self, state: _State, spec: dict[str, Any], where: str, label: str) -> None:
        if ("Iterator" in spec) == ("ItemProcessor" in spec):
            raise AslDefinitionError(f"{where}: exactly one of 'Iterator' and 'ItemProcessor' is required")
        if "ItemSelector" in spec and "Parameters" in spec:
            raise AslDefinitionError(f"{where}: use either 'ItemSelector' or 'Parameters', not both")
        processor = spec.get("ItemProcessor", spec.get("Iterator"))
        key = "ItemProcessor" if "ItemProcessor" in spec else "Iterator"
        extra: tuple[str, ...] = ()
        if key == "ItemProcessor" and isinstance(processor, dict):
            extra = ("ProcessorConfig",)
            config = processor.get("ProcessorConfig", {})
            if not isinstance(config, dict) or set(config) - {"Mode"}:
                raise AslDefinitionError(f"{where}: ProcessorConfig only supports 'Mode' (inline Map)")
            if config.get("Mode", "INLINE") != "INLINE":
                raise AslDefinitionError(f"{where}: only inline Map is supported (Mode {config.get('Mode')!r})")
        state.branches = (self.scope(processor, _join(label, state.name), f"{where} {key}", extra),)
        # Parameters on a Map is the legacy name of ItemSelector: it shapes each item, not the input.
        state.item_selector, state.parameters = state.parameters, None
        if "ItemSelector" in spec:
            state.item_selector = PayloadTemplate(spec["ItemSelector"], where=f"{where} ItemSelector")
        if "ItemsPath" in spec:
            state.items_path = parse_path(spec["ItemsPath"], where=f"{where} ItemsPath", reference=True)
        if "MaxConcurrency" in spec and "MaxConcurrencyPath" in spec:
            raise AslDefinitionError(f"{where}: only one of MaxConcurrency and MaxConcurrencyPath may be given")
        if "MaxConcurrency" in spec:
            value = spec["MaxConcurrency"]
            if not (_is_int(value) and value >= 0):
                raise AslDefinitionError(f"{where}: MaxConcurrency must be a non-negative integer")
            state.max_concurrency = value
        elif "MaxConcurrencyPath" in spec:
            state.max_concurrency = parse_path(spec["MaxConcurrencyPath"], where=f"{where} MaxConcurrencyPath")


def _join(label: str, part: str) -> str:
    return f"{label} > {part}" if label else part


def _targets(state: _State) -> list[str]:
    targets = [catcher.next for catcher in state.catchers]
    if state.next is not None:
        targets.append(state.next)
    targets.extend(rule.next for rule in state.choices if rule.next is not None)
    if state.default is not None:
        targets.append(state.default)
    return targets


def _reachable(start: str, states: dict[str, _State]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for target in _targets(states[todo.pop()]):
            if target in states and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


# =========================================================================== execution


def _iso(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class _Run:
    """Per-execution state shared by all scopes."""

    context: dict[str, Any]  # Execution + StateMachine parts of $$


def _matches(patterns: tuple[str, ...], error: str) -> bool:
    if error in TERMINAL_ERRORS:
        return False
    for pattern in patterns:
        if pattern == error or pattern == "States.ALL":
            return True
        if pattern == "States.TaskFailed" and error != "States.Timeout":
            return True
    return False


class StateMachine:
    """A validated state machine that can be executed locally (see module docstring)."""

    def __init__(
        self,
        definition: dict[str, Any],
        *,
        invoker: Invoker,
        wait_scale: float = 1.0,
        retry_scale: float | None = None,
        listener: Callable[[HistoryEvent], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        supported_resources: Callable[[str], bool] | None = None,
    ) -> None:
        if wait_scale < 0 or (retry_scale is not None and retry_scale < 0):
            raise ValueError("wait_scale and retry_scale must be >= 0")
        self.definition = definition
        self._root = _Compiler(supported_resources).top_level(definition)
        self._invoker = invoker
        self._wait_scale = wait_scale
        # Retry delays may be scaled apart from Wait states: a local run skips its polling waits
        # but must still give a busy crawler or a locked warehouse time before the next attempt.
        self._retry_scale = wait_scale if retry_scale is None else retry_scale
        self._listener = listener
        self._sleep = sleep
        self.history: list[HistoryEvent] = []

    # ----------------------------------------------------------------- public

    def execute(
        self,
        input: Any,
        *,
        execution_name: str,
        execution_id: str | None = None,
        state_machine_name: str = "local",
    ) -> Any:
        """Run one execution to completion and return its output (ExecutionFailed on failure)."""
        self.history = []
        started = time.time()
        clock = time.perf_counter()
        execution_id = (
            execution_id or f"arn:aws:states:{_REGION_ACCOUNT}:execution:{state_machine_name}:{execution_name}"
        )
        machine_id = f"arn:aws:states:{_REGION_ACCOUNT}:stateMachine:{state_machine_name}"
        if ":execution:" in execution_id:
            # Keep the ids consistent when the caller passes a real execution ARN.
            machine_id = execution_id.rsplit(":", 1)[0].replace(":execution:", ":stateMachine:")
        data = copy.deepcopy(input)
        run = _Run(
            {
                "Execution": {
                    "Id": execution_id,
                    "Name": execution_name,
                    "StartTime": _iso(started),
                    "Input": copy.deepcopy(input),
                },
                "StateMachine": {"Id": machine_id, "Name": state_machine_name},
            }
        )
        timeout = self.definition.get("TimeoutSeconds")
        self._emit(
            "ExecutionStarted",
            None,
            {"input": data, "execution_id": execution_id, "timeout_seconds": timeout},
        )
        try:
            output = self._run_scope(self._root, data, run, None)
        except StatesError as err:
            details = {"error": err.error, "cause": err.cause, "duration_s": time.perf_counter() - clock}
            self._emit("ExecutionFailed", err.state, details)
            raise ExecutionFailed(err.error, err.cause, err.state) from err
        self._emit("ExecutionSucceeded", None, {"output": output, "duration_s": time.perf_counter() - clock})
        return output

    # ----------------------------------------------------------------- plumbing

    def _emit(self, kind: str, state: str | None, details: dict[str, Any], label: str = "") -> None:
        if label:
            details = {**details, "scope": label}
        event = HistoryEvent(kind, time.time(), state, details)
        self.history.append(event)
        if self._listener is not None:
            self._listener(event)

    @staticmethod
    def _context(run: _Run, state: str, entered: float, retry_count: int, map_item: dict[str, Any] | None) -> Context:
        data = {
            "Execution": run.context["Execution"],
            "StateMachine": run.context["StateMachine"],
            "State": {"Name": state, "EnteredTime": _iso(entered), "RetryCount": retry_count},
        }
        if map_item is not None:
            data["Map"] = {"Item": map_item}
        return Context(data)

    @staticmethod
    def _path(path: JsonPath | None, data: Any, context: Context, field_name: str) -> Any:
        """Apply InputPath/OutputPath/ItemsPath-like paths (null -> {})."""
        if path is None:
            return {}
        if path.is_root:
            return data
        try:
            return path.get(data, context.data)
        except PathNotFoundError:
            source = "the context object" if path.context else f"the input {preview(data)}"
            raise StatesError(
                RUNTIME_ERROR,
                f"Invalid path '{path.text}' for {field_name}: it could not be found in {source}",
            ) from None

    def _run_scope(self, scope: _Scope, data: Any, run: _Run, map_item: dict[str, Any] | None) -> Any:
        name: str | None = scope.start_at
        while name is not None:
            data, name = self._run_state(scope, scope.states[name], data, run, map_item)
        return data

    def _run_state(
        self, scope: _Scope, state: _State, raw: Any, run: _Run, map_item: dict[str, Any] | None
    ) -> tuple[Any, str | None]:
        entered = time.time()
        clock = time.perf_counter()
        self._emit("StateEntered", state.name, {"type": state.type, "input": raw}, scope.label)
        try:
            if state.type in {"Task", "Parallel", "Map"}:
                output, next_state = self._with_retry_and_catch(scope, state, raw, run, map_item, entered)
            else:
                context = self._context(run, state.name, entered, 0, map_item)
                output, next_state = getattr(self, f"_exec_{state.type.lower()}")(scope, state, raw, run, context)
        except StatesError as err:
            if err.state is None:
                err.state = state.name
            self._emit("StateFailed", state.name, {"error": err.error, "cause": err.cause}, scope.label)
            raise
        details = {
            "type": state.type,
            "output": output,
            "next": next_state,
            "duration_s": time.perf_counter() - clock,
        }
        self._emit("StateExited", state.name, details, scope.label)
        return output, next_state

    def _with_retry_and_catch(
        self,
        scope: _Scope,
        state: _State,
        raw: Any,
        run: _Run,
        map_item: dict[str, Any] | None,
        entered: float,
    ) -> tuple[Any, str | None]:
        attempts = [0] * len(state.retriers)  # each retrier counts its own retries
        retry_count = 0
        handler = getattr(self, f"_exec_{state.type.lower()}")
        while True:
            context = self._context(run, state.name, entered, retry_count, map_item)
            try:
                return handler(scope, state, raw, run, context)
            except StatesError as err:
                if err.state is None:
                    err.state = state.name
                # Only the first retrier whose ErrorEquals matches applies, even when it is exhausted.
                index = next((i for i, r in enumerate(state.retriers) if _matches(r.errors, err.error)), None)
                if index is not None and attempts[index] < state.retriers[index].max_attempts:
                    retrier = state.retriers[index]
                    delay = retrier.interval * retrier.backoff ** attempts[index]
                    if retrier.max_delay is not None:
                        delay = min(delay, retrier.max_delay)
                    if retrier.jitter == "FULL":
                        delay = random.uniform(0, delay)  # noqa: S311 - jitter, not security
                    attempts[index] += 1
                    retry_count += 1
                    details = {
                        "error": err.error,
                        "cause": err.cause,
                        "attempt": retry_count,
                        "retrier": index,
                        "retrier_attempt": attempts[index],
                        "delay_seconds": delay,
                    }
                    self._emit("TaskRetry", state.name, details, scope.label)
                    self._sleep(delay * self._retry_scale)
                    continue
                catcher = next((c for c in state.catchers if _matches(c.errors, err.error)), None)
                if catcher is None:
                    raise
                error_output = {"Error": err.error, "Cause": err.cause}
                output = (
                    raw if catcher.result_path is None else write_result_path(raw, catcher.result_path, error_output)
                )
                details = {
                    "error": err.error,
                    "cause": err.cause,
                    "next": catcher.next,
                    "failed_state": err.state,
                }
                self._emit("CaughtError", state.name, details, scope.label)
                return output, catcher.next

    def _finish(self, state: _State, raw: Any, result: Any, context: Context) -> Any:
        """ResultSelector -> ResultPath -> OutputPath."""
        if state.result_selector is not None:
            result = state.result_selector.render(result, context.data)
        output = raw if state.result_path is None else write_result_path(raw, state.result_path, result)
        return self._path(state.output_path, output, context, "OutputPath")

    def _effective_input(self, state: _State, raw: Any, context: Context) -> Any:
        """InputPath -> Parameters."""
        data = self._path(state.input_path, raw, context, "InputPath")
        if state.parameters is not None:
            data = state.parameters.render(data, context.data)
        return data

    # ----------------------------------------------------------------- state types

    def _exec_pass(self, scope: _Scope, state: _State, raw: Any, run: _Run, context: Context) -> tuple[Any, str | None]:
        data = self._effective_input(state, raw, context)
        result = copy.deepcopy(state.result) if state.has_result else data
        return self._finish(state, raw, result, context), state.next

    def _exec_task(self, scope: _Scope, state: _State, raw: Any, run: _Run, context: Context) -> tuple[Any, str | None]:
        params = copy.deepcopy(self._effective_input(state, raw, context))
        timeouts = {}
        for key, value in state.timeouts.items():
            timeouts[key] = self._path(value, raw, context, f"{key}Path") if isinstance(value, JsonPath) else value
        details = {"resource": state.resource, "parameters": params, **timeouts}
        self._emit("TaskScheduled", state.name, details, scope.label)
        clock = time.perf_counter()
        try:
            result = self._invoker(state.resource, params, context)
        except TaskFailed as exc:
            error, cause = exc.error, exc.cause
        except Exception as exc:
            # Like Lambda: an unhandled exception is a task error named after its type.
            error, cause = type(exc).__name__, str(exc)
        else:
            details = {
                "resource": state.resource,
                "output": result,
                "duration_s": time.perf_counter() - clock,
            }
            self._emit("TaskSucceeded", state.name, details, scope.label)
            return self._finish(state, raw, result, context), state.next
        details = {
            "resource": state.resource,
            "error": error,
            "cause": cause,
            "duration_s": time.perf_counter() - clock,
        }
        self._emit("TaskFailed", state.name, details, scope.label)
        raise StatesError(error, cause)

    def _exec_choice(
        self, scope: _Scope, state: _State, raw: Any, run: _Run, context: Context
    ) -> tuple[Any, str | None]:
        data = self._path(state.input_path, raw, context, "InputPath")
        target = next((rule.next for rule in state.choices if rule.matches(data, context.data)), state.default)
        if target is None:
            raise StatesError(NO_CHOICE_MATCHED, f"No choice rule matched and there is no Default in '{state.name}'")
        return self._path(state.output_path, data, context, "OutputPath"), target

    def _exec_wait(self, scope: _Scope, state: _State, raw: Any, run: _Run, context: Context) -> tuple[Any, str | None]:
        data = self._path(state.input_path, raw, context, "InputPath")
        if state.seconds is not None:
            seconds: float = state.seconds
        elif state.seconds_path is not None:
            value = self._path(state.seconds_path, data, context, "SecondsPath")
            if not (_is_int(value) and value >= 0):
                raise StatesError(
                    RUNTIME_ERROR,
                    f"SecondsPath '{state.seconds_path.text}' is not a non-negative integer: {value!r}",
                )
            seconds = value
        else:
            moment = state.timestamp
            if state.timestamp_path is not None:
                value = self._path(state.timestamp_path, data, context, "TimestampPath")
                moment = parse_timestamp(value)
                if moment is None:
                    raise StatesError(RUNTIME_ERROR, f"TimestampPath value {value!r} is not an RFC 3339 timestamp")
            assert moment is not None
            seconds = max(0.0, moment.timestamp() - time.time())
        scaled = seconds * self._wait_scale
        self._emit("WaitStarted", state.name, {"seconds": seconds, "scaled_seconds": scaled}, scope.label)
        self._sleep(scaled)
        return self._path(state.output_path, data, context, "OutputPath"), state.next

    def _exec_succeed(
        self, scope: _Scope, state: _State, raw: Any, run: _Run, context: Context
    ) -> tuple[Any, str | None]:
        data = self._path(state.input_path, raw, context, "InputPath")
        return self._path(state.output_path, data, context, "OutputPath"), None

    def _exec_fail(self, scope: _Scope, state: _State, raw: Any, run: _Run, context: Context) -> tuple[Any, str | None]:
        parts = []
        for key, value in (("ErrorPath", state.error), ("CausePath", state.cause)):
            if isinstance(value, Expression):
                value = value.evaluate(raw, context.data, field=key)
                if not isinstance(value, str):
                    raise StatesError(
                        RUNTIME_ERROR, f"{key} of '{state.name}' must yield a string, got {json_type(value)}"
                    )
            parts.append(value or "")
        raise StatesError(parts[0], parts[1])

    def _exec_parallel(
        self, scope: _Scope, state: _State, raw: Any, run: _Run, context: Context
    ) -> tuple[Any, str | None]:
        data = self._effective_input(state, raw, context)
        results = []
        for index, branch in enumerate(state.branches):
            results.append(self._run_child(branch, copy.deepcopy(data), run, None, "ParallelBranch", state, index))
        return self._finish(state, raw, results, context), state.next

    def _exec_map(self, scope: _Scope, state: _State, raw: Any, run: _Run, context: Context) -> tuple[Any, str | None]:
        data = self._path(state.input_path, raw, context, "InputPath")
        items = self._path(state.items_path, data, context, "ItemsPath")
        if not isinstance(items, list):
            raise StatesError(
                RUNTIME_ERROR,
                f"ItemsPath '{state.items_path.text}' must reference an array, got {json_type(items)}",
            )
        if isinstance(state.max_concurrency, JsonPath):
            self._path(state.max_concurrency, data, context, "MaxConcurrencyPath")  # validated, not used
        processor = state.branches[0]
        results = []
        for index, item in enumerate(items):
            map_item = {"Index": index, "Value": item}
            item_input = item
            if state.item_selector is not None:
                selector_context = {**context.data, "Map": {"Item": map_item}}
                item_input = state.item_selector.render(data, selector_context)
            results.append(
                self._run_child(processor, copy.deepcopy(item_input), run, map_item, "MapIteration", state, index)
            )
        return self._finish(state, raw, results, context), state.next

    def _run_child(
        self,
        scope: _Scope,
        data: Any,
        run: _Run,
        map_item: dict[str, Any] | None,
        kind: str,
        parent: _State,
        index: int,
    ) -> Any:
        label = scope.label if kind == "ParallelBranch" else f"{scope.label}[{index}]"
        child = _Scope(scope.start_at, scope.states, label)
        self._emit(f"{kind}Started", parent.name, {"index": index}, label)
        try:
            output = self._run_scope(child, data, run, map_item)
        except StatesError as err:
            self._emit(f"{kind}Failed", parent.name, {"index": index, "error": err.error, "cause": err.cause}, label)
            raise
        self._emit(f"{kind}Succeeded", parent.name, {"index": index, "output": output}, label)
        return output
