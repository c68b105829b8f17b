"""The AWS SDK for JavaScript v3 as code on an instance: its own IMDS provider and endpoint
variables (AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_ENDPOINT_URL) under `keyless run`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from keyless.pytest_plugin import launch_instance
from keyless.testing import Server

JS = Path(__file__).resolve().parent.parent / "js"


@pytest.fixture(scope="module")
def js_sdk() -> Path:
    """tests/js with its locked dependencies installed (npm ci, once per checkout)."""
    npm = shutil.which("npm")
    assert npm and shutil.which("node"), "node and npm are part of this project's toolchain"
    if not (JS / "node_modules" / "@aws-sdk" / "client-s3").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, capture_output=True, timeout=300)
    return JS


def test_js_sdk_finds_imds_credentials_and_is_held_to_the_role(server: Server, js_sdk: Path) -> None:
    admin_s3 = server.client("s3")
    admin_s3.create_bucket(Bucket="js-bucket")
    admin_s3.put_object(Bucket="js-bucket", Key="data.json", Body=b'{"from": "s3"}')
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                                                       "Resource": ["arn:aws:s3:::js-bucket", "arn:aws:s3:::js-bucket/*"]}]}
    instance_id = launch_instance(server, policy, name="js-reader")
    proc = subprocess.run(
        [sys.executable, "-m", "keyless", "run", "--instance-id", instance_id, "--data-dir", str(server.data_dir),
         "--endpoint", server.endpoint, "--", "node", "app.mjs", "js-bucket", "data.json"],
        cwd=js_sdk, capture_output=True, text=True, timeout=120,
        env={**server.cli_env(), "AWS_EC2_METADATA_DISABLED": "true"},  # keyless run must undo both
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["arn"] == f"arn:aws:sts::123456789012:assumed-role/js-reader/{instance_id}"
    assert out["body"] == '{"from": "s3"}'
    assert out["put"] == "AccessDenied"
    assert "is not authorized to perform: s3:PutObject" in out["putMessage"]
