"""Callers raise the generic auth errors; each protocol shows them under its own name and status
(reference/sigv4.md section 4), as botocore's parser reads them."""

from __future__ import annotations

import pytest

from keyless import errors
from keyless.protocol import auth_error_for, protocol_for
from protocol_oracle import botocore_parse

STS_INVALID = "The security token included in the request is invalid."
EXPIRED = "The security token included in the request is expired"
SKEW = "Signature expired: 20261128T100000Z is now earlier than 20261128T102000Z (20261128T103500Z - 15 min.)"

# (raised error, service) -> (code, status, message the client sees; None = as raised)
CASES = [
    (errors.InvalidClientTokenId(STS_INVALID), "sts", ("InvalidClientTokenId", 403, None)),
    (errors.InvalidClientTokenId(STS_INVALID), "ec2", ("AuthFailure", 401, "AWS was not able to validate the provided access credentials")),
    (errors.InvalidClientTokenId(STS_INVALID), "cloudtrail", ("UnrecognizedClientException", 400, None)),
    (errors.InvalidClientTokenId(STS_INVALID), "s3", ("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records.")),
    (errors.SignatureDoesNotMatch("mismatch"), "iam", ("SignatureDoesNotMatch", 403, None)),
    (errors.SignatureDoesNotMatch("mismatch"), "ec2", ("AuthFailure", 401, "AWS was not able to validate the provided access credentials")),
    (errors.SignatureDoesNotMatch("mismatch"), "cloudtrail", ("InvalidSignatureException", 400, None)),
    (errors.SignatureDoesNotMatch("mismatch"), "s3", ("SignatureDoesNotMatch", 403, None)),
    (errors.IncompleteSignature("bad header"), "sts", ("IncompleteSignature", 400, None)),
    (errors.IncompleteSignature("bad header"), "cloudtrail", ("IncompleteSignatureException", 400, None)),
    (errors.IncompleteSignature("bad header"), "s3", ("AuthorizationHeaderMalformed", 400, None)),
    (errors.MissingAuthenticationToken("Request is missing Authentication Token"), "iam", ("MissingAuthenticationToken", 403, None)),
    (errors.MissingAuthenticationToken("Request is missing Authentication Token"), "cloudtrail",
     ("MissingAuthenticationTokenException", 400, None)),
    (errors.ExpiredToken(EXPIRED), "sts", ("ExpiredToken", 403, None)),
    (errors.ExpiredToken(EXPIRED), "ec2", ("RequestExpired", 400, "Request has expired.")),
    (errors.ExpiredToken(EXPIRED), "cloudtrail", ("ExpiredTokenException", 400, None)),
    (errors.ExpiredToken(EXPIRED), "s3", ("ExpiredToken", 400, "The provided token has expired.")),
    (errors.InvalidToken("malformed"), "sts", ("InvalidClientTokenId", 403, STS_INVALID)),
    (errors.InvalidToken("malformed"), "ec2", ("AuthFailure", 401, "AWS was not able to validate the provided access credentials")),
    (errors.InvalidToken("malformed"), "s3", ("InvalidToken", 400, "The provided token is malformed or otherwise invalid.")),
    (errors.RequestExpired("Request has expired."), "ec2", ("RequestExpired", 400, "Request has expired.")),
    (errors.RequestExpired("skew"), "s3", ("RequestTimeTooSkewed", 403,
                                           "The difference between the request time and the current time is too large.")),
    (errors.SignatureDoesNotMatch(SKEW), "sts", ("SignatureDoesNotMatch", 403, SKEW)),
    (errors.SignatureDoesNotMatch(SKEW), "ec2", ("RequestExpired", 400, "Request has expired.")),
    (errors.SignatureDoesNotMatch(SKEW), "cloudtrail", ("InvalidSignatureException", 400, SKEW)),
    (errors.AccessDenied("User: arn is not authorized"), "cloudtrail", ("AccessDeniedException", 400, None)),
    (errors.AccessDenied("User: arn is not authorized"), "iam", ("AccessDenied", 403, None)),
]


@pytest.mark.parametrize(("error", "service", "expected"), CASES,
                         ids=[f"{e.code}-{s}" for e, s, _ in CASES])
def test_each_protocol_names_auth_errors_its_own_way(error: errors.AwsError, service: str,
                                                     expected: tuple[str, int, str | None]) -> None:
    code, status, message = expected
    resp = protocol_for(service).serialize_error(error, "req-1")
    parsed = botocore_parse(service, None, resp)
    assert (parsed["Error"]["Code"], parsed["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
    assert parsed["Error"]["Message"] == (error.message if message is None else message)


def test_fields_survive_renaming() -> None:
    error = errors.SignatureDoesNotMatch("S3 text", StringToSign="AWS4-HMAC-SHA256\n...", SignatureProvided="abc")
    parsed = botocore_parse("s3", None, protocol_for("s3").serialize_error(error, "r"))
    assert parsed["Error"]["StringToSign"] == "AWS4-HMAC-SHA256\n..." and parsed["Error"]["SignatureProvided"] == "abc"


def test_unrelated_errors_are_untouched() -> None:
    error = errors.error_class("NoSuchEntity", 404)("gone")
    assert auth_error_for("query", error) is error and auth_error_for("rest-xml", error) is error
