"""The issue's walk-through with the real aws CLI, on a server of its own, printed as AWS prints it;
and the AccessDenied sentence for a user without iam:CreateRole (CLI and boto3)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import botocore.exceptions
import pytest

from keyless.testing import Server

ACCOUNT = "123456789012"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)")
UNIQUE_ID = r"[A-Z0-9]{17}"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
PERMISSIONS = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::my-bucket", "arn:aws:s3:::my-bucket/*"]}]}


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("keyless-iam-cli"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def cli(own_server: Server, aws: Any) -> Any:
    """The real aws CLI (conftest's runner) pointed at this module's own server."""
    return type(aws)(own_server)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("walkthrough")
    (path / "trust-policy.json").write_text(json.dumps(TRUST, indent=2))
    (path / "permission-policy.json").write_text(json.dumps(PERMISSIONS, indent=2))
    return path


def test_walkthrough_prints_what_aws_prints(cli: Any, workdir: Path) -> None:
    role = cli.json("iam", "create-role", "--role-name", "ec2-s3-access-role",
                    "--assume-role-policy-document", "file://trust-policy.json", cwd=workdir)["Role"]
    assert set(role) == {"Path", "RoleName", "RoleId", "Arn", "CreateDate", "AssumeRolePolicyDocument"}
    assert role["Path"] == "/" and role["RoleName"] == "ec2-s3-access-role"
    assert re.fullmatch(f"AROA{UNIQUE_ID}", role["RoleId"])
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/ec2-s3-access-role"
    assert TIMESTAMP.fullmatch(role["CreateDate"])
    assert role["AssumeRolePolicyDocument"] == TRUST

    out = cli("iam", "put-role-policy", "--role-name", "ec2-s3-access-role", "--policy-name", "s3-read-policy",
              "--policy-document", "file://permission-policy.json", cwd=workdir)
    assert out.stdout.strip() == ""

    profile = cli.json("iam", "create-instance-profile", "--instance-profile-name", "ec2-s3-access-profile")["InstanceProfile"]
    assert set(profile) == {"Path", "InstanceProfileName", "InstanceProfileId", "Arn", "CreateDate", "Roles"}
    assert re.fullmatch(f"AIPA{UNIQUE_ID}", profile["InstanceProfileId"])
    assert profile["Arn"] == f"arn:aws:iam::{ACCOUNT}:instance-profile/ec2-s3-access-profile"
    assert profile["Roles"] == [] and profile["Path"] == "/" and TIMESTAMP.fullmatch(profile["CreateDate"])

    out = cli("iam", "add-role-to-instance-profile", "--instance-profile-name", "ec2-s3-access-profile",
              "--role-name", "ec2-s3-access-role")
    assert out.stdout.strip() == ""

    policy = cli.json("iam", "get-role-policy", "--role-name", "ec2-s3-access-role", "--policy-name", "s3-read-policy")
    assert policy == {"RoleName": "ec2-s3-access-role", "PolicyName": "s3-read-policy", "PolicyDocument": PERMISSIONS}

    shown = cli.json("iam", "get-instance-profile", "--instance-profile-name", "ec2-s3-access-profile")["InstanceProfile"]
    assert [(r["RoleName"], r["RoleId"], r["AssumeRolePolicyDocument"]) for r in shown["Roles"]] == [
        ("ec2-s3-access-role", role["RoleId"], TRUST)]


def test_second_role_in_profile_is_refused_by_the_cli(cli: Any, workdir: Path) -> None:
    cli("iam", "create-role", "--role-name", "second-role", "--assume-role-policy-document", "file://trust-policy.json", cwd=workdir)
    cli("iam", "create-instance-profile", "--instance-profile-name", "one-role-profile")
    cli("iam", "add-role-to-instance-profile", "--instance-profile-name", "one-role-profile", "--role-name", "second-role")
    cli("iam", "create-role", "--role-name", "third-role", "--assume-role-policy-document", "file://trust-policy.json", cwd=workdir)
    out = cli("iam", "add-role-to-instance-profile", "--instance-profile-name", "one-role-profile", "--role-name", "third-role",
              check=False)
    assert out.returncode != 0  # 255 from awscli v1, 254 from v2
    assert ("An error occurred (LimitExceeded) when calling the AddRoleToInstanceProfile operation: "
            "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1") in out.stderr


def test_cli_lists_and_gets(cli: Any) -> None:
    cli.json("iam", "create-user", "--user-name", "listed-user", "--path", "/cli/")
    users = cli.json("iam", "list-users", "--path-prefix", "/cli/")["Users"]
    assert [(u["UserName"], u["Arn"]) for u in users] == [("listed-user", f"arn:aws:iam::{ACCOUNT}:user/cli/listed-user")]
    me = cli.json("iam", "get-user")["User"]
    assert me["UserName"] == "admin" and re.fullmatch(f"AIDA{UNIQUE_ID}", me["UserId"])
    attached = cli.json("iam", "list-attached-user-policies", "--user-name", "admin")["AttachedPolicies"]
    assert attached == [{"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}]
    policy = cli.json("iam", "get-policy", "--policy-arn", "arn:aws:iam::aws:policy/ReadOnlyAccess")["Policy"]
    assert policy["PolicyId"] == "ANPAILL3HVNFSB6DCOWYQ" and policy["CreateDate"].startswith("2015-02-06T18:39:48")


def _user_keys(server: Server, name: str, policy: dict[str, Any] | None = None) -> dict[str, str]:
    iam = server.client("iam")
    iam.create_user(UserName=name)
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


DENIED = (f"User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: iam:CreateRole on resource: "
          f"arn:aws:iam::{ACCOUNT}:role/x because no identity-based policy allows the iam:CreateRole action")


def test_user_without_create_role_gets_aws_access_denied(own_server: Server, cli: Any, workdir: Path) -> None:
    creds = _user_keys(own_server, "bob", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]})
    with pytest.raises(botocore.exceptions.ClientError) as info:
        own_server.client("iam", **creds).create_role(RoleName="x", AssumeRolePolicyDocument=json.dumps(TRUST))
    assert info.value.response["Error"]["Code"] == "AccessDenied"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert info.value.response["Error"]["Message"] == DENIED
    out = cli.as_(creds)("iam", "create-role", "--role-name", "x", "--assume-role-policy-document",
                         "file://trust-policy.json", check=False, cwd=workdir)
    assert out.returncode != 0  # 255 from awscli v1, 254 from v2
    assert f"An error occurred (AccessDenied) when calling the CreateRole operation: {DENIED}" in out.stderr
    assert own_server.client("iam", **creds).get_user()["User"]["UserName"] == "bob"


def test_policy_allowing_create_role_on_a_path_is_enforced(own_server: Server) -> None:
    creds = _user_keys(own_server, "pathy-dev", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:CreateRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/dev/*"}]})
    iam = own_server.client("iam", **creds)
    assert iam.create_role(RoleName="ok", Path="/dev/", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Path"] == "/dev/"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        iam.create_role(RoleName="not-ok", AssumeRolePolicyDocument=json.dumps(TRUST))
    assert info.value.response["Error"]["Code"] == "AccessDenied"
