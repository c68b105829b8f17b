"""Requests built by botocore's own serializer parse back to the parameters botocore was given.

For every service keyless speaks, hypothesis picks an operation, generates valid input from
botocore's shapes, serializes it with botocore (query, ec2, json, rest-xml), and checks that
keyless.protocol finds the same operation and returns the same typed parameters.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, currently_in_test_context, example, given, note, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "protocol"))

from protocol_oracle import Values, botocore_request, minimal_input, operation, wire_survivors  # noqa: E402

from keyless.protocol import protocol_for  # noqa: E402

# Operations whose wire form is identical to another's; keyless routes to the first-named one.
SAME_WIRE = {
    "ListDirectoryBuckets": "ListBuckets",
    "GetBucketLifecycle": "GetBucketLifecycleConfiguration",
    "PutBucketLifecycle": "PutBucketLifecycleConfiguration",
    "GetBucketNotification": "GetBucketNotificationConfiguration",
    "PutBucketNotification": "PutBucketNotificationConfiguration",
}


def _operations(service: str, *, sampled: bool = False) -> list[str]:
    model = protocol_for(service).service_model
    names = []
    for name in model.operation_names:
        op = model.operation_model(name)
        if (op.endpoint or {}).get("hostPrefix"):  # the operation lives on another host
            continue
        if sampled and name in SAME_WIRE and op.deprecated:
            # PutBucketNotification's TopicConfiguration has both Event and Events (flattened as
            # <Event>): its XML is ambiguous. Its successor has the same wire form and is sampled.
            continue
        names.append(name)
    return names


SERVICES = ("iam", "sts", "ec2", "s3", "cloudtrail")
OPERATIONS = {service: _operations(service) for service in SERVICES}
SAMPLED = {service: _operations(service, sampled=True) for service in SERVICES}
VALUES = {service: Values(protocol_for(service).name, "input") for service in OPERATIONS}


@st.composite
def requests(draw: st.DrawFn, service: str) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(SAMPLED[service]))
    op = operation(service, name)
    params = {} if op.input_shape is None else draw(VALUES[service].for_shape(op.input_shape))
    return name, params


def _note(text: str) -> None:
    if currently_in_test_context():
        note(text)


def check_round_trip(service: str, name: str, params: dict[str, Any]) -> None:
    _note(f"{service} {name} {params!r}")
    proto = protocol_for(service)
    req = botocore_request(service, name, params)
    _note(f"{req.method} {req.raw_path}?{req.query_string} {req.headers} {req.body[:500]!r}")
    op = proto.match_operation(req)
    assert op.name == name or SAME_WIRE.get(name) == op.name
    parsed = proto.parse(operation(service, name), req)
    expected = {} if op.input_shape is None else wire_survivors(operation(service, name).input_shape, params, proto.name)
    _implied_by_http(service, name, req, expected, parsed)
    assert parsed == expected


def _implied_by_http(service: str, name: str, req: Any, expected: dict[str, Any], parsed: dict[str, Any]) -> None:
    """Members HTTP itself fills in: Content-Length, and an empty streaming body."""
    shape = operation(service, name).input_shape
    if shape is None:
        return
    for member_name, member in shape.members.items():
        if member.serialization.get("name", "").lower() == "content-length" and member_name not in expected:
            parsed.pop(member_name, None)
    payload = shape.serialization.get("payload")
    if payload and shape.members[payload].serialization.get("streaming"):
        expected.setdefault(payload, b"")
        if isinstance(expected[payload], str):
            expected[payload] = expected[payload].encode("utf-8")


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@SETTINGS
@given(requests("iam"))
@example(("CreateRole", {"RoleName": "r", "AssumeRolePolicyDocument": "{}", "Tags": [{"Key": "k", "Value": ""}]}))
def test_iam_requests_round_trip(case: tuple[str, dict[str, Any]]) -> None:
    check_round_trip("iam", *case)


@SETTINGS
@given(requests("sts"))
@example(("AssumeRole", {"RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": "dev",
                         "Tags": [], "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}]}))
def test_sts_requests_round_trip(case: tuple[str, dict[str, Any]]) -> None:
    check_round_trip("sts", *case)


@SETTINGS
@given(requests("ec2"))
@example(("DescribeInstances", {"Filters": [{"Name": "instance-state-name", "Values": ["running"]}],
                                "InstanceIds": ["i-0123456789abcdef0"]}))
def test_ec2_requests_round_trip(case: tuple[str, dict[str, Any]]) -> None:
    check_round_trip("ec2", *case)


@SETTINGS
@given(requests("s3"))
@example(("PutObject", {"Bucket": "b", "Key": "a/b c+d%", "Body": b"x", "Metadata": {"k": "v"}}))
@example(("UploadPartCopy", {"Bucket": "b", "Key": "k", "UploadId": "u", "PartNumber": 2, "CopySource": "s/k"}))
def test_s3_requests_round_trip(case: tuple[str, dict[str, Any]]) -> None:
    check_round_trip("s3", *case)


@SETTINGS
@given(requests("cloudtrail"))
def test_cloudtrail_requests_round_trip(case: tuple[str, dict[str, Any]]) -> None:
    check_round_trip("cloudtrail", *case)


@pytest.mark.parametrize("service", ["iam", "sts", "ec2", "s3", "cloudtrail"])
def test_every_operation_round_trips(service: str) -> None:
    """Every operation of the model (not only the sampled ones), with its smallest valid input."""
    proto_name = protocol_for(service).name
    unexpressible = []
    for name in OPERATIONS[service]:
        shape = operation(service, name).input_shape
        try:
            params = {} if shape is None else minimal_input(shape, proto_name)
        except LookupError:
            unexpressible.append(name)
            continue
        check_round_trip(service, name, params)
    assert len(unexpressible) <= len(OPERATIONS[service]) // 20, unexpressible
