"""Learn mode + `keyless policy generate`: a small boto3 app runs once under `--enforce learn` with an
empty-policy role; the generated policy, put on a fresh role, lets the same app run under
enforcement with zero denials, and is strictly smaller than AdministratorAccess."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from pathlib import Path
from typing import Any, Iterator

import botocore.exceptions
import pytest

from keyless.cli.policy_tools import add_tool_commands
from keyless.policy.lint import lint
from keyless.store import aws_managed
from keyless.store import trail as trail_store
from keyless.testing import Server
from keyless.trail.last_accessed import granted_actions

ACCOUNT = "123456789012"
BUCKET = "gen-app-data"
B = f"arn:aws:s3:::{BUCKET}"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def policy_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="keyless policy")
    add_tool_commands(parser.add_subparsers(dest="policy_command"))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def role_session(server: Server, name: str, policy: str | None = None) -> dict[str, str]:
    iam = server.client("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}))
    if policy:
        iam.put_role_policy(RoleName=name, PolicyName="generated", PolicyDocument=policy)
    creds = server.client("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}", RoleSessionName="app")["Credentials"]
    return {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"]}


def workload(server: Server, creds: dict[str, str]) -> list[str]:
    """The app: read its config and inputs, probe a cache key that is not there, write results under
    one prefix, list what it wrote. Returns the keys it listed."""
    s3 = server.client("s3", **creds)
    json.loads(s3.get_object(Bucket=BUCKET, Key="config/app.json")["Body"].read())
    rows = [s3.get_object(Bucket=BUCKET, Key=f"input/{name}")["Body"].read() for name in ("a.csv", "b.csv")]
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        s3.head_object(Bucket=BUCKET, Key="cache/summary.json")
    assert missing.value.response["Error"]["Code"] == "404"  # not 403: the app may list the bucket
    for i, body in enumerate(rows):
        s3.put_object(Bucket=BUCKET, Key=f"results/run/part-{i}.csv", Body=body.upper())
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="results/")
    return [o["Key"] for o in listed.get("Contents", [])]


def denials(server: Server, role: str) -> list[dict[str, Any]]:
    server.app.state.components["trail"].flush()
    with server.app.state.db.read() as conn:
        return trail_store.query(conn, principal_arn=f"arn:aws:iam::{ACCOUNT}:role/{role}", denied_only=True, limit=1000)


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[str]]]:
    data_dir = tmp_path_factory.mktemp("keyless-learn")
    with Server(data_dir, enforce="learn") as learning:
        admin_s3 = learning.client("s3")
        admin_s3.create_bucket(Bucket=BUCKET)
        admin_s3.put_object(Bucket=BUCKET, Key="config/app.json", Body=b'{"mode": "batch"}')
        for name in ("a.csv", "b.csv"):
            admin_s3.put_object(Bucket=BUCKET, Key=f"input/{name}", Body=b"x,y\n1,2\n")
        listed = workload(learning, role_session(learning, "app-role"))
        assert denials(learning, "app-role"), "learn mode should record the would-be denials of an empty role"
    yield data_dir, listed


@pytest.fixture(scope="module")
def generated(learned: tuple[Path, list[str]]) -> dict[str, Any]:
    data_dir, _ = learned
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert policy_cli("generate", "--role", "app-role", "--data-dir", str(data_dir)) == 0
    return dict(json.loads(out.getvalue()))


def test_learn_mode_lets_the_empty_role_run(learned: tuple[Path, list[str]]) -> None:
    assert learned[1] == ["results/run/part-0.csv", "results/run/part-1.csv"]


def test_generated_policy_is_exact(generated: dict[str, Any]) -> None:
    assert generated == {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{B}/cache/summary.json", f"{B}/config/app.json", f"{B}/input/*"]},
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [B]},
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": [f"{B}/results/run/*"]},
    ]}


def test_generated_policy_is_clean_and_strictly_smaller_than_administrator_access(generated: dict[str, Any]) -> None:
    text = json.dumps(generated)
    assert lint(text) == ()
    admin = aws_managed.get(ADMIN)
    assert admin is not None
    mine, everything = granted_actions([text]), granted_actions([admin.document])
    assert mine < everything and mine == {"s3:GetObject", "s3:ListBucket", "s3:PutObject"}
    assert all(r != "*" for s in generated["Statement"] for r in s["Resource"])


def test_same_workload_runs_under_enforcement_with_zero_denials(learned: tuple[Path, list[str]],
                                                                generated: dict[str, Any]) -> None:
    data_dir, listed = learned
    with Server(data_dir, enforce="on") as enforcing:
        creds = role_session(enforcing, "app-role-enforced", json.dumps(generated))
        assert workload(enforcing, creds) == listed
        assert denials(enforcing, "app-role-enforced") == []
        # Not vacuous: the same app with no policy is stopped at the first call.
        bare = role_session(enforcing, "app-role-bare")
        with pytest.raises(botocore.exceptions.ClientError) as denied:
            workload(enforcing, bare)
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        # And the generated policy stops what the app never did.
        s3 = enforcing.client("s3", **creds)
        with pytest.raises(botocore.exceptions.ClientError) as write:
            s3.put_object(Bucket=BUCKET, Key="input/a.csv", Body=b"tampered")
        assert write.value.response["Error"]["Code"] == "AccessDenied"
