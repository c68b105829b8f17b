"""Trail segments: what the request path queues is stored redacted and read back as a CloudTrail
record; events of the first layout (a row each) are migrated."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

from keyless.store import trail as trail_store
from keyless.store.db import Database
from keyless.trail.events import HIDDEN

ROLE_SESSION = ("AssumedRole", "123456789012", "arn:aws:sts::123456789012:assumed-role/app/i-0abc", "AROAEXAMPLE:i-0abc",
                "arn:aws:iam::123456789012:role/app", None, "ASIAEXAMPLE", "AROAEXAMPLE", 1_790_000_000.0, False, None,
                "ec2:RoleDelivery")


def _stored(tmp_path: Path, item: object) -> dict:
    db = Database.open(tmp_path)
    with db.begin(iam=False) as conn:
        assert trail_store.insert(conn, [item]) == 1
    with db.read() as conn:
        (row,) = trail_store.query(conn)
    return json.loads(row["record"])


def test_a_pending_call_is_stored_redacted_and_read_as_a_cloudtrail_record(tmp_path: Path) -> None:
    pending = (time.time(), "sts", "AssumeRole", "us-east-1", "123456789012", "req-1", ROLE_SESSION, "127.0.0.1", "aws-cli/2",
               {"RoleArn": "arn:aws:iam::123456789012:role/other", "RoleSessionName": "s"},
               {"Credentials": {"AccessKeyId": "ASIAOTHER", "SecretAccessKey": "s3cr3t", "SessionToken": "tok",
                                "Expiration": datetime(2026, 11, 29, 22, 5, 7, tzinfo=timezone.utc)},
                "PackedPolicySize": 2**70},  # beyond 64 bits: stored all the same
               None, None, (("sts:AssumeRole", "arn:aws:iam::123456789012:role/other", "allowed", "allowed"),), "on")
    rec = _stored(tmp_path, pending)
    assert rec["eventName"] == "AssumeRole" and rec["requestID"] == "req-1"
    assert rec["userIdentity"]["type"] == "AssumedRole"
    assert rec["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] == "arn:aws:iam::123456789012:role/app"
    assert rec["requestParameters"] == {"roleArn": "arn:aws:iam::123456789012:role/other", "roleSessionName": "s"}
    credentials = rec["responseElements"]["credentials"]
    assert credentials["expiration"] == "Nov 29, 2026, 10:05:07 PM"  # CloudTrail's format for times
    assert rec["responseElements"]["packedPolicySize"] == 2**70
    assert credentials["accessKeyId"] == "ASIAOTHER" and HIDDEN in (credentials.get("sessionToken"), credentials.get("secretAccessKey"))
    assert "s3cr3t" not in json.dumps(rec) and '"tok"' not in json.dumps(rec)
    assert rec["resources"] == [{"accountId": "123456789012", "type": "AWS::IAM::Role",
                                 "ARN": "arn:aws:iam::123456789012:role/other"}]


def test_events_of_the_first_layout_are_migrated_with_their_ids(tmp_path: Path) -> None:
    """Before segments, each event was a row; upgrading keeps every event, its id and its record."""
    from keyless.store import migrations

    db = Database.open(tmp_path)
    caller = {"type": "User", "account": "123456789012", "arn": "arn:aws:iam::123456789012:user/admin", "user_id": "AIDAX",
              "principal_arn": "arn:aws:iam::123456789012:user/admin", "username": "admin", "access_key_id": "AKIAX",
              "owner_id": "AIDAX"}
    call = [1_790_000_000.5, "iam", "GetRole", "us-east-1", "123456789012", "req-old", caller, "127.0.0.1", "ua",
            {"RoleName": "r"}, None, None, None, [], "on"]
    delivery = {"eventVersion": "1.10", "eventID": "evt-imds", "eventTime": "2026-09-21T10:00:00Z", "eventName": "AssumeRole",
                "eventSource": "sts.amazonaws.com", "userIdentity": {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"},
                "resources": [{"accountId": "123456789012", "type": "AWS::IAM::Role", "ARN": "arn:aws:iam::123456789012:role/app"}]}
    with db.begin(iam=False) as conn:
        conn.exec_driver_sql("DROP TABLE trail_segments")
        migrations._legacy.create_all(conn)
        insert = ("INSERT INTO trail_events (event_id, event_time, event_name, event_source, category, read_only, username, "
                  "access_key_id, principal_arn, denied, shape, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        conn.exec_driver_sql(insert, ("evt-old", call[0], "GetRole", "iam.amazonaws.com", "Management", True, "admin", "AKIAX",
                                      caller["arn"], False, "call", json.dumps(["evt-old", json.dumps(call)])))
        conn.exec_driver_sql(insert, ("evt-imds", 1_790_000_000.0, "AssumeRole", "sts.amazonaws.com", "Management", True, None,
                                      None, None, False, "record", json.dumps(delivery)))
        conn.exec_driver_sql("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    db.migrate()
    assert db.schema_version == len(migrations.MIGRATIONS)
    with db.read() as conn:
        tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
        rows = trail_store.query(conn)
        (by_id,) = trail_store.query(conn, attribute=("EventId", "evt-old"))
        (by_resource,) = trail_store.query(conn, attribute=("ResourceName", "arn:aws:iam::123456789012:role/app"))
    assert "trail_events" not in tables and "trail_resources" not in tables
    assert [r["event_id"] for r in rows] == ["evt-old", "evt-imds"]
    rec = json.loads(by_id["record"])
    assert (rec["eventID"], rec["requestID"], rec["userIdentity"]["userName"]) == ("evt-old", "req-old", "admin")
    assert json.loads(by_resource["record"])["eventID"] == "evt-imds"


def test_calls_of_one_caller_share_one_snapshot_and_each_caller_has_its_own() -> None:
    from keyless.auth.principals import Caller
    from keyless.trail.events import _snapshot_values

    admin = Caller(type="User", account="123456789012", arn="arn:aws:iam::123456789012:user/admin", user_id="AIDAX",
                   principal_arn="arn:aws:iam::123456789012:user/admin", username="admin", access_key_id="AKIAX")
    assert _snapshot_values(admin) is _snapshot_values(admin)  # pickled once per batch
    for n in range(50):  # short-lived callers: an id() may come back for another object, never its snapshot
        other = Caller(type="User", account="123456789012", arn=f"arn:aws:iam::123456789012:user/u{n}", user_id=f"AIDA{n}",
                       username=f"u{n}")
        assert _snapshot_values(other)[2:6] == (f"arn:aws:iam::123456789012:user/u{n}", f"AIDA{n}", None, f"u{n}")


def test_segments_with_keys_in_a_text_column_are_migrated_to_the_key_index(tmp_path: Path) -> None:
    from keyless.store import migrations

    db = Database.open(tmp_path)
    pending = (1_790_000_000.0, "iam", "GetRole", "us-east-1", "123456789012", "req-5", ROLE_SESSION, "127.0.0.1", "ua",
               {"RoleName": "r"}, None, None, None, (("iam:GetRole", "arn:aws:iam::123456789012:role/r", "allowed", "ok"),), "on")
    with db.begin(iam=False) as conn:
        trail_store.insert(conn, [pending])
        keys = [r[0] for r in conn.exec_driver_sql("SELECT lookup_key FROM trail_segment_keys")]
        conn.exec_driver_sql("DROP TABLE trail_segment_keys")  # the layout migration 5 made: keys in a column
        conn.exec_driver_sql("ALTER TABLE trail_segments ADD COLUMN lookup_keys TEXT NOT NULL DEFAULT ''")
        conn.exec_driver_sql("UPDATE trail_segments SET lookup_keys = ?", ("\n" + "\n".join(keys) + "\n",))
        conn.exec_driver_sql("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    db.migrate()
    with db.read() as conn:
        columns = {r[1] for r in conn.exec_driver_sql("PRAGMA table_info(trail_segments)")}
        (by_name,) = trail_store.query(conn, attribute=("EventName", "GetRole"))
        (by_user,) = trail_store.query(conn, attribute=("Username", "i-0abc"))
        (by_resource,) = trail_store.query(conn, attribute=("ResourceName", "arn:aws:iam::123456789012:role/r"))
        assert trail_store.query(conn, attribute=("EventName", "GetUser")) == []
    assert "lookup_keys" not in columns and "EGetRole" not in keys and "NGetRole" in keys
    assert by_name["record"] == by_user["record"] == by_resource["record"]
    assert db.schema_version == len(migrations.MIGRATIONS)


def test_equal_user_agents_are_queued_as_one_object() -> None:
    # Each request decodes its own copy of the header; queued as one object, a batch pickles it once.
    from keyless.trail.events import _shared_text

    first, second = "aws-cli/2.15 md/command#iam.get-role", "".join(["aws-cli/2.15 md/", "command#iam.get-role"])
    assert first is not second
    assert _shared_text(first) is _shared_text(second) is first
    assert _shared_text("boto3/1.35") == "boto3/1.35" and _shared_text("boto3/1.35") is not first
