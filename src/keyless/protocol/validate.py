"""Model constraints (required, enum, length, range, pattern, union) checked on parsed input.

`violations()` returns what failed, in model member order; each protocol words them its own way.
`coral_message()` is the sentence the query and JSON services share:

    2 validation errors detected: Value 'a b' at 'roleSessionName' failed to satisfy constraint:
    Member must satisfy regular expression pattern: [\\w+=,.@-]*; Value null at 'roleArn' ...

Facts behind the wording (observed AWS responses): member paths are lowerCamel with list
positions as `tags.1.member.key`; a value's pattern failure is listed before its length failure;
sensitive values are left out ("Value at 'password' ..."); a list of scalars reports once at the
list ("Value '[a, b]' at 'x' failed to satisfy constraint: Member must satisfy constraint: [...]").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from keyless.protocol.models import SCALARS, Node, needs_check
from keyless.protocol.values import iso8601

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Violation:
    path: Path  # member names, "member" and 1-based list positions
    value: Any
    constraint: str
    kind: str  # required | enum | length | range | pattern | union
    sensitive: bool = False


def violations(node: Node | None, value: Any, *, enums: bool = True) -> list[Violation]:
    """Everything `value` breaks. `enums=False` leaves enum sets to the handlers (S3 answers
    InvalidLocationConstraint, InvalidStorageClass, ... rather than a generic error)."""
    out: list[Violation] = []
    if node is not None and needs_check(node):
        _check(node, value, (), out)
    if not enums:
        out = [v for v in out if v.kind != "enum" and "enum value set" not in v.constraint]
    return out


def _check(node: Node, value: Any, path: Path, out: list[Violation]) -> None:
    kind = node.type
    if kind == "structure":
        _structure(node, value, path, out)
    elif kind == "list":
        _list(node, value, path, out)
    elif kind == "map":
        _map(node, value, path, out)
    else:
        for kind_, text in scalar_failures(node, value):
            out.append(Violation(path, value, text, kind_, node.sensitive))


def _structure(node: Node, value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict) or node.document:
        return
    checks = node.cache.get("checks")
    if checks is None:  # only the members that can fail: a 40-member input usually has a handful
        checks = node.cache["checks"] = tuple(
            (name, child, name in node.required) for name, child in node.members.items()
            if name in node.required or needs_check(child))
    for name, child, required in checks:
        member_value = value.get(name)
        if member_value is None:
            if required:
                out.append(Violation((*path, name), None, "Member must not be null", "required"))
        elif needs_check(child):
            _check(child, member_value, (*path, name), out)
    if node.union and sum(1 for v in value.values() if v is not None) != 1:
        out.append(Violation(path, None, "Member must have exactly one member set", "union"))


def _list(node: Node, value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        return
    _length(node, len(value), path, value, out)
    item = node.member
    if item is None or not needs_check(item):
        return
    if item.type in SCALARS:
        inner: list[str] = []
        for element in value:
            inner.extend(text for _, text in scalar_failures(item, element) if text not in inner)
        for text in inner:
            out.append(Violation(path, value, f"Member must satisfy constraint: [{text}]", "member", item.sensitive))
        return
    for position, element in enumerate(value, 1):
        _check(item, element, (*path, position, "member"), out)


def _map(node: Node, value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        return
    _length(node, len(value), path, value, out)
    for label, part in (("Map keys", node.key), ("Map value", node.value)):
        if part is None or not needs_check(part):
            continue
        items = value.keys() if part is node.key else value.values()
        if part.type not in SCALARS:
            for key, element in value.items():
                _check(part, element, (*path, str(key)), out)
            continue
        inner: list[str] = []
        for element in items:
            inner.extend(text for _, text in scalar_failures(part, element) if text not in inner)
        for text in inner:
            out.append(Violation(path, value, f"{label} must satisfy constraint: [{text}]", "member", part.sensitive))


def _length(node: Node, size: int, path: Path, value: Any, out: list[Violation]) -> None:
    for kind, text in _length_failures(node, size):
        out.append(Violation(path, value, text, kind, node.sensitive))


def scalar_failures(node: Node, value: Any) -> list[tuple[str, str]]:
    """(kind, constraint text) for each constraint a scalar breaks, in AWS's order."""
    failures: list[tuple[str, str]] = []
    if node.type in ("string", "character"):
        if not isinstance(value, str):
            return failures
        if node.enum_set and value not in node.enum_set:
            failures.append(("enum", f"Member must satisfy enum value set: [{', '.join(node.enum)}]"))
        regex = node.regex() if node.pattern_text else None
        if regex is not None and regex.fullmatch(value) is None:
            failures.append(("pattern", f"Member must satisfy regular expression pattern: {node.pattern_text}"))
        failures.extend(_length_failures(node, len(value)))
    elif node.type == "blob" and isinstance(value, (bytes, bytearray)):
        failures.extend(_length_failures(node, len(value)))
    elif node.type in ("integer", "long", "float", "double", "short", "byte") and isinstance(value, (int, float)):
        if node.min is not None and value < node.min:
            failures.append(("range", f"Member must have value greater than or equal to {_number(node.min)}"))
        if node.max is not None and value > node.max:
            failures.append(("range", f"Member must have value less than or equal to {_number(node.max)}"))
    return failures


def _length_failures(node: Node, size: int) -> list[tuple[str, str]]:
    failures = []
    if node.min is not None and size < node.min:
        failures.append(("length", f"Member must have length greater than or equal to {_number(node.min)}"))
    if node.max is not None and size > node.max:
        failures.append(("length", f"Member must have length less than or equal to {_number(node.max)}"))
    return failures


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# --- wording ---------------------------------------------------------------------------------------


def lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def member_path(path: Path) -> str:
    return ".".join(str(part) if isinstance(part, int) or part == "member" else lower_camel(part) for part in path)


def render_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{render_value(k)}={render_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, datetime):
        return iso8601(value)
    if isinstance(value, (bytes, bytearray)):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    return str(value)


def describe(violation: Violation) -> str:
    where = f"at '{member_path(violation.path)}' failed to satisfy constraint: {violation.constraint}"
    if violation.value is None:
        return f"Value null {where}"
    if violation.sensitive:
        return f"Value {where}"
    return f"Value '{render_value(violation.value)}' {where}"


def coral_message(found: list[Violation]) -> str:
    count = len(found)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(describe(v) for v in found)
