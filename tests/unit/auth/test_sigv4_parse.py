"""parse_authorization: anonymous requests, whitespace, and AWS's words for each malformation."""

from __future__ import annotations

from datetime import datetime

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from sigv4_oracle import AKID, NOW, SECRET, capture, make_client, presigned, replace_request, signing_time, \
    to_http_request, with_header

from keyless import errors
from keyless.auth import sigv4
from keyless.protocol.http import HttpRequest

STS_AUTH = ("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261128/us-east-1/sts/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, Signature=" + "0" * 64)
S3_AUTH = STS_AUTH.replace("/sts/", "/s3/")


def request(authorization: str | None, *, date: str | None = "20261128T103510Z", query: str = "") -> HttpRequest:
    headers = [("host", "127.0.0.1:5397")]
    if authorization is not None:
        headers.append(("authorization", authorization))
    if date is not None:
        headers.append(("x-amz-date", date))
    return HttpRequest("POST", "/", query, headers)


def error_for(req: HttpRequest, **kw: bool) -> errors.AwsError:
    with pytest.raises(errors.AwsError) as exc:
        sigv4.parse_authorization(req, **kw)
    return exc.value


def test_unsigned_requests_are_anonymous() -> None:
    assert sigv4.parse_authorization(request(None)) is None
    assert sigv4.parse_authorization(request("   ")) is None
    assert sigv4.parse_authorization(request(None, query="X-Amz-Meta-Thing=1&prefix=X-Amz-")) is None


def test_authorization_whitespace_is_tolerated() -> None:
    req = capture(make_client("sts"), "get_caller_identity")
    auth = req.header("authorization") or ""
    spaced = auth.replace("AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256    ").replace(", ", " ,\t").replace("=", "=", 1)
    params = sigv4.parse_authorization(with_header(req, "authorization", spaced + "  "))
    assert params is not None and params.access_key_id == AKID
    sigv4.verify(req, params, SECRET, now=NOW, s3=False)
    compact = auth.replace(", ", ",")
    assert sigv4.parse_authorization(with_header(req, "authorization", compact)) == params


def test_date_header_is_used_without_x_amz_date() -> None:
    request_ = AWSRequest("POST", "http://127.0.0.1:5397/", data=b"Action=GetCallerIdentity&Version=2011-06-15",
                          headers={"Date": "placeholder"})
    with signing_time():
        SigV4Auth(Credentials(AKID, SECRET), "sts", "us-east-1").add_auth(request_)
    req = to_http_request(request_.prepare())
    assert req.header("date") == "Sat, 28 Nov 2026 10:35:10 -0000" and req.header("x-amz-date") is None
    params = sigv4.parse_authorization(req)
    assert params is not None and params.timestamp == "20261128T103510Z"
    sigv4.verify(req, params, SECRET, now=NOW, s3=False)


def test_header_params_and_repr() -> None:
    req = with_header(request(STS_AUTH), "host", "h")
    req.headers.append(("x-amz-security-token", "SECRET-TOKEN"))
    params = sigv4.parse_authorization(req)
    assert params is not None
    assert (params.access_key_id, params.date, params.region, params.service) == (AKID, "20261128", "us-east-1", "sts")
    assert params.signed_headers == ("content-type", "host", "x-amz-date")
    assert params.amz_date == datetime.fromisoformat("2026-11-28T10:35:10+00:00")
    assert params.scope == "20261128/us-east-1/sts/aws4_request"
    assert params.security_token == "SECRET-TOKEN" and "SECRET-TOKEN" not in repr(params)


def test_missing_components_are_listed_like_aws() -> None:
    auth = "AWS4-HMAC-SHA256 SignedHeaders=host"
    err = error_for(request(auth, date=None))
    assert isinstance(err, errors.IncompleteSignature) and err.status == 400
    assert err.message == ("Authorization header requires 'Credential' parameter. "
                           "Authorization header requires 'Signature' parameter. "
                           "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
                           f"Authorization={auth}")


def test_missing_equal_sign() -> None:
    auth = "AWS4-HMAC-SHA256 Credential AKID/20261128/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0"
    assert error_for(request(auth)).message == (
        "'Credential AKID/20261128/us-east-1/sts/aws4_request' not a valid key=value pair (missing equal-sign) "
        f"in Authorization header: '{auth}'.")


def test_credential_must_have_five_parts() -> None:
    auth = STS_AUTH.replace("/us-east-1/sts/", "/sts/")
    err = error_for(request(auth))
    assert isinstance(err, errors.IncompleteSignature)
    assert err.message == ("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
                           "got 'AKIAIOSFODNN7EXAMPLE/20261128/sts/aws4_request'")
    s3 = error_for(request(auth.replace("/sts/", "/s3/")), s3=True)
    assert isinstance(s3, sigv4.AuthorizationHeaderMalformed) and s3.status == 400


def test_scope_date_must_match_request_date() -> None:
    err = error_for(request(STS_AUTH, date="20261129T000001Z"))
    assert isinstance(err, errors.SignatureDoesNotMatch)
    assert err.message == ("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                           "'20261128' != '20261129', from '20261129T000001Z'.")
    s3 = error_for(request(S3_AUTH, date="20261129T000001Z"))
    assert isinstance(s3, sigv4.AuthorizationHeaderMalformed)


def test_terminator_must_be_aws4_request() -> None:
    err = error_for(request(STS_AUTH.replace("aws4_request", "aws4_reqest")))
    assert isinstance(err, errors.SignatureDoesNotMatch)
    assert err.message == "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_reqest'."
    assert isinstance(error_for(request(S3_AUTH.replace("aws4_request", "x"))), sigv4.AuthorizationHeaderMalformed)


def test_bad_x_amz_date() -> None:
    err = error_for(request(STS_AUTH, date="2026-11-28T10:35:10Z"))
    assert isinstance(err, errors.IncompleteSignature)
    assert err.message == ("Date must be in ISO-8601 'basic format'. Got '2026-11-28T10:35:10Z'. "
                           "See http://en.wikipedia.org/wiki/ISO_8601")
    s3 = error_for(request(S3_AUTH, date="20261399T103510Z"))
    assert isinstance(s3, errors.AccessDenied)
    assert s3.message == "AWS authentication requires a valid Date or x-amz-date header"


def test_s3_missing_components() -> None:
    err = error_for(request("AWS4-HMAC-SHA256 Credential=AKID/20261128/us-east-1/s3/aws4_request"))
    assert isinstance(err, sigv4.AuthorizationHeaderMalformed)
    assert err.message == ("The authorization header is malformed; the authorization header requires three components: "
                           "Credential, SignedHeaders, and Signature.")


def test_other_algorithms() -> None:
    s3 = error_for(request("AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg="), s3=True)
    assert isinstance(s3, sigv4.InvalidRequest)
    assert s3.message == "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
    assert isinstance(error_for(request("Bearer abc")), errors.IncompleteSignature)


def test_presigned_missing_parameters() -> None:
    req = presigned(make_client("s3", signature_version="s3v4"), "get_object", Bucket="b", Key="k")
    for name in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders",
                 "X-Amz-Expires"):
        query = "&".join(p for p in req.query_string.split("&") if not p.startswith(name + "="))
        err = error_for(replace_request(req, query_string=query), s3=True)
        assert isinstance(err, sigv4.AuthorizationQueryParametersError) and err.status == 400
        assert err.message == ("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
                               "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
    sts = presigned(make_client("sts"), "get_caller_identity", method="GET")
    query = "&".join(p for p in sts.query_string.split("&") if not p.startswith("X-Amz-Date="))
    err = error_for(replace_request(sts, query_string=query))
    assert isinstance(err, errors.IncompleteSignature)
    assert err.message == "AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string parameters."


@pytest.mark.parametrize("old,new,message", [
    ("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1", 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"'),
    ("X-Amz-Date=20261128T103510Z", "X-Amz-Date=20261128", "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""),
    ("X-Amz-Date=20261128T103510Z", "X-Amz-Date=20261127T103510Z", "Invalid credential date. Date is not the same as X-Amz-Date."),
    ("X-Amz-Expires=3600", "X-Amz-Expires=soon", "X-Amz-Expires should be a number"),
    ("X-Amz-Expires=3600", "X-Amz-Expires=-1", "X-Amz-Expires must be non-negative"),
    ("%2Fus-east-1%2F", "%2F", 'Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; '
                               'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'),
])
def test_presigned_s3_malformed_parameters(old: str, new: str, message: str) -> None:
    req = presigned(make_client("s3", signature_version="s3v4"), "get_object", Bucket="b", Key="k")
    assert old in req.query_string
    err = error_for(replace_request(req, query_string=req.query_string.replace(old, new)), s3=True)
    assert isinstance(err, sigv4.AuthorizationQueryParametersError)
    assert err.message == message


def test_presigned_plus_in_token_is_not_a_space() -> None:
    req = presigned(make_client("s3", token="a+b/c==", signature_version="s3v4"), "get_object", Bucket="b", Key="k")
    params = sigv4.parse_authorization(req)
    assert params is not None and params.security_token == "a+b/c=="
    raw_plus = replace_request(req, query_string=req.query_string.replace("a%2Bb", "a+b"))
    params = sigv4.parse_authorization(raw_plus)
    assert params is not None and params.security_token == "a+b/c=="
