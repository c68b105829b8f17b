"""Object bodies in and out: receiving a body into a blob with every check S3 makes, and the
headers S3 returns with an object.

Received bodies are checked after their last byte and before anything points at them:
length (Content-Length, or x-amz-decoded-content-length for aws-chunked), Content-MD5
(BadDigest) and a flexible checksum (BadDigest with the algorithm's name). The payload hash
(x-amz-content-sha256) and aws-chunked framing are checked by keyless.auth on the stream itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, AsyncIterator

from keyless.auth import chunked, sigv4
from keyless.services.base import RequestContext
from keyless.services.s3 import checksums
from keyless.services.s3.errors import (
    BadDigest,
    IncompleteBody,
    InvalidRequest,
    InvalidDigest,
    KeyTooLongError,
    MetadataTooLarge,
    MissingContentLength,
    bad_checksum,
)
from keyless.services.s3.runtime import runtime
from keyless.services.s3.storage import MAX_OBJECT_SIZE, Written

MAX_KEY_BYTES = 1024
MAX_METADATA_BYTES = 2048
DEFAULT_CONTENT_TYPE = "binary/octet-stream"

# Request members S3 stores with an object and returns on GET/HEAD, by botocore name.
STORED_HEADERS = ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "ContentType",
                  "WebsiteRedirectLocation", "StorageClass")


@dataclass(frozen=True, slots=True)
class Received:
    written: Written
    etag: str  # quoted MD5 hex
    checksum: dict[str, str] | None  # {"algorithm", "value"}: what was verified and is stored


def check_key(key: str) -> None:
    size = len(key.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        raise KeyTooLongError(Size=str(size), MaxSizeAllowed=str(MAX_KEY_BYTES))


def stored_headers(params: dict[str, Any]) -> dict[str, Any]:
    """The content headers of a PutObject/CreateMultipartUpload/CopyObject(REPLACE) request."""
    headers = {name: params[name] for name in STORED_HEADERS if params.get(name)}
    encoding = chunked.stored_content_encoding(headers.get("ContentEncoding"))
    if encoding:
        headers["ContentEncoding"] = encoding
    else:
        headers.pop("ContentEncoding", None)
    if headers.get("StorageClass") == "STANDARD":
        del headers["StorageClass"]  # S3 leaves STANDARD implicit in its responses
    headers.setdefault("ContentType", DEFAULT_CONTENT_TYPE)
    expires = params.get("Expires")
    if expires:
        headers["Expires"] = _epoch(expires)
    return headers


def user_metadata(params: dict[str, Any]) -> dict[str, str]:
    metadata = {k.lower(): v for k, v in (params.get("Metadata") or {}).items()}
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in metadata.items())
    if size > MAX_METADATA_BYTES:
        raise MetadataTooLarge(Size=str(size), MaxSizeAllowed=str(MAX_METADATA_BYTES))
    return metadata


async def receive(ctx: RequestContext, params: dict[str, Any], *, max_size: int = MAX_OBJECT_SIZE,
                  required_algorithm: str | None = None) -> Received:
    """Stream the request body into a new blob and check it; the caller commits the row with
    `BlobStore.commit` (which writes a small, staged body in the same hop).
    `required_algorithm`: the checksum a multipart upload was created with (its parts must match)."""
    declared = declared_length(ctx, params)
    content_md5 = _content_md5(params.get("ContentMD5"))
    expected = checksums.requested(params)
    algorithm = _checksum_algorithm(ctx, params, expected)
    if required_algorithm:
        if algorithm and algorithm != required_algorithm:
            raise InvalidRequest(f"Checksum Type mismatch occurred, expected checksum Type: {required_algorithm.lower()}, "
                                 f"actual checksum Type: {algorithm.lower()}")
        algorithm = required_algorithm
    body, decoder, payload = request_body(ctx, params.get("Body"))
    trailer = checksums.header_name(algorithm) if algorithm and decoder is not None else None
    from_trailer = trailer is not None and trailer in decoder.checksums  # type: ignore[union-attr]
    digest = checksums.new_digest(algorithm) if algorithm and not from_trailer else None
    digests = [d for d in (digest, payload) if d is not None]
    blobs = runtime(ctx).blobs
    written = await blobs.write(body, digests, max_size=max_size, before_publish=payload.verify if payload else None)
    try:
        if declared is not None and written.size != declared:
            raise IncompleteBody()
        if content_md5 is not None and content_md5 != written.md5:
            raise BadDigest(ExpectedDigest=base64.b64encode(content_md5).decode(),
                            CalculatedDigest=base64.b64encode(written.md5).decode())
        checksum = None
        if algorithm:
            # an announced trailer was already checked against the bytes by the aws-chunked decoder
            value = decoder.checksums[trailer] if from_trailer else checksums.encode(digest.digest())  # type: ignore[union-attr,index]
            for claim in expected:
                if claim.value != value:
                    raise bad_checksum(algorithm)
            checksum = {"algorithm": algorithm, "value": value}
    except BaseException:
        blobs.discard(written)
        raise
    return Received(written, f'"{written.md5.hex()}"', checksum)


def request_body(ctx: RequestContext, body: Any) -> tuple[AsyncIterator[bytes] | bytes, chunked.AwsChunkedDecoder | None,
                                                     sigv4.PayloadHasher | None]:
    """The body as the handler must read it, and how it is checked before anything is published:
    aws-chunked framing removed with its chunk signatures and trailers verified as it streams
    (keyless.auth.chunked); or, for a hex x-amz-content-sha256, a PayloadHasher the storage writer
    feeds on its thread and verifies after the last byte (XAmzContentSHA256Mismatch)."""
    source: AsyncIterator[bytes] | bytes = body if body is not None else b""
    decoder = chunked.decoder_for_request(ctx.request, ctx.signing, source=_aiter(source))
    if decoder is not None:
        return decoder, decoder, None
    return source, None, sigv4.PayloadHasher.for_request(ctx.request)


async def _aiter(body: AsyncIterator[bytes] | bytes) -> AsyncIterator[bytes]:
    if isinstance(body, (bytes, bytearray, memoryview)):
        if body:
            yield bytes(body)
        return
    async for piece in body:
        yield piece


def declared_length(ctx: RequestContext, params: dict[str, Any]) -> int | None:
    """How many bytes the client says the body holds (decoded length for aws-chunked bodies)."""
    req = ctx.request
    decoded = req.header("x-amz-decoded-content-length")
    if decoded is not None and "aws-chunked" in (req.header("content-encoding") or ""):
        return _int_header(decoded)
    length = params.get("ContentLength")
    if length is None:
        length = req.header("content-length")
    if length is None:
        if decoded is not None:
            return _int_header(decoded)
        raise MissingContentLength()
    return _int_header(length)


def _int_header(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise MissingContentLength() from None


def _content_md5(value: str | None) -> bytes | None:
    if not value:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        raise InvalidDigest(**{"Content-MD5": value})
    return raw


def _checksum_algorithm(ctx: RequestContext, params: dict[str, Any], expected: list[checksums.Expected]) -> str | None:
    """Which checksum to compute: the one sent, else the one declared (x-amz-sdk-checksum-algorithm,
    or an x-amz-trailer whose value keyless.auth verifies at the end of an aws-chunked body)."""
    if expected:
        return expected[0].algorithm
    for candidate in (params.get("ChecksumAlgorithm"), _trailer_algorithm(ctx)):
        if candidate and str(candidate).upper() in checksums.FACTORIES:
            return str(candidate).upper()
    return None


def _trailer_algorithm(ctx: RequestContext) -> str | None:
    trailer = (ctx.request.header("x-amz-trailer") or "").strip().lower()
    prefix = "x-amz-checksum-"
    return trailer[len(prefix):].upper() if trailer.startswith(prefix) else None


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    return float(value)


def verify_small_body(ctx: RequestContext) -> None:
    """Content-MD5 and x-amz-checksum-* of a body read whole (XML configuration bodies)."""
    body = ctx.request.body
    content_md5 = _content_md5(ctx.request.header("content-md5"))
    if content_md5 is not None and content_md5 != hashlib.md5(body).digest():
        raise BadDigest(ExpectedDigest=base64.b64encode(content_md5).decode(),
                        CalculatedDigest=base64.b64encode(hashlib.md5(body).digest()).decode())
    for algorithm in checksums.ALGORITHMS:
        value = ctx.request.header(checksums.header_name(algorithm))
        if value:
            checksums.decode(algorithm, value)
            digest = checksums.new_digest(algorithm)
            digest.update(body)
            if checksums.encode(digest.digest()) != value:
                raise bad_checksum(algorithm)


# --- responses --------------------------------------------------------------------------------


def when(epoch: float) -> datetime:
    """S3 keeps times to the millisecond (XML bodies show them; HTTP-date headers drop them)."""
    millis = int(epoch * 1000)
    return datetime.fromtimestamp(millis // 1000, tz=timezone.utc).replace(microsecond=millis % 1000 * 1000)


def object_output(row: dict[str, Any], *, with_checksum: bool) -> dict[str, Any]:
    """GET/HEAD headers of a stored object (botocore GetObjectOutput/HeadObjectOutput members)."""
    out: dict[str, Any] = {
        "AcceptRanges": "bytes",
        "LastModified": when(row["modified"]),
        "ContentLength": row["size"],
        "ETag": row["etag"],
        "ServerSideEncryption": "AES256",  # S3 encrypts every new object with SSE-S3 by default
        "Metadata": dict(row["metadata"] or {}),
    }
    for name, value in (row["headers"] or {}).items():
        out[name] = when(value) if name == "Expires" else value
    if row.get("tags"):
        out["TagCount"] = len(row["tags"])
    checksum = row.get("checksum")
    if with_checksum and checksum and checksum.get("value"):
        out[checksums.member_name(checksum["algorithm"])] = checksum["value"]
        out["ChecksumType"] = checksum.get("type") or "FULL_OBJECT"
    return out


def checksum_output(checksum: dict[str, Any] | None) -> dict[str, Any]:
    """The checksum members of a write's response (PutObject, UploadPart, CompleteMultipartUpload)."""
    if not checksum or not checksum.get("value"):
        return {}
    out = {checksums.member_name(checksum["algorithm"]): checksum["value"]}
    if checksum.get("type"):
        out["ChecksumType"] = checksum["type"]
    return out


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
