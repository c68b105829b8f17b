"""`keyless policy generate | lint | unused` over a data directory written through the store."""

from __future__ import annotations

import argparse
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from keyless.cli.policy_tools import add_tool_commands
from keyless.store import iam as iam_store
from keyless.store import trail as trail_store
from keyless.store.db import Database, set_meta

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app-role"
BUCKET = "arn:aws:s3:::app-data"
EC2_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
OPEN_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]})
S3_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
CLEAN = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": [BUCKET, f"{BUCKET}/*"]}]})


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="keyless policy")
    add_tool_commands(parser.add_subparsers(dest="policy_command"))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def record(time: str, name: str, *decisions: tuple[str, str], principal: str = ROLE) -> dict[str, Any]:
    return {
        "eventVersion": "1.10", "eventID": str(uuid.uuid4()), "eventTime": time, "eventName": name,
        "eventSource": "s3.amazonaws.com", "awsRegion": "us-east-1", "eventCategory": "Data", "readOnly": name.startswith("Get"),
        "userIdentity": {"type": "AssumedRole", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/app-role/i-1",
                         "sessionContext": {"sessionIssuer": {"type": "Role", "arn": principal}}},
        "keyless": {"enforce": "learn", "decisions": [{"action": a, "resource": r, "result": "implicitDeny", "reason": ""}
                                                      for a, r in decisions]},
    }


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    db = Database.open(tmp_path)
    with db.begin() as conn:
        set_meta(conn, "account_id", ACCOUNT)
        iam_store.insert_role(conn, id="AROAAPP", account=ACCOUNT, name="app-role", path="/", arn=ROLE, created=0.0,
                              trust_policy=EC2_TRUST)
        iam_store.put_inline_policy(conn, "role", "AROAAPP", "s3", S3_ALL)
        iam_store.insert_role(conn, id="AROAOPEN", account=ACCOUNT, name="open-role", path="/",
                              arn=f"arn:aws:iam::{ACCOUNT}:role/open-role", created=0.0, trust_policy=OPEN_TRUST)
    with db.begin(iam=False) as conn:
        trail_store.insert(conn, [
            record("2026-01-01T00:00:00Z", "GetObject", ("s3:GetObject", f"{BUCKET}/in/a.csv")),
            record("2026-01-01T00:00:01Z", "GetObject", ("s3:GetObject", f"{BUCKET}/in/b.csv")),
            record("2026-01-01T00:00:02Z", "PutObject", ("s3:PutObject", f"{BUCKET}/out/1.json")),
            record("2026-01-02T00:00:00Z", "PutObject", ("s3:PutObject", f"{BUCKET}/out/2.json")),
            record("2026-01-02T00:00:01Z", "ListObjectsV2", ("s3:ListBucket", BUCKET)),
            record("2026-01-02T00:00:02Z", "GetObject", ("s3:GetObject", "arn:aws:s3:::x/y"),
                   principal=f"arn:aws:iam::{ACCOUNT}:role/open-role"),
        ])
    db.close()
    return tmp_path


def test_generate_prints_the_policy(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("generate", "--role", "app-role", "--data-dir", str(data_dir)) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["Statement"] == [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{BUCKET}/in/*"]},
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [BUCKET]},
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": [f"{BUCKET}/out/*"]},
    ]


def test_generate_window(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("generate", "--role", ROLE, "--since", "2026-01-01T12:00:00Z", "--data-dir", str(data_dir)) == 0
    statements = json.loads(capsys.readouterr().out)["Statement"]
    assert [s["Action"] for s in statements] == [["s3:ListBucket"], ["s3:PutObject"]]
    assert statements[1]["Resource"] == [f"{BUCKET}/out/2.json"]
    assert run("generate", "--role", ROLE, "--until", "2025-12-31T00:00:00Z", "--data-dir", str(data_dir)) == 1
    assert "no requests" in capsys.readouterr().err


def test_generate_unknown_role(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("generate", "--role", "nope", "--data-dir", str(data_dir)) == 1
    assert "no role 'nope'" in capsys.readouterr().err


def test_lint_file_clean_and_flagged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean, broad = tmp_path / "clean.json", tmp_path / "broad.json"
    clean.write_text(CLEAN)
    broad.write_text(S3_ALL)
    assert run("lint", str(clean)) == 0
    assert "no findings" in capsys.readouterr().out
    assert run("lint", str(broad)) == 1
    out = capsys.readouterr().out
    assert "broad.json: Statement[0] line 1: security SERVICE_WILDCARD_ON_ALL_RESOURCES" in out
    assert run("lint", str(broad), "--fail-on", "error") == 0  # below the threshold


def test_lint_json_and_trust_detection(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trust = tmp_path / "trust.json"
    trust.write_text(OPEN_TRUST)
    assert run("lint", str(trust), "--json") == 1
    (finding,) = json.loads(capsys.readouterr().out)
    assert finding == {"source": str(trust), "id": "TRUST_ALLOWS_ANYONE", "severity": "security", "statement": 0,
                       "message": finding["message"], "sid": None, "line": 1}


def test_lint_role_and_all(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("lint", "--role", "app-role", "--json", "--data-dir", str(data_dir)) == 1
    findings = json.loads(capsys.readouterr().out)
    assert [(f["source"], f["id"]) for f in findings] == [(f"{ROLE} inline policy s3", "SERVICE_WILDCARD_ON_ALL_RESOURCES")]
    assert run("lint", "--all", "--json", "--data-dir", str(data_dir)) == 1
    ids = {f["id"] for f in json.loads(capsys.readouterr().out)}
    assert ids == {"SERVICE_WILDCARD_ON_ALL_RESOURCES", "TRUST_ALLOWS_ANYONE"}


def test_lint_rejects_two_sources(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        run("lint", str(tmp_path / "x.json"), "--all")


def test_unused(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("unused", "--role", "app-role", "--json", "--data-dir", str(data_dir)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["role"] == ROLE and out["granted"] > 100
    assert "s3:DeleteObject" in out["unused"]
    assert not {"s3:GetObject", "s3:PutObject", "s3:ListBucket"} & set(out["unused"])
    assert run("unused", "--role", "app-role", "--since", "2026-01-02T00:00:00Z", "--data-dir", str(data_dir)) == 0
    lines = capsys.readouterr().out.split()
    assert "s3:GetObject" in lines and "s3:PutObject" not in lines


def test_last_accessed_report_from_the_store(data_dir: Path) -> None:
    from keyless.trail.last_accessed import ACTION_LEVEL, details_response, report

    db = Database.open(data_dir)
    try:
        with db.read() as conn:
            services = report(conn, ROLE, ACTION_LEVEL)
            missing = report(conn, f"arn:aws:iam::{ACCOUNT}:role/nope")
    finally:
        db.close()
    assert missing is None
    assert services is not None and [s["ServiceNamespace"] for s in services] == ["s3"]
    (s3,) = services
    assert s3["LastAuthenticatedEntity"] == ROLE and s3["TotalAuthenticatedEntities"] == 1
    used = {a["ActionName"] for a in s3["TrackedActionsLastAccessed"] if "LastAccessedTime" in a}
    assert used == {"GetObject", "PutObject", "ListBucket"}
    page = details_response(services, granularity=ACTION_LEVEL, created=0, completed=1)
    assert page["IsTruncated"] is False and page["ServicesLastAccessed"] == services
