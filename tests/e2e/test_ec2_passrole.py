"""iam:PassRole and EC2's UnauthorizedOperation: a user allowed ec2:* but not iam:PassRole cannot
launch or associate with a profile; the denial names the role and carries an encoded message that
this server can decode."""

from __future__ import annotations

import json
import uuid
from typing import Any

import botocore.exceptions
import pytest

from keyless.services.ec2.authorization import decode_authorization_message
from keyless.testing import Server

ACCOUNT = "123456789012"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
ENCODED = "Encoded authorization failure message: "


def error_of(call: Any, *args: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(*args, **kwargs)
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"].get("Message", "")


def make_user(server: Server, name: str, statements: list[dict[str, Any]]) -> dict[str, str]:
    iam = server.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


@pytest.fixture(scope="module")
def setup(server: Server) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    iam = server.client("iam")
    role = iam.create_role(RoleName=f"pass-{suffix}", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
    profile = iam.create_instance_profile(InstanceProfileName=f"pass-{suffix}")["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName=profile["InstanceProfileName"], RoleName=role["RoleName"])
    ec2_only = make_user(server, f"ec2-only-{suffix}", [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}])
    passer = make_user(server, f"passer-{suffix}", [
        {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role["Arn"],
         "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}}])
    wrong_service = make_user(server, f"lambda-passer-{suffix}", [
        {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role["Arn"],
         "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}])
    nothing = make_user(server, f"nothing-{suffix}", [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}])
    return {"role": role, "profile": profile, "ec2_only": ec2_only, "passer": passer, "wrong_service": wrong_service,
            "nothing": nothing, "suffix": suffix}


def run(server: Server, creds: dict[str, str], profile: dict[str, Any] | None) -> Any:
    params: dict[str, Any] = {"ImageId": "ami-12345678", "MinCount": 1, "MaxCount": 1}
    if profile is not None:
        params["IamInstanceProfile"] = {"Name": profile["InstanceProfileName"]}
    return server.client("ec2", **creds).run_instances(**params)


def test_launch_with_profile_needs_pass_role(server: Server, setup: dict[str, Any]) -> None:
    code, status, message = error_of(run, server, setup["ec2_only"], setup["profile"])
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/ec2-only-{setup['suffix']}"
    assert (code, status) == ("UnauthorizedOperation", 403)
    assert message.startswith(
        f"You are not authorized to perform this operation. User: {user_arn} is not authorized to perform: "
        f"iam:PassRole on resource: {setup['role']['Arn']} because no identity-based policy allows the iam:PassRole action. "
        f"{ENCODED}")


def test_launch_without_profile_needs_no_pass_role(server: Server, setup: dict[str, Any]) -> None:
    assert run(server, setup["ec2_only"], None)["Instances"][0]["State"]["Name"] == "pending"


def test_pass_role_for_ec2_allows_launch_and_association(server: Server, setup: dict[str, Any]) -> None:
    out = run(server, setup["passer"], setup["profile"])
    assert out["Instances"][0]["IamInstanceProfile"]["Arn"] == setup["profile"]["Arn"]
    ec2 = server.client("ec2", **setup["passer"])
    bare = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.associate_iam_instance_profile(InstanceId=bare, IamInstanceProfile={"Arn": setup["profile"]["Arn"]})


def test_pass_role_to_another_service_does_not_count(server: Server, setup: dict[str, Any]) -> None:
    assert error_of(run, server, setup["wrong_service"], setup["profile"])[0] == "UnauthorizedOperation"


def test_associate_and_replace_check_pass_role(server: Server, setup: dict[str, Any]) -> None:
    admin_ec2 = server.client("ec2")
    instance_id = admin_ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2 = server.client("ec2", **setup["ec2_only"])
    code, _, message = error_of(ec2.associate_iam_instance_profile, InstanceId=instance_id,
                                IamInstanceProfile={"Arn": setup["profile"]["Arn"]})
    assert code == "UnauthorizedOperation" and "iam:PassRole" in message
    association = admin_ec2.associate_iam_instance_profile(
        InstanceId=instance_id, IamInstanceProfile={"Arn": setup["profile"]["Arn"]})["IamInstanceProfileAssociation"]
    code, _, message = error_of(ec2.replace_iam_instance_profile_association, AssociationId=association["AssociationId"],
                                IamInstanceProfile={"Arn": setup["profile"]["Arn"]})
    assert code == "UnauthorizedOperation" and "iam:PassRole" in message
    ec2.disassociate_iam_instance_profile(AssociationId=association["AssociationId"])  # no role is passed


def test_ec2_action_denial_names_the_instance_and_decodes(server: Server, setup: dict[str, Any]) -> None:
    code, status, message = error_of(server.client("ec2", **setup["nothing"]).describe_instances)
    assert (code, status) == ("UnauthorizedOperation", 403)
    assert "is not authorized to perform: ec2:DescribeInstances because no identity-based policy allows" in message
    decoded = decode_authorization_message(message.split(ENCODED, 1)[1], server.app.state.master_key)
    assert decoded["allowed"] is False and decoded["explicitDeny"] is False
    assert decoded["context"]["action"] == "ec2:DescribeInstances"
    assert decoded["context"]["principal"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/nothing-{setup['suffix']}"


def test_pass_role_denial_decodes_with_the_passed_to_service_key(server: Server, setup: dict[str, Any]) -> None:
    message = error_of(run, server, setup["ec2_only"], setup["profile"])[2]
    decoded = decode_authorization_message(message.split(ENCODED, 1)[1], server.app.state.master_key)
    assert decoded["context"]["resource"] == setup["role"]["Arn"]
    keys = {item["key"]: item["values"]["items"][0]["value"] for item in decoded["context"]["conditions"]["items"]}
    assert keys["iam:PassedToService"] == "ec2.amazonaws.com"


def test_instance_actions_honour_resource_tags(server: Server, setup: dict[str, Any]) -> None:
    admin_ec2 = server.client("ec2")
    tagged = admin_ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "env", "Value": "dev"}]}])["Instances"][0]["InstanceId"]
    other = admin_ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    creds = make_user(server, f"dev-stopper-{setup['suffix']}", [{
        "Effect": "Allow", "Action": "ec2:StopInstances", "Resource": "*",
        "Condition": {"StringEquals": {"ec2:ResourceTag/env": "dev"}}}])
    ec2 = server.client("ec2", **creds)
    assert ec2.stop_instances(InstanceIds=[tagged])["StoppingInstances"][0]["CurrentState"]["Name"] == "stopping"
    code, _, message = error_of(ec2.stop_instances, InstanceIds=[other])
    assert code == "UnauthorizedOperation" and f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{other}" in message
