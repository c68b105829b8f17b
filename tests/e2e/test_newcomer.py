"""A newcomer's tools: `keyless demo`, `keyless doctor` and the pytest plugin, used as users use them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from keyless.cli.doctor import diagnose
from keyless.pytest_plugin import launch_instance
from keyless.testing import Server

KEYLESS = [sys.executable, "-m", "keyless"]
ACCOUNT = "123456789012"


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {"AWS_EC2_METADATA_DISABLED": "true", "COLUMNS": "400"}


def test_demo_with_an_embedded_server() -> None:
    proc = subprocess.run([*KEYLESS, "demo"], capture_output=True, text=True, timeout=180, env=_clean_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "every step behaved as on AWS" in proc.stdout
    assert "AccessDenied" in proc.stdout and "because no identity-based policy allows the s3:PutObject action" in proc.stdout


def test_demo_against_a_running_server(server: Server) -> None:
    proc = subprocess.run([*KEYLESS, "demo", "--endpoint", server.endpoint, "--data-dir", str(server.data_dir)],
                          capture_output=True, text=True, timeout=180, env=_clean_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "10/10" in proc.stdout


# --- doctor -------------------------------------------------------------------------------------

S3_READ = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                                                   "Resource": ["arn:aws:s3:::doc-bucket", "arn:aws:s3:::doc-bucket/*"]}]}


def _imds(server: Server, instance_id: str) -> str:
    from keyless.cli.instances import find_instance

    info = find_instance(server.data_dir, instance_id)
    assert info is not None and info.imds_endpoint
    return info.imds_endpoint


def _doctor(server: Server, env: dict[str, str], **kw: Any) -> dict[str, Any]:
    findings = diagnose(env, server=server.endpoint, region="us-east-1", data_dir=server.data_dir, **kw)
    return {f.check: f for f in findings}


def test_doctor_warns_that_env_keys_shadow_imds(server: Server, tmp_path: Path) -> None:
    env = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE12", "AWS_SECRET_ACCESS_KEY": "x" * 40,
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    found = _doctor(server, env)
    assert found["env"].level == "warn" and "take precedence over the instance profile" in found["env"].message


def test_doctor_reports_imds_unreachable(server: Server, tmp_path: Path) -> None:
    from keyless.testing import free_port

    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://127.0.0.1:{free_port()}/",
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    found = _doctor(server, env)
    assert found["imds"].level == "error" and "unreachable" in found["imds"].message


def test_doctor_reports_no_profile_attached(server: Server, tmp_path: Path) -> None:
    ec2 = server.client("ec2")
    instance_id = ec2.run_instances(ImageId="ami-12345678", InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": _imds(server, instance_id), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    found = _doctor(server, env, instance_id=instance_id)
    assert found["imds-role"].level == "error" and "no instance profile" in found["imds-role"].message
    assert found["association"].level == "error"


def test_doctor_reports_trust_policy_without_ec2(server: Server, tmp_path: Path) -> None:
    iam = server.client("iam")
    iam.create_role(RoleName="doc-untrusting", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}]}))
    iam.create_instance_profile(InstanceProfileName="doc-untrusting")
    iam.add_role_to_instance_profile(InstanceProfileName="doc-untrusting", RoleName="doc-untrusting")
    instance_id = server.client("ec2").run_instances(
        ImageId="ami-12345678", InstanceType="t3.micro", MinCount=1, MaxCount=1,
        IamInstanceProfile={"Name": "doc-untrusting"})["Instances"][0]["InstanceId"]
    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": _imds(server, instance_id), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    found = _doctor(server, env)
    assert found["imds-credentials"].level == "error"
    assert "trust policy" in found["imds-credentials"].message


def test_doctor_names_the_missing_statement(server: Server, tmp_path: Path) -> None:
    instance_id = launch_instance(server, S3_READ, name="doc-reader")
    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": _imds(server, instance_id), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    found = _doctor(server, env, action="s3:PutObject", resource="arn:aws:s3:::doc-bucket/out.json")
    assert found["identity"].message.endswith(f"assumed-role/doc-reader/{instance_id}")
    assert found["simulate"].level == "error"
    assert found["simulate"].detail["missing_statement"] == {
        "Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::doc-bucket/out.json"}
    allowed = _doctor(server, env, action="s3:GetObject", resource="arn:aws:s3:::doc-bucket/data.json")
    assert allowed["simulate"].level == "ok"


def test_doctor_command_exit_code_and_json(server: Server) -> None:
    instance_id = launch_instance(server, S3_READ, name="doc-cli")
    proc = subprocess.run([*KEYLESS, "doctor", "--instance-id", instance_id, "--data-dir", str(server.data_dir),
                           "--endpoint", server.endpoint, "--json"], capture_output=True, text=True, timeout=60,
                          env=_clean_env() | {"AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
    findings = {f["check"]: f for f in json.loads(proc.stdout)}
    assert proc.returncode == 0, proc.stdout
    assert findings["imds-credentials"]["level"] == "ok"
    assert findings["identity"]["detail"]["arn"].endswith(f"/doc-cli/{instance_id}")


# --- pytest plugin --------------------------------------------------------------------------------

pytest_plugins = ["pytester"]


def test_pytest_plugin_fixtures_in_a_user_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app="""
        import pytest
        from botocore.exceptions import ClientError

        READ = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": ["arn:aws:s3:::app-data", "arn:aws:s3:::app-data/*"]}]}

        def test_least_privilege(keyless_admin, keyless_server, keyless_instance):
            admin_s3 = keyless_admin.client("s3", endpoint_url=keyless_server.endpoint)
            admin_s3.create_bucket(Bucket="app-data")
            admin_s3.put_object(Bucket="app-data", Key="k", Body=b"hello")
            s3 = keyless_instance(READ).client("s3")
            assert s3.get_object(Bucket="app-data", Key="k")["Body"].read() == b"hello"
            with pytest.raises(ClientError, match="AccessDenied"):
                s3.put_object(Bucket="app-data", Key="k", Body=b"x")
    """)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
