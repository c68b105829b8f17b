"""IAM users, access keys, user tags, inline/attached user policies and boundaries, through boto3."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Callable

import botocore.exceptions
import pytest

from keyless.testing import Server

ACCOUNT = "123456789012"
READ = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})


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


def test_create_get_list_delete_user(iam: Any) -> None:
    name = uniq("user")
    user = iam.create_user(UserName=name, Path="/staff/", Tags=[{"Key": "team", "Value": "core"}])["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/staff/{name}"
    assert re.fullmatch(r"AIDA[A-Z0-9]{17}", user["UserId"]) and user["Path"] == "/staff/"
    got = iam.get_user(UserName=name.upper())["User"]
    assert (got["UserName"], got["UserId"], got["Tags"]) == (name, user["UserId"], [{"Key": "team", "Value": "core"}])
    assert name in [u["UserName"] for u in iam.list_users(PathPrefix="/staff/")["Users"]]
    assert aws_error(lambda: iam.create_user(UserName=name.upper())) == (
        "EntityAlreadyExists", 409, f"User with name {name.upper()} already exists.")
    iam.delete_user(UserName=name)
    assert aws_error(lambda: iam.get_user(UserName=name)) == ("NoSuchEntity", 404, f"The user with name {name} cannot be found.")


def test_invalid_path_is_a_validation_error(iam: Any) -> None:
    code, status, message = aws_error(lambda: iam.create_user(UserName=uniq("u"), Path="no-slashes"))
    assert (code, status) == ("ValidationError", 400) and "path" in message


def test_list_users_paginates_with_marker(iam: Any) -> None:
    prefix = f"/{uniq('page')}/"
    names = sorted(uniq("p") for _ in range(5))
    for name in names:
        iam.create_user(UserName=name, Path=prefix)
    first = iam.list_users(PathPrefix=prefix, MaxItems=2)
    assert first["IsTruncated"] is True and len(first["Users"]) == 2 and first["Marker"]
    pages = iam.get_paginator("list_users").paginate(PathPrefix=prefix, PaginationConfig={"PageSize": 2})
    assert [u["UserName"] for page in pages for u in page["Users"]] == names


def test_access_keys_lifecycle_and_quota(server: Server, iam: Any) -> None:
    name = uniq("keys")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", key["AccessKeyId"]) and len(key["SecretAccessKey"]) == 40
    assert key["Status"] == "Active" and key["UserName"] == name
    iam.create_access_key(UserName=name)
    assert aws_error(lambda: iam.create_access_key(UserName=name)) == (
        "LimitExceeded", 409, "Cannot exceed quota for AccessKeysPerUser: 2")
    user_iam = server.client("iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    iam.put_user_policy(UserName=name, PolicyName="self", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:GetUser", "iam:ListAccessKeys"], "Resource": "*"}]}))
    assert user_iam.get_user()["User"]["UserName"] == name
    assert len(user_iam.list_access_keys()["AccessKeyMetadata"]) == 2
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    statuses = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]}
    assert statuses[key["AccessKeyId"]] == "Inactive"
    assert aws_error(lambda: user_iam.get_user())[0] == "InvalidClientTokenId"
    code, _, message = aws_error(lambda: iam.delete_user(UserName=name))
    assert (code, message) == ("DeleteConflict", "Cannot delete entity, must delete access keys first.")
    for meta in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=name, AccessKeyId=meta["AccessKeyId"])
    assert aws_error(lambda: iam.delete_user(UserName=name))[2] == "Cannot delete entity, must delete policies first."
    iam.delete_user_policy(UserName=name, PolicyName="self")
    iam.delete_user(UserName=name)


def test_user_tags(iam: Any) -> None:
    name = uniq("tagged")
    iam.create_user(UserName=name)
    iam.tag_user(UserName=name, Tags=[{"Key": "Env", "Value": "dev"}, {"Key": "Owner", "Value": "me"}])
    iam.tag_user(UserName=name, Tags=[{"Key": "env", "Value": "prod"}])
    iam.untag_user(UserName=name, TagKeys=["owner"])
    assert iam.list_user_tags(UserName=name)["Tags"] == [{"Key": "env", "Value": "prod"}]
    code, status, _ = aws_error(lambda: iam.tag_user(UserName=name, Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}]))
    assert (code, status) == ("InvalidInput", 400)


def test_user_inline_policies_and_size_limit(iam: Any) -> None:
    name = uniq("inline")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=READ)
    got = iam.get_user_policy(UserName=name, PolicyName="read")
    assert got["PolicyDocument"] == json.loads(READ) and got["UserName"] == name
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["read"]
    big = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::" + "x" * 2100}]})
    assert aws_error(lambda: iam.put_user_policy(UserName=name, PolicyName="big", PolicyDocument=big)) == (
        "LimitExceeded", 409, f"Maximum policy size of 2048 bytes exceeded for user {name}")
    assert aws_error(lambda: iam.get_user_policy(UserName=name, PolicyName="nope")) == (
        "NoSuchEntity", 404, "The user policy with name nope cannot be found.")
    iam.delete_user_policy(UserName=name, PolicyName="read")
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == []


def test_malformed_user_policy_gets_aws_reason(iam: Any) -> None:
    name = uniq("bad")
    iam.create_user(UserName=name)
    code, status, message = aws_error(lambda: iam.put_user_policy(
        UserName=name, PolicyName="p", PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}'))
    assert (code, status, message) == ("MalformedPolicyDocument", 400, "Policy statement must contain actions.")


def test_attach_detach_list_user_policies(iam: Any) -> None:
    name = uniq("attach")
    iam.create_user(UserName=name)
    arn = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
    iam.attach_user_policy(UserName=name, PolicyArn=arn)
    assert iam.list_attached_user_policies(UserName=name)["AttachedPolicies"] == [
        {"PolicyName": "IAMReadOnlyAccess", "PolicyArn": arn}]
    assert aws_error(lambda: iam.delete_user(UserName=name))[2] == "Cannot delete entity, must detach all policies first."
    iam.detach_user_policy(UserName=name, PolicyArn=arn)
    assert aws_error(lambda: iam.detach_user_policy(UserName=name, PolicyArn=arn)) == (
        "NoSuchEntity", 404, f"Policy {arn} was not found.")
    missing = f"arn:aws:iam::{ACCOUNT}:policy/{uniq('missing')}"
    assert aws_error(lambda: iam.attach_user_policy(UserName=name, PolicyArn=missing)) == (
        "NoSuchEntity", 404, f"Policy {missing} does not exist or is not attachable.")
    assert aws_error(lambda: iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:notapolicy"))[:2] == ("InvalidInput", 400)


def test_user_permissions_boundary(iam: Any) -> None:
    name = uniq("bounded")
    boundary = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    created = iam.create_user(UserName=name, PermissionsBoundary=boundary)["User"]
    assert created["PermissionsBoundary"] == {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": boundary}
    iam.delete_user_permissions_boundary(UserName=name)
    assert "PermissionsBoundary" not in iam.get_user(UserName=name)["User"]
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=boundary)
    assert iam.get_user(UserName=name)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary


def test_boundary_limits_what_the_user_may_do(server: Server, iam: Any) -> None:
    name = uniq("boxed")
    iam.create_user(UserName=name, PermissionsBoundary="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    key = iam.create_access_key(UserName=name)["AccessKey"]
    user_iam = server.client("iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    code, status, message = aws_error(lambda: user_iam.get_user())
    assert (code, status) == ("AccessDenied", 403) and "permissions boundary" in message
