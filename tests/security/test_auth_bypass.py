"""No way in without the right credentials, checked end to end over raw HTTP with botocore as the
signer: any bit flipped in a signature, credential scope, date, signed header value, presigned
query or session token is refused by every service; replays outside the 15-minute window are
refused; a session token opens only its own key id; expiry, key deactivation and deletion, and a
role losing a permission all take effect on the very next request."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from security_wire import FORM, Keys, Reply, VERSIONS, aws_error, exchange, form, refused_or_closed, signed
from keyless.credentials import open_session
from keyless.testing import Server

ACCOUNT = "123456789012"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
READ_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [
    "s3:ListAllMyBuckets", "s3:ListBucket", "iam:ListUsers", "ec2:DescribeInstances", "cloudtrail:LookupEvents"],
    "Resource": "*"}]}
CT_HEADERS = {"X-Amz-Target": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
              "Content-Type": "application/x-amz-json-1.1"}


def set_clock(server: Server, epoch: float) -> None:
    """Move the server's clock so that it reads `epoch` now (it keeps running from there)."""
    server.clock.advance(epoch - server.clock.time())


def now(server: Server) -> datetime:
    """The server's clock as botocore's signer wants it (naive UTC)."""
    return datetime.fromtimestamp(server.clock.time(), tz=timezone.utc).replace(tzinfo=None)


def read_request(server: Server, keys: Keys, service: str, *, when: datetime | None = None, presign: int | None = None) -> bytes:
    """A read every test principal may make, per service."""
    when = when or now(server)
    if service == "s3":
        return signed(server, keys, "s3", "GET", "/hostile-bucket?list-type=2", when=when, presign=presign)
    if service == "cloudtrail":
        return signed(server, keys, "cloudtrail", "POST", "/", body=b'{"MaxResults": 1}', headers=CT_HEADERS, when=when)
    action = {"iam": "ListUsers", "sts": "GetCallerIdentity", "ec2": "DescribeInstances"}[service]
    return signed(server, keys, service, "POST", "/", body=form(action, VERSIONS[service], MaxItems="1") if service == "iam"
                  else form(action, VERSIONS[service]), headers=FORM, when=when)


SERVICES = ["s3", "iam", "sts", "ec2", "cloudtrail"]


def refused(reply: Reply, service: str) -> str:
    """Any 4xx (AWS error, or the HTTP layer's own 400 for bytes no longer HTTP): never in."""
    code = refused_or_closed(reply, service)
    assert reply.status is None or 400 <= reply.status < 500
    return code or "closed"


@pytest.fixture(scope="module")
def role_keys(secure_server: Server, admin_client: Callable[[str], Any]) -> Keys:
    """AssumeRole credentials of a role that may read in every service."""
    admin_client("iam").create_role(RoleName="bypass-reader", AssumeRolePolicyDocument=json.dumps(TRUST))
    admin_client("iam").put_role_policy(RoleName="bypass-reader", PolicyName="read", PolicyDocument=json.dumps(READ_ALL))
    creds = admin_client("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/bypass-reader",
                                            RoleSessionName="bypass")["Credentials"]
    return Keys.of(creds)


def test_valid_requests_are_served(secure_server: Server, role_keys: Keys) -> None:
    for service in SERVICES:
        reply = exchange(secure_server.port, read_request(secure_server, role_keys, service))
        assert reply.status == 200, (service, reply.body[:300])
    presigned = read_request(secure_server, role_keys, "s3", presign=300)
    assert exchange(secure_server.port, presigned).status == 200


# --- single-bit flips over the wire ---------------------------------------------------------------


def _flip(data: bytes, start: int, length: int, offset: int, bit: int) -> bytes:
    position = start + offset % length
    return data[:position] + bytes([data[position] ^ (1 << bit)]) + data[position + 1:]


def _spans(request: bytes) -> dict[str, tuple[int, int]]:
    """Where each signed component sits in the raw request: (start, length)."""
    head = request.split(b"\r\n\r\n", 1)[0]
    spans: dict[str, tuple[int, int]] = {}
    for name, pattern in (("signature", rb"Signature=([0-9a-f]{64})"), ("scope", rb"Credential=([^,&\s]+)"),
                          ("date", rb"X-Amz-Date[:=] ?(\d{8}T\d{6}Z)"), ("token", rb"X-Amz-Security-Token[:=] ?([^\r&]+)")):
        match = re.search(pattern, head, re.IGNORECASE)
        if match:
            spans[name] = (match.start(1), len(match.group(1)))
    signed_names = re.search(rb"SignedHeaders(?:=|%3D)([^,&\s]+)", head)
    assert signed_names is not None
    for name in signed_names.group(1).replace(b"%3B", b";").split(b";"):
        match = re.search(rb"\r\n" + re.escape(name) + rb": ?([^\r]+)", head, re.IGNORECASE)
        if match and name not in (b"x-amz-date", b"x-amz-security-token"):
            spans[f"header {name.decode()}"] = (match.start(1), len(match.group(1)))
    return spans


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(service=st.sampled_from(SERVICES + ["s3-presigned"]), part=st.integers(0, 50), offset=st.integers(0, 2000),
       bit=st.integers(0, 6))
def test_any_bit_flip_in_a_signed_part_is_refused_by_every_service(secure_server: Server, role_keys: Keys, service: str,
                                                                   part: int, offset: int, bit: int) -> None:
    name = "s3" if service == "s3-presigned" else service
    request = read_request(secure_server, role_keys, name, presign=300 if service == "s3-presigned" else None)
    spans = _spans(request)
    component = sorted(spans)[part % len(spans)]
    start, length = spans[component]
    flipped = _flip(request, start, length, offset, bit)
    # '%2F' -> '%2f' in a presigned URL is the same URL (RFC 3986: hex digits' case is not significant).
    assume(unquote_to_bytes(flipped[start:start + length]) != unquote_to_bytes(request[start:start + length]))
    refused(exchange(secure_server.port, flipped), name)


def test_every_character_of_the_session_token_is_covered(secure_server: Server, role_keys: Keys) -> None:
    request = read_request(secure_server, role_keys, "sts")
    start, length = _spans(request)["token"]
    for offset in range(length):
        reply = exchange(secure_server.port, _flip(request, start, length, offset, offset % 6))
        assert refused(reply, "sts") in ("InvalidClientTokenId", "400", "closed"), offset


# --- the payload ----------------------------------------------------------------------------------


def test_a_non_s3_body_is_covered_even_when_signed_as_unsigned_payload(secure_server: Server, admin_keys: Keys,
                                                                        admin_client: Callable[[str], Any]) -> None:
    # A captured request signed with x-amz-content-sha256: UNSIGNED-PAYLOAD must not carry another body.
    listing = signed(secure_server, admin_keys, "iam", "POST", "/", body=form("ListUsers", VERSIONS["iam"]),
                     headers={**FORM, "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"})
    head, _, _ = listing.partition(b"\r\n\r\n")
    swapped_body = form("CreateUser", VERSIONS["iam"], UserName="swapped-in")
    head = re.sub(rb"Content-Length: \d+", b"Content-Length: %d" % len(swapped_body), head)
    assert aws_error(exchange(secure_server.port, head + b"\r\n\r\n" + swapped_body), "iam") == "SignatureDoesNotMatch"
    users = admin_client("iam").list_users()["Users"]
    assert "swapped-in" not in {u["UserName"] for u in users}


@pytest.mark.parametrize("routed_to", ["iam", "ec2", "s3", "cloudtrail"])
def test_a_signature_for_one_service_never_runs_in_another(secure_server: Server, admin_keys: Keys, routed_to: str) -> None:
    # Routing reads the first Credential of the Authorization header; a second, real one must not
    # get an STS signature through to another service.
    request = signed(secure_server, admin_keys, "sts", "POST", "/", body=form("GetCallerIdentity", VERSIONS["sts"]), headers=FORM)
    decoy = f"Credential={admin_keys.access_key_id}/20260101/us-east-1/{routed_to}/aws4_request, Credential=".encode()
    reply = exchange(secure_server.port, request.replace(b"Credential=", decoy, 1))
    assert aws_error(reply, routed_to) in ("IncompleteSignature", "AuthorizationHeaderMalformed",
                                           "IncompleteSignatureException")


# --- time -------------------------------------------------------------------------------------------

SKEW_CODES = {"s3": "RequestTimeTooSkewed", "iam": "SignatureDoesNotMatch", "sts": "SignatureDoesNotMatch",
              "ec2": "RequestExpired", "cloudtrail": "InvalidSignatureException"}


@pytest.mark.parametrize("service", SERVICES)
def test_a_replay_outside_the_15_minute_window_is_refused(secure_server: Server, admin_keys: Keys, service: str) -> None:
    signed_at = now(secure_server).replace(microsecond=0)
    request = read_request(secure_server, admin_keys, service, when=signed_at)
    epoch = signed_at.replace(tzinfo=timezone.utc).timestamp()
    try:
        set_clock(secure_server, epoch + 15 * 60 - 1)
        assert exchange(secure_server.port, request).status == 200  # AWS too accepts a replay inside the window
        set_clock(secure_server, epoch + 15 * 60 + 1)
        assert aws_error(exchange(secure_server.port, request), service) == SKEW_CODES[service]
        set_clock(secure_server, epoch - 15 * 60 - 2)  # and as much in the future
        assert aws_error(exchange(secure_server.port, request), service) == SKEW_CODES[service]
    finally:
        secure_server.clock.reset()


def test_an_expired_presigned_url_is_refused_at_the_second(secure_server: Server, role_keys: Keys) -> None:
    signed_at = now(secure_server).replace(microsecond=0)
    url = read_request(secure_server, role_keys, "s3", presign=120, when=signed_at)
    epoch = signed_at.replace(tzinfo=timezone.utc).timestamp()
    try:
        set_clock(secure_server, epoch + 119)
        assert exchange(secure_server.port, url).status == 200
        set_clock(secure_server, epoch + 121)
        reply = exchange(secure_server.port, url)
        assert aws_error(reply, "s3") == "AccessDenied" and b"Request has expired" in reply.body
    finally:
        secure_server.clock.reset()


def test_a_presigned_url_dated_ahead_cannot_outlive_the_one_week_cap(secure_server: Server, admin_keys: Keys) -> None:
    # Signed a year ahead with the longest X-Amz-Expires: without a check on the date it would
    # be good for a year and a week.
    ahead = read_request(secure_server, admin_keys, "s3", presign=604800,
                         when=now(secure_server).replace(year=now(secure_server).year + 1))
    reply = exchange(secure_server.port, ahead)
    assert aws_error(reply, "s3") == "AccessDenied" and b"Request is not valid yet" in reply.body
    skewed = read_request(secure_server, admin_keys, "s3", presign=60, when=datetime.fromtimestamp(
        secure_server.clock.time() + 14 * 60, tz=timezone.utc).replace(tzinfo=None))
    assert exchange(secure_server.port, skewed).status == 200  # a client clock up to 15 minutes fast is fine


@pytest.mark.parametrize("service", SERVICES)
def test_a_session_is_refused_from_its_expiry_second_on(secure_server: Server, admin_client: Callable[[str], Any],
                                                         service: str) -> None:
    keys = Keys.of(admin_client("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/bypass-reader",
                                                   RoleSessionName="short", DurationSeconds=900)["Credentials"])
    assert keys.session_token is not None
    expiration = open_session(keys.session_token, secure_server.app.state.master_key).expiration  # to the microsecond
    try:
        set_clock(secure_server, expiration - 1)
        assert exchange(secure_server.port, read_request(secure_server, keys, service)).status == 200
        set_clock(secure_server, expiration)
        code = aws_error(exchange(secure_server.port, read_request(secure_server, keys, service)), service)
    finally:
        secure_server.clock.reset()
    assert code == {"ec2": "RequestExpired", "cloudtrail": "ExpiredTokenException"}.get(service, "ExpiredToken")


# --- whose token ------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_a_session_token_never_authenticates_another_key_id(secure_server: Server, role_keys: Keys,
                                                            admin_client: Callable[[str], Any], service: str) -> None:
    other = Keys.of(admin_client("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/bypass-reader",
                                                    RoleSessionName="other")["Credentials"])
    for keys in (Keys(role_keys.access_key_id, role_keys.secret_access_key, other.session_token),  # another's token
                 Keys(other.access_key_id, role_keys.secret_access_key, role_keys.session_token),  # another's key id
                 Keys(role_keys.access_key_id, role_keys.secret_access_key, None)):  # no token at all
        reply = exchange(secure_server.port, read_request(secure_server, keys, service))
        assert aws_error(reply, service) in ("InvalidClientTokenId", "InvalidAccessKeyId", "InvalidToken", "AuthFailure",
                                             "UnrecognizedClientException"), (service, keys)


# --- changes that take effect on the very next request ----------------------------------------------


@pytest.fixture
def user_keys(secure_server: Server, admin_client: Callable[[str], Any]) -> tuple[str, Keys]:
    name = f"keyholder-{uuid.uuid4().hex[:8]}"
    iam = admin_client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=json.dumps(READ_ALL))
    return name, Keys.of(iam.create_access_key(UserName=name)["AccessKey"])


@pytest.mark.parametrize("change", ["deactivate", "delete"])
def test_a_deactivated_or_deleted_key_is_refused_on_the_next_request(secure_server: Server, admin_client: Callable[[str], Any],
                                                                     user_keys: tuple[str, Keys], change: str) -> None:
    name, keys = user_keys
    for service in SERVICES:
        assert exchange(secure_server.port, read_request(secure_server, keys, service)).status == 200, service
    iam = admin_client("iam")
    if change == "deactivate":
        iam.update_access_key(UserName=name, AccessKeyId=keys.access_key_id, Status="Inactive")
    else:
        iam.delete_access_key(UserName=name, AccessKeyId=keys.access_key_id)
    for service in SERVICES:
        code = aws_error(exchange(secure_server.port, read_request(secure_server, keys, service)), service)
        assert code in ("InvalidClientTokenId", "InvalidAccessKeyId", "AuthFailure", "UnrecognizedClientException"), service
    if change == "deactivate":
        iam.update_access_key(UserName=name, AccessKeyId=keys.access_key_id, Status="Active")
        assert exchange(secure_server.port, read_request(secure_server, keys, "sts")).status == 200


@pytest.mark.parametrize("change", ["delete-inline", "deny-inline", "detach-managed", "boundary"])
def test_a_role_loses_an_action_on_the_next_request_after_its_policy_changes(
        secure_server: Server, admin_client: Callable[[str], Any], change: str) -> None:
    iam, name = admin_client("iam"), f"shrinking-{change}"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    if change == "detach-managed":
        arn = iam.create_policy(PolicyName=f"{name}-read", PolicyDocument=json.dumps(READ_ALL))["Policy"]["Arn"]
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    else:
        iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=json.dumps(READ_ALL))
    keys = Keys.of(admin_client("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}",
                                                   RoleSessionName="s1")["Credentials"])
    for service in ("s3", "iam", "ec2", "cloudtrail"):
        assert exchange(secure_server.port, read_request(secure_server, keys, service)).status == 200, service
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
    if change == "delete-inline":
        iam.delete_role_policy(RoleName=name, PolicyName="read")
    elif change == "deny-inline":
        iam.put_role_policy(RoleName=name, PolicyName="deny", PolicyDocument=json.dumps(deny))
    elif change == "detach-managed":
        iam.detach_role_policy(RoleName=name, PolicyArn=arn)
    else:
        only_sts = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:*", "Resource": "*"}]}
        boundary = iam.create_policy(PolicyName=f"{name}-boundary", PolicyDocument=json.dumps(only_sts))["Policy"]["Arn"]
        iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary)
    for service in ("s3", "iam", "ec2", "cloudtrail"):
        code = aws_error(exchange(secure_server.port, read_request(secure_server, keys, service)), service)
        assert code in ("AccessDenied", "UnauthorizedOperation", "AccessDeniedException"), (service, code)


@pytest.mark.parametrize("s3,presigned,code", [(False, False, "SignatureDoesNotMatch"), (True, False, "AuthorizationHeaderMalformed"),
                                               (True, True, "AuthorizationQueryParametersError")])
def test_the_scope_must_name_the_serving_service(s3: bool, presigned: bool, code: str) -> None:
    from keyless import errors
    from keyless.auth import sigv4

    params = sigv4.SigV4Params.of("AKIAEXAMPLE", "20261128", "us-east-1", "sts", ("host",), "0" * 64,
                                  datetime(2026, 11, 28, tzinfo=timezone.utc), "20261128T000000Z", presigned=presigned)
    sigv4.check_service(params, "sts", s3=s3)
    with pytest.raises(errors.AwsError) as exc:
        sigv4.check_service(params, "s3" if s3 else "iam", s3=s3)
    assert exc.value.code == code and 400 <= exc.value.status < 500
