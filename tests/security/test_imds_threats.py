"""The IMDS threat model on a real server: a vulnerable "fetch this URL for me" app running on an
instance leaks the role's credentials through IMDSv1 (and they work against keyless), but not when
HttpTokens=required; a proxied token PUT is refused; tokens are per instance; HttpEndpoint=disabled
closes the service. Plus hostile raw HTTP against an instance's metadata listener."""

from __future__ import annotations

import http.client
import http.server
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Iterator

import pytest

from security_wire import LogCapture, assert_no_traceback, exchange, wire
from keyless.testing import Server, free_port

ACCOUNT = "123456789012"
EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
TTL = {"X-aws-ec2-metadata-token-ttl-seconds": "300"}
ROLE = "ssrf-target-role"


# --- the vulnerable app -------------------------------------------------------------------------


class FetchForMe(http.server.BaseHTTPRequestHandler):
    """GET /fetch?url=U fetches U with a plain GET and returns what came back: the classic SSRF."""

    def do_GET(self) -> None:  # noqa: N802 -- http.server's naming
        url = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("url", [""])[0]
        try:
            with urllib.request.urlopen(url, timeout=5) as upstream:  # GET only, no headers of the caller's choosing
                status, body = 200, upstream.read()
        except urllib.error.HTTPError as exc:
            status, body = 502, f"upstream said {exc.code}".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def vulnerable_app() -> Iterator[Callable[[str], tuple[int, bytes]]]:
    """The app's port; calling the fixture's value asks the app to fetch a URL, as an attacker would."""
    app = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), FetchForMe)
    thread = threading.Thread(target=app.serve_forever, daemon=True)
    thread.start()

    def attack(url: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", app.server_address[1], timeout=10)
        try:
            conn.request("GET", "/fetch?" + urllib.parse.urlencode({"url": url}))
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    yield attack
    app.shutdown()
    app.server_close()


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


# --- SSRF -------------------------------------------------------------------------------------------


def test_imdsv1_leaks_role_credentials_through_a_get_only_ssrf(secure_server: Server, admin_client: Callable[[str], Any],
                                                               profile_arn: str, vulnerable_app: Callable[[str], tuple[int, bytes]]) -> None:
    url = imds(secure_server, launch(admin_client, profile_arn, HttpTokens="optional"))
    status, body = vulnerable_app(url + CREDENTIALS)
    assert status == 200
    leaked = json.loads(body)
    assert leaked["Code"] == "Success" and leaked["AccessKeyId"].startswith("ASIA")
    # The stolen set works from anywhere: it is the instance role, as on AWS.
    thief = secure_server.client("sts", aws_access_key_id=leaked["AccessKeyId"],
                                 aws_secret_access_key=leaked["SecretAccessKey"], aws_session_token=leaked["Token"])
    assert thief.get_caller_identity()["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/")


def test_http_tokens_required_defeats_the_get_only_ssrf(secure_server: Server, admin_client: Callable[[str], Any],
                                                        profile_arn: str, vulnerable_app: Callable[[str], tuple[int, bytes]]) -> None:
    url = imds(secure_server, launch(admin_client, profile_arn, HttpTokens="required"))
    for path in (CREDENTIALS, "/latest/meta-data/iam/security-credentials/", "/latest/meta-data/", "/latest/api/token"):
        status, body = vulnerable_app(url + path)
        assert status == 502, (path, body)  # the app got 401 (405 for GET api/token) and nothing else
        assert b"ASIA" not in body and b"Token" not in body
    # The instance's own SDKs still get their credentials through a token.
    token = call(url, "PUT", "/latest/api/token", TTL)[1].decode()
    status, body = call(url, path=CREDENTIALS, headers={"X-aws-ec2-metadata-token": token})
    assert status == 200 and json.loads(body)["Code"] == "Success"


def test_switching_an_instance_to_tokens_required_closes_the_ssrf_on_the_next_request(
        secure_server: Server, admin_client: Callable[[str], Any], profile_arn: str,
        vulnerable_app: Callable[[str], tuple[int, bytes]]) -> None:
    instance_id = launch(admin_client, profile_arn)
    url = imds(secure_server, instance_id)
    assert vulnerable_app(url + CREDENTIALS)[0] == 200
    admin_client("ec2").modify_instance_metadata_options(InstanceId=instance_id, HttpTokens="required")
    assert vulnerable_app(url + CREDENTIALS)[0] == 502


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
                                                   profile_arn: str, vulnerable_app: Callable[[str], tuple[int, bytes]]) -> None:
    instance_id = launch(admin_client, profile_arn)
    url = imds(secure_server, instance_id)
    token = call(url, "PUT", "/latest/api/token", TTL)[1].decode()
    admin_client("ec2").modify_instance_metadata_options(InstanceId=instance_id, HttpEndpoint="disabled")
    assert call(url, "PUT", "/latest/api/token", TTL)[0] == 403
    assert call(url, path=CREDENTIALS)[0] == 403
    assert call(url, path=CREDENTIALS, headers={"X-aws-ec2-metadata-token": token})[0] == 403
    assert vulnerable_app(url + CREDENTIALS)[0] == 502


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
