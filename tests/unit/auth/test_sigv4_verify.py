"""verify() on requests built and signed by real botocore clients (the wire as clients send it)."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any, AsyncIterator

import pytest
from sigv4_oracle import (
    AKID,
    NOW,
    SECRET,
    SIGNED_AT,
    capture,
    make_client,
    presigned,
    replace_request,
    with_header,
)

from keyless import errors
from keyless.auth import sigv4
from keyless.protocol.http import HttpRequest

TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE+token/with=chars"
QUERY_MISMATCH = ("The request signature we calculated does not match the signature you provided. "
                  "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
ODD_KEYS = ["plain.txt", "with space/and more", "unicodé/日本語/✓", "a+b=c&d", "double//slash", "~tilde~",
            "dots/../x/./y", "100%", "trailing/", "quote'\"<>", "semi;colon,comma"]


def verified(req: HttpRequest, *, s3: bool, secret: str = SECRET, now: float = NOW) -> sigv4.SigningContext:
    params = sigv4.parse_authorization(req)
    assert params is not None
    return sigv4.verify(req, params, secret, now=now, s3=s3)


def rejected(req: HttpRequest, *, s3: bool, secret: str = SECRET, now: float = NOW) -> errors.AwsError:
    with pytest.raises(errors.AwsError) as exc:
        verified(req, s3=s3, secret=secret, now=now)
    return exc.value


# --- query, ec2 and json services --------------------------------------------------------


@pytest.mark.parametrize("service,operation,params", [
    ("sts", "get_caller_identity", {}),
    ("sts", "assume_role", {"RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": "dev",
                            "Policy": '{"Version":"2012-10-17","Statement":[]}'}),
    ("iam", "create_role", {"RoleName": "ec2-s3-access-role", "AssumeRolePolicyDocument": "{}",
                            "Description": "Ünïcode + spaces  and &=?"}),
    ("iam", "list_roles", {"PathPrefix": "/a b/"}),
    ("ec2", "describe_instances", {"Filters": [{"Name": "tag:Name", "Values": ["a b", "ü"]}]}),
    ("cloudtrail", "lookup_events", {"MaxResults": 5}),
])
def test_botocore_requests_verify(service: str, operation: str, params: dict[str, Any]) -> None:
    for token in (None, TOKEN):
        req = capture(make_client(service, token=token), operation, **params)
        parsed = sigv4.parse_authorization(req)
        assert parsed is not None and parsed.service == service and not parsed.presigned
        assert parsed.security_token == token
        context = verified(req, s3=False)
        assert context.seed_signature == parsed.signature
        assert context.scope == f"20261128/us-east-1/{service}/aws4_request"


def test_query_wrong_secret_is_signature_mismatch_without_details() -> None:
    req = capture(make_client("sts"), "get_caller_identity")
    err = rejected(req, s3=False, secret=SECRET[:-1] + "X")
    assert isinstance(err, errors.SignatureDoesNotMatch)
    assert err.message == QUERY_MISMATCH and err.status == 403 and err.fields == {}


def test_query_body_tampering_rejected() -> None:
    req = capture(make_client("iam"), "create_role", RoleName="a", AssumeRolePolicyDocument="{}")
    forged = replace_request(req, body=req.body.replace(b"RoleName=a", b"RoleName=b"))
    assert isinstance(rejected(forged, s3=False), errors.SignatureDoesNotMatch)


@pytest.mark.parametrize("minutes,ok", [(-14, True), (14, True), (-16, False), (16, False)])
def test_query_skew_window(minutes: int, ok: bool) -> None:
    req = capture(make_client("sts"), "get_caller_identity", when=SIGNED_AT + timedelta(minutes=minutes))
    if ok:
        verified(req, s3=False)
    else:
        assert isinstance(rejected(req, s3=False), errors.SignatureDoesNotMatch)


def test_query_expired_and_not_yet_current_messages() -> None:
    old = capture(make_client("sts"), "get_caller_identity", when=SIGNED_AT - timedelta(minutes=25))
    assert rejected(old, s3=False).message == (
        "Signature expired: 20261128T101010Z is now earlier than 20261128T102010Z (20261128T103510Z - 15 min.)")
    future = capture(make_client("sts"), "get_caller_identity", when=SIGNED_AT + timedelta(minutes=20))
    assert rejected(future, s3=False).message == (
        "Signature not yet current: 20261128T105510Z is still later than 20261128T105010Z (20261128T103510Z + 15 min.)")


def test_sts_presigned_url_verifies_and_is_bounded_by_skew() -> None:
    client = make_client("sts", token=TOKEN)
    req = presigned(client, "get_caller_identity", method="GET", expires=60)
    params = sigv4.parse_authorization(req)
    assert params is not None and params.presigned and params.expires == 60 and params.security_token == TOKEN
    verified(req, s3=False)
    assert isinstance(rejected(req, s3=False, now=NOW + 16 * 60), errors.SignatureDoesNotMatch)


# --- S3 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ODD_KEYS)
def test_s3_put_and_get_with_odd_keys(key: str) -> None:
    client = make_client("s3")
    put = capture(client, "put_object", Bucket="bucket", Key=key, Body=b"hello world",
                  Metadata={"note": "  many   spaces\tand tab  "}, ContentType="text/plain")
    verified(put, s3=True)
    sigv4.PayloadHasher.for_request(put).check(put.body)  # type: ignore[union-attr]
    get = capture(client, "get_object", Bucket="bucket", Key=key, Range="bytes=0-3")
    verified(get, s3=True)


def test_s3_list_with_odd_query_values() -> None:
    req = capture(make_client("s3", token=TOKEN), "list_objects_v2", Bucket="bucket", Prefix="a b+c/é~*", Delimiter="/",
                  StartAfter="x=y&z")
    assert "prefix=a%20b%2Bc%2F%C3%A9~%2A" in req.query_string
    verified(req, s3=True)


def test_s3_wrong_secret_reports_canonical_request_but_not_the_key() -> None:
    req = capture(make_client("s3"), "get_object", Bucket="bucket", Key="a b")
    err = rejected(req, s3=True, secret="not-the-secret")
    assert isinstance(err, errors.SignatureDoesNotMatch)
    assert err.message == ("The request signature we calculated does not match the signature you provided. "
                           "Check your key and signing method.")
    params = sigv4.parse_authorization(req)
    assert params is not None
    canonical = sigv4.canonical_request(req, params, s3=True)
    assert list(err.fields) == ["AWSAccessKeyId", "StringToSign", "SignatureProvided", "StringToSignBytes",
                                "CanonicalRequest", "CanonicalRequestBytes"]
    assert err.fields["AWSAccessKeyId"] == AKID and err.fields["CanonicalRequest"] == canonical
    assert err.fields["StringToSign"] == sigv4.string_to_sign(params, canonical)
    assert err.fields["StringToSignBytes"].startswith("41 57 53 34 2d")  # "AWS4-"
    assert all("not-the-secret" not in str(value) and SECRET not in str(value) for value in err.fields.values())


def test_s3_skew_is_request_time_too_skewed() -> None:
    req = capture(make_client("s3"), "get_object", Bucket="b", Key="k", when=SIGNED_AT - timedelta(minutes=25))
    err = rejected(req, s3=True)
    assert isinstance(err, sigv4.RequestTimeTooSkewed) and err.status == 403
    assert err.message == "The difference between the request time and the current time is too large."
    assert err.fields == {"RequestTime": "20261128T101010Z", "ServerTime": "2026-11-28T10:35:10Z",
                          "MaxAllowedSkewMilliseconds": "900000"}


def test_s3_body_hash_checked_where_the_body_is_read() -> None:
    req = capture(make_client("s3"), "put_object", Bucket="b", Key="k", Body=b"original")
    verified(req, s3=True)  # S3 defers the body to the reader
    hasher = sigv4.PayloadHasher.for_request(req)
    assert hasher is not None
    with pytest.raises(sigv4.XAmzContentSHA256Mismatch) as exc:
        hasher.check(b"tampered")
    assert exc.value.status == 400
    assert exc.value.fields["ClientComputedContentSHA256"] == hashlib.sha256(b"original").hexdigest()
    assert exc.value.fields["S3ComputedContentSHA256"] == hashlib.sha256(b"tampered").hexdigest()


def test_payload_hasher_wraps_a_stream() -> None:
    expected = hashlib.sha256(b"abcdef").hexdigest()

    async def pieces(*chunks: bytes) -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    async def drain(stream: AsyncIterator[bytes]) -> bytes:
        return b"".join([piece async for piece in stream])

    assert asyncio.run(drain(sigv4.PayloadHasher(expected).wrap(pieces(b"abc", b"def")))) == b"abcdef"
    with pytest.raises(sigv4.XAmzContentSHA256Mismatch):
        asyncio.run(drain(sigv4.PayloadHasher(expected).wrap(pieces(b"abc", b"deF"))))
    assert sigv4.PayloadHasher.for_request(HttpRequest("PUT", "/", "", [("x-amz-content-sha256", "UNSIGNED-PAYLOAD")])) is None


def test_s3_payload_header_required_and_validated() -> None:
    req = capture(make_client("s3"), "get_object", Bucket="b", Key="k")
    missing = HttpRequest(req.method, req.raw_path, req.query_string,
                          [(k, v) for k, v in req.headers if k != "x-amz-content-sha256"])
    err = rejected(missing, s3=True)
    assert isinstance(err, sigv4.InvalidRequest)
    assert err.message == "Missing required header for this request: x-amz-content-sha256"
    assert isinstance(rejected(with_header(req, "x-amz-content-sha256", "nonsense"), s3=True), sigv4.InvalidArgument)


@pytest.mark.parametrize("token", [None, TOKEN])
@pytest.mark.parametrize("operation,method", [("get_object", "GET"), ("put_object", "PUT")])
def test_s3_presigned_urls_verify(operation: str, method: str, token: str | None) -> None:
    # botocore presigns S3 with SigV2 unless told otherwise; keyless verifies SigV4 only.
    client = make_client("s3", token=token, signature_version="s3v4")
    req = presigned(client, operation, method=method, expires=900, Bucket="bucket", Key="dir/a b+ü~.txt")
    params = sigv4.parse_authorization(req)
    assert params is not None and params.presigned and params.expires == 900
    assert params.security_token == token and params.payload_hash_header is None
    verified(req, s3=True)
    verified(req, s3=True, now=NOW + 899)  # presigned URLs are not bound by the 15-minute skew


def test_s3_presigned_expired() -> None:
    req = presigned(make_client("s3", signature_version="s3v4"), "get_object", expires=600, Bucket="b", Key="k")
    err = rejected(req, s3=True, now=NOW + 601)
    assert isinstance(err, errors.AccessDenied) and err.status == 403
    assert err.message == "Request has expired"
    assert err.fields == {"X-Amz-Expires": "600", "Expires": "2026-11-28T10:45:10Z", "ServerTime": "2026-11-28T10:45:11Z"}


def test_s3_presigned_longer_than_a_week_refused() -> None:
    req = presigned(make_client("s3", signature_version="s3v4"), "get_object", expires=604801, Bucket="b", Key="k")
    err = rejected(req, s3=True)
    assert isinstance(err, sigv4.AuthorizationQueryParametersError) and err.status == 400
    assert err.message == ("X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires "
                           "must be less than 604800 seconds")
    verified(presigned(make_client("s3", signature_version="s3v4"), "get_object", expires=604800, Bucket="b", Key="k"),
             s3=True)


def test_s3_presigned_tampered_query_rejected() -> None:
    req = presigned(make_client("s3", token=TOKEN, signature_version="s3v4"), "get_object", Bucket="b", Key="k")
    for old, new in (("X-Amz-Expires=3600", "X-Amz-Expires=3601"), ("/b/k", "/b/K")):
        target = "query_string" if old.startswith("X-") else "raw_path"
        forged = replace_request(req, **{target: getattr(req, target).replace(old, new)})
        assert isinstance(rejected(forged, s3=True), errors.SignatureDoesNotMatch)


def test_signing_context_repr_hides_key() -> None:
    context = verified(capture(make_client("sts"), "get_caller_identity"), s3=False)
    assert context.signing_key.hex() not in repr(context) and str(context.signing_key) not in repr(context)
