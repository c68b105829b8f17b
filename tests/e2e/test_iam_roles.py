"""IAM roles, role tags, inline/attached role policies, boundaries and instance profiles, through boto3."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Callable

import botocore.exceptions
import pytest

from keyless.testing import Server

ACCOUNT = "123456789012"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
READ = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def aws_error(fn: Callable[[], Any]) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        fn()
    resp = info.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Message"]


@pytest.fixture
def iam(server: Server) -> Any:
    return server.client("iam")


def unchecked(server: Server) -> Any:
    """A client that skips botocore's own parameter checks, to see the server's."""
    from botocore.config import Config

    return server.session().client("iam", endpoint_url=server.endpoint, config=Config(
        parameter_validation=False, retries={"max_attempts": 1, "mode": "standard"}))


def make_role(iam: Any, **kw: Any) -> dict[str, Any]:
    return iam.create_role(RoleName=kw.pop("RoleName", uniq("role")), AssumeRolePolicyDocument=json.dumps(TRUST), **kw)["Role"]


def test_create_get_list_delete_role(iam: Any) -> None:
    role = make_role(iam, Path="/svc/", Description="app role", MaxSessionDuration=7200, Tags=[{"Key": "k", "Value": "v"}])
    name = role["RoleName"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/svc/{name}" and re.fullmatch(r"AROA[A-Z0-9]{17}", role["RoleId"])
    assert role["AssumeRolePolicyDocument"] == TRUST and role["Description"] == "app role"
    got = iam.get_role(RoleName=name)["Role"]
    assert (got["MaxSessionDuration"], got["Tags"], got["RoleLastUsed"]) == (7200, [{"Key": "k", "Value": "v"}], {})
    listed = {r["RoleName"]: r for r in iam.list_roles(PathPrefix="/svc/")["Roles"]}
    assert listed[name]["AssumeRolePolicyDocument"] == TRUST and "Tags" not in listed[name]
    assert aws_error(lambda: make_role(iam, RoleName=name.upper())) == (
        "EntityAlreadyExists", 409, f"Role with name {name.upper()} already exists.")
    iam.delete_role(RoleName=name)
    assert aws_error(lambda: iam.get_role(RoleName=name)) == ("NoSuchEntity", 404, f"The role with name {name} cannot be found.")


def test_update_role_description_and_duration(server: Server, iam: Any) -> None:
    name = make_role(iam)["RoleName"]
    iam.update_role(RoleName=name, Description="first", MaxSessionDuration=43200)
    got = iam.get_role(RoleName=name)["Role"]
    assert (got["Description"], got["MaxSessionDuration"]) == ("first", 43200)
    assert iam.update_role_description(RoleName=name, Description="second")["Role"]["Description"] == "second"
    code, status, _ = aws_error(lambda: unchecked(server).update_role(RoleName=name, MaxSessionDuration=100))
    assert (code, status) == ("ValidationError", 400)


def test_update_assume_role_policy(iam: Any) -> None:
    name = make_role(iam)["RoleName"]
    new = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(new))
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == new
    ghost = f"arn:aws:iam::{ACCOUNT}:role/{uniq('ghost')}"
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ghost}, "Action": "sts:AssumeRole"}]}
    assert aws_error(lambda: iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(bad))) == (
        "MalformedPolicyDocument", 400, f'Invalid principal in policy: "AWS":"{ghost}"')
    code, status, _ = aws_error(lambda: iam.update_assume_role_policy(RoleName=name, PolicyDocument="{"))
    assert (code, status) == ("MalformedPolicyDocument", 400)


def test_role_tags(iam: Any) -> None:
    name = make_role(iam)["RoleName"]
    iam.tag_role(RoleName=name, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    iam.untag_role(RoleName=name, TagKeys=["a"])
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "b", "Value": "2"}]
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]  # 51 with "b"
    assert aws_error(lambda: iam.tag_role(RoleName=name, Tags=too_many))[:2] == ("LimitExceeded", 409)


def test_role_inline_policies(iam: Any) -> None:
    name = make_role(iam)["RoleName"]
    iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=json.dumps(READ))
    assert iam.get_role_policy(RoleName=name, PolicyName="read")["PolicyDocument"] == READ
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["read"]
    assert aws_error(lambda: iam.delete_role(RoleName=name)) == (
        "DeleteConflict", 409, "Cannot delete entity, must delete policies first.")
    big = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::" + "y" * 3400}]}
    for i in range(2):
        iam.put_role_policy(RoleName=name, PolicyName=f"big{i}", PolicyDocument=json.dumps(big))
    assert aws_error(lambda: iam.put_role_policy(RoleName=name, PolicyName="big2", PolicyDocument=json.dumps(big))) == (
        "LimitExceeded", 409, f"Maximum policy size of 10240 bytes exceeded for role {name}")
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    assert aws_error(lambda: iam.delete_role_policy(RoleName=name, PolicyName="read")) == (
        "NoSuchEntity", 404, "The role policy with name read cannot be found.")
    iam.delete_role(RoleName=name)


def test_role_attached_policies_and_boundary(server: Server, iam: Any) -> None:
    boundary = "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess"
    role = make_role(iam, PermissionsBoundary=boundary)
    name = role["RoleName"]
    assert iam.get_role(RoleName=name)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == [
        {"PolicyName": "AmazonS3ReadOnlyAccess", "PolicyArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}]
    assert aws_error(lambda: iam.delete_role(RoleName=name))[2] == "Cannot delete entity, must detach all policies first."
    iam.detach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    iam.delete_role_permissions_boundary(RoleName=name)
    assert "PermissionsBoundary" not in iam.get_role(RoleName=name)["Role"]
    iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary)
    bad = "arn:aws:iam::aws:not-a-policy/x"
    assert aws_error(lambda: iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=bad)) == (
        "InvalidInput", 400, f"Value ({bad}) for parameter PermissionsBoundary is invalid.")
    iam.delete_role(RoleName=name)


def test_instance_profiles(iam: Any) -> None:
    role = make_role(iam)
    other = make_role(iam)
    profile_name = uniq("profile")
    profile = iam.create_instance_profile(InstanceProfileName=profile_name, Path="/apps/")["InstanceProfile"]
    assert profile["Arn"] == f"arn:aws:iam::{ACCOUNT}:instance-profile/apps/{profile_name}"
    assert re.fullmatch(r"AIPA[A-Z0-9]{17}", profile["InstanceProfileId"])
    assert aws_error(lambda: iam.create_instance_profile(InstanceProfileName=profile_name)) == (
        "EntityAlreadyExists", 409, f"Instance Profile {profile_name} already exists.")
    iam.add_role_to_instance_profile(InstanceProfileName=profile_name, RoleName=role["RoleName"])
    assert aws_error(lambda: iam.add_role_to_instance_profile(InstanceProfileName=profile_name, RoleName=other["RoleName"])) == (
        "LimitExceeded", 409, "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1")
    got = iam.get_instance_profile(InstanceProfileName=profile_name)["InstanceProfile"]
    assert [(r["RoleName"], r["AssumeRolePolicyDocument"]) for r in got["Roles"]] == [(role["RoleName"], TRUST)]
    listed = {p["InstanceProfileName"]: p for p in iam.list_instance_profiles(PathPrefix="/apps/")["InstanceProfiles"]}
    assert [r["RoleId"] for r in listed[profile_name]["Roles"]] == [role["RoleId"]]
    for_role = iam.list_instance_profiles_for_role(RoleName=role["RoleName"])["InstanceProfiles"]
    assert [p["InstanceProfileId"] for p in for_role] == [profile["InstanceProfileId"]]
    assert aws_error(lambda: iam.delete_role(RoleName=role["RoleName"])) == (
        "DeleteConflict", 409, "Cannot delete entity, must remove roles from instance profile first.")
    assert aws_error(lambda: iam.delete_instance_profile(InstanceProfileName=profile_name))[:2] == ("DeleteConflict", 409)
    iam.remove_role_from_instance_profile(InstanceProfileName=profile_name, RoleName=role["RoleName"])
    assert iam.list_instance_profiles_for_role(RoleName=role["RoleName"])["InstanceProfiles"] == []
    iam.delete_instance_profile(InstanceProfileName=profile_name)
    assert aws_error(lambda: iam.get_instance_profile(InstanceProfileName=profile_name)) == (
        "NoSuchEntity", 404, f"Instance Profile {profile_name} cannot be found.")
    iam.delete_role(RoleName=role["RoleName"])


def test_list_roles_paginates(iam: Any) -> None:
    prefix = f"/{uniq('rp')}/"
    names = sorted(make_role(iam, Path=prefix)["RoleName"] for _ in range(3))
    pages = list(iam.get_paginator("list_roles").paginate(PathPrefix=prefix, PaginationConfig={"PageSize": 1}))
    assert len(pages) == 3 and [r["RoleName"] for p in pages for r in p["Roles"]] == names
    assert pages[0]["IsTruncated"] is True and pages[-1]["IsTruncated"] is False
