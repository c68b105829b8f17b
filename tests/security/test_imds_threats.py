"""The IMDS threat model on a real server: a vulnerable "fetch this URL for me" app running on an
instance (under `keyless run`) leaks the role's credentials through IMDSv1 (and they work against keyless), but not when
HttpTokens=required; a proxied token PUT is refused; tokens are per instance; HttpEndpoint=disabled
closes the service. Plus hostile raw HTTP against an instance's metadata listener."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from security_wire import LogCapture, assert_no_traceback, exchange, wire
from keyless.testing import Server

ACCOUNT = "123456789012"
EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
TTL = {"X-aws-ec2-metadata-token-ttl-seconds": "300"}
ROLE = "ssrf-target-role"


# --- the vulnerable app, run on an instance ------------------------------------------------------

APP = Path(__file__).with_name("ssrf_app.py")
Attack = Callable[[str], tuple[int, bytes]]


class OnInstance:
    """tests/security/ssrf_app.py under `keyless run --instance-id`, as code on that instance."""

    def __init__(self, server: Server, instance_id: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "keyless", "run", "--data-dir", str(server.data_dir), "--instance-id", instance_id,
             "--", sys.executable, str(APP)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("listening "), (line, self.proc.stderr.read() if self.proc.poll() is not None else "")
        self.port = int(line.split()[1])

    def attack(self, url: str) -> tuple[int, bytes]:
        """What an attacker gets by asking the app to fetch `url`."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/fetch?" + urllib.parse.urlencode({"url": url}))
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()  # the app stops at EOF, and `keyless run` with it
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def app_on(secure_server: Server) -> Iterator[Callable[[str], Attack]]:
    """app_on(instance_id) starts the vulnerable app on that instance and returns its attack()."""
    started: list[OnInstance] = []

    def start(instance_id: str) -> Attack:
        started.append(OnInstance(secure_server, instance_id))
        return started[-1].attack

    yield start
    for app in started:
        app.close()


# --- instances --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def profile_arn(admin_client: Callable[[str], Any]) -> str:
    iam = admin_client("iam")
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    iam.put_role_policy(RoleName=ROLE, PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}))
    arn = str(iam.create_instance_profile(InstanceProfileName=ROLE)["InstanceProfile"]["Arn"])
    iam.add_role_to_instance_profile(InstanceProfileName=ROLE, RoleName=ROLE)
    return arn


def launch(admin_client: Callable[[str], Any], profile_arn: str, **options: str) -> str:
    params: dict[str, Any] = {"ImageId": "ami-12345678", "InstanceType": "t3.micro", "MinCount": 1, "MaxCount": 1,
                              "IamInstanceProfile": {"Arn": profile_arn}}
    if options:
        params["MetadataOptions"] = options
    return str(admin_client("ec2").run_instances(**params)["Instances"][0]["InstanceId"])


def imds(server: Server, instance_id: str) -> str:
    url = server.app.state.components["imds"].endpoint(instance_id)
    assert url is not None and url.startswith("http://127.0.0.1:")
    return str(url).rstrip("/")


def call(url: str, method: str = "GET", path: str = "/latest/meta-data/", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    reply = exchange(int(url.rsplit(":", 1)[1]), wire(method, path, [("Host", "169.254.169.254"), *(headers or {}).items()]))
    assert reply.status is not None
    return reply.status, reply.body


CREDENTIALS = f"/latest/meta-data/iam/security-credentials/{ROLE}"
LINK_LOCAL = "http://169.254.169.254"  # what an attacker asks for; the app on the instance routes it to its IMDS


# --- SSRF -------------------------------------------------------------------------------------------


def test_imdsv1_leaks_role_credentials_through_a_get_only_ssrf(secure_server: Server, admin_client: Callable[[str], Any],
                                                               profile_arn: str, app_on: Callable[[str], Attack]) -> None:
    attack = app_on(launch(admin_client, profile_arn, HttpTokens="optional"))
    status, body = attack(LINK_LOCAL + "/latest/meta-data/iam/security-credentials/")
    assert (status, body) == (200, ROLE.encode())
    status, body = attack(LINK_LOCAL + CREDENTIALS)
    assert status == 200
    leaked = json.loads(body)
    assert leaked["Code"] == "Success" and leaked["AccessKeyId"].startswith("ASIA")
    # The stolen set works from anywhere: it is the instance role, as on AWS.
    thief = secure_server.client("sts", aws_access_key_id=leaked["AccessKeyId"],
                                 aws_secret_access_key=leaked["SecretAccessKey"], aws_session_token=leaked["Token"])
    assert thief.get_caller_identity()["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/")


def test_http_tokens_required_defeats_the_get_only_ssrf(secure_server: Server, admin_client: Callable[[str], Any],
                                                        profile_arn: str, app_on: Callable[[str], Attack]) -> None:
    instance_id = launch(admin_client, profile_arn, HttpTokens="required")
    attack = app_on(instance_id)
    for path in (CREDENTIALS, "/latest/meta-data/iam/security-credentials/", "/latest/meta-data/", "/latest/api/token"):
        status, body = attack(LINK_LOCAL + path)
        assert status == 502, (path, body)  # the app got 401 (405 for GET api/token) and nothing else
        assert b"ASIA" not in body and b"Token" not in body
    # The instance's own SDKs still get their credentials through a token.
    url = imds(secure_server, instance_id)
    token = call(url, "PUT", "/latest/api/token", TTL)[1].decode()
    status, body = call(url, path=CREDENTIALS, headers={"X-aws-ec2-metadata-token": token})
    assert status == 200 and json.loads(body)["Code"] == "Success"


def test_switching_an_instance_to_tokens_required_closes_the_ssrf_on_the_next_request(
        admin_client: Callable[[str], Any], profile_arn: str, app_on: Callable[[str], Attack]) -> None:
    instance_id = launch(admin_client, profile_arn)
    attack = app_on(instance_id)
    assert attack(LINK_LOCAL + CREDENTIALS)[0] == 200
    admin_client("ec2").modify_instance_metadata_options(InstanceId=instance_id, HttpTokens="required")
    assert attack(LINK_LOCAL + CREDENTIALS)[0] == 502
    admin_client("ec2").modify_instance_metadata_options(InstanceId=instance_id, HttpEndpoint="disabled")
    assert attack(LINK_LOCAL + CREDENTIALS)[0] == 502


def test_a_proxied_token_put_is_refused(secure_server: Server, admin_client: Callable[[str], Any], profile_arn: str) -> None:
    url = imds(secure_server, launch(admin_client, profile_arn, HttpTokens="required"))
    for forwarded in ("203.0.113.7", "127.0.0.1", ""):
        status, body = call(url, "PUT", "/latest/api/token", {**TTL, "X-Forwarded-For": forwarded})
        assert status == 403 and not body.strip().isalnum()


def test_a_token_from_one_instance_is_rejected_by_another(secure_server: Server, admin_client: Callable[[str], Any],
                                                          profile_arn: str) -> None:
    first = imds(secure_server, launch(admin_client, profile_arn, HttpTokens="required"))
    second = imds(secure_server, launch(admin_client, profile_arn, HttpTokens="optional"))
    token = call(first, "PUT", "/latest/api/token", TTL)[1].decode()
    assert call(first, path=CREDENTIALS, headers={"X-aws-ec2-metadata-token": token})[0] == 200
    # Even where IMDSv1 is allowed, a token that is not this instance's is a 401, not a v1 fallback.
    for path in (CREDENTIALS, "/latest/meta-data/instance-id"):
        assert call(second, path=path, headers={"X-aws-ec2-metadata-token": token})[0] == 401


def test_http_endpoint_disabled_closes_the_service(secure_server: Server, admin_client: Callable[[str], Any],
                                                   profile_arn: str) -> None:
    instance_id = launch(admin_client, profile_arn)
    url = imds(secure_server, instance_id)
    token = call(url, "PUT", "/latest/api/token", TTL)[1].decode()
    admin_client("ec2").modify_instance_metadata_options(InstanceId=instance_id, HttpEndpoint="disabled")
    assert call(url, "PUT", "/latest/api/token", TTL)[0] == 403
    assert call(url, path=CREDENTIALS)[0] == 403
    assert call(url, path=CREDENTIALS, headers={"X-aws-ec2-metadata-token": token})[0] == 403


# --- hostile raw HTTP into the metadata listener ------------------------------------------------------


@pytest.mark.parametrize("raw", [
    b"GET /latest/meta-data/ HTTP/1.1\r\nX-A: " + b"a" * 20_000 + b"\r\n\r\n",  # head over the listener's 16 KiB
    b"PUT /latest/api/token HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
    b"PUT /latest/api/token HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET /latest/meta-data/ HTTP/1.1\r\n Bad: header\r\n\r\n",
    b"GET /latest/meta-data/\x00/ HTTP/1.1\r\n\r\n",
    b"GET /latest/meta-data/../../../../etc/passwd HTTP/1.1\r\n\r\n",
    b"GET /latest/meta-data/iam/security-credentials/%2e%2e%2f HTTP/1.1\r\n\r\n",
    b"PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 99999999999999999999\r\n\r\n",
    b"DELETE /latest/meta-data/ HTTP/1.1\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00",
    b"GET / HTTP/1.1\r\nX-aws-ec2-metadata-token: " + "é".encode() * 50 + b"\r\n\r\n",
], ids=["big-head", "huge-length", "chunked", "folded", "nul", "traversal", "encoded-traversal", "huge-ttl", "delete",
        "tls", "non-ascii-token"])
def test_hostile_requests_to_a_metadata_listener_get_4xx(secure_server: Server, admin_client: Callable[[str], Any],
                                                         profile_arn: str, raw: bytes, server_log: LogCapture) -> None:
    url = imds(secure_server, imds_instance(secure_server, admin_client, profile_arn))
    reply = exchange(int(url.rsplit(":", 1)[1]), raw, half_close=True)
    assert reply.status is None or 400 <= reply.status < 500, (reply.status, reply.body[:200])
    assert b"ASIA" not in reply.body
    assert_no_traceback(reply.body)
    server_log.assert_no_tracebacks()


_SHARED: dict[str, str] = {}


def imds_instance(server: Server, admin_client: Callable[[str], Any], profile_arn: str) -> str:
    """One tokens-required instance shared by the raw-HTTP cases."""
    if "id" not in _SHARED:
        _SHARED["id"] = launch(admin_client, profile_arn, HttpTokens="required")
    return _SHARED["id"]
