"""SigV4 properties, with botocore as the oracle: whatever botocore signs verifies, and any
single-bit change to the signature, the date, the credential scope or a signed header is refused."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, _host_from_url
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode, percent_encode_sequence
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keyless import errors
from keyless.auth import sigv4
from keyless.protocol.http import HttpRequest

SIGNED_AT = datetime(2026, 11, 28, 10, 35, 10)
NOW = SIGNED_AT.replace(tzinfo=timezone.utc).timestamp()
CREDS = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "session-token")
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def signed(signer: Any, method: str, url: str, data: Any = None, headers: dict[str, str] | None = None) -> HttpRequest:
    request = AWSRequest(method, url, data=data, headers=headers or {})
    with mock.patch("botocore.auth.get_current_datetime", return_value=SIGNED_AT):
        signer.add_auth(request)
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    http_headers = [("host", _host_from_url(prepared.url))] + [(k.lower(), v) for k, v in prepared.headers.items()]
    body = prepared.body or b""
    return HttpRequest(method, parts.path or "/", parts.query, http_headers, body.encode() if isinstance(body, str) else body)


def accepts(req: HttpRequest, *, s3: bool) -> bool:
    try:
        params = sigv4.parse_authorization(req)
        if params is None:
            return False
        sigv4.verify(req, params, CREDS.secret_key, now=NOW, s3=s3)
    except errors.AwsError:
        return False
    return True


STS = signed(SigV4Auth(CREDS, "sts", "us-east-1"), "POST", "http://127.0.0.1:5397/",
             data={"Action": "AssumeRole", "RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": "s"},
             headers=FORM)
S3_PUT = signed(S3SigV4Auth(CREDS, "s3", "us-east-1"), "PUT", "http://127.0.0.1:5397/bucket/a%20b/c",
                data=b"payload", headers={"x-amz-meta-k": "v  w", "Content-Type": "text/plain"})
S3_PRESIGNED = signed(S3SigV4QueryAuth(CREDS, "s3", "us-east-1", expires=900), "GET", "http://127.0.0.1:5397/bucket/key")
SAMPLES = {"sts": (STS, False), "s3-put": (S3_PUT, True), "s3-presigned": (S3_PRESIGNED, True)}


def flip(text: str, index: int, bit: int) -> str:
    index %= len(text)
    return text[:index] + chr(ord(text[index]) ^ (1 << bit)) + text[index + 1:]


def with_header(req: HttpRequest, name: str, value: str) -> HttpRequest:
    return HttpRequest(req.method, req.raw_path, req.query_string, [(k, value if k == name else v) for k, v in req.headers],
                       req.body)


def test_samples_verify() -> None:
    for req, s3 in SAMPLES.values():
        assert accepts(req, s3=s3)


@given(sample=st.sampled_from(sorted(SAMPLES)), index=st.integers(0, 63), bit=st.integers(0, 6))
def test_any_bit_flip_in_the_signature_is_refused(sample: str, index: int, bit: int) -> None:
    req, s3 = SAMPLES[sample]
    params = sigv4.parse_authorization(req)
    assert params is not None
    if params.presigned:
        forged = HttpRequest(req.method, req.raw_path,
                             req.query_string.replace(params.signature, flip(params.signature, index, bit)), req.headers)
    else:
        auth = req.header("authorization") or ""
        forged = with_header(req, "authorization", auth.replace(params.signature, flip(params.signature, index, bit)))
    assert not accepts(forged, s3=s3)


@given(sample=st.sampled_from(["sts", "s3-put"]), index=st.integers(0, 15), bit=st.integers(0, 6))
def test_any_bit_flip_in_the_date_is_refused(sample: str, index: int, bit: int) -> None:
    req, s3 = SAMPLES[sample]
    assert not accepts(with_header(req, "x-amz-date", flip(req.header("x-amz-date") or "", index, bit)), s3=s3)


@given(sample=st.sampled_from(sorted(SAMPLES)), index=st.integers(0, 200), bit=st.integers(0, 6))
@example(sample="sts", index=0, bit=0)
def test_any_bit_flip_in_the_credential_scope_is_refused(sample: str, index: int, bit: int) -> None:
    req, s3 = SAMPLES[sample]
    scope = "20261128/us-east-1/" + ("s3" if s3 else "sts") + "/aws4_request"
    forged_scope = flip(scope, index, bit)
    if req.header("authorization"):
        forged = with_header(req, "authorization", (req.header("authorization") or "").replace(scope, forged_scope))
    else:
        query = req.query_string.replace(scope.replace("/", "%2F"), percent_encode(forged_scope))
        forged = HttpRequest(req.method, req.raw_path, query, req.headers)
    assert not accepts(forged, s3=s3)


@given(sample=st.sampled_from(sorted(SAMPLES)), which=st.integers(0, 20), index=st.integers(0, 200), bit=st.integers(0, 6))
def test_any_bit_flip_in_a_signed_header_value_is_refused(sample: str, which: int, index: int, bit: int) -> None:
    req, s3 = SAMPLES[sample]
    params = sigv4.parse_authorization(req)
    assert params is not None
    name = params.signed_headers[which % len(params.signed_headers)]
    value = req.header(name) or ""
    assert not accepts(with_header(req, name, flip(value, index, bit)), s3=s3)


@given(index=st.integers(0, 10_000), bit=st.integers(0, 7))
def test_any_bit_flip_in_a_query_service_body_is_refused(index: int, bit: int) -> None:
    body = bytearray(STS.body)
    body[index % len(body)] ^= 1 << bit
    assert not accepts(HttpRequest(STS.method, STS.raw_path, STS.query_string, STS.headers, bytes(body)), s3=False)


query_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@given(st.lists(st.tuples(query_text, query_text), max_size=6))
@example([("a", "b c"), ("a", "b+c"), ("~x", "/"), ("", "")])
def test_canonical_query_matches_botocore(pairs: list[tuple[str, str]]) -> None:
    signer = SigV4Auth(CREDS, "sts", "us-east-1")
    query = percent_encode_sequence(pairs)
    expected = signer._canonical_query_string_params(pairs)
    assert sigv4.canonical_query_string(query, presigned=False) == expected


@settings(max_examples=60)
@given(key=st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30))
@example(key="a//b/../c/./~ +%")
def test_s3_any_key_signed_by_botocore_verifies(key: str) -> None:
    url = "http://127.0.0.1:5397/bucket/" + percent_encode(key, safe="/~")
    req = signed(S3SigV4Auth(CREDS, "s3", "us-east-1"), "GET", url)
    assert accepts(req, s3=True)


@settings(max_examples=60)
@given(segments=st.lists(st.sampled_from(["a", "b c", ".", "..", "", "~", "%", "é", "x+y"]), max_size=6))
def test_non_s3_any_path_signed_by_botocore_verifies(segments: list[str]) -> None:
    url = "http://127.0.0.1:5397/" + "/".join(percent_encode(s, safe="~.") for s in segments)
    req = signed(SigV4Auth(CREDS, "ec2", "us-east-1"), "GET", url)
    assert accepts(req, s3=False)


_HEADER_VALUES = st.text(st.sampled_from("ab, \t\x0b\x0c\x1c\xa0\x85=;é"), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["host", "x-a", "x-b", "x-amz-date"]), _HEADER_VALUES), max_size=6),
       st.lists(st.sampled_from(["host", "x-a", "x-b", "x-amz-date", "x-missing"]), min_size=1, unique=True))
def test_canonical_headers_match_botocore_with_and_without_repeats(sent: list[tuple[str, str]], names: list[str]) -> None:
    # Requests that repeat no header take a shortcut through the header map; both ways must agree
    # with botocore: values trimmed, whitespace runs collapsed, repeats joined with ','.
    names = sorted(names)
    headers = AWSRequest("POST", "https://example.com/").headers
    for name, value in sent:
        headers[name] = value
    oracle = SigV4Auth(CREDS, "sts", "us-east-1").canonical_headers(headers)
    theirs = dict(line.split(":", 1) for line in oracle.split("\n")) if sent else {}
    ours = sigv4.canonical_headers(HttpRequest("POST", "/", "", sent), tuple(names))
    assert ours == "".join(f"{name}:{theirs.get(name, '')}\n" for name in names)
