"""`keyless run`'s environment and `keyless env`'s shell lines: nothing but IMDS can supply
credentials, checked with a real botocore in a subprocess against a real metadata listener."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from imds_harness import RunningImds, running
from keyless.cli.env import SCRUBBED, shell_lines
from keyless.cli.run import instance_environment

AMBIENT = {
    "PATH": "/usr/bin:/bin", "HOME": "/home/someone",
    "AWS_ACCESS_KEY_ID": "AKIAAMBIENTAMBIENT00", "AWS_SECRET_ACCESS_KEY": "ambient-secret",
    "AWS_SESSION_TOKEN": "ambient-token", "AWS_PROFILE": "prod", "AWS_DEFAULT_PROFILE": "prod",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials", "AWS_WEB_IDENTITY_TOKEN_FILE": "/tmp/token",
    "AWS_ROLE_ARN": "arn:aws:iam::111122223333:role/ci", "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_ENDPOINT_URL_S3": "https://s3.example.com", "AWS_CONFIG_FILE": "/home/someone/.aws/config",
    "NO_PROXY": "internal.example.com", "HTTP_PROXY": "http://proxy.invalid:3128",
}


@pytest.fixture
def imds() -> Iterator[RunningImds]:
    yield from running()


def test_environment_scrubs_every_other_credential_source(tmp_path: Path) -> None:
    env = instance_environment(AMBIENT, imds_endpoint="http://127.0.0.1:20001/", server="http://127.0.0.1:5397",
                               region="eu-west-1", scratch=tmp_path)
    for name in SCRUBBED:
        assert name not in env, name
    assert "AWS_ENDPOINT_URL_S3" not in env
    assert env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] == "http://127.0.0.1:20001/"
    assert (env["AWS_ENDPOINT_URL"], env["AWS_REGION"], env["AWS_DEFAULT_REGION"]) == ("http://127.0.0.1:5397", "eu-west-1", "eu-west-1")
    assert Path(env["AWS_CONFIG_FILE"]).read_bytes() == b"" == Path(env["AWS_SHARED_CREDENTIALS_FILE"]).read_bytes()
    assert not Path(env["BOTO_CONFIG"]).exists()
    assert env["NO_PROXY"] == "127.0.0.1,localhost,internal.example.com"
    assert env["no_proxy"] == "127.0.0.1,localhost"
    assert env["PATH"] == "/usr/bin:/bin" and env["HOME"] == "/home/someone"


def test_keep_env_keeps_ambient_settings_but_still_points_at_imds(tmp_path: Path) -> None:
    env = instance_environment(AMBIENT, imds_endpoint="http://127.0.0.1:20001/", server="http://127.0.0.1:5397",
                               region="us-east-1", scratch=tmp_path, keep_env=True)
    assert env["AWS_ACCESS_KEY_ID"] == "AKIAAMBIENTAMBIENT00" and env["AWS_CONFIG_FILE"] == "/home/someone/.aws/config"
    assert "AWS_EC2_METADATA_DISABLED" not in env
    assert env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] == "http://127.0.0.1:20001/"


def test_botocore_default_chain_under_the_environment_finds_only_imds(imds: RunningImds, tmp_path: Path) -> None:
    env = instance_environment(AMBIENT, imds_endpoint=imds.url, server="http://127.0.0.1:5397",
                               region="us-east-1", scratch=tmp_path)
    env["PATH"] = str(Path(sys.executable).parent) + ":/usr/bin:/bin"
    script = ("import json, botocore.session\n"
              "c = botocore.session.get_session().get_credentials()\n"
              "print(json.dumps({'method': c.method, 'key': c.access_key}))\n")
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["method"] == "iam-role"
    assert found["key"] == imds.source.minted[-1][1].access_key_id
    assert imds.source.minted[-1][0] == "2.0"


def test_env_shell_lines_are_eval_able_and_hold_no_secret(tmp_path: Path) -> None:
    text = shell_lines("http://127.0.0.1:20001/", "http://127.0.0.1:5397", "us-east-1")
    script = text + "\nenv\n"
    ambient = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "AKIAAMBIENTAMBIENT00", "AWS_PROFILE": "prod",
               "NO_PROXY": "corp"}
    out = subprocess.run(["sh", "-c", script], env=ambient, capture_output=True, text=True, timeout=30).stdout
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] == "http://127.0.0.1:20001/"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_CONFIG_FILE"] == "/dev/null" and env["NO_PROXY"] == "127.0.0.1,localhost,corp"
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_PROFILE" not in env
    assert "SECRET" not in text.replace("AWS_SECRET_ACCESS_KEY", "")
