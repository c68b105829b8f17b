"""The server as a user meets it: health, the admin's keys, auth failures, restarts."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import urllib.request

import botocore.exceptions
import pytest

from keyless.cli import main as keyless_main
from keyless.testing import Server


def test_health_reports_status_and_version(server: Server) -> None:
    with urllib.request.urlopen(f"{server.endpoint}/_keyless/health") as resp:
        assert resp.status == 200
        body = json.loads(resp.read())
    assert body["status"] == "ok"
    assert body["version"]
    assert body["enforce"] == "on"


def test_credentials_env_is_evalable_and_complete(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    assert keyless_main(["credentials", "--data-dir", str(server.data_dir), "--format", "env"]) == 0
    out = capsys.readouterr().out
    env = subprocess.run(["bash", "-c", out + "\nenv"], capture_output=True, text=True, check=True).stdout
    values = dict(line.split("=", 1) for line in env.splitlines() if line.startswith("AWS_"))
    assert values["AWS_ACCESS_KEY_ID"].startswith("AKIA") and len(values["AWS_ACCESS_KEY_ID"]) == 20
    assert len(values["AWS_SECRET_ACCESS_KEY"]) == 40
    assert values["AWS_ENDPOINT_URL"] == server.endpoint
    assert values["AWS_REGION"] == values["AWS_DEFAULT_REGION"] == "us-east-1"


def test_credentials_json_and_ini(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    keyless_main(["credentials", "--data-dir", str(server.data_dir), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["AccessKeyId"] == server.admin_credentials()["aws_access_key_id"]
    keyless_main(["credentials", "--data-dir", str(server.data_dir), "--format", "ini"])
    assert "aws_secret_access_key = " in capsys.readouterr().out


def test_secret_files_are_private(server: Server) -> None:
    assert stat.S_IMODE(os.stat(server.data_dir).st_mode) == 0o700
    for name in ("master.key", "keyless.db"):
        assert stat.S_IMODE(os.stat(server.data_dir / name).st_mode) == 0o600, name


def test_admin_secret_is_not_stored_in_plaintext(server: Server) -> None:
    secret = server.admin_credentials()["aws_secret_access_key"]
    # Searched from another process: closing any descriptor of the database in this one (the test
    # server runs in-process) would drop the server's SQLite locks, which POSIX keeps per process.
    found = subprocess.run(["grep", "-rlF", "--binary-files=text", secret, str(server.data_dir)],
                           capture_output=True, text=True)
    assert found.returncode == 1 and not found.stdout, found.stdout  # 1: searched everything, no match


def test_unknown_access_key_is_rejected(server: Server) -> None:
    sts = server.client("sts", aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sts.get_caller_identity()
    assert exc.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_wrong_secret_is_signature_does_not_match(server: Server) -> None:
    creds = server.admin_credentials()
    sts = server.client("sts", aws_access_key_id=creds["aws_access_key_id"], aws_secret_access_key="y" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sts.get_caller_identity()
    assert exc.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unsigned_query_request_is_missing_authentication_token(server: Server) -> None:
    req = urllib.request.Request(server.endpoint + "/", data=b"Action=GetCallerIdentity&Version=2011-06-15",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req)
    assert exc.value.code == 403
    assert b"<Code>MissingAuthenticationToken</Code>" in exc.value.read()


def _signed_post(server: Server, service: str, body: str) -> urllib.request.Request:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    keys = server.admin_credentials()
    req = AWSRequest("POST", server.endpoint + "/", data=body.encode(),
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(keys["aws_access_key_id"], keys["aws_secret_access_key"]), service, "us-east-1").add_auth(req)
    return urllib.request.Request(req.url, data=req.body, headers=dict(req.headers.items()), method="POST")


def test_unknown_action_is_invalid_action(server: Server) -> None:
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(_signed_post(server, "sts", "Action=NoSuchThing&Version=2011-06-15"))
    assert exc.value.code == 400
    assert b"<Code>InvalidAction</Code>" in exc.value.read()


def test_clock_skew_beyond_15_minutes_is_rejected(server: Server) -> None:
    sts = server.client("sts")
    server.clock.advance(16 * 60)
    try:
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            sts.get_caller_identity()
    finally:
        server.clock.reset()
    assert exc.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert "Signature expired" in exc.value.response["Error"]["Message"]


def test_state_and_session_tokens_survive_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with Server(tmp_path / "data") as first:
        iam = first.client("iam")
        iam.create_role(RoleName="keeper", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}],
        }))
        creds = first.client("sts").assume_role(RoleArn="arn:aws:iam::123456789012:role/keeper", RoleSessionName="ss")["Credentials"]
        admin_key = first.admin_credentials()
    with Server(tmp_path / "data") as second:
        assert second.admin_credentials() == admin_key
        assert second.client("iam").get_role(RoleName="keeper")["Role"]["RoleName"] == "keeper"
        sts = second.client("sts", aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds["SessionToken"])
        assert sts.get_caller_identity()["Arn"] == "arn:aws:sts::123456789012:assumed-role/keeper/ss"


def test_python_dash_m_keyless_prints_help() -> None:
    proc = subprocess.run([sys.executable, "-m", "keyless", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "server" in proc.stdout and "credentials" in proc.stdout


def test_repeated_reads_each_carry_their_own_request_id_and_see_writes(server: Server) -> None:
    # IAM reads are answered from a cache until the next IAM write; every answer still has its own
    # request id, the same in the header and in the body, and a write shows at once.
    iam = server.client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    iam.create_role(RoleName="cached-read-role", AssumeRolePolicyDocument=trust, Description="first")
    seen = set()
    for _ in range(3):
        got = iam.get_role(RoleName="cached-read-role")
        meta = got["ResponseMetadata"]
        assert meta["RequestId"] == meta["HTTPHeaders"]["x-amzn-requestid"]
        assert got["Role"]["Description"] == "first"
        seen.add(meta["RequestId"])
    assert len(seen) == 3
    iam.update_role(RoleName="cached-read-role", Description="second")
    assert iam.get_role(RoleName="cached-read-role")["Role"]["Description"] == "second"
