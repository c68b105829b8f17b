"""`keyless policy lint --role/--all` and `keyless policy unused` against a live server's data dir."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from keyless.cli.policy_tools import add_tool_commands
from keyless.testing import Server

ACCOUNT = "123456789012"
EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
ACCOUNT_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
READ_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                                                       "Resource": ["arn:aws:s3:::lint-data", "arn:aws:s3:::lint-data/*"]}]}


def policy_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="keyless policy")
    add_tool_commands(parser.add_subparsers(dest="policy_command"))
    args = parser.parse_args(list(argv))
    code = int(args.func(args))
    return code, capsys.readouterr().out


def test_lint_role_clean_and_admin(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    iam = server.client("iam")
    iam.create_role(RoleName="lint-clean", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    iam.put_role_policy(RoleName="lint-clean", PolicyName="read", PolicyDocument=json.dumps(READ_POLICY))
    iam.create_role(RoleName="lint-admin", AssumeRolePolicyDocument=json.dumps(ACCOUNT_TRUST))
    iam.attach_role_policy(RoleName="lint-admin", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")

    code, out = policy_cli(capsys, "lint", "--role", "lint-clean", "--data-dir", str(server.data_dir))
    assert (code, out.strip()) == (0, "no findings")

    code, out = policy_cli(capsys, "lint", "--role", "lint-admin", "--json", "--data-dir", str(server.data_dir))
    findings: list[dict[str, Any]] = json.loads(out)
    assert code == 1
    by_source = {(f["source"], f["id"]) for f in findings}
    admin = f"arn:aws:iam::{ACCOUNT}:role/lint-admin"
    assert (f"{admin} attached arn:aws:iam::aws:policy/AdministratorAccess", "ALLOW_ALL_ACTIONS") in by_source
    assert (f"{admin} trust policy", "TRUST_ALLOWS_WHOLE_ACCOUNT") in by_source

    code, _ = policy_cli(capsys, "lint", "--role", "lint-admin", "--fail-on", "error", "--data-dir", str(server.data_dir))
    assert code == 0  # security findings sit below "error"


def test_lint_all_covers_unattached_customer_policies(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    iam = server.client("iam")
    arn = iam.create_policy(PolicyName="lint-passrole", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]}))["Policy"]["Arn"]
    code, out = policy_cli(capsys, "lint", "--all", "--json", "--data-dir", str(server.data_dir))
    assert code == 1
    assert {"source": arn, "id": "PASS_ROLE_ON_ALL_RESOURCES"}.items() <= next(
        f for f in json.loads(out) if f["source"] == arn).items()


def test_unused_lists_granted_actions_never_attempted(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    iam = server.client("iam")
    iam.create_role(RoleName="unused-app", AssumeRolePolicyDocument=json.dumps(ACCOUNT_TRUST))
    iam.put_role_policy(RoleName="unused-app", PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListAllMyBuckets", "s3:CreateBucket", "iam:GetRole"], "Resource": "*"}]}))
    creds = server.client("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/unused-app", RoleSessionName="worker")["Credentials"]
    server.client("s3", aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                  aws_session_token=creds["SessionToken"]).list_buckets()
    server.app.state.components["trail"].flush()
    code, out = policy_cli(capsys, "unused", "--role", "unused-app", "--json", "--data-dir", str(server.data_dir))
    assert code == 0
    assert json.loads(out)["unused"] == ["iam:GetRole", "s3:CreateBucket"]


def test_keyless_command_exit_codes_for_ci(tmp_path: Any) -> None:
    import subprocess
    import sys

    clean, broad = tmp_path / "clean.json", tmp_path / "broad.json"
    clean.write_text(json.dumps(READ_POLICY))
    broad.write_text(json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))

    def lint(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "keyless", "policy", "lint", *args], capture_output=True, text=True, timeout=60)

    assert lint(str(clean)).returncode == 0
    flagged = lint(str(broad), "--json")
    assert flagged.returncode == 1 and json.loads(flagged.stdout)[0]["id"] == "SERVICE_WILDCARD_ON_ALL_RESOURCES"
    assert lint(str(broad), "--fail-on", "error").returncode == 0
