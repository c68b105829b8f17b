"""Last-accessed data from trail rows, checked against botocore's GetServiceLastAccessedDetailsResponse shape."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from keyless.trail.last_accessed import (
    ACTION_LEVEL,
    SERVICE_LEVEL,
    accesses,
    details_response,
    granted_actions,
    services_last_accessed,
    unused_actions,
)

ROLE = "arn:aws:iam::123456789012:role/app-role"
T0 = 1_760_000_000.0


def row(time: float, source: str, *actions: str, region: str = "us-east-1", principal: str = ROLE) -> dict[str, Any]:
    record = {"eventSource": f"{source}.amazonaws.com", "eventName": "Op", "awsRegion": region,
              "keyless": {"decisions": [{"action": a, "resource": "*", "result": "implicitDeny", "reason": ""} for a in actions]}}
    return {"event_time": time, "principal_arn": principal, "record": json.dumps(record)}


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


S3_AND_EC2 = policy({"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"], "Resource": "*"},
                    {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"})
ROWS = [row(T0, "s3", "s3:GetObject"), row(T0 + 60, "s3", "s3:GetObject", region="eu-west-1"),
        row(T0 + 30, "s3", "s3:ListBucket"), row(T0 + 5, "sts", "sts:AssumeRole"), row(T0 + 7, "sts")]


def validate(response: dict[str, Any]) -> None:
    model = botocore.session.get_session().get_service_model("iam")
    report = ParamValidator().validate(response, model.shape_for("GetServiceLastAccessedDetailsResponse"))
    assert not report.has_errors(), report.generate_report()


def test_granted_actions_expand_wildcards_and_drop_unconditional_denies() -> None:
    granted = granted_actions([S3_AND_EC2, policy({"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"})])
    assert {"s3:GetObject", "s3:ListBucket", "ec2:DescribeInstances"} <= granted
    assert "s3:PutObject" not in granted
    assert all(a.startswith(("s3:", "ec2:Describe")) for a in granted)
    conditional = policy({"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*",
                          "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    assert "s3:GetObject" in granted_actions([S3_AND_EC2, conditional])
    not_action = policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert "s3:GetObject" in granted_actions([not_action]) and "iam:PassRole" not in granted_actions([not_action])


def test_service_level_report() -> None:
    services = services_last_accessed(ROWS, granted_actions([S3_AND_EC2]), SERVICE_LEVEL)
    assert [s["ServiceNamespace"] for s in services] == ["ec2", "s3"]  # granted services only, by namespace
    ec2, s3 = services
    assert ec2 == {"ServiceName": "Amazon EC2", "ServiceNamespace": "ec2", "TotalAuthenticatedEntities": 0}
    assert s3 == {"ServiceName": "Amazon S3", "ServiceNamespace": "s3",
                  "LastAuthenticated": datetime.fromtimestamp(T0 + 60, tz=timezone.utc),
                  "LastAuthenticatedEntity": ROLE, "LastAuthenticatedRegion": "eu-west-1", "TotalAuthenticatedEntities": 1}


def test_action_level_report_tracks_each_granted_action() -> None:
    services = services_last_accessed(ROWS, granted_actions([S3_AND_EC2]), ACTION_LEVEL)
    s3 = services[1]
    assert s3["TrackedActionsLastAccessed"] == [
        {"ActionName": "GetObject", "LastAccessedEntity": ROLE,
         "LastAccessedTime": datetime.fromtimestamp(T0 + 60, tz=timezone.utc), "LastAccessedRegion": "eu-west-1"},
        {"ActionName": "ListBucket", "LastAccessedEntity": ROLE,
         "LastAccessedTime": datetime.fromtimestamp(T0 + 30, tz=timezone.utc), "LastAccessedRegion": "us-east-1"},
        {"ActionName": "PutObject"},
    ]
    assert len(services[0]["TrackedActionsLastAccessed"]) > 100  # every granted ec2:Describe* action


def test_services_without_decisions_still_count_at_service_level() -> None:
    sts = policy({"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"})
    (entry,) = services_last_accessed(ROWS, granted_actions([sts]), ACTION_LEVEL)
    assert entry["LastAuthenticated"] == datetime.fromtimestamp(T0 + 7, tz=timezone.utc)
    assert entry["TrackedActionsLastAccessed"] == [{"ActionName": "GetCallerIdentity"}]


def test_total_entities_counts_distinct_principals() -> None:
    other = "arn:aws:iam::123456789012:user/alice"
    rows = ROWS + [row(T0 + 90, "s3", "s3:PutObject", principal=other)]
    s3 = services_last_accessed(rows, granted_actions([S3_AND_EC2]), SERVICE_LEVEL)[1]
    assert (s3["TotalAuthenticatedEntities"], s3["LastAuthenticatedEntity"]) == (2, other)


@pytest.mark.parametrize("granularity", [SERVICE_LEVEL, ACTION_LEVEL])
def test_response_matches_botocore_shape(granularity: str) -> None:
    services = services_last_accessed(ROWS, granted_actions([policy({"Effect": "Allow", "Action": "*", "Resource": "*"})]),
                                      granularity)
    response = details_response(services, granularity=granularity, created=T0, completed=T0 + 1)
    validate(response)
    assert response["JobStatus"] == "COMPLETED" and response["JobType"] == granularity
    assert response["IsTruncated"] and response["Marker"] == "100" and len(response["ServicesLastAccessed"]) == 100


def test_pagination_walks_every_service_once() -> None:
    services = services_last_accessed([], granted_actions([policy({"Effect": "Allow", "Action": "*", "Resource": "*"})]))
    seen: list[str] = []
    marker = None
    while True:
        page = details_response(services, granularity=SERVICE_LEVEL, created=T0, completed=T0, marker=marker, max_items=150)
        seen += [s["ServiceNamespace"] for s in page["ServicesLastAccessed"]]
        if not page["IsTruncated"]:
            assert "Marker" not in page
            break
        marker = page["Marker"]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == len(services) > 300


def test_unused_actions() -> None:
    granted = granted_actions([policy({"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket",
                                                                      "sts:AssumeRole"], "Resource": "*"})])
    assert unused_actions(ROWS, granted) == ["s3:PutObject"]
    assert unused_actions([], granted) == sorted(granted)


def test_accesses_read_rows_with_record_text_or_dicts() -> None:
    parsed = dict(ROWS[0], record=json.loads(ROWS[0]["record"]))
    assert accesses([ROWS[0]]) == accesses([parsed])
    assert accesses([ROWS[0]])[0].action == "s3:GetObject"
