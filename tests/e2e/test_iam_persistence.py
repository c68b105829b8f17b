"""A restart on the same data dir keeps users, keys, roles, policies and instance profiles."""

from __future__ import annotations

import json
from pathlib import Path

from keyless.testing import Server

TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]}


def test_iam_state_survives_a_restart(tmp_path: Path) -> None:
    first = Server(tmp_path)
    first.start()
    try:
        iam = first.client("iam")
        iam.create_user(UserName="keeper", Tags=[{"Key": "k", "Value": "v"}])
        key = iam.create_access_key(UserName="keeper")["AccessKey"]
        iam.put_user_policy(UserName="keeper", PolicyName="self", PolicyDocument=json.dumps(DOC))
        role = iam.create_role(RoleName="kept-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
        iam.put_role_policy(RoleName="kept-role", PolicyName="inline", PolicyDocument=json.dumps(DOC))
        policy = iam.create_policy(PolicyName="kept-policy", PolicyDocument=json.dumps(DOC))["Policy"]
        iam.create_policy_version(PolicyArn=policy["Arn"], PolicyDocument=json.dumps(DOC), SetAsDefault=True)
        iam.attach_role_policy(RoleName="kept-role", PolicyArn=policy["Arn"])
        profile = iam.create_instance_profile(InstanceProfileName="kept-profile")["InstanceProfile"]
        iam.add_role_to_instance_profile(InstanceProfileName="kept-profile", RoleName="kept-role")
    finally:
        first.stop()

    second = Server(tmp_path)
    second.start()
    try:
        iam = second.client("iam")
        assert iam.get_user(UserName="keeper")["User"]["Tags"] == [{"Key": "k", "Value": "v"}]
        as_keeper = second.client("iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
        assert as_keeper.get_user()["User"]["UserName"] == "keeper"
        assert iam.get_role(RoleName="kept-role")["Role"]["RoleId"] == role["RoleId"]
        assert iam.get_role_policy(RoleName="kept-role", PolicyName="inline")["PolicyDocument"] == DOC
        kept = iam.get_policy(PolicyArn=policy["Arn"])["Policy"]
        assert (kept["PolicyId"], kept["DefaultVersionId"], kept["AttachmentCount"]) == (policy["PolicyId"], "v2", 1)
        got = iam.get_instance_profile(InstanceProfileName="kept-profile")["InstanceProfile"]
        assert got["InstanceProfileId"] == profile["InstanceProfileId"]
        assert [r["RoleName"] for r in got["Roles"]] == ["kept-role"]
    finally:
        second.stop()
