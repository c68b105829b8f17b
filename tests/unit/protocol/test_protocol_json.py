"""The json protocol (CloudTrail, DynamoDB): X-Amz-Target routing, JSON bodies, errors."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from keyless import errors
from keyless.protocol import protocol_for
from keyless.protocol.errors import SerializationException, UnknownOperationException, ValidationException
from keyless.protocol.http import HttpRequest
from protocol_oracle import botocore_parse, botocore_request, operation

LONG_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"


def request(target: str, body: bytes) -> HttpRequest:
    return HttpRequest("POST", "/", "", [("x-amz-target", target), ("content-type", "application/x-amz-json-1.1")], body)


def parse(req: HttpRequest) -> dict:
    proto = protocol_for("cloudtrail")
    return proto.parse(proto.match_operation(req), req)


@pytest.mark.parametrize("prefix", [LONG_PREFIX, "CloudTrail_20131101"])
def test_target_with_either_prefix(prefix: str) -> None:
    assert protocol_for("cloudtrail").match_operation(request(f"{prefix}.LookupEvents", b"{}")).name == "LookupEvents"


@pytest.mark.parametrize("target", ["", "LookupEvents", f"{LONG_PREFIX}.Nope", "DynamoDB_20120810.LookupEvents"])
def test_unknown_targets(target: str) -> None:
    with pytest.raises(UnknownOperationException) as exc:
        protocol_for("cloudtrail").match_operation(request(target, b"{}"))
    assert exc.value.status == 400


def test_body_members_and_epoch_timestamps() -> None:
    params = {"LookupAttributes": [{"AttributeKey": "Username", "AttributeValue": "admin"}],
              "StartTime": datetime(2026, 11, 28, 10, 0, 0, 123000, tzinfo=timezone.utc), "MaxResults": 10}
    req = botocore_request("cloudtrail", "LookupEvents", params)
    assert json.loads(req.body)["StartTime"] == 1795860000.123
    assert parse(req) == params


def test_iso_timestamps_are_accepted_too() -> None:
    req = request(f"{LONG_PREFIX}.LookupEvents", b'{"StartTime": "2026-11-28T10:00:00Z"}')
    assert parse(req) == {"StartTime": datetime(2026, 11, 28, 10, tzinfo=timezone.utc)}


@pytest.mark.parametrize("body", [b"{", b"[]", b"\xff\xfe", b'"text"', b"[" * 50_000])
def test_malformed_bodies_are_serialization_exceptions(body: bytes) -> None:
    with pytest.raises(SerializationException) as exc:
        parse(request(f"{LONG_PREFIX}.LookupEvents", body))
    assert exc.value.status == 400


def test_wrong_member_type_is_a_serialization_exception() -> None:
    with pytest.raises(SerializationException) as exc:
        parse(request(f"{LONG_PREFIX}.LookupEvents", b'{"MaxResults": "ten"}'))
    assert "MaxResults" in exc.value.message


def test_validation_exception_uses_the_coral_sentence() -> None:
    with pytest.raises(ValidationException) as exc:
        parse(request(f"{LONG_PREFIX}.LookupEvents", b'{"LookupAttributes": [{"AttributeKey": "Nope", "AttributeValue": "x"}]}'))
    assert exc.value.message == (
        "1 validation error detected: Value 'Nope' at 'lookupAttributes.1.member.attributeKey' failed to satisfy "
        "constraint: Member must satisfy enum value set: [EventId, EventName, ReadOnly, Username, ResourceType, "
        "ResourceName, EventSource, AccessKeyId]")


def test_empty_body_is_an_empty_input() -> None:
    assert parse(request(f"{LONG_PREFIX}.LookupEvents", b"")) == {}


def test_response_is_compact_json_with_epoch_seconds() -> None:
    op = operation("cloudtrail", "LookupEvents")
    output = {"Events": [{"EventId": "e-1", "EventTime": datetime(2026, 11, 28, 10, tzinfo=timezone.utc),
                          "Resources": []}], "NextToken": "t"}
    resp = protocol_for("cloudtrail").serialize(op, output, "r-1")
    assert resp.body == b'{"Events":[{"EventId":"e-1","EventTime":1795860000,"Resources":[]}],"NextToken":"t"}'
    assert ("content-type", "application/x-amz-json-1.1") in resp.headers and ("x-amzn-requestid", "r-1") in resp.headers
    parsed = botocore_parse("cloudtrail", op.output_shape, resp)
    assert parsed["Events"] == output["Events"] and parsed["ResponseMetadata"]["RequestId"] == "r-1"


def test_error_body_and_status() -> None:
    error = errors.error_class("InvalidLookupAttributesException", 400)("You cannot specify more than one lookup attribute.")
    resp = protocol_for("cloudtrail").serialize_error(error, "r-2")
    assert json.loads(resp.body) == {"__type": "InvalidLookupAttributesException",
                                     "message": "You cannot specify more than one lookup attribute."}
    parsed = botocore_parse("cloudtrail", None, resp)
    assert (parsed["Error"]["Code"], parsed["ResponseMetadata"]["HTTPStatusCode"]) == ("InvalidLookupAttributesException", 400)


def test_dynamodb_speaks_json_1_0() -> None:
    proto = protocol_for("dynamodb")
    params = {"TableName": "t", "Key": {"pk": {"S": "a"}, "n": {"L": [{"N": "1"}, {"M": {"x": {"BOOL": True}}}]}}}
    req = botocore_request("dynamodb", "GetItem", params)
    assert proto.parse(proto.match_operation(req), req) == params
    resp = proto.serialize(operation("dynamodb", "GetItem"), {"Item": params["Key"]}, "r-3")
    assert ("content-type", "application/x-amz-json-1.0") in resp.headers
    assert botocore_parse("dynamodb", operation("dynamodb", "GetItem").output_shape, resp)["Item"] == params["Key"]
