"""botocore service models, compiled once into `Node` trees the wire codecs walk quickly.

A botocore Shape answers `shape.members`, `shape.serialization`, `shape.metadata` through
properties and dict lookups; the codecs need the same facts on every request. `compile_shape`
reads them once per (shape, member-level serialization) and keeps plain attributes, so the hot
path is attribute access and dict lookups only. Recursive shapes compile to cyclic Node graphs.

Model regexes are Java regexes; `java_pattern` translates the few constructs Python lacks
(\\p{L}, \\p{N}, \\p{Z}, \\p{Print}, UTF-16 surrogate ranges).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

SCALARS = frozenset({"string", "integer", "long", "boolean", "float", "double", "timestamp", "blob", "character", "byte", "short"})


@lru_cache(maxsize=None)
def _session() -> Any:
    return botocore.session.get_session()


@lru_cache(maxsize=None)
def load_service_model(service_name: str) -> ServiceModel:
    return _session().get_service_model(service_name)


@dataclass(slots=True, eq=False)
class Node:
    """One shape as a member sees it: the named shape plus the member's serialization traits."""

    type: str
    shape_name: str
    wire: str | None = None  # locationName (serialization "name")
    query_name: str | None = None  # ec2 input name
    location: str | None = None  # uri | querystring | header | headers | statusCode
    flattened: bool = False
    timestamp_format: str | None = None
    xml_attribute: bool = False
    xml_namespace: Any = None  # str, or {"prefix": ..., "uri": ...}
    jsonvalue: bool = False
    streaming: bool = False
    sensitive: bool = False
    document: bool = False
    union: bool = False
    min: float | None = None
    max: float | None = None
    enum: tuple[str, ...] = ()
    enum_set: frozenset[str] = frozenset()
    pattern_text: str | None = None  # as in the model (Java syntax); AWS quotes it in messages
    # structure
    members: dict[str, Node] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    payload: str | None = None
    result_wrapper: str | None = None
    # list / map
    member: Node | None = None
    key: Node | None = None
    value: Node | None = None
    # Per-protocol derived tables (wire name -> member, ...), filled on first use.
    cache: dict[str, Any] = field(default_factory=dict)
    # Whether anything in this subtree has a constraint to check (None: not computed yet).
    checked: bool | None = None

    @property
    def has_constraints(self) -> bool:
        return bool(self.required or self.enum or self.pattern_text or self.min is not None
                    or self.max is not None or self.union)

    def regex(self) -> re.Pattern[str] | None:
        """The model pattern compiled for Python (lazily: Unicode classes take ~0.2 s to build)."""
        if "regex" not in self.cache:
            self.cache["regex"] = java_pattern(self.pattern_text) if self.pattern_text else None
        return self.cache["regex"]


class ShapeCompiler:
    """Compiles a service's shapes into Nodes, sharing one Node per distinct (shape, traits)."""

    def __init__(self) -> None:
        self._memo: dict[tuple[str, str, str], Node] = {}

    def compile(self, shape: Shape | None) -> Node | None:
        if shape is None:
            return None
        key = (shape.name, shape.type_name, repr(sorted(shape.serialization.items())))
        node = self._memo.get(key)
        if node is not None:
            return node
        node = _bare_node(shape)
        self._memo[key] = node  # before children: recursive shapes find it here
        if isinstance(shape, StructureShape):
            node.members = {name: self.compile(member) for name, member in shape.members.items()}  # type: ignore[misc]
            node.required = tuple(shape.required_members)
        elif isinstance(shape, ListShape):
            node.member = self.compile(shape.member)
        elif isinstance(shape, MapShape):
            node.key = self.compile(shape.key)
            node.value = self.compile(shape.value)
        return node


def _bare_node(shape: Shape) -> Node:
    ser, meta = shape.serialization, shape.metadata
    pattern_text = meta.get("pattern")
    enum = tuple(meta.get("enum") or ())
    return Node(
        type=shape.type_name, shape_name=shape.name, wire=ser.get("name"), query_name=ser.get("queryName"),
        location=ser.get("location"), flattened=bool(ser.get("flattened")), timestamp_format=ser.get("timestampFormat"),
        xml_attribute=bool(ser.get("xmlAttribute")), xml_namespace=ser.get("xmlNamespace"),
        jsonvalue=bool(ser.get("jsonvalue")), streaming=bool(ser.get("streaming")), sensitive=bool(meta.get("sensitive")),
        document=bool(meta.get("document")), union=bool(meta.get("union")),
        min=meta.get("min"), max=meta.get("max"), enum=enum, enum_set=frozenset(enum),
        pattern_text=pattern_text,
        payload=ser.get("payload"), result_wrapper=ser.get("resultWrapper"),
    )


def needs_check(node: Node) -> bool:
    """True when validating this subtree can fail; cached on the node (cycles count as True)."""
    if node.checked is not None:
        return node.checked
    node.checked = True  # provisional, for recursive shapes
    children = [*node.members.values(), node.member, node.key, node.value]
    result = node.has_constraints or any(needs_check(c) for c in children if c is not None)
    node.checked = result
    return result


# --- operations ---------------------------------------------------------------------------------


@dataclass(slots=True)
class OperationPlan:
    """What a protocol needs about one operation, computed once."""

    model: OperationModel
    input: Node | None
    output: Node | None
    extra: dict[str, Any] = field(default_factory=dict)  # protocol-specific (routes, member groups)


# --- Java regexes ---------------------------------------------------------------------------------

_SURROGATE_RANGE = re.compile(r"\\uD800\\uDC00-\\uDBFF\\uDFFF", re.IGNORECASE)


def java_pattern(text: str) -> re.Pattern[str] | None:
    """Compile a model pattern (Java syntax) for fullmatch, or None when it cannot be expressed."""
    # A surrogate pair range in UTF-16 means "any supplementary code point" in Python's str.
    translated = _SURROGATE_RANGE.sub(r"\\U00010000-\\U0010FFFF", text)
    for name, body in _JAVA_CLASSES.items():
        token = "\\p{" + name + "}"
        if token in translated:
            ranges = body()
            translated = translated.replace(token, ranges if _in_class(translated, token) else f"[{ranges}]")
    try:
        # Java's \w, \d and \s are ASCII-only unless asked otherwise.
        return re.compile(translated, re.ASCII)
    except re.error:
        return None


def _in_class(text: str, token: str) -> bool:
    """Whether the first occurrence of token sits inside a [...] character class."""
    depth = 0
    i = 0
    while i < len(text):
        if text.startswith(token, i):
            return depth > 0
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            depth += 1
        elif ch == "]" and depth:
            depth -= 1
        i += 1
    return False


def _category_ranges(major: str) -> str:
    return _unicode_classes()[major]


@lru_cache(maxsize=None)
def _unicode_classes() -> dict[str, str]:
    """Regex class bodies for the Unicode major categories L, N and Z, built in one pass per process."""
    ranges: dict[str, list[str]] = {"L": [], "N": [], "Z": []}
    run_major, run_start = "", 0
    for cp in range(sys.maxunicode + 2):
        major = unicodedata.category(chr(cp))[0] if cp <= sys.maxunicode else ""
        if major != run_major:
            if run_major in ranges:
                ranges[run_major].append(_range(run_start, cp - 1))
            run_major, run_start = major, cp
    return {name: "".join(parts) for name, parts in ranges.items()}


def _range(lo: int, hi: int) -> str:
    return f"\\U{lo:08X}" if lo == hi else f"\\U{lo:08X}-\\U{hi:08X}"


_JAVA_CLASSES = {
    "L": lambda: _category_ranges("L"),
    "N": lambda: _category_ranges("N"),
    "Z": lambda: _category_ranges("Z"),
    "Print": lambda: r"\x20-\x7E",  # POSIX class: printable ASCII
}
