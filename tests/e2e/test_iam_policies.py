"""Customer- and AWS-managed policies: Create/Get/List/Delete, versions, attachments, entities."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Callable

import botocore.exceptions
import pytest

from keyless.testing import Server

ACCOUNT = "123456789012"
DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}
AWS_MANAGED = {
    "AdministratorAccess": "ANPAIWMBCKSKIEE64ZLYK", "ReadOnlyAccess": "ANPAILL3HVNFSB6DCOWYQ",
    "AmazonS3ReadOnlyAccess": "ANPAIZTJ4DXE7G6AGAE6M", "AmazonS3FullAccess": "ANPAIFIR6V6BVTRAHWINE",
    "AmazonEC2ReadOnlyAccess": "ANPAIGDT4SV4GSETWTBZK", "IAMReadOnlyAccess": "ANPAJKSO7NDY4T57MWDSQ",
}


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


def test_create_get_delete_policy(iam: Any) -> None:
    name = uniq("pol")
    created = iam.create_policy(PolicyName=name, Path="/team/", PolicyDocument=json.dumps(DOC), Description="d")["Policy"]
    arn = f"arn:aws:iam::{ACCOUNT}:policy/team/{name}"
    assert created["Arn"] == arn and re.fullmatch(r"ANPA[A-Z0-9]{17}", created["PolicyId"])
    assert (created["DefaultVersionId"], created["AttachmentCount"], created["IsAttachable"]) == ("v1", 0, True)
    got = iam.get_policy(PolicyArn=arn)["Policy"]
    assert got["Description"] == "d" and got["PolicyId"] == created["PolicyId"]
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert version["Document"] == DOC and version["IsDefaultVersion"] is True
    assert aws_error(lambda: iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(DOC))) == (
        "EntityAlreadyExists", 409, f"A policy called {name} already exists. Duplicate names are not allowed.")
    iam.delete_policy(PolicyArn=arn)
    assert aws_error(lambda: iam.get_policy(PolicyArn=arn)) == ("NoSuchEntity", 404, f"Policy {arn} was not found.")


def test_policy_documents_are_validated(iam: Any) -> None:
    code, status, message = aws_error(lambda: iam.create_policy(PolicyName=uniq("bad"), PolicyDocument="not json"))
    assert (code, status, message) == ("MalformedPolicyDocument", 400, "Syntax errors in policy.")
    huge = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::" + "z" * 6200}]}
    assert aws_error(lambda: iam.create_policy(PolicyName=uniq("huge"), PolicyDocument=json.dumps(huge))) == (
        "LimitExceeded", 409, "Cannot exceed quota for PolicySize: 6144")


def test_versions_create_list_set_default_delete(iam: Any) -> None:
    arn = iam.create_policy(PolicyName=uniq("ver"), PolicyDocument=json.dumps(DOC))["Policy"]["Arn"]
    v2 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(DOC), SetAsDefault=True)["PolicyVersion"]
    assert (v2["VersionId"], v2["IsDefaultVersion"]) == ("v2", True)
    for _ in range(3):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(DOC))
    code, status, message = aws_error(lambda: iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(DOC)))
    assert (code, status) == ("LimitExceeded", 409) and "up to 5 versions" in message
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == [
        ("v5", False), ("v4", False), ("v3", False), ("v2", True), ("v1", False)]
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v4")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v4"
    assert aws_error(lambda: iam.delete_policy_version(PolicyArn=arn, VersionId="v4")) == (
        "DeleteConflict", 409, "Cannot delete the default version of a policy.")
    code, status, message = aws_error(lambda: iam.delete_policy(PolicyArn=arn))
    assert (code, status) == ("DeleteConflict", 409) and message.startswith("This policy has more than one version.")
    for version in ("v1", "v2", "v3", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version)
    assert aws_error(lambda: iam.get_policy_version(PolicyArn=arn, VersionId="v9"))[:2] == ("NoSuchEntity", 404)
    iam.delete_policy(PolicyArn=arn)


def test_bundled_aws_managed_policies(iam: Any) -> None:
    for name, policy_id in AWS_MANAGED.items():
        policy = iam.get_policy(PolicyArn=f"arn:aws:iam::aws:policy/{name}")["Policy"]
        assert (policy["PolicyName"], policy["PolicyId"], policy["Path"]) == (name, policy_id, "/")
        version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])["PolicyVersion"]
        assert version["Document"]["Version"] == "2012-10-17" and version["IsDefaultVersion"] is True
    admin = iam.get_policy_version(PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess", VersionId="v1")["PolicyVersion"]
    assert admin["Document"]["Statement"] == [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
    listed = [p["PolicyName"] for p in iam.list_policies(Scope="AWS")["Policies"]]
    assert set(AWS_MANAGED) <= set(listed)
    assert all(not p["Arn"].startswith("arn:aws:iam::aws:") for p in iam.list_policies(Scope="Local")["Policies"])


def test_aws_managed_policies_cannot_be_changed(iam: Any) -> None:
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    assert aws_error(lambda: iam.delete_policy(PolicyArn=arn)) == (
        "AccessDenied", 403, "Cannot delete policies outside your own account.")
    assert aws_error(lambda: iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(DOC)))[:2] == ("AccessDenied", 403)
    assert aws_error(lambda: iam.set_default_policy_version(PolicyArn=arn, VersionId="v1"))[:2] == ("AccessDenied", 403)


def test_attachment_count_and_entities_for_policy(iam: Any) -> None:
    arn = iam.create_policy(PolicyName=uniq("shared"), PolicyDocument=json.dumps(DOC))["Policy"]["Arn"]
    user, role = uniq("u"), uniq("r")
    iam.create_user(UserName=user)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    role_id = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["RoleId"]
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 2
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == [user]
    assert entities["PolicyRoles"] == [{"RoleName": role, "RoleId": role_id}] and entities["PolicyGroups"] == []
    assert iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role")["PolicyUsers"] == []
    attached = [p["Arn"] for p in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]]
    assert arn in attached
    assert aws_error(lambda: iam.delete_policy(PolicyArn=arn)) == (
        "DeleteConflict", 409, "Cannot delete a policy attached to entities.")
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)


def test_eleventh_managed_policy_on_a_role_exceeds_the_quota(iam: Any) -> None:
    role = uniq("full")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    for _ in range(10):
        arn = iam.create_policy(PolicyName=uniq("q"), PolicyDocument=json.dumps(DOC))["Policy"]["Arn"]
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    assert aws_error(lambda: iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")) == (
        "LimitExceeded", 409, "Cannot exceed quota for PoliciesPerRole: 10")


def test_read_only_access_lets_a_user_read_but_not_write(server: Server, iam: Any) -> None:
    name = uniq("reader")
    iam.create_user(UserName=name)
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    key = iam.create_access_key(UserName=name)["AccessKey"]
    reader = server.client("iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    assert reader.get_user()["User"]["UserName"] == name
    assert reader.list_roles()["Roles"] is not None
    assert aws_error(lambda: reader.create_user(UserName=uniq("nope")))[:2] == ("AccessDenied", 403)
