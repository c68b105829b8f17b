"""botocore as the oracle for keyless.protocol: its serializer builds requests, its parser reads
responses, and hypothesis strategies are generated from its (not keyless's) view of the shapes.

`wire_survivors` says what of a value survives a protocol's wire format (the query protocol
drops empty maps, ec2 drops empty lists, ...), so a round trip can be compared exactly.
"""

from __future__ import annotations

import re
import string
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import HeadersDict, create_request_object, prepare_request_dict
from botocore.model import OperationModel, Shape
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from hypothesis import strategies as st

from keyless.protocol import protocol_for
from keyless.protocol.http import HttpRequest, HttpResponse

ENDPOINT = "http://127.0.0.1:5397"
UTC = timezone.utc
SERVICES = ("iam", "sts", "ec2", "s3", "cloudtrail")


# --- requests and responses through botocore ---------------------------------------------------


def botocore_request(service: str, op_name: str, params: dict[str, Any]) -> HttpRequest:
    """The HTTP request botocore's own serializer makes for `params` (no client-side handlers)."""
    model = protocol_for(service).service_model
    op = model.operation_model(op_name)
    serialized = create_serializer(model.protocol, include_validation=False).serialize_to_request(params, op)
    prepare_request_dict(serialized, endpoint_url=ENDPOINT)
    prepared = create_request_object(serialized).prepare()
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers = [(k.lower(), v if isinstance(v, str) else v.decode("latin-1")) for k, v in prepared.headers.items()]
    return HttpRequest(prepared.method, url.path or "/", url.query, headers, body)


def botocore_parse(service: str, shape: Shape | None, resp: HttpResponse) -> dict[str, Any]:
    """What botocore's parser makes of one of our responses (ResponseMetadata kept)."""
    model = protocol_for(service).service_model
    body = resp.body if isinstance(resp.body, (bytes, bytearray)) else b""
    headers = HeadersDict()  # case-insensitive, as botocore gets them from urllib3
    for name, value in resp.headers:
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return create_parser(model.protocol).parse({"body": bytes(body), "headers": headers, "status_code": resp.status}, shape)


def operation(service: str, name: str) -> OperationModel:
    return protocol_for(service).service_model.operation_model(name)


# --- strategies from botocore shapes ------------------------------------------------------------

# Characters every protocol can carry (XML 1.0 forbids most C0 controls and U+FFFE/U+FFFF).
SAFE_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff")
TEXT = st.one_of(SAFE_CHARS, st.sampled_from("\t\n\r&<>\"' %+/=?#.~"))
# botocore's ElementTree request serializer writes "\r" raw, and XML parsers read it back as "\n".
TEXT_NO_CR = st.one_of(SAFE_CHARS, st.sampled_from("\t\n&<>\"' %+/=?#.~"))
HEADER_TEXT = string.ascii_letters + string.digits + "-_.:/=+@ "
TOKEN = string.ascii_lowercase + string.digits + "-"


class Values:
    """Valid values for botocore shapes, as a protocol can carry them.

    direction: "input" (botocore serializes, keyless parses) or "output" (keyless serializes,
    botocore parses). Constraints (enum, pattern, length, range) are honoured on input so the
    parser's validation accepts them.
    """

    def __init__(self, protocol: str, direction: str, max_depth: int = 4) -> None:
        self.protocol = protocol
        self.direction = direction
        self.max_depth = max_depth
        self._memo: dict[tuple[Any, ...], st.SearchStrategy[Any]] = {}  # building from_regex is slow

    def for_shape(self, shape: Shape, depth: int = 0, location: str | None = None) -> st.SearchStrategy[Any]:
        key = (shape.name, repr(sorted(shape.serialization.items())), min(depth, self.max_depth + 1), location)
        strategy = self._memo.get(key)
        if strategy is None:
            method = getattr(self, f"_{shape.type_name}", None)
            strategy = st.nothing() if method is None else method(shape, depth, location)
            self._memo[key] = strategy
        return strategy

    # structures and collections

    def _structure(self, shape: Any, depth: int, location: str | None) -> st.SearchStrategy[Any]:
        if shape.metadata.get("document") or shape.serialization.get("eventstream"):
            return st.nothing()
        members = {n: m for n, m in shape.members.items() if self._carried(m)}
        required = {n: self._member(m, depth) for n, m in members.items() if n in shape.required_members}
        optional = {n: self._member(m, depth) for n, m in members.items()
                    if n not in shape.required_members and (depth < self.max_depth or self._form_needs(m, required))}
        if shape.metadata.get("union"):
            strategy = st.one_of(*[st.fixed_dictionaries({n: s}) for n, s in optional.items()]) if optional else st.nothing()
        else:
            strategy = st.fixed_dictionaries(required, optional=optional)
        return strategy.filter(lambda value: self._survives(shape, value, depth))

    def _member(self, member: Shape, depth: int) -> st.SearchStrategy[Any]:
        return self.for_shape(member, depth + 1, member.serialization.get("location"))

    def _form_needs(self, member: Shape, required: dict[str, Any]) -> bool:
        """Past max depth a form-encoded structure still needs one scalar, or it leaves no trace."""
        return self.protocol in ("query", "ec2") and not required and member.type_name not in ("structure", "list", "map")

    def _survives(self, shape: Any, value: dict[str, Any], depth: int) -> bool:
        """Required members must reach the far side, and in a form a nested structure must be non-empty."""
        kept = wire_survivors(shape, value, self.protocol)
        if any(name in value and name not in kept for name in shape.required_members):
            return False
        return depth == 0 or self.protocol not in ("query", "ec2") or bool(kept)

    def _carried(self, member: Shape) -> bool:
        ser, location = member.serialization, member.serialization.get("location")
        if ser.get("hostLabel") or ser.get("eventstream") or location == "statusCode":
            return False
        if location == "querystring" and member.type_name == "map":
            return False
        return not (location == "header" and member.type_name == "list" and member.member.type_name != "string")

    def _list(self, shape: Any, depth: int, location: str | None) -> st.SearchStrategy[Any]:
        lo = int(shape.metadata.get("min", 0) or 0)
        if location == "header" and shape.member.type_name == "string":
            element: st.SearchStrategy[Any] = st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=8)
        else:
            element = self.for_shape(shape.member, depth + 1, location)
        hi = max(lo, 0 if depth >= self.max_depth else 3)
        return st.lists(element, min_size=lo, max_size=min(hi, int(shape.metadata.get("max", hi))))

    def _map(self, shape: Any, depth: int, location: str | None) -> st.SearchStrategy[Any]:
        if location == "headers":
            keys: st.SearchStrategy[Any] = st.text(TOKEN, min_size=1, max_size=8)
            values: st.SearchStrategy[Any] = _header_text()
        else:
            keys = self.for_shape(shape.key, depth + 1)
            values = self.for_shape(shape.value, depth + 1)
        lo = int(shape.metadata.get("min", 0) or 0)
        hi = max(lo, 0 if depth >= self.max_depth else min(3, int(shape.metadata.get("max", 3))))
        return st.dictionaries(keys, values, min_size=lo, max_size=hi)

    # scalars

    def _string(self, shape: Shape, depth: int, location: str | None) -> st.SearchStrategy[Any]:
        meta = shape.metadata
        if meta.get("enum"):
            return st.sampled_from(meta["enum"])
        lo, hi = int(meta.get("min", 0) or 0), int(meta.get("max", 24) or 24)
        hi = min(max(hi, lo), lo + 24)
        no_cr = self.protocol == "rest-xml" and self.direction == "input"
        pattern = meta.get("pattern")
        if location in ("header", "headers") and not (pattern and self.direction == "input"):
            return _header_text(lo, hi)
        if location == "uri":
            return st.text(TEXT, min_size=max(lo, 1), max_size=hi)
        if pattern and self.direction == "input":
            regex = _python_regex(pattern)
            header = location in ("header", "headers")
            if regex is not None:
                return st.from_regex(regex, fullmatch=True).filter(
                    lambda s: lo <= len(s) <= hi and _xml_safe(s) and not (no_cr and "\r" in s)
                    and (not header or (s.isascii() and s.isprintable() and s == s.strip())))
            return st.text(string.ascii_letters + string.digits, min_size=max(lo, 1), max_size=hi)
        return st.text(TEXT_NO_CR if no_cr else TEXT, min_size=lo, max_size=hi)

    def _integer(self, shape: Shape, depth: int, location: str | None) -> st.SearchStrategy[Any]:
        bound = 2**31 - 1 if shape.type_name == "integer" else 2**53
        lo, hi = shape.metadata.get("min", -bound), shape.metadata.get("max", bound)
        return st.integers(int(lo), int(hi))

    _long = _integer

    def _boolean(self, shape: Shape, depth: int, location: str | None) -> st.SearchStrategy[Any]:
        return st.booleans()

    def _float(self, shape: Shape, depth: int, location: str | None) -> st.SearchStrategy[Any]:
        return st.floats(allow_nan=False, allow_infinity=False)

    _double = _float

    def _blob(self, shape: Shape, depth: int, location: str | None) -> st.SearchStrategy[Any]:
        lo = int(shape.metadata.get("min", 0) or 0)
        if self.protocol == "rest-xml" and self.direction == "output":
            # botocore's parser decodes a bytes payload as UTF-8 (clients get a stream instead)
            return st.text(TEXT, min_size=lo, max_size=max(lo, 16)).map(lambda t: t.encode("utf-8"))
        return st.binary(min_size=lo, max_size=max(lo, 16))

    def _timestamp(self, shape: Shape, depth: int, location: str | None) -> st.SearchStrategy[Any]:
        moments = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
        fmt = str(shape.serialization.get("timestampFormat", "")).lower()
        if location in ("header", "headers") or fmt == "rfc822":
            return moments.map(lambda d: d.replace(microsecond=0))  # HTTP dates are whole seconds
        if self.protocol == "json" or fmt == "unixtimestamp":
            return moments.map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))  # epoch floats: ms
        return moments


def _header_text(lo: int = 0, hi: int = 12) -> st.SearchStrategy[str]:
    return st.text(HEADER_TEXT, min_size=lo, max_size=hi).map(str.strip).filter(lambda s: lo <= len(s) <= hi)


def _xml_safe(text: str) -> bool:
    return all(ch in "\t\n\r" or ch >= " " for ch in text) and "\ufffe" not in text and "\uffff" not in text


def _python_regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern, re.ASCII)
    except re.error:
        return None


# --- what survives the wire ---------------------------------------------------------------------


def wire_survivors(shape: Shape, value: Any, protocol: str, direction: str = "input") -> Any:
    """`value` as a parser on the far side can see it, given the protocol's encoding rules."""
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for name, member_value in value.items():
            member = shape.members[name]
            kept = wire_survivors(member, member_value, protocol, direction)
            payload = protocol == "rest-xml" and shape.serialization.get("payload") == name
            if not _dropped(member, kept, protocol, direction, payload):
                out[name] = kept
        return out
    if kind == "list":
        return [wire_survivors(shape.member, v, protocol, direction) for v in value]
    if kind == "map":
        return {k: wire_survivors(shape.value, v, protocol, direction) for k, v in value.items()}
    if kind == "blob" and isinstance(value, str):
        return value.encode("utf-8")
    if kind == "timestamp" and isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _dropped(member: Shape, value: Any, protocol: str, direction: str, payload: bool) -> bool:
    kind, ser = member.type_name, member.serialization
    if payload and kind in ("string", "blob") and not ser.get("streaming"):
        return value in ("", b"")  # an empty body is no body
    if value not in ([], {}) or protocol == "json":
        return False
    if protocol == "rest-xml" and ser.get("location"):
        return True  # HTTP has no empty header
    if ser.get("flattened"):
        return True  # zero repeated elements
    if direction == "output":
        return False  # keyless writes <Name/> for an empty list, map or structure
    if protocol == "query":  # botocore writes "Name=" for an empty list, nothing for maps/structures
        return kind in ("map", "structure")
    return protocol == "ec2"  # botocore's ec2 serializer writes nothing for empty collections


# --- smallest valid inputs (deterministic, for sweeping every operation) -----------------------


def minimal_input(shape: Shape, protocol: str, depth: int = 0) -> Any:
    """A small value that satisfies the shape's constraints, or raises LookupError."""
    kind, meta = shape.type_name, shape.metadata
    if kind == "structure":
        value = {n: minimal_input(m, protocol, depth + 1) for n, m in shape.members.items() if n in shape.required_members}
        if not value and depth > 0 and (protocol in ("query", "ec2") or meta.get("union")):
            for name, member in shape.members.items():  # a form needs one member to show the structure
                candidate = minimal_input(member, protocol, depth + 1)
                if candidate not in ({}, []) and depth < 8:
                    return {name: candidate}
        return value
    if kind == "list":
        vanishes = protocol == "ec2" or (protocol == "rest-xml" and (
            shape.serialization.get("flattened") or shape.serialization.get("location")))
        count = max(int(meta.get("min", 0) or 0), 1 if vanishes else 0)
        return [minimal_input(shape.member, protocol, depth + 1) for _ in range(count)]
    if kind == "map":
        if protocol not in ("query", "ec2"):
            return {}
        return {minimal_input(shape.key, protocol, depth + 1): minimal_input(shape.value, protocol, depth + 1)}
    if kind == "string":
        return _minimal_string(shape)
    if kind in ("integer", "long"):
        return int(meta.get("min", 1))
    if kind == "boolean":
        return True
    if kind == "blob":
        return b"x" * max(int(meta.get("min", 1) or 1), 1)
    if kind == "timestamp":
        return datetime(2026, 11, 28, 10, tzinfo=UTC)
    return 1.5


def _minimal_string(shape: Shape) -> str:
    meta = shape.metadata
    if meta.get("enum"):
        return str(meta["enum"][0])
    lo, hi = int(meta.get("min", 1) or 1), int(meta.get("max", 64) or 64)
    pattern = meta.get("pattern")
    regex = _python_regex(pattern) if pattern else None
    if pattern and regex is None:
        raise LookupError(f"pattern not expressible in Python: {pattern}")
    for repeat in sorted({0, 1, 2, 3, 5, 8, hi, *(lo - k for k in range(8) if lo - k > 0)}):
        text = _sample(re._parser.parse(pattern, re.ASCII), repeat) if regex else "x" * max(lo, 1)
        if lo <= len(text) <= hi and (regex is None or regex.fullmatch(text)) and _header_safe(shape, text):
            return text
    raise LookupError(f"no small string for {shape.name}")


def _header_safe(shape: Shape, text: str) -> bool:
    return shape.serialization.get("location") not in ("header", "headers") or (text.isascii() and text == text.strip())


def _sample(parsed: Any, repeat: int) -> str:
    """A string matching a parsed regex, each repetition taken `repeat` times (within its bounds)."""
    out = []
    for op, arg in parsed:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if arg != ord("a") else "b")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_class_member(arg))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            count = max(low, min(repeat, high if high != re._constants.MAXREPEAT else repeat))
            out.append("".join(_sample(sub, repeat) for _ in range(count)))
        elif name == "SUBPATTERN":
            out.append(_sample(arg[-1], repeat))
        elif name == "BRANCH":
            out.append(_sample(arg[1][0], repeat))
    return "".join(out)


def _class_member(items: Any) -> str:
    negate = any(str(op) == "NEGATE" for op, _ in items)
    allowed: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            allowed.append(chr(arg))
        elif name == "RANGE":
            allowed.append(chr(arg[0]))
        elif name == "CATEGORY":
            allowed.append({"CATEGORY_DIGIT": "0", "CATEGORY_SPACE": " ", "CATEGORY_WORD": "a"}.get(str(arg), "a"))
    if not negate:
        return sorted(allowed, key=lambda c: (not c.isalnum(), c))[0] if allowed else "a"
    return next(c for c in "aZ0_-." if c not in allowed)
