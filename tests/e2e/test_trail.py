"""The audit trail: every call recorded, LookupEvents as CloudTrail answers it, `keyless trail`."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import botocore.exceptions
import pytest

from keyless.cli import main as keyless_main
from keyless.testing import Server

ACCOUNT = "123456789012"


def _flush(server: Server) -> None:
    server.app.state.components["trail"].flush()


def _role_session(server: Server, name: str, policy: dict[str, Any] | None) -> dict[str, str]:
    iam = server.client("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}]}))
    if policy:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    creds = server.client("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}", RoleSessionName="worker")["Credentials"]
    return {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"]}


def test_denied_management_call_appears_in_lookup_events(server: Server, aws: Any) -> None:
    creds = _role_session(server, "trail-reader", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}]})
    with pytest.raises(botocore.exceptions.ClientError):
        server.client("iam", **creds).list_roles()
    _flush(server)
    out = aws.json("cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventName,AttributeValue=ListRoles")
    events = [json.loads(e["CloudTrailEvent"]) for e in out["Events"]]
    denied = [e for e in events if e["userIdentity"].get("arn", "").endswith("assumed-role/trail-reader/worker")]
    assert denied, events
    rec = denied[0]
    assert rec["errorCode"] == "AccessDenied"
    assert rec["eventSource"] == "iam.amazonaws.com" and rec["readOnly"] is True
    ident = rec["userIdentity"]
    assert ident["type"] == "AssumedRole" and ident["accessKeyId"] == creds["aws_access_key_id"]
    assert ident["sessionContext"]["sessionIssuer"]["arn"] == f"arn:aws:iam::{ACCOUNT}:role/trail-reader"
    assert ident["sessionContext"]["attributes"]["mfaAuthenticated"] == "false"
    assert "keyless" not in rec


def test_records_never_contain_secrets(server: Server) -> None:
    creds = _role_session(server, "trail-secret", None)
    _flush(server)
    with server.app.state.db.read() as conn:
        text = "\n".join(r[0] for r in conn.exec_driver_sql("SELECT events FROM trail_segments"))
    assert creds["aws_secret_access_key"] not in text
    assert creds["aws_session_token"] not in text
    assert server.admin_credentials()["aws_secret_access_key"] not in text


def test_lookup_events_pagination_and_time_filters(server: Server) -> None:
    iam = server.client("iam")
    for _ in range(5):
        iam.get_user()
    _flush(server)
    ct = server.client("cloudtrail")
    first = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetUser"}], MaxResults=2)
    assert len(first["Events"]) == 2 and first["NextToken"]
    second = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetUser"}], MaxResults=2,
                              NextToken=first["NextToken"])
    ids = {e["EventId"] for e in first["Events"]} | {e["EventId"] for e in second["Events"]}
    assert len(ids) == 4
    assert first["Events"][0]["EventTime"] >= second["Events"][0]["EventTime"]
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    none = ct.lookup_events(StartTime=future, EndTime=future + timedelta(hours=1))
    assert none["Events"] == []
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ct.lookup_events(StartTime=future, EndTime=future - timedelta(hours=2))
    assert exc.value.response["Error"]["Code"] == "InvalidTimeRangeException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetUser"}], NextToken="garbage")
    assert exc.value.response["Error"]["Code"] == "InvalidNextTokenException"


def test_lookup_by_username_and_access_key(server: Server) -> None:
    server.client("sts").get_caller_identity()
    _flush(server)
    ct = server.client("cloudtrail")
    by_user = ct.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "admin"}])["Events"]
    assert by_user and all(e["Username"] == "admin" for e in by_user)
    key = server.admin_credentials()["aws_access_key_id"]
    by_key = ct.lookup_events(LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": key}])["Events"]
    assert by_key and all(e["AccessKeyId"] == key for e in by_key)


def test_keyless_trail_json_and_table(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    creds = _role_session(server, "trail-cli", None)
    with pytest.raises(botocore.exceptions.ClientError):
        server.client("iam", **creds).get_role(RoleName="trail-cli")
    _flush(server)
    assert keyless_main(["trail", "--data-dir", str(server.data_dir), "--json", "--denied"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    mine = [r for r in lines if r["userIdentity"].get("arn", "").endswith("trail-cli/worker")]
    assert mine and mine[-1]["eventName"] == "GetRole"
    assert mine[-1]["keyless"]["decisions"][0]["result"] == "implicitDeny"
    assert keyless_main(["trail", "--data-dir", str(server.data_dir), "--principal", "trail-cli/worker"]) == 0
    table = capsys.readouterr().out
    assert "iam:GetRole" in table and "implicitDeny" in table and "trail-cli/worker" in table
