"""Choice rules of the Amazon States Language: compilation (load time) and evaluation.

A comparison whose operand has the wrong JSON type (e.g. ``NumericEquals`` against a string) is
simply false, as on AWS; a ``Variable`` (or ``...Path`` operand) that does not exist is a
``States.Runtime`` error, except for ``IsPresent``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from covid_pipeline.runner.asl_paths import (
    RUNTIME_ERROR,
    AslDefinitionError,
    JsonPath,
    PathNotFoundError,
    StatesError,
    parse_path,
)

# RFC 3339 profile used by ASL: uppercase 'T' and 'Z', optional fraction, or a numeric offset.
_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})")


def parse_timestamp(value: Any) -> datetime | None:
    """The aware datetime for an ASL timestamp string, or None if ``value`` is not one."""
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP.fullmatch(value)
    if not match:
        return None
    day, clock, fraction, zone = match.groups()
    # fromisoformat wants at most microseconds; extra digits are truncated.
    micro = f".{(fraction or '0')[:6]:0<6}"
    try:
        return datetime.fromisoformat(f"{day}T{clock}{micro}{'+00:00' if zone == 'Z' else zone}")
    except ValueError:
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "GreaterThan": operator.gt,
    "LessThanEquals": operator.le,
    "GreaterThanEquals": operator.ge,
}
# kind -> (operand validity check, value normaliser returning None when not comparable)
_KINDS: dict[str, tuple[Callable[[Any], bool], Callable[[Any], Any]]] = {
    "String": (lambda v: isinstance(v, str), lambda v: v if isinstance(v, str) else None),
    "Numeric": (_is_number, lambda v: v if _is_number(v) else None),
    "Boolean": (lambda v: isinstance(v, bool), lambda v: v if isinstance(v, bool) else None),
    "Timestamp": (lambda v: parse_timestamp(v) is not None, parse_timestamp),
}
COMPARISONS: dict[str, tuple[str, str, bool]] = {}  # operator -> (kind, relation, operand is a path)
for _kind in _KINDS:
    for _relation in _ORDER:
        if _kind == "Boolean" and _relation != "Equals":
            continue
        COMPARISONS[f"{_kind}{_relation}"] = (_kind, _relation, False)
        COMPARISONS[f"{_kind}{_relation}Path"] = (_kind, _relation, True)
TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None,
    "IsNumeric": _is_number,
    "IsString": lambda v: isinstance(v, str),
    "IsBoolean": lambda v: isinstance(v, bool),
    "IsTimestamp": lambda v: parse_timestamp(v) is not None,
}
OPERATORS = frozenset({*COMPARISONS, *TYPE_TESTS, "IsPresent", "StringMatches", "And", "Or", "Not"})


class ChoiceRule:
    """A compiled rule; ``next`` is set on top-level rules only."""

    next: str | None = None

    def matches(self, data: Any, context: Any) -> bool:  # pragma: no cover - abstract
        """Whether the rule holds for the (effective) state input."""
        raise NotImplementedError


def _variable_value(path: JsonPath, data: Any, context: Any) -> Any:
    try:
        return path.get(data, context)
    except PathNotFoundError:
        raise StatesError(
            RUNTIME_ERROR,
            f"Invalid path '{path.text}': The choice state's condition path references an invalid value.",
        ) from None


@dataclass
class _Comparison(ChoiceRule):
    variable: JsonPath
    kind: str
    relation: str
    operand: Any  # literal, or JsonPath for the ...Path variants
    next: str | None = None

    def matches(self, data: Any, context: Any) -> bool:
        normalise = _KINDS[self.kind][1]
        left = normalise(_variable_value(self.variable, data, context))
        raw = _variable_value(self.operand, data, context) if isinstance(self.operand, JsonPath) else self.operand
        right = normalise(raw)
        if left is None or right is None:
            return False
        return _ORDER[self.relation](left, right)


@dataclass
class _StringMatches(ChoiceRule):
    variable: JsonPath
    pattern: re.Pattern[str]
    next: str | None = None

    def matches(self, data: Any, context: Any) -> bool:
        value = _variable_value(self.variable, data, context)
        return isinstance(value, str) and self.pattern.fullmatch(value) is not None


@dataclass
class _TypeTest(ChoiceRule):
    variable: JsonPath
    test: str
    expected: bool
    next: str | None = None

    def matches(self, data: Any, context: Any) -> bool:
        if self.test == "IsPresent":
            return self.variable.exists(data, context) == self.expected
        return TYPE_TESTS[self.test](_variable_value(self.variable, data, context)) == self.expected


@dataclass
class _Boolean(ChoiceRule):
    op: str  # And / Or / Not
    rules: tuple[ChoiceRule, ...]
    next: str | None = None

    def matches(self, data: Any, context: Any) -> bool:
        if self.op == "Not":
            return not self.rules[0].matches(data, context)
        if self.op == "And":
            return all(rule.matches(data, context) for rule in self.rules)
        return any(rule.matches(data, context) for rule in self.rules)


def wildcard_pattern(pattern: str) -> re.Pattern[str]:
    """Regex for a StringMatches pattern: ``*`` matches anything, ``\\*`` and ``\\\\`` are literals."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern) and pattern[index + 1] in "*\\":
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        out.append(".*" if char == "*" else re.escape(char))
        index += 1
    return re.compile("".join(out), re.DOTALL)


def compile_choice_rule(spec: Any, *, where: str, top_level: bool) -> ChoiceRule:
    """Validate and compile one rule (recursing into And/Or/Not)."""
    if not isinstance(spec, dict):
        raise AslDefinitionError(f"{where}: a choice rule must be an object")
    ops = [key for key in spec if key not in {"Variable", "Next", "Comment"}]
    unknown = [key for key in ops if key not in OPERATORS]
    if unknown:
        raise AslDefinitionError(f"{where}: unknown Choice operator(s) {unknown}")
    if len(ops) != 1:
        raise AslDefinitionError(f"{where}: a choice rule needs exactly one operator, found {ops or 'none'}")
    op = ops[0]
    value = spec[op]
    if top_level and not isinstance(spec.get("Next"), str):
        raise AslDefinitionError(f"{where}: a top-level choice rule needs a 'Next' state name")
    if not top_level and "Next" in spec:
        raise AslDefinitionError(f"{where}: a nested choice rule (inside And/Or/Not) must not have 'Next'")
    next_state = spec.get("Next")

    if op in {"And", "Or", "Not"}:
        if "Variable" in spec:
            raise AslDefinitionError(f"{where}: '{op}' rules must not have a 'Variable'")
        if op == "Not":
            rules = (compile_choice_rule(value, where=f"{where}.Not", top_level=False),)
        else:
            if not isinstance(value, list) or not value:
                raise AslDefinitionError(f"{where}: '{op}' needs a non-empty array of rules")
            rules = tuple(
                compile_choice_rule(rule, where=f"{where}.{op}[{i}]", top_level=False) for i, rule in enumerate(value)
            )
        return _Boolean(op, rules, next_state)

    if "Variable" not in spec:
        raise AslDefinitionError(f"{where}: '{op}' needs a 'Variable'")
    variable = parse_path(spec["Variable"], where=f"{where}.Variable")
    if op == "StringMatches":
        if not isinstance(value, str):
            raise AslDefinitionError(f"{where}: StringMatches needs a string pattern")
        return _StringMatches(variable, wildcard_pattern(value), next_state)
    if op == "IsPresent" or op in TYPE_TESTS:
        if not isinstance(value, bool):
            raise AslDefinitionError(f"{where}: '{op}' needs true or false")
        return _TypeTest(variable, op, value, next_state)
    kind, relation, is_path = COMPARISONS[op]
    if is_path:
        operand: Any = parse_path(value, where=f"{where}.{op}")
    else:
        if not _KINDS[kind][0](value):
            raise AslDefinitionError(f"{where}: '{op}' needs a {kind.lower()} operand, got {value!r}")
        operand = value
    return _Comparison(variable, kind, relation, operand, next_state)
