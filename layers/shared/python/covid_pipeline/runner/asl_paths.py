"""JSONPath as used by the Amazon States Language (JSONPath query language).

Supports the forms Step Functions definitions use in practice: ``$``, ``$$`` (context object),
dot and bracket member access (``$.a.b``, ``$['a b']``), array indexes (``$.a[0]``, ``$.a[-1]``),
and the non-definite forms allowed in ``Parameters``/``InputPath``/``OutputPath``: wildcards
(``$.a[*]``, ``$.a.*``), slices (``$.a[1:3]``), unions (``$.a[0,2]``, ``$['a','b']``) and
recursive descent (``$..id``). Filter expressions (``[?(...)]``) are rejected at load time.

A definite path yields one value and fails when nothing matches; a non-definite path always
yields a list (possibly empty), as the Jayway implementation used by AWS does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

RUNTIME_ERROR = "States.Runtime"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"


class AslDefinitionError(ValueError):
    """The definition is invalid or uses an unsupported feature (raised at load time)."""


class StatesError(Exception):
    """A runtime error inside an execution, carrying the ASL error name and cause."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause
        # Name of the state where the error originated; filled in by the interpreter.
        self.state: str | None = None


class PathNotFoundError(StatesError):
    """A definite path matched nothing (``States.Runtime``)."""

    def __init__(self, path: str, data: Any) -> None:
        super().__init__(RUNTIME_ERROR, f"The JSONPath '{path}' could not be found in the input {preview(data)}")
        self.path = path


def preview(value: Any, limit: int = 200) -> str:
    """Short JSON rendering of ``value`` for error messages."""
    try:
        text = json.dumps(value, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class _Name:
    key: str

    def select(self, node: Any) -> Iterator[Any]:
        if isinstance(node, dict) and self.key in node:
            yield node[self.key]


@dataclass(frozen=True)
class _Index:
    index: int

    def select(self, node: Any) -> Iterator[Any]:
        if isinstance(node, list) and -len(node) <= self.index < len(node):
            yield node[self.index]


@dataclass(frozen=True)
class _Wildcard:
    def select(self, node: Any) -> Iterator[Any]:
        if isinstance(node, dict):
            yield from node.values()
        elif isinstance(node, list):
            yield from node


@dataclass(frozen=True)
class _Slice:
    start: int | None
    stop: int | None
    step: int | None

    def select(self, node: Any) -> Iterator[Any]:
        if isinstance(node, list):
            yield from node[self.start : self.stop : self.step]


@dataclass(frozen=True)
class _Union:
    members: tuple[_Name | _Index, ...]

    def select(self, node: Any) -> Iterator[Any]:
        for member in self.members:
            yield from member.select(node)


@dataclass(frozen=True)
class _Descend:
    """Recursive descent ``..key`` (or ``..*`` when ``key`` is None), pre-order like Jayway."""

    key: str | None

    def select(self, node: Any) -> Iterator[Any]:
        if isinstance(node, dict):
            if self.key is None:
                yield from node.values()
            elif self.key in node:
                yield node[self.key]
            children: Any = node.values()
        elif isinstance(node, list):
            if self.key is None:
                yield from node
            children = node
        else:
            return
        for child in children:
            yield from self.select(child)


_Step = _Name | _Index | _Wildcard | _Slice | _Union | _Descend


# --------------------------------------------------------------------------- path


@dataclass(frozen=True)
class JsonPath:
    """A compiled path; ``context`` is True for ``$$`` paths into the context object."""

    text: str
    context: bool
    steps: tuple[_Step, ...]

    @property
    def definite(self) -> bool:
        """True when the path can only ever identify a single node."""
        return all(isinstance(step, _Name | _Index) for step in self.steps)

    @property
    def is_root(self) -> bool:
        """True for the plain ``$`` path."""
        return not self.context and not self.steps

    def find(self, data: Any, context: Any = None) -> list[Any]:
        """All matches, in document order."""
        nodes = [context if self.context else data]
        for step in self.steps:
            nodes = [found for node in nodes for found in step.select(node)]
            if not nodes:
                break
        return nodes

    def get(self, data: Any, context: Any = None) -> Any:
        """The value of a definite path (PathNotFoundError if absent), or the match list otherwise."""
        matches = self.find(data, context)
        if not self.definite:
            return matches
        if not matches:
            raise PathNotFoundError(self.text, context if self.context else data)
        return matches[0]

    def exists(self, data: Any, context: Any = None) -> bool:
        """Whether the path matches at least one node."""
        return bool(self.find(data, context))


ROOT_PATH = JsonPath("$", False, ())

_INT = re.compile(r"-?\d+")
# Characters that end a dot-notation member name (they start other syntax).
_NAME_STOP = set(".[]()',\"*?@ \t\r\n")


def parse_path(text: Any, *, where: str, reference: bool = False, allow_context: bool = True) -> JsonPath:
    """Compile ``text``; ``reference=True`` restricts it to a definite ASL Reference Path."""
    if not isinstance(text, str) or not text.startswith("$"):
        raise AslDefinitionError(f"{where}: {text!r} is not a JSONPath (it must start with '$')")
    context = text.startswith("$$")
    if context and not allow_context:
        raise AslDefinitionError(f"{where}: the context object path {text!r} is not allowed here")
    try:
        steps = _Parser(text, 2 if context else 1).steps()
    except ValueError as exc:
        raise AslDefinitionError(f"{where}: invalid JSONPath {text!r}: {exc}") from None
    path = JsonPath(text, context, tuple(steps))
    if reference and not path.definite:
        raise AslDefinitionError(f"{where}: {text!r} must be a reference path (no wildcards, slices, unions or '..')")
    return path


class _Parser:
    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos

    def steps(self) -> list[_Step]:
        out: list[_Step] = []
        text = self.text
        while self.pos < len(text):
            if text.startswith("..", self.pos):
                self.pos += 2
                if text.startswith("*", self.pos):
                    self.pos += 1
                    out.append(_Descend(None))
                else:
                    out.append(_Descend(self._name()))
            elif text[self.pos] == ".":
                self.pos += 1
                if text.startswith("*", self.pos):
                    self.pos += 1
                    out.append(_Wildcard())
                else:
                    out.append(_Name(self._name()))
            elif text[self.pos] == "[":
                out.append(self._bracket())
            else:
                raise ValueError(f"unexpected {text[self.pos]!r} at position {self.pos}")
        return out

    def _name(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in _NAME_STOP:
            self.pos += 1
        if self.pos == start:
            raise ValueError(f"expected a member name at position {start}")
        return self.text[start : self.pos]

    def _bracket(self) -> _Step:
        self.pos += 1  # '['
        members: list[_Name | _Index] = []
        special: list[str] = []  # '*' or a slice, which must stand alone
        while True:
            self._skip_ws()
            if self.pos >= len(self.text):
                raise ValueError("unterminated '['")
            char = self.text[self.pos]
            if char in "'\"":
                members.append(_Name(self._quoted(char)))
            else:
                end = self.pos
                while end < len(self.text) and self.text[end] not in ",]":
                    end += 1
                subscript = self.text[self.pos : end].strip()
                self.pos = end
                if subscript.startswith("?"):
                    raise ValueError("filter expressions ([?(...)]) are not supported")
                if subscript == "*" or ":" in subscript:
                    special.append(subscript)
                elif _INT.fullmatch(subscript):
                    members.append(_Index(int(subscript)))
                else:
                    raise ValueError(f"invalid subscript {subscript!r}")
            self._skip_ws()
            if self.pos >= len(self.text):
                raise ValueError("unterminated '['")
            if self.text[self.pos] == "]":
                self.pos += 1
                break
            self.pos += 1  # ','
        if special:
            if len(special) + len(members) != 1:
                raise ValueError("'*' and slices cannot be combined with other subscripts")
            return _Wildcard() if special[0] == "*" else _slice(special[0])
        return members[0] if len(members) == 1 else _Union(tuple(members))

    def _quoted(self, quote: str) -> str:
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                chars.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char == quote:
                self.pos += 1
                return "".join(chars)
            chars.append(char)
            self.pos += 1
        raise ValueError("unterminated quoted name")

    def _skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1


def _slice(token: str) -> _Slice:
    parts = [part.strip() for part in token.split(":")]
    if len(parts) > 3 or not all(part == "" or _INT.fullmatch(part) for part in parts):
        raise ValueError(f"invalid slice {token!r}")
    start, stop, step = (int(p) if p else None for p in [*parts, ""][:3])
    if step == 0:
        raise ValueError("slice step cannot be zero")
    return _Slice(start, stop, step)


# --------------------------------------------------------------------------- ResultPath


def write_result_path(data: Any, path: JsonPath, value: Any) -> Any:
    """Return a copy of ``data`` with ``value`` placed at the reference path ``path``.

    Missing objects along the path are created; only the containers on the path are copied,
    so the caller's ``data`` is never mutated.
    """
    if not path.steps:
        return value
    root = _shallow_copy(data)
    node = root
    for position, step in enumerate(path.steps):
        last = position == len(path.steps) - 1
        if isinstance(step, _Name):
            if not isinstance(node, dict):
                raise _mismatch(path, data, f"'{step.key}' cannot be set on a {json_type(node)}")
            if last:
                node[step.key] = value
            else:
                child = node.get(step.key)
                child = {} if child is None and step.key not in node else _shallow_copy(child)
                if not isinstance(child, dict | list):
                    raise _mismatch(path, data, f"'{step.key}' is a {json_type(child)}, not an object")
                node[step.key] = child
                node = child
        else:
            assert isinstance(step, _Index)
            if not isinstance(node, list) or not -len(node) <= step.index < len(node):
                raise _mismatch(path, data, f"index {step.index} does not exist")
            if last:
                node[step.index] = value
            else:
                child = _shallow_copy(node[step.index])
                node[step.index] = child
                node = child
    return root


def _shallow_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return value


def _mismatch(path: JsonPath, data: Any, detail: str) -> StatesError:
    return StatesError(
        RESULT_PATH_MATCH_FAILURE,
        f"Unable to apply ResultPath '{path.text}' to input {preview(data)}: {detail}",
    )


def json_type(value: Any) -> str:
    """JSON type name of ``value`` (for messages)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
