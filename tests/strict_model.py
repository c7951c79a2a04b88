"""A strict request check: every AWS request the code makes, against its service model's constraints.

botocore validates only part of a request on the client (required members, types and *minimum*
lengths); the service checks the rest - maximum lengths and sizes, list lengths, number ranges,
enums, patterns - and only a real account shows it: e.g. Redshift Data API's
``BatchExecuteStatement.Sqls`` is ``{"min": 1, "max": 40}`` in botocore's own service model, and a
41st statement is refused by the service with a ValidationException, never by botocore.

:func:`violations` walks a request against the operation's input shape and lists every constraint
it breaks; :func:`install` wraps ``BaseClient._make_api_call`` so that every request of a test -
served by moto, by a Stubber or by a before-call responder alike - is checked before it is sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.model import ListShape, MapShape, OperationModel, Shape, StringShape, StructureShape


class StrictModelError(AssertionError):
    """A request breaks a constraint of the service model that botocore does not check client-side."""


def _pattern_ok(pattern: str, value: str) -> bool:
    try:
        # Smithy patterns are not implicitly anchored: a match anywhere satisfies them.
        return re.search(pattern, value) is not None
    except re.error:  # a Java-only construct (\p{...}): the service checks it, we cannot
        return True


def _check(shape: Shape, value: Any, path: str) -> Iterator[str]:
    meta = shape.metadata
    low, high = meta.get("min"), meta.get("max")
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            return
        for name in shape.required_members:
            if name not in value:
                yield f"{path}.{name}: required"
        for name, member_value in value.items():
            if name in shape.members:
                yield from _check(shape.members[name], member_value, f"{path}.{name}")
        return
    if isinstance(shape, ListShape):
        if isinstance(value, list | tuple):
            yield from _bounds(len(value), low, high, f"{path}: {len(value)} items")
            for i, item in enumerate(value):
                yield from _check(shape.member, item, f"{path}[{i}]")
        return
    if isinstance(shape, MapShape):
        if isinstance(value, dict):
            yield from _bounds(len(value), low, high, f"{path}: {len(value)} entries")
            for key, item in value.items():
                yield from _check(shape.key, key, f"{path}<key {key!r}>")
                yield from _check(shape.value, item, f"{path}[{key!r}]")
        return
    if isinstance(shape, StringShape) and isinstance(value, str):
        yield from _bounds(len(value), low, high, f"{path}: {len(value)} characters")
        if shape.enum and value not in shape.enum:
            yield f"{path}: {value!r} is not one of {shape.enum}"
        pattern = meta.get("pattern")
        if pattern and not _pattern_ok(pattern, value):
            yield f"{path}: {value!r} does not match {pattern!r}"
        return
    if shape.type_name in ("integer", "long") and isinstance(value, int):
        yield from _bounds(value, low, high, f"{path}: value {value}")
        return
    if shape.type_name == "blob" and isinstance(value, bytes | bytearray | str):
        size = len(value.encode() if isinstance(value, str) else value)
        yield from _bounds(size, low, high, f"{path}: {size} bytes")


def _bounds(n: int, low: int | None, high: int | None, what: str) -> Iterator[str]:
    if low is not None and n < low:
        yield f"{what}, below the model's min {low}"
    if high is not None and n > high:
        yield f"{what}, above the model's max {high}"


def violations(operation: OperationModel, params: dict[str, Any]) -> list[str]:
    """Every constraint of ``operation``'s input shape that ``params`` breaks (empty when it is valid)."""
    if operation.input_shape is None:
        return []
    return list(_check(operation.input_shape, params, operation.name))


def install(monkeypatch: pytest.MonkeyPatch, seen: list[str] | None = None) -> None:
    """Check every request made while installed; ``seen`` collects "service.Operation" of each one checked."""
    original = BaseClient._make_api_call

    def strict(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        model = client.meta.service_model
        broken = violations(model.operation_model(operation_name), api_params)
        if seen is not None:
            seen.append(f"{model.service_name}.{operation_name}")
        if broken:
            raise StrictModelError(f"{model.service_name}.{operation_name} would be refused:\n  " + "\n  ".join(broken))
        return original(client, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", strict)
