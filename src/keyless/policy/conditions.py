"""Condition blocks compiled to closures [cond, multi].

Operators in a block are AND-ed, keys under one operator are AND-ed, values for one key are OR-ed.
A missing key: positive operator -> false, negated -> true, `...IfExists` -> true,
`ForAllValues:` -> true, `ForAnyValue:` -> false; `Null` tests presence itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from keyless.policy.context import EvalContext
from keyless.policy.match import cached_regex
from keyless.policy.operators import Operator, ParsedOperator
from keyless.policy.variables import Template, parse_template

Check = Callable[[EvalContext], bool]


@dataclass(frozen=True, slots=True)
class Clause:
    """One `operator: {key: values}` pair, kept for explanations and the simulator."""

    operator: str
    key: str  # as written in the policy
    values: tuple[str, ...]
    check: Check

    @property
    def lower_key(self) -> str:
        return self.key.lower()

    def describe(self) -> str:
        shown = self.values[0] if len(self.values) == 1 else list(self.values)
        return f"{self.operator} {{{self.key!r}: {shown!r}}}"


def compile_clause(name: str, parsed: ParsedOperator, key: str, values: tuple[str, ...], substitute: bool) -> Clause:
    # Checks look the key up as written; EvalContext takes care of case-insensitivity.
    if parsed.operator is None:
        check = _null_check(key, values)
    else:
        check = _operator_check(parsed.operator, parsed, key, values, substitute)
    return Clause(name, key, values, check)


def _null_check(key: str, values: tuple[str, ...]) -> Check:
    wanted = {value.lower() for value in values}
    if_absent, if_present = "true" in wanted, "false" in wanted

    def check(ctx: EvalContext) -> bool:
        return if_present if ctx.values(key) else if_absent

    return check


def _operator_check(op: Operator, parsed: ParsedOperator, key: str, values: tuple[str, ...], substitute: bool) -> Check:
    static: list[Any] = []
    templates: list[Template] = []
    for value in values:
        template = parse_template(value) if substitute and op.variables else None
        if template is not None:
            templates.append(template)
            continue
        try:
            static.append(op.prepare(value))
        except ValueError:
            continue  # a value that can never match (e.g. a malformed CIDR)
    on_missing = parsed.if_exists or parsed.set_qualifier == "ForAllValues" or (parsed.set_qualifier is None and op.negated)
    matches = _value_matcher(op, tuple(static), tuple(templates))
    return _combine(matches, key, op.negated, parsed.set_qualifier, on_missing)


ValueMatcher = Callable[[str, EvalContext], bool]


def _value_matcher(op: Operator, static: tuple[Any, ...], templates: tuple[Template, ...]) -> ValueMatcher:
    """Does one request value match any of the policy values?"""
    convert, test = op.convert, op.test
    if op.equality and not templates:
        members = frozenset(static)

        def in_set(raw: str, ctx: EvalContext) -> bool:
            converted = convert(raw)
            return converted is not None and converted in members

        return in_set

    def matches(raw: str, ctx: EvalContext) -> bool:
        converted = convert(raw)
        if converted is None:
            return False
        for prepared in static:
            if test(converted, prepared):
                return True
        for template in templates:
            prepared = _resolve(op, template, ctx)
            if prepared is not None and test(converted, prepared):
                return True
        return False

    return matches


_PREPARED: dict[tuple[str, str], Any] = {}


def _resolve(op: Operator, template: Template, ctx: EvalContext) -> Any:
    """A templated policy value, substituted and prepared; None when a variable has no value."""
    if op.wildcard:
        source = template.regex(ctx.single)
        return None if source is None else cached_regex(source).fullmatch
    text = template.text(ctx.single)
    if text is None:
        return None
    cache_key = (op.name, text)
    prepared = _PREPARED.get(cache_key)
    if prepared is None:
        if len(_PREPARED) > 4096:
            _PREPARED.clear()
        try:
            prepared = _PREPARED[cache_key] = op.prepare(text)
        except ValueError:
            return None
    return prepared


def _combine(matches: ValueMatcher, key: str, negated: bool, qualifier: str | None, on_missing: bool) -> Check:
    if qualifier is None:
        # Single-valued use: positive if any request value matches; negated is its negation.
        def single(ctx: EvalContext) -> bool:
            raw = ctx.values(key)
            if not raw:
                return on_missing
            for value in raw:
                if matches(value, ctx):
                    return not negated
            return negated

        return single
    if qualifier == "ForAnyValue":
        def any_value(ctx: EvalContext) -> bool:
            raw = ctx.values(key)
            if not raw:
                return on_missing
            return any(matches(value, ctx) != negated for value in raw)

        return any_value

    def all_values(ctx: EvalContext) -> bool:
        raw = ctx.values(key)
        if not raw:
            return on_missing
        return all(matches(value, ctx) != negated for value in raw)

    return all_values


def all_of(checks: tuple[Check, ...]) -> Check | None:
    """AND of clause checks; None when there is no condition at all (the common case)."""
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda ctx: first(ctx) and second(ctx)
    return lambda ctx: all(check(ctx) for check in checks)
