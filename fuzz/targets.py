"""Fuzz targets: one function per parser that takes arbitrary bytes and may only fail the way AWS
fails -- with an AwsError of status 4xx (or the parser's own documented error type). Anything else
escaping (RecursionError, UnicodeError, IndexError, ...) or a 5xx is a bug, and the function lets it
fly so atheris (fuzz/fuzz_*.py) or hypothesis (tests/fuzz/) reports the input.

Inputs are read as lines: the first bytes choose a variant, the rest fill in the parts of a request.
Each target starts from a valid request when its input is short, so mutations explore near it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any, AsyncIterator, Callable

from imds_fixture import feed
from keyless import errors
from keyless.arn import Arn
from keyless.auth import sigv4
from keyless.auth.chunked import AwsChunkedDecoder
from keyless.clock import Clock
from keyless.credentials import MasterKey, open_session
from keyless.policy import PolicyError, PolicyKind, PolicySet, Principal, Request, evaluate, parse_policy
from keyless.protocol import protocol_for
from keyless.protocol.http import HttpRequest

NOW = 1_795_862_110.0  # 2026-11-28T10:35:10Z
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
MASTER_KEY = MasterKey(bytes(range(32)))
FORM = "application/x-www-form-urlencoded; charset=utf-8"
BOB = Principal(arn="arn:aws:iam::123456789012:user/bob", principal_arn="arn:aws:iam::123456789012:user/bob",
                account="123456789012")


class Unexpected(AssertionError):
    """A parser answered a hostile input with something other than a 4xx AWS error."""


def _client_error(exc: errors.AwsError) -> None:
    # The one 5xx AWS itself sends for a request it understood: 501 NotImplemented, for what a
    # service does not offer (keyless: what it does not serve yet).
    if not 400 <= exc.status < 500 and exc.code != "NotImplemented":
        raise Unexpected(f"{exc.code} with status {exc.status}: {exc.message}") from exc


def _parts(data: bytes, count: int, defaults: tuple[str, ...]) -> list[str]:
    """`count` text fields from the input's lines, falling back on a valid request's fields."""
    lines = data.decode("latin-1").split("\n")
    return [lines[i] if i < len(lines) else defaults[i] for i in range(count)]


# --- SigV4: header and presigned query ------------------------------------------------------------

_SIGV4_DEFAULTS = (
    "POST", "/", "",
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261128/us-east-1/sts/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
    "20261128T103510Z", "", "Action=GetCallerIdentity&Version=2011-06-15",
)
_PRESIGN_DEFAULT = ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261128%2Fus-east-1%2Fs3"
                    "%2Faws4_request&X-Amz-Date=20261128T103510Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
                    "&X-Amz-Signature=" + "0" * 64)


def sigv4_request(data: bytes) -> None:
    """Parse and verify an arbitrary Authorization header or presigned query, as S3 or a query service."""
    s3 = bool(data[:1]) and data[0] & 1 == 1
    method, path, query, auth, date, token, body = _parts(data[1:], 7, _SIGV4_DEFAULTS)
    if data[:1] and data[0] & 2:
        query, auth = query or _PRESIGN_DEFAULT, ""
    headers = [("host", "127.0.0.1:5397"), ("x-amz-date", date)]
    headers += [("authorization", auth)] if auth else []
    headers += [("x-amz-security-token", token)] if token else []
    headers += [("x-amz-content-sha256", hashlib.sha256(body.encode("latin-1")).hexdigest())] if s3 else []
    req = HttpRequest(method, path, query, headers, body.encode("latin-1"))
    try:
        params = sigv4.parse_authorization(req, s3=s3)
        if params is not None:  # seeds are validly signed; forgeries are tests/properties' business
            sigv4.verify(req, params, SECRET, now=NOW, s3=s3)
    except errors.AwsError as exc:
        _client_error(exc)


# --- aws-chunked bodies ---------------------------------------------------------------------------

_SIGNING = sigv4.SigningContext(
    signing_key=sigv4.signing_key(SECRET, "20261128", "us-east-1", "s3"), timestamp="20261128T103510Z",
    scope="20261128/us-east-1/s3/aws4_request", seed_signature="5" * 64)


def aws_chunked(data: bytes) -> None:
    """Decode an arbitrary body as aws-chunked: unsigned with a CRC32 trailer, or signed."""
    mode, length = (data[0], int.from_bytes(data[1:3], "big")) if len(data) >= 3 else (0, 0)
    body = data[3:] or b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"
    signed = mode & 1 == 1

    async def pieces() -> AsyncIterator[bytes]:
        step = 1 + mode % 7
        for start in range(0, len(body), step):
            yield body[start:start + step]

    async def drain() -> None:
        decoder = AwsChunkedDecoder(pieces(), decoded_length=length if mode & 2 else None,
                                    signing=_SIGNING if signed else None, signed_trailer=signed and bool(mode & 4),
                                    trailer_names=("x-amz-checksum-crc32",))
        async for _ in decoder:
            pass

    try:
        asyncio.run(drain())
    except errors.AwsError as exc:
        _client_error(exc)


# --- the four wire protocols ----------------------------------------------------------------------


def _parse(service: str, req: HttpRequest) -> None:
    proto = protocol_for(service)
    try:
        op = proto.match_operation(req)
        if proto.operation_needs_stream(op):
            return
        proto.parse(op, req)
    except errors.AwsError as exc:
        _client_error(exc)


def query_form(data: bytes) -> None:
    """An IAM or STS form body (query protocol)."""
    service = "sts" if data[:1] and data[0] & 1 else "iam"
    body = data[1:] or b"Action=CreateRole&Version=2010-05-08&RoleName=r&AssumeRolePolicyDocument=%7B%7D"
    _parse(service, HttpRequest("POST", "/", "", [("content-type", FORM)], body))


def ec2_form(data: bytes) -> None:
    """An EC2 form body (ec2 protocol), in the body or the query string."""
    text = data[1:] or b"Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag:a&Filter.1.Value.1=b"
    if data[:1] and data[0] & 1:
        _parse("ec2", HttpRequest("GET", "/", text.decode("latin-1"), []))
    else:
        _parse("ec2", HttpRequest("POST", "/", "", [("content-type", FORM)], text))


_CLOUDTRAIL_OPS = ("LookupEvents", "GetTrail", "CreateTrail", "PutEventSelectors", "ListTags")


def json_body(data: bytes) -> None:
    """A CloudTrail JSON body (json protocol) for one of a few operations."""
    op = _CLOUDTRAIL_OPS[data[0] % len(_CLOUDTRAIL_OPS)] if data else "LookupEvents"
    headers = [("x-amz-target", f"com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.{op}"),
               ("content-type", "application/x-amz-json-1.1")]
    _parse("cloudtrail", HttpRequest("POST", "/", "", headers, data[1:] or b'{"MaxResults": 5}'))


_S3_DEFAULTS = ("PUT", "/bucket", "", "<CreateBucketConfiguration><LocationConstraint>eu-west-1"
                "</LocationConstraint></CreateBucketConfiguration>")


def rest_xml(data: bytes) -> None:
    """An S3 request: method, path, query and an XML (or raw) body."""
    method, path, query, body = _parts(data, 4, _S3_DEFAULTS)
    _parse("s3", HttpRequest(method, path, query, [("host", "127.0.0.1:5397")], body.encode("latin-1")))


# --- policy documents and ARNs --------------------------------------------------------------------

_KINDS = tuple(PolicyKind)


def policy_document(data: bytes) -> None:
    """Any text as an identity, resource, trust or session policy; a valid one is then evaluated."""
    kind = _KINDS[data[0] % len(_KINDS)] if data else PolicyKind.IDENTITY
    text = data[1:].decode("utf-8", "replace") or '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",' \
                                                   '"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}'
    try:
        policy = parse_policy(text, kind, name="fuzz", policy_id="arn:aws:iam::123456789012:policy/fuzz")
    except PolicyError:
        return
    request = Request(action="s3:GetObject", resource="arn:aws:s3:::b/k", principal=BOB,
                      context={"aws:SourceIp": "10.0.0.1", "aws:CurrentTime": "2026-11-28T10:35:10Z"})
    if kind in (PolicyKind.RESOURCE, PolicyKind.TRUST):
        evaluate(request, PolicySet(), policy, resource_account="123456789012")
    else:
        evaluate(request, PolicySet((policy,)))


def arn(data: bytes) -> None:
    """Any text as an ARN, then as a Resource pattern matched against itself."""
    text = data.decode("utf-8", "replace")
    try:
        parsed = Arn.parse(text)
    except ValueError:
        return
    assert str(parsed) == text, (parsed, text)
    parsed.resource_type, parsed.name  # noqa: B018 -- derived views must not fail on any ARN
    document = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":%s}]}'
    try:
        policy = parse_policy(document % json.dumps(text), PolicyKind.IDENTITY, name="arn")
    except PolicyError:
        return
    evaluate(Request(action="s3:GetObject", resource=text, principal=BOB), PolicySet((policy,)))


# --- session tokens -------------------------------------------------------------------------------


def session_token(data: bytes) -> None:
    """Any text as an X-Amz-Security-Token: only InvalidClientTokenId may come out."""
    try:
        open_session(data.decode("latin-1"), MASTER_KEY, access_key_id="ASIAFUZZ")
    except errors.InvalidClientTokenId:
        return
    raise Unexpected("a made-up session token opened")


# --- IMDS over its own little HTTP server ---------------------------------------------------------


def imds_request(data: bytes) -> None:
    """Raw bytes into one instance's metadata listener: answers are 2xx-4xx HTTP, never 5xx."""
    for status in feed(data or b"GET /latest/meta-data/ HTTP/1.1\r\n\r\n"):
        if status >= 500:
            raise Unexpected(f"IMDS answered {status} to {data[:200]!r}")


# --- seeds: valid inputs to start from ------------------------------------------------------------


def _sigv4_seeds() -> list[bytes]:
    from datetime import datetime
    from unittest import mock

    from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = Credentials("AKIAIOSFODNN7EXAMPLE", SECRET, "token")
    out = []
    for flags, signer, method, url, body in (
        (0, SigV4Auth(creds, "sts", "us-east-1"), "POST", "/", "Action=GetCallerIdentity&Version=2011-06-15"),
        (1, S3SigV4Auth(creds, "s3", "us-east-1"), "GET", "/bucket/a%20b?list-type=2&prefix=x", ""),
        (3, S3SigV4QueryAuth(creds, "s3", "us-east-1", expires=900), "GET", "/bucket/key", ""),
    ):
        request = AWSRequest(method, "http://127.0.0.1:5397" + url, data=body, headers={"host": "127.0.0.1:5397"})
        with mock.patch("botocore.auth.get_current_datetime", lambda remove_tzinfo=True: datetime(2026, 11, 28, 10, 35, 10)):
            signer.add_auth(request)
        path, _, query = request.prepare().url.partition("://")[2].partition("/")[2].partition("?")
        fields = [method, "/" + path, query, request.headers.get("Authorization", ""),
                  request.headers.get("X-Amz-Date", "20261128T103510Z"), "token", body]
        out.append(bytes([flags]) + "\n".join(fields).encode("latin-1"))
    return out


SEEDS: dict[str, Callable[[], list[bytes]]] = {
    "sigv4": _sigv4_seeds,
    "chunked": lambda: [b"\x02\x00\x05" + b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"],
    "query": lambda: [b"\x00Action=PutRolePolicy&Version=2010-05-08&RoleName=r&PolicyName=p&PolicyDocument=%7B%7D",
                      b"\x01Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr"
                      b"&RoleSessionName=ss&Tags.member.1.Key=k&Tags.member.1.Value=v&DurationSeconds=900"],
    "ec2": lambda: [b"\x00Action=RunInstances&Version=2016-11-15&ImageId=ami-1&MinCount=1&MaxCount=1"
                    b"&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=a"],
    "json": lambda: [b'\x00{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"x"}],'
                     b'"StartTime":1700000000,"MaxResults":5,"NextToken":"abc"}'],
    "restxml": lambda: [b"PUT\n/bucket/key\ntagging\n<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag>"
                        b"</TagSet></Tagging>",
                        b"POST\n/bucket\ndelete\n<Delete><Object><Key>a</Key></Object><Quiet>true</Quiet></Delete>",
                        b"GET\n/bucket\nlist-type=2&max-keys=5&prefix=a%2Fb\n"],
    "policy": lambda: [b"\x00" + json.dumps({"Version": "2012-10-17", "Statement": [{
                           "Effect": "Allow", "Action": ["s3:Get*"], "Resource": "arn:aws:s3:::b/${aws:username}/*",
                           "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                                         "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}}]}).encode()],
    "arn": lambda: [b"arn:aws:s3:::bucket/key*", b"arn:aws:iam::123456789012:role/path/name"],
    "token": lambda: [b"AQ" + b"A" * 100],
    "imds": lambda: [b"PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n",
                     b"GET /latest/meta-data/iam/security-credentials/app-role HTTP/1.1\r\n\r\n"
                     b"GET /latest/meta-data/tags/instance/Name HTTP/1.1\r\nConnection: close\r\n\r\n"],
}


TARGETS: dict[str, Callable[[bytes], Any]] = {
    "sigv4": sigv4_request, "chunked": aws_chunked, "query": query_form, "ec2": ec2_form, "json": json_body,
    "restxml": rest_xml, "policy": policy_document, "arn": arn, "token": session_token, "imds": imds_request,
}
