"""S3's error codes, with the status and the sentence S3 sends for each.

    AwsError
     ├─ 304 NotModified                      (no body; conditional GET/HEAD)
     ├─ 400 BadDigest, EntityTooSmall, EntityTooLarge, IllegalLocationConstraintException,
     │      IncompleteBody, InvalidArgument, InvalidBucketName, InvalidDigest, InvalidLocationConstraint,
     │      InvalidPart, InvalidPartOrder, InvalidRequest, InvalidTag, KeyTooLongError, MalformedPolicy,
     │      MalformedXML, MetadataTooLarge, XAmzContentSHA256Mismatch
     ├─ 403 AccessDenied (keyless.errors)
     ├─ 404 NoSuchBucket, NoSuchKey, NoSuchUpload, NoSuchBucketPolicy, NoSuchTagSet
     ├─ 405 MethodNotAllowed
     ├─ 409 BucketAlreadyExists, BucketAlreadyOwnedByYou, BucketNotEmpty
     ├─ 411 MissingContentLength
     ├─ 412 PreconditionFailed
     └─ 416 InvalidRange

Extra members (BucketName, Key, UploadId, ...) go in the error's fields: the rest-xml envelope
writes them next to Code and Message, as S3 does. The constructors below carry S3's own words.
"""

from __future__ import annotations

from typing import Any

from keyless.errors import AccessDenied, AwsError

__all__ = ["AccessDenied"]  # re-exported: S3 denials are the shared class with S3's message


class _S3Error(AwsError):
    default_message = ""

    def __init__(self, message: str | None = None, **fields: Any) -> None:
        super().__init__(self.default_message if message is None else message, **fields)


class NotModified(_S3Error):
    code, status, default_message = "NotModified", 304, "Not Modified"


class BadDigest(_S3Error):
    code, status, default_message = "BadDigest", 400, "The Content-MD5 you specified did not match what we received."


class EntityTooSmall(_S3Error):
    code, status, default_message = "EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed size"


class EntityTooLarge(_S3Error):
    code, status, default_message = "EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size"


class IllegalLocationConstraintException(_S3Error):
    code, status = "IllegalLocationConstraintException", 400


class IncompleteBody(_S3Error):
    code, status = "IncompleteBody", 400
    default_message = "You did not provide the number of bytes specified by the Content-Length HTTP header"


class InvalidArgument(_S3Error):
    code, status = "InvalidArgument", 400


class InvalidBucketName(_S3Error):
    code, status, default_message = "InvalidBucketName", 400, "The specified bucket is not valid."


class InvalidDigest(_S3Error):
    code, status, default_message = "InvalidDigest", 400, "The Content-MD5 you specified was not valid."


class InvalidLocationConstraint(_S3Error):
    code, status, default_message = "InvalidLocationConstraint", 400, "The specified location-constraint is not valid"


class InvalidPart(_S3Error):
    code, status = "InvalidPart", 400
    default_message = ("One or more of the specified parts could not be found.  The part may not have been "
                       "uploaded, or the specified entity tag may not match the part's entity tag.")


class InvalidPartOrder(_S3Error):
    code, status = "InvalidPartOrder", 400
    default_message = "The list of parts was not in ascending order. Parts must be ordered by part number."


class InvalidRequest(_S3Error):
    code, status = "InvalidRequest", 400


class InvalidTag(_S3Error):
    code, status = "InvalidTag", 400


class KeyTooLongError(_S3Error):
    code, status, default_message = "KeyTooLongError", 400, "Your key is too long"


class MalformedPolicy(_S3Error):
    code, status = "MalformedPolicy", 400


class MalformedXML(_S3Error):
    code, status = "MalformedXML", 400
    default_message = "The XML you provided was not well-formed or did not validate against our published schema"


class MetadataTooLarge(_S3Error):
    code, status = "MetadataTooLarge", 400
    default_message = "Your metadata headers exceed the maximum allowed metadata size"


class XAmzContentSHA256Mismatch(_S3Error):
    code, status = "XAmzContentSHA256Mismatch", 400
    default_message = "The provided 'x-amz-content-sha256' header does not match what was computed."


class NoSuchBucket(_S3Error):
    code, status, default_message = "NoSuchBucket", 404, "The specified bucket does not exist"


class NoSuchKey(_S3Error):
    code, status, default_message = "NoSuchKey", 404, "The specified key does not exist."


class NoSuchUpload(_S3Error):
    code, status = "NoSuchUpload", 404
    default_message = ("The specified upload does not exist. The upload ID may be invalid, or the upload may "
                       "have been aborted or completed.")


class NoSuchBucketPolicy(_S3Error):
    code, status, default_message = "NoSuchBucketPolicy", 404, "The bucket policy does not exist"


class NoSuchTagSet(_S3Error):
    code, status, default_message = "NoSuchTagSet", 404, "The TagSet does not exist"


class MethodNotAllowed(_S3Error):
    code, status = "MethodNotAllowed", 405
    default_message = "The specified method is not allowed against this resource."


class BucketAlreadyExists(_S3Error):
    code, status = "BucketAlreadyExists", 409
    default_message = ("The requested bucket name is not available. The bucket namespace is shared by all users "
                       "of the system. Please select a different name and try again.")


class BucketAlreadyOwnedByYou(_S3Error):
    code, status = "BucketAlreadyOwnedByYou", 409
    default_message = "Your previous request to create the named bucket succeeded and you already own it."


class BucketNotEmpty(_S3Error):
    code, status, default_message = "BucketNotEmpty", 409, "The bucket you tried to delete is not empty"


class MissingContentLength(_S3Error):
    code, status, default_message = "MissingContentLength", 411, "You must provide the Content-Length HTTP header."


class PreconditionFailed(_S3Error):
    code, status = "PreconditionFailed", 412
    default_message = "At least one of the pre-conditions you specified did not hold"


class InvalidRange(_S3Error):
    code, status, default_message = "InvalidRange", 416, "The requested range is not satisfiable"


# --- constructors for the errors that always carry the same members -------------------------


def no_such_bucket(bucket: str) -> NoSuchBucket:
    return NoSuchBucket(BucketName=bucket)


def no_such_key(key: str) -> NoSuchKey:
    return NoSuchKey(Key=key)


def no_such_upload(upload_id: str) -> NoSuchUpload:
    return NoSuchUpload(UploadId=upload_id)


def bad_checksum(algorithm: str) -> BadDigest:
    return BadDigest(f"The {algorithm} you specified did not match the calculated checksum.")


def invalid_argument(message: str, name: str, value: Any) -> InvalidArgument:
    return InvalidArgument(message, ArgumentName=name, ArgumentValue=str(value))
