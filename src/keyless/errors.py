"""AWS errors: one class per AWS error code.

    AwsError                      code, status, sender_fault, message, extra fields
     ├─ auth (cross-service; each protocol renames them, see auth_error_for)
     │   ├─ InvalidClientTokenId      unknown access key / bad session token
     │   ├─ SignatureDoesNotMatch
     │   ├─ IncompleteSignature
     │   ├─ MissingAuthenticationToken
     │   ├─ ExpiredToken
     │   └─ RequestExpired / RequestTimeTooSkewed
     ├─ AccessDenied
     ├─ ValidationError, InvalidAction, InternalFailure, NotImplemented
     └─ service errors live with their service (keyless.services.<name>.errors)

Handlers raise; only keyless.protocol turns an error into bytes.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AwsError(Exception):
    code: ClassVar[str] = "InternalFailure"
    status: ClassVar[int] = 500
    sender_fault: ClassVar[bool] = True

    def __init__(self, message: str = "", **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        # Extra members some envelopes carry (S3's <Key>, <BucketName>, <RequestTime>, ...).
        self.fields: dict[str, Any] = fields

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


def error_class(code: str, status: int, sender_fault: bool = True) -> type[AwsError]:
    """Make an AwsError subclass for an AWS code (for codes only known at run time)."""
    return type(code, (AwsError,), {"code": code, "status": status, "sender_fault": sender_fault})


class InternalFailure(AwsError):
    code = "InternalFailure"
    status = 500
    sender_fault = False


class ServiceUnavailable(AwsError):
    code = "ServiceUnavailable"
    status = 503
    sender_fault = False


class NotImplementedOperation(AwsError):
    """An operation in the model that keyless does not serve (yet)."""

    code = "NotImplemented"
    status = 501


class InvalidAction(AwsError):
    code = "InvalidAction"
    status = 400


class ValidationError(AwsError):
    code = "ValidationError"
    status = 400


class InvalidParameterValue(AwsError):
    code = "InvalidParameterValue"
    status = 400


class MissingParameter(AwsError):
    code = "MissingParameter"
    status = 400


class AccessDenied(AwsError):
    code = "AccessDenied"
    status = 403


# --- authentication (query-protocol names; other protocols map them, see protocol) ---


class InvalidClientTokenId(AwsError):
    code = "InvalidClientTokenId"
    status = 403


class SignatureDoesNotMatch(AwsError):
    code = "SignatureDoesNotMatch"
    status = 403


class IncompleteSignature(AwsError):
    code = "IncompleteSignature"
    status = 400


class MissingAuthenticationToken(AwsError):
    code = "MissingAuthenticationToken"
    status = 403


class ExpiredToken(AwsError):
    code = "ExpiredToken"
    status = 403


class InvalidToken(AwsError):
    """A session token that is malformed (S3 names it; query services say InvalidClientTokenId)."""

    code = "InvalidToken"
    status = 400


class RequestExpired(AwsError):
    """Clock skew beyond 15 minutes, or a presigned URL past its expiry."""

    code = "RequestExpired"
    status = 400
