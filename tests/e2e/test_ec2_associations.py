"""Instance-profile associations through boto3 and the real aws CLI: states, ids, errors, filters."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import botocore.exceptions
import pytest

from keyless.testing import Server

TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
ASSOCIATION_ID = re.compile(r"iip-assoc-[0-9a-f]{17}")


def error_of(call: Any, *args: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(*args, **kwargs)
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"].get("Message", "")


def make_profile(server: Server, name: str, *, with_role: bool = True) -> dict[str, Any]:
    iam = server.client("iam")
    profile = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    if with_role:
        iam.create_role(RoleName=name + "-role", AssumeRolePolicyDocument=json.dumps(TRUST))
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name + "-role")
    return dict(profile)


@pytest.fixture(scope="module")
def ec2(server: Server) -> Any:
    return server.client("ec2")


@pytest.fixture(scope="module")
def profiles(server: Server) -> tuple[dict[str, Any], dict[str, Any]]:
    suffix = uuid.uuid4().hex[:8]
    return make_profile(server, f"first-{suffix}"), make_profile(server, f"second-{suffix}")


def bare_instance(ec2: Any) -> str:
    return str(ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"])


def associations_of(ec2: Any, instance_id: str, *states: str) -> list[dict[str, Any]]:
    filters = [{"Name": "instance-id", "Values": [instance_id]}]
    if states:
        filters.append({"Name": "state", "Values": list(states)})
    return list(ec2.describe_iam_instance_profile_associations(Filters=filters)["IamInstanceProfileAssociations"])


def test_associate_then_describe_then_second_association_is_incorrect_state(ec2: Any, profiles: Any) -> None:
    first, _ = profiles
    instance_id = bare_instance(ec2)
    out = ec2.associate_iam_instance_profile(InstanceId=instance_id, IamInstanceProfile={"Name": first["InstanceProfileName"]})
    association = out["IamInstanceProfileAssociation"]
    assert ASSOCIATION_ID.fullmatch(association["AssociationId"])
    assert association["State"] == "associating" and association["InstanceId"] == instance_id
    assert association["IamInstanceProfile"] == {"Arn": first["Arn"], "Id": first["InstanceProfileId"]}
    (described,) = associations_of(ec2, instance_id)
    assert described["AssociationId"] == association["AssociationId"] and described["State"] == "associated"
    code, status, message = error_of(ec2.associate_iam_instance_profile, InstanceId=instance_id,
                                     IamInstanceProfile={"Arn": first["Arn"]})
    assert (code, status, message) == ("IncorrectState", 400, f"There is an existing association for instance {instance_id}")
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert instance["IamInstanceProfile"]["Arn"] == first["Arn"]


def test_replace_gives_a_new_association_and_ends_the_old(ec2: Any, profiles: Any) -> None:
    first, second = profiles
    instance_id = bare_instance(ec2)
    old = ec2.associate_iam_instance_profile(InstanceId=instance_id, IamInstanceProfile={"Arn": first["Arn"]})
    old_id = old["IamInstanceProfileAssociation"]["AssociationId"]
    new = ec2.replace_iam_instance_profile_association(
        AssociationId=old_id, IamInstanceProfile={"Name": second["InstanceProfileName"]})["IamInstanceProfileAssociation"]
    assert new["AssociationId"] != old_id and new["State"] == "associating"
    assert new["IamInstanceProfile"]["Arn"] == second["Arn"]
    assert [a["AssociationId"] for a in associations_of(ec2, instance_id)] == [new["AssociationId"]]
    assert [a["AssociationId"] for a in associations_of(ec2, instance_id, "disassociated")] == [old_id]
    assert error_of(ec2.replace_iam_instance_profile_association, AssociationId=old_id,
                    IamInstanceProfile={"Arn": first["Arn"]})[0] == "InvalidAssociationID.NotFound"


def test_replace_needs_a_running_instance(ec2: Any, profiles: Any) -> None:
    first, second = profiles
    instance_id = bare_instance(ec2)
    association = ec2.associate_iam_instance_profile(InstanceId=instance_id, IamInstanceProfile={"Arn": first["Arn"]})
    ec2.stop_instances(InstanceIds=[instance_id])
    code, _, _ = error_of(ec2.replace_iam_instance_profile_association,
                          AssociationId=association["IamInstanceProfileAssociation"]["AssociationId"],
                          IamInstanceProfile={"Arn": second["Arn"]})
    assert code == "IncorrectState"


def test_disassociate_reports_disassociating_and_frees_the_instance(ec2: Any, profiles: Any) -> None:
    first, _ = profiles
    instance_id = bare_instance(ec2)
    association_id = ec2.associate_iam_instance_profile(
        InstanceId=instance_id, IamInstanceProfile={"Arn": first["Arn"]})["IamInstanceProfileAssociation"]["AssociationId"]
    out = ec2.disassociate_iam_instance_profile(AssociationId=association_id)["IamInstanceProfileAssociation"]
    assert out["State"] == "disassociating" and out["AssociationId"] == association_id
    assert associations_of(ec2, instance_id) == []
    assert "IamInstanceProfile" not in ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert error_of(ec2.disassociate_iam_instance_profile, AssociationId=association_id)[0] == "InvalidAssociationID.NotFound"
    ec2.associate_iam_instance_profile(InstanceId=instance_id, IamInstanceProfile={"Arn": first["Arn"]})  # free again


def test_association_errors_in_ec2_words(server: Server, ec2: Any) -> None:
    instance_id = bare_instance(ec2)
    empty = make_profile(server, f"empty-{uuid.uuid4().hex[:8]}", with_role=False)
    code, _, message = error_of(ec2.associate_iam_instance_profile, InstanceId=instance_id,
                                IamInstanceProfile={"Arn": empty["Arn"]})
    assert (code, message) == ("InvalidParameterValue", f'IAM Instance Profile "{empty["Arn"]}" has no associated IAM Roles')
    bad_arn = "arn:aws:iam::123456789012:instance-profile/nope"
    code, _, message = error_of(ec2.associate_iam_instance_profile, InstanceId=instance_id, IamInstanceProfile={"Arn": bad_arn})
    assert message == f"Value ({bad_arn}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN"
    code, _, message = error_of(ec2.associate_iam_instance_profile, InstanceId="i-0123456789abcdef0",
                                IamInstanceProfile={"Arn": bad_arn})
    assert code == "InvalidInstanceID.NotFound"
    assert error_of(ec2.describe_iam_instance_profile_associations,
                    AssociationIds=["iip-assoc-0123456789abcdef0"])[0] == "InvalidAssociationID.NotFound"


def test_cli_article_association_commands(aws: Any, server: Server, profiles: Any) -> None:
    first, second = profiles
    instance_id = aws.json("ec2", "run-instances", "--image-id", "ami-12345678", "--instance-type", "t3.micro")["Instances"][0]["InstanceId"]
    associated = aws.json("ec2", "associate-iam-instance-profile", "--iam-instance-profile",
                          f"Name={first['InstanceProfileName']}", "--instance-id", instance_id)
    association_id = associated["IamInstanceProfileAssociation"]["AssociationId"]
    listed = aws.json("ec2", "describe-iam-instance-profile-associations", "--filters", f"Name=instance-id,Values={instance_id}")
    assert [a["AssociationId"] for a in listed["IamInstanceProfileAssociations"]] == [association_id]
    replaced = aws.json("ec2", "replace-iam-instance-profile-association", "--association-id", association_id,
                        "--iam-instance-profile", f"Name={second['InstanceProfileName']}")
    assert replaced["IamInstanceProfileAssociation"]["IamInstanceProfile"]["Arn"] == second["Arn"]
