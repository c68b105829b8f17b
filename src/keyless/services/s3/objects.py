"""Object handlers: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, CopyObject.

Writes stream the body into a new immutable blob, check it, then commit the row that points at
it and only then delete the blob it replaced (see storage.py). Reads open the blob before the
response starts, so a concurrent overwrite never tears a download.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from keyless import errors
from keyless.services.base import RequestContext, enforce
from keyless.services.s3 import access, bodies, checksums, tagging
from keyless.services.s3.lookup import check_version, read_object
from keyless.services.s3.conditions import ByteRange, check_preconditions, parse_range, part_range
from keyless.services.s3.errors import (
    InvalidArgument,
    InvalidRequest,
    MalformedXML,
    NotModified,
    PreconditionFailed,
    no_such_bucket,
    no_such_key,
)
from keyless.services.s3.runtime import runtime
from keyless.services.s3.storage import BlobReader, Source
from keyless.store import s3 as s3_store

SMALL_BODY = 256 * 1024  # answered as bytes; larger objects stream from disk
STATUS = "ResponseMetadata"  # output member the serializer reads a non-default HTTP status from
RESPONSE_OVERRIDES = {
    "ResponseCacheControl": "CacheControl", "ResponseContentDisposition": "ContentDisposition",
    "ResponseContentEncoding": "ContentEncoding", "ResponseContentLanguage": "ContentLanguage",
    "ResponseContentType": "ContentType", "ResponseExpires": "Expires",
}
_SELF_COPY = ("This copy request is illegal because it is trying to copy an object to itself without changing the "
              "object's metadata, storage class, website redirect location or encryption attributes.")


# --- writes -----------------------------------------------------------------------------------


async def put_object(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket, key = params["Bucket"], params["Key"]
    bodies.check_key(key)
    headers, metadata = bodies.stored_headers(params), bodies.user_metadata(params)
    tags = tagging.object_tags_from_header(params.get("Tagging"))
    precheck_write(ctx, bucket, key, params)
    received = await bodies.receive(ctx, params)
    checksum = dict(received.checksum, type="FULL_OBJECT") if received.checksum else None
    await commit_object(ctx, {
        "bucket": bucket, "key": key, "blob": received.written.blob, "size": received.written.size,
        "etag": received.etag, "modified": ctx.state.clock.time(), "headers": headers, "metadata": metadata,
        "checksum": checksum, "parts": None, "tags": tags,
    }, params, staged=received.written.staged)
    return {"ETag": received.etag, "ServerSideEncryption": "AES256", **bodies.checksum_output(checksum)}


def precheck_write(ctx: RequestContext, bucket: str, key: str, params: dict[str, Any]) -> None:
    """Conditional writes fail before the body is read when they already cannot hold."""
    if params.get("IfMatch") or params.get("IfNoneMatch"):
        with ctx.state.db.read() as conn:
            _check_write_condition(s3_store.get_object(conn, bucket, key), key, params)


def _check_write_condition(current: dict[str, Any] | None, key: str, params: dict[str, Any]) -> None:
    if_none_match, if_match = params.get("IfNoneMatch"), params.get("IfMatch")
    if if_none_match:
        if if_none_match.strip() != "*":
            raise errors.NotImplementedOperation("A header you provided implies functionality that is not implemented",
                                                 Header="If-None-Match")
        if current is not None:
            raise PreconditionFailed(Condition="If-None-Match")
    if if_match:
        if current is None:
            raise no_such_key(key)
        check_preconditions(current["etag"], current["modified"], if_match=if_match)


async def commit_object(ctx: RequestContext, row: dict[str, Any], params: dict[str, Any] | None = None, *,
                        staged: bytes | None = None) -> None:
    """Point the key at its new blob (checking conditional-write headers atomically), then drop the
    old blob, all on an I/O thread (BlobStore.commit, which also writes a staged body and removes
    the new blob if anything fails): SQLite's write, and an occasional WAL checkpoint's fsync,
    must not stall the event loop."""
    try:
        await runtime(ctx).blobs.commit(ctx.state.db, row["blob"], staged, _write_row, row, params)
    except IntegrityError:
        raise no_such_bucket(row["bucket"]) from None  # deleted while the body was arriving


def _write_row(conn: Connection, row: dict[str, Any], params: dict[str, Any] | None) -> list[str | None]:
    """Reads, then one write (commits.py may batch it with other uploads' rows)."""
    if params and (params.get("IfMatch") or params.get("IfNoneMatch")):
        _check_write_condition(s3_store.get_object(conn, row["bucket"], row["key"]), row["key"], params)
    return [s3_store.put_object(conn, row)]


# --- reads ------------------------------------------------------------------------------------


def get_object(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    out, reader = _open_for_read(ctx, params)
    if reader.length <= SMALL_BODY:
        out["Body"] = reader.read_all()
    else:
        out["Body"] = reader.chunks()
    return out


def head_object(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    out, reader = _open_for_read(ctx, params)
    reader.close()
    return out


def _open_for_read(ctx: RequestContext, params: dict[str, Any]) -> tuple[dict[str, Any], BlobReader]:
    bucket, key = params["Bucket"], params["Key"]
    for attempt in range(3):
        row = read_object(ctx, bucket, key, params.get("VersionId"))
        check_preconditions(row["etag"], row["modified"], if_match=params.get("IfMatch"),
                            if_none_match=params.get("IfNoneMatch"), if_modified_since=params.get("IfModifiedSince"),
                            if_unmodified_since=params.get("IfUnmodifiedSince"))
        span = _requested_span(row, params)
        try:
            reader = runtime(ctx).blobs.open(row["blob"], span.start if span else 0,
                                             span.length if span else row["size"])
        except FileNotFoundError:  # overwritten between the row read and the open: read again
            if attempt == 2:
                raise
            continue
        return _read_output(ctx, row, params, span), reader
    raise AssertionError("unreachable")


def _requested_span(row: dict[str, Any], params: dict[str, Any]) -> ByteRange | None:
    part_number = params.get("PartNumber")
    if part_number is not None:
        if params.get("Range"):
            raise InvalidRequest("Cannot specify both Range header and partNumber query parameter")
        return part_range(row.get("parts"), row["size"], int(part_number))
    return parse_range(params.get("Range"), row["size"])


def _read_output(ctx: RequestContext, row: dict[str, Any], params: dict[str, Any], span: ByteRange | None) -> dict[str, Any]:
    whole = span is None or (span.start == 0 and span.length == row["size"] and params.get("PartNumber") is None)
    out = bodies.object_output(row, with_checksum=whole and params.get("ChecksumMode") == "ENABLED")
    if params.get("PartNumber") is not None:
        out["PartsCount"] = len(row.get("parts") or [row["size"]])
    if span is not None:
        out["ContentRange"] = span.content_range(row["size"])
        out["ContentLength"] = span.length
        out[STATUS] = {"HTTPStatusCode": 206}
    for param, member in RESPONSE_OVERRIDES.items():
        if params.get(param):
            if ctx.caller.is_anonymous:
                raise InvalidRequest("Request specific response headers cannot be used for anonymous GET requests.")
            out[member] = params[param]
    return out


# --- deletes ----------------------------------------------------------------------------------


def delete_object(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    check_version(params.get("VersionId"))
    with ctx.state.db.begin(iam=False) as conn:
        if params.get("IfMatch"):
            current = s3_store.get_object(conn, params["Bucket"], params["Key"])
            if current is None:
                raise no_such_key(params["Key"])
            check_preconditions(current["etag"], current["modified"], if_match=params["IfMatch"])
        old = s3_store.delete_object(conn, params["Bucket"], params["Key"])
    runtime(ctx).blobs.delete([old])
    return {}


def delete_objects(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Up to 1000 keys; each is authorized on its own and a denial is reported for that key only."""
    bucket = access.existing_bucket(ctx, params["Bucket"])
    spec = params.get("Delete") or {}
    entries = spec.get("Objects") or []
    if not entries or len(entries) > 1000:
        raise MalformedXML()
    deleted, failed, doomed = [], [], []
    for entry in entries:
        key, version = entry["Key"], entry.get("VersionId")
        action = "s3:DeleteObjectVersion" if version else "s3:DeleteObject"
        target = access.object_target(ctx, bucket, action, key)
        try:
            enforce(ctx, access.denied, access.decide(ctx, target), target)
            check_version(version)
        except errors.AwsError as exc:
            failed.append({"Key": key, "Code": exc.code, "Message": exc.message if exc.code != "AccessDenied" else "Access Denied"})
            continue
        doomed.append(key)
        deleted.append({"Key": key, **({"VersionId": version} if version else {})})
    with ctx.state.db.begin(iam=False) as conn:
        blobs = [s3_store.delete_object(conn, bucket.name, key) for key in doomed]
    runtime(ctx).blobs.delete(blobs)
    out: dict[str, Any] = {"Errors": failed} if failed else {}
    if not spec.get("Quiet"):
        out["Deleted"] = deleted
    return out


# --- copies -----------------------------------------------------------------------------------


async def copy_object(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket, key = params["Bucket"], params["Key"]
    bodies.check_key(key)
    source_bucket, source_key, version = access.parse_copy_source(params["CopySource"])
    source = read_copy_source(ctx, source_bucket, source_key, version, params)
    directive = (params.get("MetadataDirective") or "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise InvalidArgument("Unknown metadata directive.", ArgumentName="x-amz-metadata-directive",
                              ArgumentValue=directive)
    same = (source_bucket, source_key) == (bucket, key)
    if same and directive == "COPY" and not (params.get("StorageClass") or params.get("WebsiteRedirectLocation")
                                             or params.get("ServerSideEncryption")):
        raise InvalidRequest(_SELF_COPY)
    if directive == "REPLACE":
        headers, metadata = bodies.stored_headers(params), bodies.user_metadata(params)
    else:
        headers, metadata = dict(source["headers"]), dict(source["metadata"])
        if params.get("StorageClass"):
            headers["StorageClass"] = params["StorageClass"]
    if (params.get("TaggingDirective") or "COPY").upper() == "REPLACE":
        tags = tagging.object_tags_from_header(params.get("Tagging"))
    else:
        tags = source.get("tags")
    blob, size, etag, checksum = await _copy_bytes(ctx, source, params.get("ChecksumAlgorithm"))
    modified = ctx.state.clock.time()
    await commit_object(ctx, {"bucket": bucket, "key": key, "blob": blob, "size": size, "etag": etag, "modified": modified,
                        "headers": headers, "metadata": metadata, "checksum": checksum, "parts": None, "tags": tags},
                  params)
    result = {"ETag": etag, "LastModified": bodies.when(modified), **bodies.checksum_output(checksum)}
    return {"CopyObjectResult": result, "ServerSideEncryption": "AES256"}


def read_copy_source(ctx: RequestContext, bucket: str, key: str, version: str | None,
                     params: dict[str, Any]) -> dict[str, Any]:
    """The source row, with the x-amz-copy-source-if-* conditions applied (all failures are 412)."""
    check_version(version)
    with ctx.state.db.read() as conn:
        row = s3_store.get_object(conn, bucket, key)
    if row is None:
        raise no_such_key(key)
    names = ("x-amz-copy-source-If-Match", "x-amz-copy-source-If-None-Match", "x-amz-copy-source-If-Modified-Since",
             "x-amz-copy-source-If-Unmodified-Since")
    try:
        check_preconditions(row["etag"], row["modified"], if_match=params.get("CopySourceIfMatch"),
                            if_none_match=params.get("CopySourceIfNoneMatch"),
                            if_modified_since=params.get("CopySourceIfModifiedSince"),
                            if_unmodified_since=params.get("CopySourceIfUnmodifiedSince"), names=names)
    except NotModified:
        raise PreconditionFailed(Condition=names[1] if params.get("CopySourceIfNoneMatch") else names[2]) from None
    return row


async def _copy_bytes(ctx: RequestContext, source: dict[str, Any], algorithm: str | None) -> tuple[str, int, str, Any]:
    """A hard link when the source's ETag and checksum carry over; a real copy when they must be
    recomputed (a multipart source becomes a single-part object; a new checksum algorithm)."""
    blobs = runtime(ctx).blobs
    checksum = source.get("checksum")
    wanted = (algorithm or (checksum or {}).get("algorithm") or "").upper() or None
    reusable = checksum if checksum and checksum.get("type") == "FULL_OBJECT" and checksum["algorithm"] == wanted else None
    if not source.get("parts") and (wanted is None or reusable is not None):
        try:
            return blobs.link(source["blob"]), source["size"], source["etag"], reusable
        except FileNotFoundError:  # the source was overwritten or deleted a moment ago
            raise no_such_key(source["key"]) from None
    digest = checksums.new_digest(wanted) if wanted else None
    written = await blobs.compose([Source(source["blob"], 0, source["size"])], [digest] if digest else [], md5=True)
    new_checksum = {"algorithm": wanted, "value": checksums.encode(digest.digest()), "type": "FULL_OBJECT"} if digest else None
    return written.blob, written.size, f'"{written.md5.hex()}"', new_checksum
