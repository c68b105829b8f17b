"""Each SigV4 step checked on its own against botocore's signer (as botocore's tests/unit/auth
does), with vectors signed by botocore itself at a fixed time."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials
from sigv4_oracle import AKID, NOW, SECRET, signing_time, to_http_request

from keyless.auth import sigv4
from keyless.protocol.http import HttpRequest

TOKEN = "FwoGZXIvYXdzEXAMPLE/session+token=="


class _Recorder:
    """A botocore signer that remembers each intermediate value it computed."""

    canonical: str
    to_sign: str
    sig: str

    def canonical_request(self, request: Any) -> str:
        self.canonical = super().canonical_request(request)  # type: ignore[misc]
        return self.canonical

    def string_to_sign(self, request: Any, canonical_request: str) -> str:
        self.to_sign = super().string_to_sign(request, canonical_request)  # type: ignore[misc]
        return self.to_sign

    def signature(self, string_to_sign: str, request: Any) -> str:
        self.sig = super().signature(string_to_sign, request)  # type: ignore[misc]
        return self.sig


class RecSigV4(_Recorder, SigV4Auth):
    pass


class RecS3(_Recorder, S3SigV4Auth):
    pass


class RecQuery(_Recorder, SigV4QueryAuth):
    pass


class RecS3Query(_Recorder, S3SigV4QueryAuth):
    pass


def sign(signer_cls: type, method: str, url: str, *, service: str, data: Any = None,
         headers: dict[str, str] | None = None, token: str | None = None, **kw: Any) -> tuple[Any, HttpRequest]:
    signer = signer_cls(Credentials(AKID, SECRET, token), service, "us-east-1", **kw)
    request = AWSRequest(method, url, data=data, headers=headers or {})
    with signing_time():
        signer.add_auth(request)
    return signer, to_http_request(request.prepare())


FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
CASES = {
    "sts-post": (RecSigV4, "POST", "http://127.0.0.1:5397/", "sts",
                 {"data": {"Action": "GetCallerIdentity", "Version": "2011-06-15"}, "headers": FORM}),
    "iam-post-unicode": (RecSigV4, "POST", "http://127.0.0.1:5397/", "iam",
                         {"data": {"Action": "CreateRole", "RoleName": "r", "Description": "é ü 日本 +&= ~"},
                          "headers": FORM, "token": TOKEN}),
    "query-get": (RecSigV4, "GET",
                  "http://127.0.0.1:5397/?Action=ListUsers&Version=2010-05-08&PathPrefix=%2Fdiv%2F&Marker=a%20b%2Bc",
                  "iam", {}),
    "odd-path-normalised": (RecSigV4, "GET", "http://127.0.0.1:5397/a/./b/../c//d%20e/~f/%C3%A9", "ec2", {}),
    "spaced-headers": (RecSigV4, "POST", "http://localhost/", "sts",
                       {"data": b"Action=GetCallerIdentity&Version=2011-06-15",
                        "headers": {**FORM, "X-Amz-Meta-Note": "  lots   of \t space  ", "X-Custom": "a  b"}}),
    "s3-put-odd-key": (RecS3, "PUT", "http://127.0.0.1:5397/bucket/dir%20one/caf%C3%A9/a%2Bb//~tilde/..%2F/%25x",
                       "s3", {"data": b"body bytes", "headers": {"x-amz-meta-note": "  a   b  "}, "token": TOKEN}),
    "s3-get-query": (RecS3, "GET", "http://127.0.0.1:5397/bucket?list-type=2&prefix=a%20b%2Bc%2F&delimiter=%2F",
                     "s3", {}),
    "s3-presign": (RecS3Query, "GET", "http://127.0.0.1:5397/bucket/a%20b/%E2%9C%93", "s3",
                   {"expires": 600, "token": TOKEN}),
    "sts-presign": (RecQuery, "GET", "http://127.0.0.1:5397/?Action=GetCallerIdentity&Version=2011-06-15", "sts",
                    {"expires": 60}),
}


@pytest.fixture(params=sorted(CASES))
def signed(request: pytest.FixtureRequest) -> tuple[Any, HttpRequest, bool]:
    signer_cls, method, url, service, kw = CASES[request.param]
    signer, http = sign(signer_cls, method, url, service=service, **kw)
    return signer, http, service == "s3"


def test_canonical_request_matches_botocore(signed: tuple[Any, HttpRequest, bool]) -> None:
    signer, req, s3 = signed
    params = sigv4.parse_authorization(req)
    assert params is not None
    assert sigv4.canonical_request(req, params, s3=s3) == signer.canonical


def test_string_to_sign_matches_botocore(signed: tuple[Any, HttpRequest, bool]) -> None:
    signer, req, s3 = signed
    params = sigv4.parse_authorization(req)
    assert params is not None
    assert sigv4.string_to_sign(params, signer.canonical) == signer.to_sign


def test_signature_matches_botocore(signed: tuple[Any, HttpRequest, bool]) -> None:
    signer, req, s3 = signed
    params = sigv4.parse_authorization(req)
    assert params is not None
    key = sigv4.signing_key(SECRET, params.date, params.region, params.service)
    assert sigv4.signature(key, signer.to_sign) == signer.sig == params.signature
    sigv4.verify(req, params, SECRET, now=NOW, s3=s3)


def test_parsed_params_match_what_was_signed(signed: tuple[Any, HttpRequest, bool]) -> None:
    signer, req, s3 = signed
    params = sigv4.parse_authorization(req)
    assert params is not None
    assert params.access_key_id == AKID
    assert (params.date, params.region, params.timestamp) == ("20261128", "us-east-1", "20261128T103510Z")
    assert params.amz_date.timestamp() == NOW
    assert params.security_token == signer.credentials.token
    assert params.presigned == isinstance(signer, SigV4QueryAuth)


def test_canonical_headers_join_repeats_and_collapse_whitespace() -> None:
    headers = HTTPHeaders()
    headers["x-a"] = "  one   two "
    headers["x-a"] = "three\t\tfour"
    headers["host"] = "example.com"
    expected = SigV4Auth(Credentials(AKID, SECRET), "sts", "us-east-1").canonical_headers(headers) + "\n"
    req = HttpRequest("GET", "/", "", [("host", "example.com"), ("x-a", "  one   two "), ("x-a", "three\t\tfour")])
    assert sigv4.canonical_headers(req, ("host", "x-a")) == expected == "host:example.com\nx-a:one two,three four\n"


@pytest.mark.parametrize("path", ["", "/", "/a/b/", "/a//b", "/a/./b/../c", "/../x", "/a%20b/%2F/é", "/~user/..."])
def test_canonical_uri_non_s3_matches_botocore(path: str) -> None:
    signer = SigV4Auth(Credentials(AKID, SECRET), "sts", "us-east-1")
    assert sigv4.canonical_uri(path, s3=False) == signer._normalize_url_path(path)


def test_canonical_uri_s3_is_the_raw_path() -> None:
    assert sigv4.canonical_uri("/b/a//./../%2B+%20", s3=True) == "/b/a//./../%2B+%20"


def test_canonical_query_reencodes_and_sorts() -> None:
    query = "b=2&a=z&a=y&X-Amz-Signature=abc&plus=a+b&slash=/x&tilde=%7E&bare&empty="
    assert sigv4.canonical_query_string(query, presigned=True) == (
        "a=y&a=z&b=2&bare=&empty=&plus=a%2Bb&slash=%2Fx&tilde=~")
    assert "X-Amz-Signature=abc" in sigv4.canonical_query_string(query, presigned=False)


def test_signing_key_is_cached() -> None:
    sigv4.signing_key.cache_clear()
    first = sigv4.signing_key(SECRET, "20261128", "us-east-1", "sts")
    assert sigv4.signing_key(SECRET, "20261128", "us-east-1", "sts") is first
    assert sigv4.signing_key.cache_info().hits == 1
    assert sigv4.signing_key(SECRET, "20261129", "us-east-1", "sts") != first
