"""IAM last-accessed details from the trail, as `aws iam generate-service-last-accessed-details` expects."""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions
import pytest

from keyless.testing import Server

ACCOUNT = "123456789012"


def test_last_accessed_reports_used_and_unused_services(server: Server, aws: Any) -> None:
    iam = server.client("iam")
    iam.create_role(RoleName="la-role", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName="la-role", PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:GetRole", "ec2:DescribeInstances"], "Resource": "*"}]}))
    creds = server.client("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/la-role", RoleSessionName="la")["Credentials"]
    server.client("iam", aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                  aws_session_token=creds["SessionToken"]).get_role(RoleName="la-role")

    job = aws.json("iam", "generate-service-last-accessed-details", "--arn", f"arn:aws:iam::{ACCOUNT}:role/la-role",
                   "--granularity", "ACTION_LEVEL")["JobId"]
    out = aws.json("iam", "get-service-last-accessed-details", "--job-id", job)
    assert out["JobStatus"] == "COMPLETED" and out["JobType"] == "ACTION_LEVEL"
    by_ns = {s["ServiceNamespace"]: s for s in out["ServicesLastAccessed"]}
    assert set(by_ns) == {"iam", "ec2"}
    assert by_ns["iam"]["TotalAuthenticatedEntities"] >= 1 and "LastAuthenticated" in by_ns["iam"]
    assert "LastAuthenticated" not in by_ns["ec2"]
    used = {a["ActionName"] for a in by_ns["iam"].get("TrackedActionsLastAccessed", []) if "LastAccessedTime" in a}
    assert "GetRole" in used


def test_last_accessed_unknown_job_and_entity(server: Server) -> None:
    iam = server.client("iam")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        iam.get_service_last_accessed_details(JobId="00000000-0000-0000-0000-000000000000")
    assert exc.value.response["Error"]["Code"] == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        iam.generate_service_last_accessed_details(Arn=f"arn:aws:iam::{ACCOUNT}:role/does-not-exist")
    assert exc.value.response["Error"]["Code"] == "NoSuchEntity"
