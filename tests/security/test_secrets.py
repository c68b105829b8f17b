"""Secrets stay secret: every secret the server issues in a scenario (admin key, user keys,
AssumeRole and GetSessionToken sets, IMDS v1/v2 sets and IMDS tokens, the master key) is looked
for in the server's log output (every `keyless` and `uvicorn` logger at DEBUG), every trail record
and every error body of the scenario, and in the reprs of what the server holds. Files holding
keys are 0600, the data dir 0700, and the server binds 127.0.0.1 by default."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import datetime, timezone
from typing import Any, Callable

import pytest

from security_wire import FORM, HOSTILE_ROLE, Keys, LogCapture, VERSIONS, exchange, form, signed, wire
from keyless.config import Settings
from keyless.store import trail as trail_store
from keyless.testing import Server

ACCOUNT = "123456789012"
EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


class Scenario:
    """Issues credentials of every kind, uses each one well and badly, and keeps what it saw."""

    def __init__(self, server: Server, admin_client: Callable[[str], Any]) -> None:
        self.server, self.admin = server, admin_client
        self.keys: list[Keys] = [Keys.of(server.admin_credentials())]
        self.other_secrets: list[str] = []  # IMDS tokens, the master key
        self.error_bodies: list[bytes] = []

    def issue(self) -> None:
        iam, sts = self.admin("iam"), self.admin("sts")
        iam.create_user(UserName="secretive")
        iam.put_user_policy(UserName="secretive", PolicyName="all", PolicyDocument=json.dumps(EVERYTHING))
        user = Keys.of(iam.create_access_key(UserName="secretive")["AccessKey"])
        self.keys.append(user)
        self.keys.append(Keys.of(sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{HOSTILE_ROLE}",
                                                 RoleSessionName="secretive")["Credentials"]))
        user_sts = self.server.client("sts", aws_access_key_id=user.access_key_id, aws_secret_access_key=user.secret_access_key)
        self.keys.append(Keys.of(user_sts.get_session_token(DurationSeconds=900)["Credentials"]))
        self._imds()
        master = self.server.app.state.master_key.key
        self.other_secrets += [master.hex(), base64.b64encode(master).decode(), base64.urlsafe_b64encode(master).decode()]

    def _imds(self) -> None:
        iam = self.admin("iam")
        iam.create_role(RoleName="secretive-instance", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
        arn = iam.create_instance_profile(InstanceProfileName="secretive-instance")["InstanceProfile"]["Arn"]
        iam.add_role_to_instance_profile(InstanceProfileName="secretive-instance", RoleName="secretive-instance")
        instance = self.admin("ec2").run_instances(ImageId="ami-12345678", InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                                   IamInstanceProfile={"Arn": arn})["Instances"][0]["InstanceId"]
        port = int(self.server.app.state.components["imds"].endpoint(instance).rstrip("/").rsplit(":", 1)[1])
        path = "/latest/meta-data/iam/security-credentials/secretive-instance"
        token = exchange(port, wire("PUT", "/latest/api/token", [("X-aws-ec2-metadata-token-ttl-seconds", "300")])).body.decode()
        self.other_secrets.append(token)
        for headers in ([], [("X-aws-ec2-metadata-token", token)]):  # v1 and v2 sets
            self.keys.append(Keys.of(json.loads(exchange(port, wire("GET", path, headers)).body)))

    def use(self) -> None:
        """Each set signs good and bad requests in every service; every error body is kept."""
        for keys in self.keys:
            assert exchange(self.server.port, self._request(keys, "sts")).status == 200
            wrong = Keys(keys.access_key_id, keys.secret_access_key[::-1], keys.session_token)
            for service in ("s3", "iam", "sts", "ec2", "cloudtrail"):
                self._error(self._request(wrong, service))
            if keys.session_token:
                self._error(self._request(Keys(keys.access_key_id, keys.secret_access_key, keys.session_token[:-4]), "s3"))
                self._error(self._request(Keys(keys.access_key_id, keys.secret_access_key, keys.session_token[:-4]), "sts"))
        try:  # every session expires: refused with ExpiredToken
            self.server.clock.advance(7 * 3600)
            for keys in self.keys:
                if keys.session_token:
                    self._error(self._request(keys, "s3"))
                    self._error(self._request(keys, "iam"))
        finally:
            self.server.clock.reset()

    def _request(self, keys: Keys, service: str) -> bytes:
        when = datetime.fromtimestamp(self.server.clock.time(), tz=timezone.utc).replace(tzinfo=None)
        if service == "s3":
            return signed(self.server, keys, "s3", "GET", "/hostile-bucket?list-type=2", when=when)
        if service == "cloudtrail":
            return signed(self.server, keys, service, "POST", "/", body=b"{}", when=when, headers={
                "X-Amz-Target": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
                "Content-Type": "application/x-amz-json-1.1"})
        action = {"iam": "ListUsers", "sts": "GetCallerIdentity", "ec2": "DescribeInstances"}[service]
        return signed(self.server, keys, service, "POST", "/", body=form(action, VERSIONS[service]), headers=FORM, when=when)

    def _error(self, request: bytes) -> None:
        reply = exchange(self.server.port, request)
        assert reply.status is not None and 400 <= reply.status < 500, reply.body[:300]
        self.error_bodies.append(reply.body)

    def trail_records(self) -> list[str]:
        self.server.app.state.components["trail"].flush()
        with self.server.app.state.db.read() as conn:
            rows = trail_store.query(conn, limit=100_000)
        return [row["record"] for row in rows]


@pytest.fixture(scope="module")
def scenario(secure_server: Server, admin_client: Callable[[str], Any]) -> tuple[Scenario, str]:
    with LogCapture() as log:
        run = Scenario(secure_server, admin_client)
        run.issue()
        run.use()
        records = run.trail_records()
    assert len(records) > 10 and len(run.error_bodies) > 40
    return run, log.text + "\n".join(records)


def _messages(body: bytes) -> str:
    """The human-readable part of an error body (<Message> or "message")."""
    text = body.decode("utf-8", "replace")
    if text.lstrip().startswith("{"):
        return str(json.loads(text).get("message", ""))
    return text.split("<Message>", 1)[-1].split("</Message>", 1)[0]


def test_no_secret_access_key_appears_in_logs_trail_or_any_error_body(scenario: tuple[Scenario, str]) -> None:
    run, logs_and_trail = scenario
    assert len(run.keys) == 6
    for keys in run.keys:
        assert keys.secret_access_key not in logs_and_trail, keys
        for body in run.error_bodies:
            assert keys.secret_access_key.encode() not in body


def test_no_session_token_or_other_secret_appears_in_logs_trail_or_error_messages(scenario: tuple[Scenario, str]) -> None:
    run, logs_and_trail = scenario
    tokens = [k.session_token for k in run.keys if k.session_token] + run.other_secrets
    assert len(tokens) == 4 + 4  # AssumeRole, GetSessionToken, IMDS v1 and v2; IMDS token and 3 spellings of the master key
    messages = "\n".join(_messages(body) for body in run.error_bodies)
    for secret in tokens:
        assert secret not in logs_and_trail
        assert secret[:40] not in messages  # not even a truncated copy
    # Only S3's SignatureDoesNotMatch shows its CanonicalRequest, which (as on AWS) holds the signed
    # x-amz-security-token header: the token its own sender sent, never anyone else's.
    for body in run.error_bodies:
        shown = [t for t in tokens if t.encode() in body]
        assert len(shown) <= 1 and (not shown or b"<Code>SignatureDoesNotMatch</Code><Message>" in body), body[:200]


def test_nothing_the_server_holds_shows_a_secret_in_its_repr(scenario: tuple[Scenario, str], secure_server: Server) -> None:
    run, _ = scenario
    state = secure_server.app.state
    from keyless.credentials import open_session
    from keyless.server.bootstrap import load_admin_credentials

    held = [state, state.master_key, state.authenticator, dict(state.authenticator._keys), load_admin_credentials(secure_server.data_dir),
            *(open_session(k.session_token, state.master_key) for k in run.keys if k.session_token and k.session_token.startswith("A"))]
    text = "\n".join(repr(item) for item in held)
    for keys in run.keys:
        assert keys.secret_access_key not in text
    for secret in [k.session_token for k in run.keys if k.session_token] + run.other_secrets:
        assert secret not in text


# --- files and sockets -----------------------------------------------------------------------------


def test_key_files_are_0600_and_the_data_dir_0700(scenario: tuple[Scenario, str], secure_server: Server) -> None:
    data_dir = secure_server.data_dir
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    holding_keys = ["master.key", "keyless.db", *(p.name for p in data_dir.glob("keyless.db-*")),
                    *(p.name for p in data_dir.glob("imds-identity-*.pem") if "cert" not in p.name)]
    assert {"master.key", "keyless.db"} <= set(holding_keys)
    for name in holding_keys:
        assert stat.S_IMODE(os.stat(data_dir / name).st_mode) == 0o600, name


def test_object_files_are_0600_whatever_the_umask(secure_server: Server, admin_client: Callable[[str], Any]) -> None:
    s3 = admin_client("s3")
    s3.create_bucket(Bucket="file-modes")
    s3.put_object(Bucket="file-modes", Key="small", Body=b"x" * 100)  # kept in memory, then written
    s3.put_object(Bucket="file-modes", Key="big", Body=b"y" * (3 << 20))  # spilled to a file as it arrives
    s3.copy_object(Bucket="file-modes", Key="copy", CopySource={"Bucket": "file-modes", "Key": "big"})  # copied file to file
    files = [p for p in (secure_server.data_dir / "s3").rglob("*") if p.is_file()]
    assert len(files) >= 3
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {p.name: "0o600" for p in files}


def test_the_server_binds_loopback_by_default(secure_server: Server) -> None:
    assert Settings().host == "127.0.0.1"
    assert secure_server.settings.host == "127.0.0.1"
    with open("/proc/net/tcp") as table:  # the listening socket itself, as the kernel sees it
        listening = [line.split() for line in table.read().splitlines()[1:] if line.split()[3] == "0A"]
    mine = [row for row in listening if int(row[1].split(":")[1], 16) == secure_server.port]
    assert mine and all(row[1].split(":")[0] == "0100007F" for row in mine)
