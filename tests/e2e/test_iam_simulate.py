"""SimulateCustomPolicy and SimulatePrincipalPolicy through boto3 and the real aws CLI."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from keyless.testing import Server

ACCOUNT = "123456789012"
POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"},
    {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/secret/*"}]}


@pytest.fixture
def iam(server: Server) -> Any:
    return server.client("iam")


def test_simulate_custom_policy(iam: Any) -> None:
    out = iam.simulate_custom_policy(PolicyInputList=[json.dumps(POLICY)], ActionNames=["s3:GetObject"],
                                     ResourceArns=["arn:aws:s3:::bucket/a", "arn:aws:s3:::bucket/secret/b", "arn:aws:s3:::other/c"])
    assert [(r["EvalResourceName"], r["EvalDecision"]) for r in out["EvaluationResults"]] == [
        ("arn:aws:s3:::bucket/a", "allowed"), ("arn:aws:s3:::bucket/secret/b", "explicitDeny"),
        ("arn:aws:s3:::other/c", "implicitDeny")]
    assert out["IsTruncated"] is False


def test_simulate_custom_policy_with_context_and_pagination(iam: Any) -> None:
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*",
                                                      "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}
    args = {"PolicyInputList": [json.dumps(policy)], "ActionNames": ["ec2:RunInstances", "ec2:StopInstances"]}
    inside = iam.simulate_custom_policy(**args, ContextEntries=[
        {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.1.2.3"], "ContextKeyType": "ip"}])
    assert [r["EvalDecision"] for r in inside["EvaluationResults"]] == ["allowed", "allowed"]
    missing = iam.simulate_custom_policy(**args)
    assert missing["EvaluationResults"][0]["MissingContextValues"] == ["aws:SourceIp"]
    first = iam.simulate_custom_policy(**args, MaxItems=1)
    assert first["IsTruncated"] is True and len(first["EvaluationResults"]) == 1
    rest = iam.simulate_custom_policy(**args, MaxItems=1, Marker=first["Marker"])
    assert rest["EvaluationResults"][0]["EvalActionName"] == "ec2:StopInstances" and rest["IsTruncated"] is False


def test_simulate_custom_policy_rejects_malformed_input(iam: Any) -> None:
    import botocore.exceptions

    with pytest.raises(botocore.exceptions.ClientError) as info:
        iam.simulate_custom_policy(PolicyInputList=["{"], ActionNames=["s3:GetObject"])
    assert info.value.response["Error"]["Code"] == "MalformedPolicyDocument"


def test_simulate_principal_policy_for_user_and_role(iam: Any) -> None:
    user = f"sim-{uuid.uuid4().hex[:8]}"
    arn = iam.create_user(UserName=user)["User"]["Arn"]
    iam.put_user_policy(UserName=user, PolicyName="inline", PolicyDocument=json.dumps(POLICY))
    iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")
    out = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["s3:GetObject", "ec2:DescribeInstances", "ec2:RunInstances"],
                                        ResourceArns=["arn:aws:s3:::bucket/x"])
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in out["EvaluationResults"]}
    assert decisions == {"s3:GetObject": "allowed", "ec2:DescribeInstances": "allowed", "ec2:RunInstances": "implicitDeny"}
    sources = {r["EvalActionName"]: r["MatchedStatements"][0]["SourcePolicyId"] for r in out["EvaluationResults"] if r["MatchedStatements"]}
    assert sources == {"s3:GetObject": "inline", "ec2:DescribeInstances": "AmazonEC2ReadOnlyAccess"}

    role = f"simrole-{uuid.uuid4().hex[:8]}"
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust),
                               PermissionsBoundary="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")["Role"]["Arn"]
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    out = iam.simulate_principal_policy(PolicySourceArn=role_arn, ActionNames=["s3:GetObject", "iam:CreateUser"])
    assert [r["EvalDecision"] for r in out["EvaluationResults"]] == ["allowed", "implicitDeny"]
    assert out["EvaluationResults"][1]["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}


def test_simulate_principal_policy_for_a_missing_user(iam: Any) -> None:
    import botocore.exceptions

    with pytest.raises(botocore.exceptions.ClientError) as info:
        iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/nobody-here", ActionNames=["s3:GetObject"])
    assert info.value.response["Error"]["Code"] == "NoSuchEntity"


def test_simulate_with_the_cli(aws: Any) -> None:
    # awscli v1 iterates a file:// value of a list parameter character by character, so the policy
    # goes on the command line as text, as `--policy-input-list "$(cat policy.json)"` would pass it.
    out = aws.json("iam", "simulate-custom-policy", "--policy-input-list", json.dumps(POLICY),
                   "--action-names", "s3:GetObject", "--resource-arns", "arn:aws:s3:::bucket/secret/k")
    result = out["EvaluationResults"][0]
    assert (result["EvalActionName"], result["EvalDecision"]) == ("s3:GetObject", "explicitDeny")
    admin = aws.json("iam", "simulate-principal-policy", "--policy-source-arn", f"arn:aws:iam::{ACCOUNT}:user/admin",
                     "--action-names", "iam:CreateRole")
    assert admin["EvaluationResults"][0]["EvalDecision"] == "allowed"
    assert admin["EvaluationResults"][0]["MatchedStatements"][0]["SourcePolicyId"] == "AdministratorAccess"
