"""Generation for an EC2 deployer: launches and associations with an instance profile need iam:PassRole,
which CloudTrail never logs but keyless records; new instance ids each run need `instance/*`."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from keyless.cli.policy_tools import add_tool_commands
from keyless.policy.lint import lint
from keyless.store import trail as trail_store
from keyless.testing import Server

ACCOUNT = "123456789012"
IMAGE = "ami-12345678"
INSTANCES = f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/*"
APP_ROLE = f"arn:aws:iam::{ACCOUNT}:role/web-instance"
EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
ACCOUNT_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}


def session(server: Server, role: str, policy: str | None = None) -> dict[str, str]:
    iam = server.client("iam")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(ACCOUNT_TRUST))
    if policy:
        iam.put_role_policy(RoleName=role, PolicyName="generated", PolicyDocument=policy)
    creds = server.client("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="deploy")["Credentials"]
    return {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"]}


def deploy(server: Server, creds: dict[str, str]) -> None:
    """Launch one instance with the profile, one without and associate it, look, tear down."""
    ec2 = server.client("ec2", **creds)
    profile = {"Name": "web-profile"}
    with_profile = ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1, IamInstanceProfile=profile)["Instances"][0]
    bare = ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1)["Instances"][0]
    ec2.associate_iam_instance_profile(InstanceId=bare["InstanceId"], IamInstanceProfile=profile)
    ec2.describe_instances(InstanceIds=[with_profile["InstanceId"], bare["InstanceId"]])
    ec2.terminate_instances(InstanceIds=[with_profile["InstanceId"], bare["InstanceId"]])


def generate(data_dir: Path, role: str) -> dict[str, Any]:
    import argparse

    parser = argparse.ArgumentParser()
    add_tool_commands(parser.add_subparsers())
    args = parser.parse_args(["generate", "--role", role, "--data-dir", str(data_dir)])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert args.func(args) == 0
    return dict(json.loads(out.getvalue()))


def denied_rows(server: Server, role: str) -> list[dict[str, Any]]:
    server.app.state.components["trail"].flush()
    with server.app.state.db.read() as conn:
        return trail_store.query(conn, principal_arn=f"arn:aws:iam::{ACCOUNT}:role/{role}", denied_only=True, limit=1000)


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    data_dir = tmp_path_factory.mktemp("keyless-deployer")
    with Server(data_dir, enforce="learn") as learning:
        iam = learning.client("iam")
        iam.create_role(RoleName="web-instance", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
        iam.create_instance_profile(InstanceProfileName="web-profile")
        iam.add_role_to_instance_profile(InstanceProfileName="web-profile", RoleName="web-instance")
        deploy(learning, session(learning, "deployer"))
        passes = [r for r in denied_rows(learning, "deployer") if "iam:PassRole" in r["record"]]
        assert len(passes) == 2  # the launch with a profile and the association
    yield data_dir


def test_deployer_policy_passes_the_instance_role_to_ec2_only(learned: Path) -> None:
    doc = generate(learned, "deployer")
    assert doc["Statement"] == [
        {"Effect": "Allow", "Action": ["ec2:AssociateIamInstanceProfile", "ec2:RunInstances", "ec2:TerminateInstances"],
         "Resource": [INSTANCES]},
        {"Effect": "Allow", "Action": ["ec2:DescribeInstances"], "Resource": ["*"]},
        {"Effect": "Allow", "Action": ["ec2:RunInstances"], "Resource": [f"arn:aws:ec2:us-east-1::image/{IMAGE}"]},
        {"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": [APP_ROLE],
         "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}},
    ]
    assert lint(json.dumps(doc)) == ()


def test_deployer_reruns_under_enforcement_with_zero_denials(learned: Path) -> None:
    policy = json.dumps(generate(learned, "deployer"))
    with Server(learned, enforce="on") as enforcing:
        deploy(enforcing, session(enforcing, "deployer-enforced", policy))
        assert denied_rows(enforcing, "deployer-enforced") == []
