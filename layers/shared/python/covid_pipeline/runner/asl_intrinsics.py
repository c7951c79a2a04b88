"""ASL intrinsic functions (``States.Format(...)`` etc.), ``.$`` expressions and payload templates.

Intrinsic invocations are parsed at load time into a small tree (calls, literals, paths), so an
unknown function, a wrong argument count or a malformed literal is an ``AslDefinitionError`` before
anything runs. Evaluation failures are ``States.IntrinsicFailure`` errors at run time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from covid_pipeline.runner.asl_paths import (
    RUNTIME_ERROR,
    AslDefinitionError,
    JsonPath,
    PathNotFoundError,
    StatesError,
    json_type,
    parse_path,
    preview,
)

INTRINSIC_FAILURE = "States.IntrinsicFailure"
MAX_NESTING = 10  # AWS allows up to 10 nested intrinsic calls in one field
_MAX_ARRAY = 1000  # States.ArrayRange limit
_MAX_STRING = 10000  # Base64/Hash input limit

# name -> (min args, max args or None for unbounded)
ARITY: dict[str, tuple[int, int | None]] = {
    "States.Format": (1, None),
    "States.StringToJson": (1, 1),
    "States.JsonToString": (1, 1),
    "States.Array": (0, None),
    "States.ArrayPartition": (2, 2),
    "States.ArrayContains": (2, 2),
    "States.ArrayRange": (3, 3),
    "States.ArrayGetItem": (2, 2),
    "States.ArrayLength": (1, 1),
    "States.ArrayUnique": (1, 1),
    "States.Base64Encode": (1, 1),
    "States.Base64Decode": (1, 1),
    "States.Hash": (2, 2),
    "States.JsonMerge": (3, 3),
    "States.MathRandom": (2, 3),
    "States.MathAdd": (2, 2),
    "States.StringSplit": (2, 2),
    "States.UUID": (0, 0),
}
HASH_ALGORITHMS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


# --------------------------------------------------------------------------- tree


@dataclass(frozen=True)
class Literal:
    """A literal argument; for strings ``segments`` splits the text at unescaped ``{}``."""

    value: Any
    segments: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PathArg:
    """A ``$``/``$$`` path argument."""

    path: JsonPath


@dataclass(frozen=True)
class Call:
    """An intrinsic invocation."""

    name: str
    args: tuple[Literal | PathArg | Call, ...]


def is_intrinsic(text: str) -> bool:
    """Whether a ``.$`` value is an intrinsic invocation rather than a path."""
    return text.lstrip().startswith("States.")


def parse_intrinsic(text: str, *, where: str) -> Call:
    """Parse and validate an intrinsic invocation."""
    parser = _IntrinsicParser(text, where)
    parser.skip_ws()
    call = parser.call(depth=1)
    parser.skip_ws()
    if parser.pos != len(text):
        raise parser.error(f"unexpected text after the closing ')' at position {parser.pos}")
    return call


_NAME = re.compile(r"States\.[A-Za-z0-9]+")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_KEYWORDS = {"null": None, "true": True, "false": False}
_ESCAPABLE = "'{}\\"


class _IntrinsicParser:
    def __init__(self, text: str, where: str) -> None:
        self.text = text
        self.where = where
        self.pos = 0

    def error(self, message: str) -> AslDefinitionError:
        return AslDefinitionError(f"{self.where}: invalid intrinsic function {self.text!r}: {message}")

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def call(self, depth: int) -> Call:
        if depth > MAX_NESTING:
            raise self.error(f"more than {MAX_NESTING} nested intrinsic functions")
        match = _NAME.match(self.text, self.pos)
        if not match:
            raise self.error(f"expected a States.* function name at position {self.pos}")
        name = match.group(0)
        if name not in ARITY:
            raise self.error(f"unknown intrinsic function {name!r}")
        self.pos = match.end()
        self.skip_ws()
        if not self.text.startswith("(", self.pos):
            raise self.error(f"expected '(' after {name}")
        self.pos += 1
        args: list[Literal | PathArg | Call] = []
        self.skip_ws()
        if self.text.startswith(")", self.pos):
            self.pos += 1
        else:
            while True:
                self.skip_ws()
                args.append(self.argument(depth))
                self.skip_ws()
                if self.text.startswith(",", self.pos):
                    self.pos += 1
                elif self.text.startswith(")", self.pos):
                    self.pos += 1
                    break
                else:
                    raise self.error(f"expected ',' or ')' at position {self.pos}")
        call = Call(name, tuple(args))
        _check_call(call, self.error)
        return call

    def argument(self, depth: int) -> Literal | PathArg | Call:
        text, pos = self.text, self.pos
        if pos >= len(text):
            raise self.error("unexpected end of input")
        if text[pos] == "'":
            return self.string()
        if text.startswith("States.", pos):
            return self.call(depth + 1)
        if text[pos] == "$":
            return PathArg(parse_path(self.path_token(), where=self.where))
        number = _NUMBER.match(text, pos)
        if number:
            self.pos = number.end()
            token = number.group(0)
            return Literal(float(token) if number.group(1) or number.group(2) else int(token))
        for keyword, value in _KEYWORDS.items():
            end = pos + len(keyword)
            if text.startswith(keyword, pos) and (end == len(text) or text[end] in ",) \t\r\n"):
                self.pos = end
                return Literal(value)
        raise self.error(f"invalid argument at position {pos}")

    def path_token(self) -> str:
        """A path argument ends at ',' or ')' outside brackets and quotes."""
        start, depth, quote = self.pos, 0, ""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if quote:
                if char == "\\":
                    self.pos += 1
                elif char == quote:
                    quote = ""
            elif char in "'\"":
                quote = char
            elif char == "[":
                depth += 1
            elif char == "]":
                depth -= 1
            elif depth == 0 and (char in ",)" or char.isspace()):
                break
            self.pos += 1
        return self.text[start : self.pos]

    def string(self) -> Literal:
        self.pos += 1  # opening quote
        segments: list[str] = []
        current: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\":
                escaped = self.text[self.pos + 1 : self.pos + 2]
                if not escaped or escaped not in _ESCAPABLE:
                    raise self.error(f"open escape '\\' at position {self.pos} (only \\' \\{{ \\}} \\\\ are valid)")
                current.append(escaped)
                self.pos += 2
            elif char == "'":
                self.pos += 1
                segments.append("".join(current))
                return Literal("{}".join(segments), tuple(segments))
            elif char == "{" and self.text.startswith("}", self.pos + 1):
                segments.append("".join(current))
                current = []
                self.pos += 2
            else:
                current.append(char)
                self.pos += 1
        raise self.error("unterminated string literal")


def _check_call(call: Call, error: Callable[[str], AslDefinitionError]) -> None:
    """Load-time checks: arity and the literal arguments whose value is known up front."""
    low, high = ARITY[call.name]
    count = len(call.args)
    if count < low or (high is not None and count > high):
        expected = str(low) if low == high else f"{low}+" if high is None else f"{low}-{high}"
        raise error(f"{call.name} takes {expected} argument(s), got {count}")
    args = call.args
    if call.name == "States.Format" and isinstance(args[0], Literal):
        if not isinstance(args[0].value, str):
            raise error("the first argument of States.Format must be a string")
        placeholders = len(args[0].segments or ()) - 1
        if placeholders != count - 1:
            raise error(f"States.Format template has {placeholders} '{{}}' but {count - 1} value argument(s)")
    if call.name == "States.Hash" and isinstance(args[1], Literal) and args[1].value not in HASH_ALGORITHMS:
        raise error(f"unsupported hash algorithm {args[1].value!r}; use one of {sorted(HASH_ALGORITHMS)}")
    if call.name == "States.JsonMerge" and isinstance(args[2], Literal) and args[2].value is not False:
        raise error("States.JsonMerge only supports a shallow merge: the third argument must be false")


# --------------------------------------------------------------------------- evaluation


def evaluate_call(call: Call, data: Any, context: Any) -> Any:
    """Evaluate a parsed invocation against the state data and the context object."""
    values = [_evaluate_arg(arg, data, context) for arg in call.args]
    try:
        return _FUNCTIONS[call.name](call, values)
    except StatesError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise StatesError(INTRINSIC_FAILURE, f"{call.name}: {exc}") from None


def _evaluate_arg(arg: Literal | PathArg | Call, data: Any, context: Any) -> Any:
    if isinstance(arg, Literal):
        return arg.value
    if isinstance(arg, PathArg):
        try:
            return arg.path.get(data, context)
        except PathNotFoundError as exc:
            raise StatesError(
                RUNTIME_ERROR,
                f"The JSONPath '{exc.path}' used as an intrinsic function argument was not found",
            ) from None
    return evaluate_call(arg, data, context)


def _fail(call: Call, message: str) -> StatesError:
    return StatesError(INTRINSIC_FAILURE, f"{call.name}: {message}")


def _require(call: Call, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise _fail(call, f"{what} must be {_kind_name(kind)}, got boolean")
    if not isinstance(value, kind):
        raise _fail(call, f"{what} must be {_kind_name(kind)}, got {json_type(value)} {preview(value, 60)}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        list: "an array",
        dict: "an object",
        int: "a number",
        float: "a number",
        bool: "a boolean",
    }
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(dict.fromkeys(names[k] for k in kinds))


def _integer(call: Call, value: Any, what: str, *, rounding: bool = False) -> int:
    """An integer argument; with ``rounding`` a fractional number is rounded like Java's Math.round."""
    _require(call, value, (int, float), what)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _fail(call, f"{what} must be finite")
        if rounding:
            return math.floor(value + 0.5)
        if not value.is_integer():
            raise _fail(call, f"{what} must be an integer, got {value}")
    return int(value)


def json_equal(left: Any, right: Any) -> bool:
    """JSON equality: unlike Python's ``==``, ``true`` is not ``1``."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    return type(left) is type(right) and left == right


def _format_value(value: Any) -> str:
    """How States.Format renders a value (strings verbatim, containers in Java map/list style)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(_format_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={_format_value(item)}" for key, item in value.items()) + "}"
    return json.dumps(value)


def _format(call: Call, values: list[Any]) -> str:
    template = call.args[0]
    if isinstance(template, Literal):
        segments = list(template.segments or ())
    else:
        segments = _require(call, values[0], str, "the template").split("{}")
    if len(segments) - 1 != len(values) - 1:
        raise _fail(call, f"the template has {len(segments) - 1} '{{}}' but {len(values) - 1} value(s) were given")
    out = [segments[0]]
    for value, segment in zip(values[1:], segments[1:], strict=True):
        out.append(_format_value(value))
        out.append(segment)
    return "".join(out)


def _string_to_json(call: Call, values: list[Any]) -> Any:
    text = _require(call, values[0], str, "the argument")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(call, f"invalid JSON text: {exc}") from None


def _json_to_string(call: Call, values: list[Any]) -> str:
    return json.dumps(values[0], separators=(",", ":"), ensure_ascii=False)


def _array_partition(call: Call, values: list[Any]) -> list[Any]:
    array = _require(call, values[0], list, "the array")
    size = _integer(call, values[1], "the chunk size")
    if size <= 0:
        raise _fail(call, "the chunk size must be greater than 0")
    return [array[i : i + size] for i in range(0, len(array), size)]


def _array_contains(call: Call, values: list[Any]) -> bool:
    array = _require(call, values[0], list, "the array")
    return any(json_equal(item, values[1]) for item in array)


def _array_range(call: Call, values: list[Any]) -> list[int]:
    start, end, step = (_integer(call, v, w) for v, w in zip(values, ("start", "end", "step"), strict=True))
    if step == 0:
        raise _fail(call, "the step must not be 0")
    result = list(range(start, end + (1 if step > 0 else -1), step))
    if len(result) > _MAX_ARRAY:
        raise _fail(call, f"the range has {len(result)} elements; at most {_MAX_ARRAY} are allowed")
    return result


def _array_get_item(call: Call, values: list[Any]) -> Any:
    array = _require(call, values[0], list, "the array")
    index = _integer(call, values[1], "the index")
    if not 0 <= index < len(array):
        raise _fail(call, f"index {index} is out of bounds for an array of length {len(array)}")
    return array[index]


def _array_length(call: Call, values: list[Any]) -> int:
    return len(_require(call, values[0], list, "the argument"))


def _array_unique(call: Call, values: list[Any]) -> list[Any]:
    unique: list[Any] = []
    for item in _require(call, values[0], list, "the argument"):
        if not any(json_equal(item, seen) for seen in unique):
            unique.append(item)
    return unique


def _bounded_string(call: Call, value: Any) -> str:
    text = _require(call, value, str, "the input")
    if len(text) > _MAX_STRING:
        raise _fail(call, f"the input is longer than {_MAX_STRING} characters")
    return text


def _base64_encode(call: Call, values: list[Any]) -> str:
    return base64.b64encode(_bounded_string(call, values[0]).encode()).decode("ascii")


def _base64_decode(call: Call, values: list[Any]) -> str:
    try:
        return base64.b64decode(_bounded_string(call, values[0]), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _fail(call, f"invalid base64 input: {exc}") from None


def _hash(call: Call, values: list[Any]) -> str:
    data = _bounded_string(call, values[0])
    algorithm = _require(call, values[1], str, "the algorithm")
    if algorithm not in HASH_ALGORITHMS:
        raise _fail(call, f"unsupported hash algorithm {algorithm!r}")
    # Checksums for data processing, not security.
    return hashlib.new(HASH_ALGORITHMS[algorithm], data.encode(), usedforsecurity=False).hexdigest()


def _json_merge(call: Call, values: list[Any]) -> dict[str, Any]:
    left = _require(call, values[0], dict, "the first argument")
    right = _require(call, values[1], dict, "the second argument")
    if values[2] is not False:
        raise _fail(call, "only shallow merging is supported: the third argument must be false")
    return {**left, **right}


def _math_random(call: Call, values: list[Any]) -> int:
    start = _integer(call, values[0], "start", rounding=True)
    end = _integer(call, values[1], "end", rounding=True)
    if start >= end:
        raise _fail(call, f"start ({start}) must be less than end ({end})")
    seed = _integer(call, values[2], "seed", rounding=True) if len(values) == 3 else None
    # Not security sensitive; a seed must make the result reproducible, as on AWS.
    return random.Random(seed).randrange(start, end)  # noqa: S311


def _math_add(call: Call, values: list[Any]) -> int:
    return _integer(call, values[0], "value1", rounding=True) + _integer(call, values[1], "value2", rounding=True)


def _string_split(call: Call, values: list[Any]) -> list[str]:
    text = _require(call, values[0], str, "the string")
    delimiters = _require(call, values[1], str, "the delimiter")
    if not delimiters:
        return [text] if text else []
    # Every character of the delimiter splits and empty tokens are dropped (AWS behaves like
    # Java's StringTokenizer: "a,,b" split on "," is ["a", "b"]).
    pattern = "[" + "".join(re.escape(char) for char in delimiters) + "]"
    return [token for token in re.split(pattern, text) if token]


def _uuid(call: Call, values: list[Any]) -> str:
    return str(uuid.uuid4())


_FUNCTIONS: dict[str, Callable[[Call, list[Any]], Any]] = {
    "States.Format": _format,
    "States.StringToJson": _string_to_json,
    "States.JsonToString": _json_to_string,
    "States.Array": lambda call, values: list(values),
    "States.ArrayPartition": _array_partition,
    "States.ArrayContains": _array_contains,
    "States.ArrayRange": _array_range,
    "States.ArrayGetItem": _array_get_item,
    "States.ArrayLength": _array_length,
    "States.ArrayUnique": _array_unique,
    "States.Base64Encode": _base64_encode,
    "States.Base64Decode": _base64_decode,
    "States.Hash": _hash,
    "States.JsonMerge": _json_merge,
    "States.MathRandom": _math_random,
    "States.MathAdd": _math_add,
    "States.StringSplit": _string_split,
    "States.UUID": _uuid,
}
assert _FUNCTIONS.keys() == ARITY.keys()


# --------------------------------------------------------------------------- .$ values and templates


@dataclass(frozen=True)
class Expression:
    """A compiled ``.$`` value: a path, a ``$$`` context path, or an intrinsic invocation."""

    text: str
    path: JsonPath | None = None
    call: Call | None = None

    def evaluate(self, data: Any, context: Any, *, field: str) -> Any:
        """Value of the expression; a missing definite path is ``States.Runtime`` naming ``field``."""
        if self.call is not None:
            return evaluate_call(self.call, data, context)
        assert self.path is not None
        try:
            return self.path.get(data, context)
        except PathNotFoundError:
            source = "the context object" if self.path.context else f"the input {preview(data)}"
            raise StatesError(
                RUNTIME_ERROR,
                f"The JSONPath '{self.text}' specified for the field '{field}' could not be found in {source}",
            ) from None


def compile_expression(text: Any, *, where: str) -> Expression:
    """Compile the value of a ``.$`` field (or of ErrorPath/CausePath)."""
    if not isinstance(text, str):
        raise AslDefinitionError(f"{where}: the value must be a string path or intrinsic function, got {text!r}")
    if is_intrinsic(text):
        return Expression(text, call=parse_intrinsic(text.strip(), where=where))
    if text.startswith("$"):
        return Expression(text, path=parse_path(text, where=where))
    raise AslDefinitionError(
        f"{where}: {text!r} is neither a JSONPath ('$...'), a context path ('$$...') nor an intrinsic function"
    )


class PayloadTemplate:
    """A compiled Parameters / ResultSelector / ItemSelector object."""

    def __init__(self, spec: Any, *, where: str) -> None:
        if not isinstance(spec, dict):
            raise AslDefinitionError(f"{where}: must be a JSON object, got {json_type(spec)}")
        self._root = _compile_node(spec, where)

    def render(self, data: Any, context: Any) -> Any:
        """Build the payload from the state data and the context object."""
        return _render(self._root, data, context)


def _compile_node(spec: Any, where: str) -> Any:
    if isinstance(spec, dict):
        fields: list[tuple[str, Any]] = []
        seen: set[str] = set()
        for key, value in spec.items():
            if key.endswith(".$"):
                name = key[:-2]
                node: Any = compile_expression(value, where=f"{where} field '{key}'")
            else:
                name, node = key, _compile_node(value, f"{where}.{key}")
            if name in seen:
                raise AslDefinitionError(f"{where}: field '{name}' is given twice (with and without '.$')")
            seen.add(name)
            fields.append((name, node))
        return _Object(tuple(fields))
    if isinstance(spec, list):
        return _Array(tuple(_compile_node(item, f"{where}[{i}]") for i, item in enumerate(spec)))
    return Literal(spec)


@dataclass(frozen=True)
class _Object:
    fields: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class _Array:
    items: tuple[Any, ...]


def _render(node: Any, data: Any, context: Any) -> Any:
    if isinstance(node, _Object):
        out: dict[str, Any] = {}
        for name, child in node.fields:
            if isinstance(child, Expression):
                out[name] = child.evaluate(data, context, field=f"{name}.$")
            else:
                out[name] = _render(child, data, context)
        return out
    if isinstance(node, _Array):
        return [_render(item, data, context) for item in node.items]
    return node.value
