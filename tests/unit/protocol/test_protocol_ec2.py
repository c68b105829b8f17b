"""The ec2 protocol: Name.N lists, EC2's own error codes and sentences, its response envelope."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from keyless import errors
from keyless.protocol import protocol_for
from keyless.protocol.errors import UnknownParameter
from keyless.protocol.http import HttpRequest
from protocol_oracle import botocore_parse, botocore_request, operation


def parse(req: HttpRequest) -> dict[str, Any]:
    proto = protocol_for("ec2")
    return proto.parse(proto.match_operation(req), req)


def form(body: str) -> HttpRequest:
    return HttpRequest("POST", "/", "", [("content-type", "application/x-www-form-urlencoded")],
                       f"Version=2016-11-15&{body}".encode())


def test_filters_and_ids_use_ec2_names() -> None:
    req = botocore_request("ec2", "DescribeInstances", {
        "InstanceIds": ["i-0123456789abcdef0", "i-0123456789abcdef1"],
        "Filters": [{"Name": "instance-state-name", "Values": ["running", "stopped"]}], "MaxResults": 5})
    assert b"InstanceId.2=i-0123456789abcdef1" in req.body and b"Filter.1.Value.2=stopped" in req.body
    assert parse(req) == {"InstanceIds": ["i-0123456789abcdef0", "i-0123456789abcdef1"],
                          "Filters": [{"Name": "instance-state-name", "Values": ["running", "stopped"]}], "MaxResults": 5}


def test_query_name_wins_over_location_name() -> None:
    params = {"ImageId": "ami-1", "MinCount": 1, "MaxCount": 1,
              "NetworkInterfaces": [{"DeviceIndex": 0, "PrivateIpAddresses": [{"PrivateIpAddress": "10.0.0.5"}],
                                     "Ipv6Addresses": [{"Ipv6Address": "::1"}]}]}
    req = botocore_request("ec2", "RunInstances", params)
    assert b"NetworkInterface.1.PrivateIpAddresses.1.PrivateIpAddress=10.0.0.5" in req.body
    assert parse(req) == params


def test_timestamps_and_booleans() -> None:
    start = datetime(2026, 11, 28, 10, 0, 0, 250000, tzinfo=timezone.utc)
    params = {"StartTime": start, "DryRun": False, "InstanceTypes": ["t3.micro"]}
    assert parse(botocore_request("ec2", "DescribeSpotPriceHistory", params)) == params


def test_unknown_parameter_is_refused() -> None:
    with pytest.raises(UnknownParameter) as exc:
        parse(form("Action=DescribeInstances&Description=x"))
    assert (exc.value.status, exc.value.message) == (400, "The parameter Description is not recognized")


def test_signature_v2_and_presign_parameters_are_not_unknown() -> None:
    assert parse(form("Action=DescribeInstances&AWSAccessKeyId=AKIA&Timestamp=now&X-Amz-Date=x")) == {}


def test_missing_parameter_names_the_wire_parameter() -> None:
    with pytest.raises(errors.MissingParameter) as exc:
        parse(form("Action=ModifyInstanceMetadataOptions&HttpTokens=required"))
    assert (exc.value.status, exc.value.message) == (400, "The request must contain the parameter InstanceId")


def test_nested_missing_parameter_is_named_by_its_wire_path() -> None:
    with pytest.raises(errors.MissingParameter) as exc:
        parse(form("Action=CreateFleet&LaunchTemplateConfigs.1.LaunchTemplateSpecification.Version=1"
                   "&TargetCapacitySpecification.DefaultTargetCapacityType=spot"))
    assert exc.value.message == "The request must contain the parameter TargetCapacitySpecification.TotalTargetCapacity"


def test_bad_enum_is_invalid_parameter_value() -> None:
    with pytest.raises(errors.InvalidParameterValue) as exc:
        parse(form("Action=ModifyInstanceMetadataOptions&InstanceId=i-1&HttpTokens=sometimes"))
    assert exc.value.status == 400
    assert exc.value.message.startswith("Value (sometimes) for parameter httpTokens is invalid.")


def test_bad_integer_is_invalid_parameter_value() -> None:
    with pytest.raises(errors.InvalidParameterValue) as exc:
        parse(form("Action=ModifyInstanceMetadataOptions&InstanceId=i-1&HttpPutResponseHopLimit=two"))
    assert exc.value.message.startswith("Value (two) for parameter httpPutResponseHopLimit is invalid.")


def test_unknown_action() -> None:
    with pytest.raises(errors.InvalidAction) as exc:
        protocol_for("ec2").match_operation(form("Action=LaunchRockets"))
    assert exc.value.message == "The action LaunchRockets is not valid for this web service."


def test_response_envelope_and_item_lists() -> None:
    op = operation("ec2", "DescribeInstances")
    output = {"Reservations": [{"ReservationId": "r-1", "OwnerId": "123456789012", "Instances": [{
        "InstanceId": "i-1", "State": {"Code": 16, "Name": "running"}, "EbsOptimized": False,
        "LaunchTime": datetime(2026, 11, 28, 10, tzinfo=timezone.utc)}]}]}
    resp = protocol_for("ec2").serialize(op, output, "r-9")
    body = resp.body.decode()
    assert body.startswith('<?xml version="1.0" encoding="UTF-8"?><DescribeInstancesResponse '
                           'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-9</requestId><reservationSet><item>')
    assert "<instanceState><code>16</code><name>running</name></instanceState>" in body
    parsed = botocore_parse("ec2", op.output_shape, resp)
    assert parsed["ResponseMetadata"]["RequestId"] == "r-9"
    assert parsed["Reservations"] == output["Reservations"]


def test_error_envelope_says_request_id_in_capitals() -> None:
    resp = protocol_for("ec2").serialize_error(errors.error_class("InvalidInstanceID.NotFound", 400)(
        "The instance ID 'i-1' does not exist"), "r-10")
    assert resp.body == (b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>'
                         b"<Code>InvalidInstanceID.NotFound</Code><Message>The instance ID 'i-1' does not exist</Message>"
                         b"</Error></Errors><RequestID>r-10</RequestID></Response>")
    parsed = botocore_parse("ec2", None, resp)
    assert parsed["Error"]["Code"] == "InvalidInstanceID.NotFound"
    assert parsed["ResponseMetadata"]["RequestId"] == "r-10"
