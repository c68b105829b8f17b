"""`keyless run`, `keyless env` and `keyless instances` as a user runs them: real subprocesses,
boto3's and the aws CLI's default credential chains, and ambient admin keys that must not leak in."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from keyless.testing import Server

ACCOUNT = "123456789012"
BIN = Path(sys.executable).parent
AWS_CLI = shutil.which("aws", path=str(BIN)) or "aws"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def keyless(server: Server, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "keyless", *args[:1], "--data-dir", str(server.data_dir), *args[1:]],
                          env=env or ambient(server), input=input, capture_output=True, text=True, timeout=120)


def ambient(server: Server) -> dict[str, str]:
    """A developer's shell: the admin's keys exported, IMDS disabled - `keyless run` must undo both."""
    creds = server.admin_credentials()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"PATH": f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}", "AWS_ACCESS_KEY_ID": creds["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": creds["aws_secret_access_key"], "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1"})
    return env


@pytest.fixture(scope="module")
def article(server: Server) -> dict[str, Any]:
    """The seed article's role, policy, profile and bucket, with one running instance."""
    suffix = uuid.uuid4().hex[:8]
    bucket = f"my-specific-bucket-{suffix}"
    iam = server.client("iam")
    role = iam.create_role(RoleName=f"ec2-s3-access-role-{suffix}", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="s3-read-policy", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                                                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}))
    profile = f"ec2-s3-access-profile-{suffix}"
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role["RoleName"])
    s3 = server.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="data.json", Body=b'{"hello": "instance"}')
    instance_id = server.client("ec2").run_instances(
        ImageId="ami-12345678", InstanceType="t3.micro", MinCount=1, MaxCount=1,
        IamInstanceProfile={"Name": profile}, KeyName="my-key-pair")["Instances"][0]["InstanceId"]
    return {"role": role, "profile": profile, "bucket": bucket, "instance_id": instance_id}


def session_arn(article: dict[str, Any], instance_id: str) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{article['role']['RoleName']}/{instance_id}"


def test_boto3_app_finds_role_credentials_through_its_default_chain(server: Server, article: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(f"""
        import json, boto3, botocore.exceptions
        s3 = boto3.client("s3")
        body = s3.get_object(Bucket="{article['bucket']}", Key="data.json")["Body"].read().decode()
        try:
            s3.put_object(Bucket="{article['bucket']}", Key="x", Body=b"x")
            put = "allowed"
        except botocore.exceptions.ClientError as exc:
            put = exc.response["Error"]["Code"]
        print(json.dumps({{"body": body, "put": put, "method": boto3.Session().get_credentials().method,
                          "arn": boto3.client("sts").get_caller_identity()["Arn"]}}))
    """))
    proc = keyless(server, "run", "--instance-id", article["instance_id"], "--", sys.executable, str(tmp_path / "app.py"))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out == {"body": '{"hello": "instance"}', "put": "AccessDenied", "method": "iam-role",
                   "arn": session_arn(article, article["instance_id"])}


def test_aws_cli_under_run_with_a_fresh_instance_prints_the_session_arn(server: Server, article: dict[str, Any]) -> None:
    proc = keyless(server, "run", "--instance-profile", article["profile"], "--", AWS_CLI, "sts", "get-caller-identity",
                   "--output", "json")
    assert proc.returncode == 0, proc.stderr
    arn = json.loads(proc.stdout)["Arn"]
    instance_id = arn.rsplit("/", 1)[1]
    assert arn == session_arn(article, instance_id)
    described = server.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert described["State"]["Name"] == "terminated"  # launched for the command, gone after it


def test_keep_leaves_the_fresh_instance_running(server: Server, article: dict[str, Any]) -> None:
    proc = keyless(server, "run", "--instance-profile", article["profile"], "--keep", "--", AWS_CLI, "sts",
                   "get-caller-identity", "--query", "Arn", "--output", "text")
    assert proc.returncode == 0, proc.stderr
    instance_id = proc.stdout.strip().rsplit("/", 1)[1]
    assert instance_id in proc.stderr
    described = server.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert described["State"]["Name"] == "running"


def test_stdin_stdout_and_exit_status_pass_through(server: Server, article: dict[str, Any]) -> None:
    script = "import sys; print(sys.stdin.read().upper(), end=''); sys.exit(3)"
    proc = keyless(server, "run", "--instance-id", article["instance_id"], "--", sys.executable, "-c", script, input="hello")
    assert (proc.returncode, proc.stdout) == (3, "HELLO")


def test_run_refuses_a_stopped_instance_and_an_unknown_profile(server: Server, article: dict[str, Any]) -> None:
    ec2 = server.client("ec2")
    instance_id = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[instance_id])
    proc = keyless(server, "run", "--instance-id", instance_id, "--", "true")
    assert proc.returncode == 1 and "stopped" in proc.stderr
    proc = keyless(server, "run", "--instance-profile", "no-such-profile", "--", "true")
    assert proc.returncode == 1 and "InvalidParameterValue" in proc.stderr
    assert keyless(server, "run", "--instance-id", article["instance_id"], "--", "definitely-not-a-command").returncode == 127


def test_env_points_a_shell_at_the_instance(server: Server, article: dict[str, Any]) -> None:
    script = textwrap.dedent(f"""
        eval "$("{sys.executable}" -m keyless env --data-dir "{server.data_dir}" --instance-id {article['instance_id']})"
        TOKEN=$(curl -s -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' "$AWS_EC2_METADATA_SERVICE_ENDPOINT"latest/api/token)
        curl -s -H "X-aws-ec2-metadata-token: $TOKEN" "$AWS_EC2_METADATA_SERVICE_ENDPOINT"latest/meta-data/instance-id
        echo
        aws sts get-caller-identity --query Arn --output text
    """)
    proc = subprocess.run(["sh", "-c", script], env=ambient(server), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [article["instance_id"], session_arn(article, article["instance_id"])]
    printed = keyless(server, "env", "--instance-id", article["instance_id"]).stdout
    assert server.admin_credentials()["aws_secret_access_key"] not in printed
    assert f"export AWS_ENDPOINT_URL={server.endpoint}" in printed


def test_instances_lists_state_profile_role_and_endpoint(server: Server, article: dict[str, Any]) -> None:
    proc = keyless(server, "instances", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    listed = {i["instance_id"]: i for i in json.loads(proc.stdout)}
    mine = listed[article["instance_id"]]
    assert mine["state"] == "running" and mine["profile_name"] == article["profile"]
    assert mine["role_name"] == article["role"]["RoleName"]
    assert mine["imds_endpoint"] == server.app.state.components["imds"].endpoint(article["instance_id"])
    table = keyless(server, "instances").stdout.splitlines()
    assert table[0].split() == ["INSTANCE", "STATE", "TYPE", "PRIVATE-IP", "PROFILE", "ROLE", "IMDS-ENDPOINT"]
    assert any(line.startswith(article["instance_id"]) and article["profile"] in line for line in table[1:])
    cert = keyless(server, "instances", "--identity-certificate").stdout
    assert cert.startswith("-----BEGIN CERTIFICATE-----")
