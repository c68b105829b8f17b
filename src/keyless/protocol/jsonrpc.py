"""The json protocol (CloudTrail; DynamoDB later): POST /, X-Amz-Target: <targetPrefix>.<Operation>,
body and reply are JSON objects keyed by member (locationName) names.

    timestamps   epoch seconds (a float when there are fractions); ISO strings accepted on input
    blobs        base64 strings
    errors       {"__type": "<Code>", "message": "..."} with the error's status and x-amzn-RequestId
    bad JSON     SerializationException 400; model violations ValidationException 400
"""

from __future__ import annotations

import json
from typing import Any, Callable

from botocore.model import OperationModel, ServiceModel

from keyless.errors import AwsError
from keyless.protocol.base import Protocol
from keyless.protocol.errors import SerializationException, UnknownOperationException, ValidationException
from keyless.protocol.http import HttpRequest, HttpResponse
from keyless.protocol.models import Node, OperationPlan
from keyless.protocol.validate import Violation, coral_message
from keyless.protocol.values import (
    BadValue,
    blob_text,
    epoch_to_datetime,
    format_timestamp,
    parse_blob,
    parse_timestamp,
)


class JsonProtocol(Protocol):
    name = "json"

    def __init__(self, service_model: ServiceModel) -> None:
        super().__init__(service_model)
        metadata = service_model.metadata
        prefix = str(metadata.get("targetPrefix", ""))
        # Clients send the model's prefix; older ones the short form (CloudTrail_20131101).
        self.target_prefixes = frozenset({prefix, prefix.rsplit(".", 1)[-1]})
        self.content_type = f"application/x-amz-json-{metadata.get('jsonVersion', '1.0')}"
        self._read: dict[str, Callable[[Node, Any], Any]] = {
            "structure": self._read_structure, "list": self._read_list, "map": self._read_map,
            "string": _expect(str, "string"), "character": _expect(str, "string"), "boolean": _expect(bool, "boolean"),
            "integer": _read_int, "long": _read_int, "short": _read_int, "byte": _read_int,
            "float": _read_float, "double": _read_float, "timestamp": _read_timestamp, "blob": _read_blob,
        }

    # --- requests -----------------------------------------------------------------------------

    def match_operation(self, req: HttpRequest) -> OperationModel:
        target = req.header("x-amz-target") or ""
        prefix, _, name = target.rpartition(".")
        op = self.operation(name) if prefix in self.target_prefixes else None
        if op is None:
            raise UnknownOperationException(f"Unknown operation {target or '(no X-Amz-Target header)'}")
        return op

    def decode(self, plan: OperationPlan, req: HttpRequest) -> dict[str, Any]:
        try:
            document = json.loads(req.body) if req.body.strip() else {}
        except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError; nesting deeper than the stack
            raise SerializationException("The request body is not valid JSON.") from None
        if not isinstance(document, dict):
            raise SerializationException("Start of structure or map found where not expected.")
        if plan.input is None:
            return {}
        return self._read_structure(plan.input, document)

    def _read_structure(self, node: Node, raw: Any) -> Any:
        if node.document:
            return raw
        if not isinstance(raw, dict):
            raise BadValue(raw, "structure")
        table = node.cache.get("json.in")
        if table is None:
            table = node.cache["json.in"] = {child.wire or name: (name, child) for name, child in node.members.items()}
        out: dict[str, Any] = {}
        for wire, value in raw.items():
            entry = table.get(wire)
            if entry is None or value is None:
                continue
            name, child = entry
            try:
                out[name] = self._read[child.type](child, value)
            except BadValue as exc:
                exc.path.insert(0, name)
                raise
        return out

    def _read_list(self, node: Node, raw: Any) -> list[Any]:
        if not isinstance(raw, list):
            raise BadValue(raw, "list")
        item = node.member
        assert item is not None
        read = self._read[item.type]
        out = []
        for position, element in enumerate(raw, 1):
            if element is None:
                continue
            try:
                out.append(read(item, element))
            except BadValue as exc:
                exc.path[:0] = [position, "member"]
                raise
        return out

    def _read_map(self, node: Node, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise BadValue(raw, "map")
        value_node = node.value
        assert value_node is not None
        read = self._read[value_node.type]
        out = {}
        for key, element in raw.items():
            if element is None:
                continue
            try:
                out[key] = read(value_node, element)
            except BadValue as exc:
                exc.path.insert(0, key)
                raise
        return out

    def validation_error(self, plan: OperationPlan, found: list[Violation]) -> AwsError:
        return ValidationException(coral_message(found))

    def bad_value_error(self, plan: OperationPlan, exc: BadValue) -> AwsError:
        where = ".".join(str(p) for p in exc.path)
        return SerializationException(f"Expected a {exc.expected} at '{where}', found {json.dumps(exc.value)[:100]}")

    # --- responses ----------------------------------------------------------------------------

    def serialize(self, op: OperationModel, output: dict[str, Any], request_id: str) -> HttpResponse:
        node = self.plan(op).output
        document = self._write(node, output or {}) if node is not None else {}
        return self._response(200, document, request_id)

    def _write(self, node: Node, value: Any) -> Any:
        kind = node.type
        if kind == "structure":
            if node.document:
                return value
            out = {}
            for name, child in node.members.items():
                member_value = value.get(name)
                if member_value is not None:
                    out[child.wire or name] = self._write(child, member_value)
            return out
        if kind == "list":
            assert node.member is not None
            return [self._write(node.member, element) for element in value]
        if kind == "map":
            assert node.value is not None
            return {str(key): self._write(node.value, element) for key, element in value.items()}
        if kind == "timestamp":
            return format_timestamp(value, node.timestamp_format, "unixtimestamp")
        if kind == "blob":
            return blob_text(value)
        if kind in ("float", "double"):
            return _json_float(value)
        return value

    def render_error(self, error: AwsError, request_id: str) -> HttpResponse:
        document = {"__type": error.code, "message": error.message, **error.fields}
        return self._response(error.status, document, request_id)

    def _response(self, status: int, document: Any, request_id: str) -> HttpResponse:
        body = json.dumps(document, separators=(",", ":"), default=str).encode("utf-8")
        return HttpResponse(status, [("content-type", self.content_type), ("x-amzn-requestid", request_id)], body)


def _expect(kind: type, name: str) -> Callable[[Node, Any], Any]:
    def read(node: Node, raw: Any) -> Any:
        if not isinstance(raw, kind):
            raise BadValue(raw, name)
        return raw

    return read


def _read_int(node: Node, raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or (isinstance(raw, float) and not raw.is_integer()):
        raise BadValue(raw, "integer")
    return int(raw)


def _read_float(node: Node, raw: Any) -> float:
    if isinstance(raw, str) and raw in ("NaN", "Infinity", "-Infinity"):
        return float(raw.replace("Infinity", "inf"))
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise BadValue(raw, "number")
    return float(raw)


def _read_timestamp(node: Node, raw: Any) -> Any:
    if isinstance(raw, bool):
        raise BadValue(raw, "timestamp")
    if isinstance(raw, (int, float)):
        try:
            return epoch_to_datetime(raw)
        except (ValueError, OverflowError):
            raise BadValue(raw, "timestamp") from None
    if isinstance(raw, str):
        return parse_timestamp(raw)
    raise BadValue(raw, "timestamp")


def _read_blob(node: Node, raw: Any) -> bytes:
    if not isinstance(raw, str):
        raise BadValue(raw, "blob")
    return parse_blob(raw)


def _json_float(value: Any) -> Any:
    number = float(value)
    if number != number:
        return "NaN"
    if number in (float("inf"), float("-inf")):
        return "Infinity" if number > 0 else "-Infinity"
    return number
