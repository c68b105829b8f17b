"""Values in the HTTP parts of a REST request or response: URI labels, query parameters,
headers and prefix maps (x-amz-meta-*), plus the grouping of a shape's members by location.

Bad text in a label, a query parameter or a header is InvalidArgument naming the parameter, as
S3 answers ("max-keys=many" -> ArgumentName max-keys, ArgumentValue many).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from keyless.protocol.errors import InvalidArgument
from keyless.protocol.http import HttpRequest
from keyless.protocol.models import Node
from keyless.protocol.values import (
    BadValue,
    blob_text,
    bool_text,
    float_text,
    format_timestamp,
    parse_blob,
    parse_bool,
    parse_float,
    parse_int,
    parse_timestamp,
)

Groups = dict[str, list[tuple[str, Node]]]


def query_map(req: HttpRequest) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for key, value in req.query:
        query.setdefault(key, []).append(value)
    return query


def payload_member(node: Node | None) -> tuple[str, Node] | None:
    if node is None or not node.payload:
        return None
    member = node.members.get(node.payload)
    return (node.payload, member) if member is not None else None


_LOCATIONS = ("uri", "querystring", "header", "headers", "statusCode")


def by_location(node: Node | None) -> Groups:
    groups: Groups = {loc: [] for loc in (*_LOCATIONS, "body")}
    if node is not None:
        for name, member in node.members.items():
            if name != node.payload:
                groups[member.location if member.location in _LOCATIONS else "body"].append((name, member))
    return groups


def groups_have_body(groups: Groups) -> bool:
    return bool(groups["body"])


def argument_value(node: Node, text: str, wire: str) -> Any:
    """A URI label or query value; a bad one is InvalidArgument naming the parameter."""
    try:
        return _scalar_from_text(node, text, "iso8601")
    except BadValue:
        raise InvalidArgument(f"Invalid value for {wire}: {text!r}", ArgumentName=wire, ArgumentValue=text) from None


def header_value(node: Node, text: str, wire: str) -> Any:
    try:
        if node.type == "list":
            assert node.member is not None
            return [_scalar_from_text(node.member, item, "rfc822") for item in split_header_list(text)]
        if node.jsonvalue:
            return json.loads(base64.b64decode(text))
        return _scalar_from_text(node, text, "rfc822")
    except (BadValue, ValueError):
        raise InvalidArgument(f"Invalid value for header {wire}: {text!r}", ArgumentName=wire, ArgumentValue=text) from None


def _scalar_from_text(node: Node, text: str, timestamp_default: str) -> Any:
    kind = node.type
    if kind in ("string", "character"):
        return text
    if kind in ("integer", "long", "short", "byte"):
        return parse_int(text)
    if kind == "boolean":
        return parse_bool(text)
    if kind in ("float", "double"):
        return parse_float(text)
    if kind == "timestamp":
        return parse_timestamp(text)
    if kind == "blob":
        return parse_blob(text)
    raise BadValue(text, kind)


def split_header_list(text: str) -> list[str]:
    """a, "b,c", d -> [a, b,c, d] (botocore quotes items holding commas or quotes)."""
    items, current, quoted, escaped = [], [], False, False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    items.append("".join(current).strip())
    return items


def write_headers(groups: Groups, output: dict[str, Any],
                   headers: list[tuple[str, str]]) -> None:
    for name, member in groups["header"]:
        value = output.get(name)
        if value is not None and value != []:  # an empty list is no header at all
            headers.append(((member.wire or name).lower(), header_text(member, value)))
    for name, member in groups["headers"]:
        prefix = (member.wire or "").lower()
        for key, value in (output.get(name) or {}).items():
            headers.append((prefix + str(key).lower(), str(value)))


def header_text(node: Node, value: Any) -> str:
    kind = node.type
    if kind == "timestamp":
        # Handlers may hold a header date as the client sent it (S3 keeps Expires verbatim).
        return value if isinstance(value, str) else str(format_timestamp(value, node.timestamp_format, "rfc822"))
    if kind == "list":
        assert node.member is not None
        return ",".join(_quote_item(header_text(node.member, v)) for v in value)
    if node.jsonvalue:
        return blob_text(json.dumps(value, separators=(",", ":")))
    if kind == "boolean":
        return bool_text(value)
    if kind in ("float", "double"):
        return float_text(value)
    if kind == "blob":
        return blob_text(value)
    return str(value)


def _quote_item(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"' if ('"' in text or "," in text) else text
