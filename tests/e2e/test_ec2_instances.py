"""EC2 instances through boto3 and the real aws CLI: launch, describe (filters, pagination),
state transitions, status, metadata options, and EC2's error codes."""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import Any

import botocore.exceptions
import pytest

from keyless.testing import Server

ACCOUNT = "123456789012"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
INSTANCE_ID = re.compile(r"i-[0-9a-f]{17}")


def error_of(call: Any, *args: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(*args, **kwargs)
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"].get("Message", "")


def make_profile(server: Server, name: str) -> dict[str, Any]:
    iam = server.client("iam")
    iam.create_role(RoleName=name + "-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    profile = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name + "-role")
    return dict(profile)


@pytest.fixture(scope="module")
def ec2(server: Server) -> Any:
    return server.client("ec2")


@pytest.fixture(scope="module")
def profile(server: Server) -> dict[str, Any]:
    return make_profile(server, f"inst-{uuid.uuid4().hex[:8]}")


def launch(ec2: Any, **kw: Any) -> dict[str, Any]:
    params = {"ImageId": "ami-12345678", "InstanceType": "t3.micro", "MinCount": 1, "MaxCount": 1, **kw}
    return dict(ec2.run_instances(**params))


def test_run_instances_returns_a_pending_reservation(ec2: Any, profile: dict[str, Any]) -> None:
    user_data = "#!/bin/sh\necho hi\n"
    out = launch(ec2, IamInstanceProfile={"Name": profile["InstanceProfileName"]}, KeyName="my-key-pair",
                 UserData=user_data, TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"}]}])
    assert re.fullmatch(r"r-[0-9a-f]{17}", out["ReservationId"]) and out["OwnerId"] == ACCOUNT
    (instance,) = out["Instances"]
    assert INSTANCE_ID.fullmatch(instance["InstanceId"])
    assert instance["State"] == {"Code": 0, "Name": "pending"}
    assert instance["ImageId"] == "ami-12345678" and instance["InstanceType"] == "t3.micro"
    assert instance["KeyName"] == "my-key-pair"
    assert instance["IamInstanceProfile"] == {"Arn": profile["Arn"], "Id": profile["InstanceProfileId"]}
    assert re.fullmatch(r"172\.31\.\d+\.\d+", instance["PrivateIpAddress"])
    assert instance["PrivateDnsName"] == "ip-" + instance["PrivateIpAddress"].replace(".", "-") + ".ec2.internal"
    assert instance["Placement"]["AvailabilityZone"] == "us-east-1a"
    assert instance["Tags"] == [{"Key": "Name", "Value": "web"}]
    assert instance["MetadataOptions"]["HttpTokens"] == "optional"
    described = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert described["State"] == {"Code": 16, "Name": "running"}
    assert described["MetadataOptions"]["State"] == "applied"


def test_describe_filters_by_state_tag_and_profile(ec2: Any, profile: dict[str, Any]) -> None:
    tag = uuid.uuid4().hex
    with_profile = launch(ec2, IamInstanceProfile={"Arn": profile["Arn"]},
                          TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": tag}]}])
    bare = launch(ec2, TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": tag}]}])
    ids = {with_profile["Instances"][0]["InstanceId"], bare["Instances"][0]["InstanceId"]}

    def found(*filters: dict[str, Any]) -> set[str]:
        out = ec2.describe_instances(Filters=[{"Name": "tag:team", "Values": [tag]}, *filters])
        return {i["InstanceId"] for r in out["Reservations"] for i in r["Instances"]}

    assert found() == ids
    assert found({"Name": "iam-instance-profile.arn", "Values": [profile["Arn"]]}) == {with_profile["Instances"][0]["InstanceId"]}
    assert found({"Name": "instance-state-name", "Values": ["stopped"]}) == set()
    assert found({"Name": "instance-id", "Values": [bare["Instances"][0]["InstanceId"]]}) == {bare["Instances"][0]["InstanceId"]}
    assert found({"Name": "tag:team", "Values": [tag[:6] + "*"]}) == ids
    code, status, message = error_of(ec2.describe_instances, Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    assert (code, status) == ("InvalidParameterValue", 400) and "no-such-filter" in message


def test_describe_paginates_and_groups_by_reservation(ec2: Any) -> None:
    tag = uuid.uuid4().hex
    reservation = launch(ec2, MinCount=7, MaxCount=7,
                         TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "batch", "Value": tag}]}])
    assert len(reservation["Instances"]) == 7
    assert [i["AmiLaunchIndex"] for i in reservation["Instances"]] == list(range(7))
    paginator = ec2.get_paginator("describe_instances")
    pages = list(paginator.paginate(Filters=[{"Name": "tag:batch", "Values": [tag]}], PaginationConfig={"PageSize": 5}))
    assert len(pages) == 2
    seen = [i["InstanceId"] for p in pages for r in p["Reservations"] for i in r["Instances"]]
    assert seen == [i["InstanceId"] for i in reservation["Instances"]]
    assert {r["ReservationId"] for p in pages for r in p["Reservations"]} == {reservation["ReservationId"]}
    code, _, _ = error_of(ec2.describe_instances, InstanceIds=[seen[0]], MaxResults=5)
    assert code == "InvalidParameterCombination"


def test_stop_start_terminate_report_transitions(ec2: Any) -> None:
    instance_id = launch(ec2)["Instances"][0]["InstanceId"]
    stopping = ec2.stop_instances(InstanceIds=[instance_id])["StoppingInstances"][0]
    assert (stopping["PreviousState"], stopping["CurrentState"]) == ({"Code": 16, "Name": "running"}, {"Code": 64, "Name": "stopping"})
    assert ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"] == "stopped"
    starting = ec2.start_instances(InstanceIds=[instance_id])["StartingInstances"][0]
    assert (starting["PreviousState"]["Name"], starting["CurrentState"]["Name"]) == ("stopped", "pending")
    ec2.reboot_instances(InstanceIds=[instance_id])
    terminating = ec2.terminate_instances(InstanceIds=[instance_id])["TerminatingInstances"][0]
    assert terminating["CurrentState"] == {"Code": 32, "Name": "shutting-down"}
    described = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert described["State"] == {"Code": 48, "Name": "terminated"}
    assert described["StateTransitionReason"].startswith("User initiated (")
    code, status, message = error_of(ec2.start_instances, InstanceIds=[instance_id])
    assert (code, status) == ("IncorrectInstanceState", 400) and instance_id in message


def test_instance_status_lists_running_instances_unless_asked_for_all(ec2: Any) -> None:
    running_id = launch(ec2)["Instances"][0]["InstanceId"]
    stopped_id = launch(ec2)["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[stopped_id])
    statuses = ec2.describe_instance_status(InstanceIds=[running_id, stopped_id])["InstanceStatuses"]
    assert [s["InstanceId"] for s in statuses] == [running_id]
    assert statuses[0]["InstanceStatus"]["Status"] == "ok" and statuses[0]["InstanceState"]["Name"] == "running"
    every = ec2.describe_instance_status(InstanceIds=[running_id, stopped_id], IncludeAllInstances=True)["InstanceStatuses"]
    assert {s["InstanceId"]: s["InstanceState"]["Name"] for s in every} == {running_id: "running", stopped_id: "stopped"}


def test_unknown_and_malformed_instance_ids(ec2: Any) -> None:
    assert error_of(ec2.describe_instances, InstanceIds=["i-0123456789abcdef0"]) == (
        "InvalidInstanceID.NotFound", 400, "The instance ID 'i-0123456789abcdef0' does not exist")
    code, _, message = error_of(ec2.stop_instances, InstanceIds=["i-0123456789abcdef0", "i-0fedcba9876543210"])
    assert code == "InvalidInstanceID.NotFound" and message == "The instance IDs 'i-0123456789abcdef0, i-0fedcba9876543210' do not exist"
    assert error_of(ec2.terminate_instances, InstanceIds=["banana"])[0] == "InvalidInstanceID.Malformed"


def test_run_instances_validation_errors(ec2: Any) -> None:
    assert error_of(launch, ec2, ImageId="banana")[:2] == ("InvalidAMIID.Malformed", 400)
    assert error_of(launch, ec2, InstanceType="t9.enormous")[:2] == ("InvalidParameterValue", 400)
    assert error_of(launch, ec2, MinCount=3, MaxCount=2)[0] == "InvalidParameterValue"
    code, _, message = error_of(launch, ec2, IamInstanceProfile={"Name": "no-such-profile"})
    assert (code, message) == ("InvalidParameterValue", "Value (no-such-profile) for parameter iamInstanceProfile.name "
                                                         "is invalid. Invalid IAM Instance Profile name")
    code, _, message = error_of(launch, ec2, MetadataOptions={"HttpPutResponseHopLimit": 65})
    assert code == "InvalidParameterValue" and "httpPutResponseHopLimit" in message


def test_private_ip_address_is_honoured_and_unique(ec2: Any) -> None:
    address = f"172.31.250.{uuid.uuid4().int % 200 + 10}"
    assert launch(ec2, PrivateIpAddress=address)["Instances"][0]["PrivateIpAddress"] == address
    assert error_of(launch, ec2, PrivateIpAddress=address)[0] == "InvalidIPAddress.InUse"


def test_client_token_makes_run_instances_idempotent(ec2: Any) -> None:
    token = uuid.uuid4().hex
    first = launch(ec2, ClientToken=token)
    again = launch(ec2, ClientToken=token)
    assert again["ReservationId"] == first["ReservationId"]
    assert again["Instances"][0]["InstanceId"] == first["Instances"][0]["InstanceId"]


def test_dry_run_answers_dry_run_operation(ec2: Any) -> None:
    assert error_of(launch, ec2, DryRun=True)[:2] == ("DryRunOperation", 412)
    assert error_of(ec2.describe_instances, DryRun=True)[0] == "DryRunOperation"


def test_modify_instance_metadata_options_keeps_omitted_fields(ec2: Any) -> None:
    instance_id = launch(ec2, MetadataOptions={"InstanceMetadataTags": "enabled"})["Instances"][0]["InstanceId"]
    out = ec2.modify_instance_metadata_options(InstanceId=instance_id, HttpTokens="required", HttpPutResponseHopLimit=2)
    assert out["InstanceId"] == instance_id
    assert out["InstanceMetadataOptions"] == {"State": "pending", "HttpTokens": "required", "HttpPutResponseHopLimit": 2,
                                              "HttpEndpoint": "enabled", "HttpProtocolIpv6": "disabled",
                                              "InstanceMetadataTags": "enabled"}
    described = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["MetadataOptions"]
    assert described["State"] == "applied" and described["HttpTokens"] == "required"
    assert error_of(ec2.modify_instance_metadata_options, InstanceId=instance_id, HttpTokens="sometimes")[0] == "InvalidParameterValue"


def test_user_data_must_be_base64_within_limits(server: Server) -> None:
    # botocore base64-encodes UserData itself; a raw query shows what the server checks.
    from botocore.handlers import base64_encode_user_data

    ec2 = server.client("ec2")
    ec2.meta.events.unregister("before-parameter-build.ec2.RunInstances", base64_encode_user_data)
    assert error_of(launch, ec2, UserData="not base64!")[0] == "InvalidParameterValue"
    too_big = base64.b64encode(b"x" * (16 * 1024 + 1)).decode()
    assert error_of(launch, ec2, UserData=too_big)[0] == "InvalidParameterValue"


def test_cli_article_launch_and_metadata_commands(aws: Any, server: Server) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    make_profile(server, name)
    out = aws.json("ec2", "run-instances", "--image-id", "ami-12345678", "--instance-type", "t3.micro",
                   "--iam-instance-profile", f"Name={name}", "--key-name", "my-key-pair")
    instance_id = out["Instances"][0]["InstanceId"]
    assert INSTANCE_ID.fullmatch(instance_id)
    modified = aws.json("ec2", "modify-instance-metadata-options", "--instance-id", instance_id, "--http-tokens", "required")
    assert modified["InstanceMetadataOptions"]["HttpTokens"] == "required"
    listed = aws.json("ec2", "describe-instances", "--filters", f"Name=instance-id,Values={instance_id}")
    assert listed["Reservations"][0]["Instances"][0]["InstanceId"] == instance_id
    aws("ec2", "terminate-instances", "--instance-ids", instance_id)
