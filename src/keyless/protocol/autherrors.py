"""Cross-service auth errors, renamed per protocol (reference/sigv4.md section 4).

Authentication raises the generic classes in keyless.errors (query-protocol names); each
protocol shows them under its own code, status and sometimes its own sentence:

    raised (keyless.errors)     query (IAM/STS)            ec2                 json (CloudTrail)                   rest-xml (S3)
    InvalidClientTokenId 403    as raised                  AuthFailure 401     UnrecognizedClientException 400      InvalidAccessKeyId 403
    SignatureDoesNotMatch 403   as raised                  AuthFailure 401     InvalidSignatureException 400        as raised
    IncompleteSignature 400     as raised                  as raised           IncompleteSignatureException 400     AuthorizationHeaderMalformed 400
    MissingAuthenticationToken  as raised                  as raised           MissingAuthenticationTokenException  AccessDenied 403
    ExpiredToken 403            as raised                  RequestExpired 400  ExpiredTokenException 400            ExpiredToken 400
    InvalidToken 400            InvalidClientTokenId 403   AuthFailure 401     UnrecognizedClientException 400      as raised
    RequestExpired 400 / skew   as raised                  RequestExpired 400  InvalidSignatureException 400        RequestTimeTooSkewed 403

JSON services also name AccessDenied "AccessDeniedException" (status 400, the JSON-protocol norm).
A SignatureDoesNotMatch whose message is the skew sentence ("Signature expired: ...") counts as
RequestExpired, so EC2 and S3 report skew under their own codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from keyless.errors import AwsError, error_class


@dataclass(frozen=True, slots=True)
class Rename:
    code: str
    status: int
    message: str | None = None  # None: keep the sentence the error was raised with


_STS_INVALID = "The security token included in the request is invalid."
_EC2_AUTH = "AWS was not able to validate the provided access credentials"

AUTH_ERRORS: dict[str, dict[str, Rename]] = {
    "query": {
        "InvalidToken": Rename("InvalidClientTokenId", 403, _STS_INVALID),
    },
    "ec2": {
        "InvalidClientTokenId": Rename("AuthFailure", 401, _EC2_AUTH),
        "SignatureDoesNotMatch": Rename("AuthFailure", 401, _EC2_AUTH),
        "InvalidToken": Rename("AuthFailure", 401, _EC2_AUTH),
        "ExpiredToken": Rename("RequestExpired", 400, "Request has expired."),
        "RequestExpired": Rename("RequestExpired", 400, "Request has expired."),
    },
    "json": {
        "InvalidClientTokenId": Rename("UnrecognizedClientException", 400),
        "InvalidToken": Rename("UnrecognizedClientException", 400, _STS_INVALID),
        "SignatureDoesNotMatch": Rename("InvalidSignatureException", 400),
        "IncompleteSignature": Rename("IncompleteSignatureException", 400),
        "MissingAuthenticationToken": Rename("MissingAuthenticationTokenException", 400),
        "ExpiredToken": Rename("ExpiredTokenException", 400),
        "RequestExpired": Rename("InvalidSignatureException", 400),
        "AccessDenied": Rename("AccessDeniedException", 400),
    },
    "rest-xml": {
        "InvalidClientTokenId": Rename("InvalidAccessKeyId", 403,
                                       "The AWS Access Key Id you provided does not exist in our records."),
        "IncompleteSignature": Rename("AuthorizationHeaderMalformed", 400),
        "MissingAuthenticationToken": Rename("AccessDenied", 403, "Access Denied"),
        "ExpiredToken": Rename("ExpiredToken", 400, "The provided token has expired."),
        "InvalidToken": Rename("InvalidToken", 400, "The provided token is malformed or otherwise invalid."),
        "RequestExpired": Rename("RequestTimeTooSkewed", 403,
                                 "The difference between the request time and the current time is too large."),
    },
}

_SKEW_PREFIXES = ("Signature expired:", "Signature not yet current:")


def _generic_code(error: AwsError) -> str:
    if error.code == "SignatureDoesNotMatch" and error.message.startswith(_SKEW_PREFIXES):
        return "RequestExpired"
    return error.code


def auth_error_for(protocol: str, error: AwsError) -> AwsError:
    """The error as `protocol`'s clients know it (the same object when nothing changes)."""
    table = AUTH_ERRORS.get(protocol)
    if not table:
        return error
    rename = table.get(_generic_code(error))
    if rename is None:
        return error
    message = rename.message if rename.message is not None else error.message
    return _renamed_class(rename.code, rename.status, error.sender_fault)(message, **error.fields)


@lru_cache(maxsize=None)
def _renamed_class(code: str, status: int, sender_fault: bool) -> type[AwsError]:
    return error_class(code, status, sender_fault)
