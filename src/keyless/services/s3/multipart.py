"""Multipart uploads: Create, UploadPart, UploadPartCopy, Complete, Abort, ListParts, ListMultipartUploads.

Each part is its own blob. Completion checks the part list as S3 does (ascending order, known
parts with matching ETags, 5 MiB minimum for all but the last part), concatenates the chosen parts
into the object's blob in a worker thread, then commits the object row and removes the upload in one
transaction. The ETag is S3's: MD5 of the parts' binary MD5s, then `-N`. Checksums are COMPOSITE
(the algorithm over the parts' digests, `-N`) or FULL_OBJECT (over the whole object) as the upload
was created.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from keyless.services.base import RequestContext
from keyless.services.s3 import access, bodies, checksums, listing, tagging
from keyless.services.s3.conditions import ByteRange, parse_range
from keyless.services.s3.errors import (
    BadDigest,
    EntityTooSmall,
    InvalidArgument,
    InvalidPart,
    InvalidPartOrder,
    InvalidRequest,
    MalformedXML,
    no_such_upload,
)
from keyless.services.s3.buckets import owner
from keyless.services.s3.objects import precheck_write, read_copy_source
from keyless.services.s3.runtime import runtime
from keyless.services.s3.storage import Source
from keyless.store import s3 as s3_store

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10000
FULL_OBJECT_ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME")


def multipart_etag(part_md5s: list[bytes]) -> str:
    return f'"{hashlib.md5(b"".join(part_md5s)).hexdigest()}-{len(part_md5s)}"'


def create_multipart_upload(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket, key = params["Bucket"], params["Key"]
    bodies.check_key(key)
    checksum = _upload_checksum(params.get("ChecksumAlgorithm"), params.get("ChecksumType"))
    upload_id = secrets.token_urlsafe(48)
    with ctx.state.db.begin(iam=False) as conn:
        s3_store.insert_upload(conn, upload_id=upload_id, bucket=bucket, key=key, initiated=ctx.state.clock.time(),
                               initiator=ctx.caller.arn or "anonymous", headers=bodies.stored_headers(params),
                               metadata=bodies.user_metadata(params), checksum=checksum,
                               tags=tagging.object_tags_from_header(params.get("Tagging")))
    out = {"Bucket": bucket, "Key": key, "UploadId": upload_id, "ServerSideEncryption": "AES256"}
    if checksum:
        out.update(ChecksumAlgorithm=checksum["algorithm"], ChecksumType=checksum["type"])
    return out


def _upload_checksum(algorithm: str | None, kind: str | None) -> dict[str, str] | None:
    if not algorithm:
        if kind:
            raise InvalidRequest("The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
        return None
    algorithm = algorithm.upper()
    if algorithm not in checksums.FACTORIES:
        raise InvalidRequest("Checksum algorithm provided is unsupported. Please try again with any of the valid "
                             "types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
    kind = (kind or ("FULL_OBJECT" if algorithm == "CRC64NVME" else "COMPOSITE")).upper()
    if kind == "FULL_OBJECT" and algorithm not in FULL_OBJECT_ALGORITHMS:
        raise InvalidRequest(f"The FULL_OBJECT checksum type cannot be used with the {algorithm.lower()} checksum algorithm.")
    if kind == "COMPOSITE" and algorithm == "CRC64NVME":
        raise InvalidRequest("The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.")
    return {"algorithm": algorithm, "type": kind}


def _upload(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.state.db.read() as conn:
        upload = s3_store.get_upload(conn, params.get("UploadId") or "")
    if upload is None or upload["bucket"] != params["Bucket"] or upload["key"] != params["Key"]:
        raise no_such_upload(params.get("UploadId") or "")
    return upload


def _part_number(params: dict[str, Any]) -> int:
    number = params.get("PartNumber")
    if not isinstance(number, int) or not 1 <= number <= MAX_PARTS:
        raise InvalidArgument("Part number must be an integer between 1 and 10000, inclusive",
                              ArgumentName="partNumber", ArgumentValue=number)
    return number


# --- parts ------------------------------------------------------------------------------------


async def upload_part(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    upload = _upload(ctx, params)
    number = _part_number(params)
    algorithm = (upload.get("checksum") or {}).get("algorithm")
    received = await bodies.receive(ctx, params, required_algorithm=algorithm)
    await _commit_part(ctx, upload["upload_id"], number, received.written.blob, received.written.size, received.etag,
                       received.checksum, staged=received.written.staged)
    return {"ETag": received.etag, "ServerSideEncryption": "AES256", **bodies.checksum_output(received.checksum)}


async def upload_part_copy(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    upload = _upload(ctx, params)
    number = _part_number(params)
    source_bucket, source_key, version = access.parse_copy_source(params["CopySource"])
    source = read_copy_source(ctx, source_bucket, source_key, version, params)
    span = _copy_range(params.get("CopySourceRange"), source["size"])
    algorithm = (upload.get("checksum") or {}).get("algorithm")
    digest = checksums.new_digest(algorithm) if algorithm else None
    written = await runtime(ctx).blobs.compose([Source(source["blob"], span.start, span.length)],
                                               [digest] if digest else [], md5=True)
    etag = f'"{written.md5.hex()}"'
    checksum = {"algorithm": algorithm, "value": checksums.encode(digest.digest())} if algorithm and digest else None
    modified = await _commit_part(ctx, upload["upload_id"], number, written.blob, written.size, etag, checksum)
    result = {"ETag": etag, "LastModified": bodies.when(modified), **bodies.checksum_output(checksum)}
    return {"CopyPartResult": result, "ServerSideEncryption": "AES256"}


def _copy_range(header: str | None, size: int) -> ByteRange:
    if not header:
        return ByteRange(0, size - 1) if size else ByteRange(0, -1)
    span = parse_range(header, size)
    if span is None or not header.startswith("bytes=") or header.startswith("bytes=-") or header.endswith("-"):
        raise InvalidArgument("The x-amz-copy-source-range value must be of the form bytes=first-last where first and "
                              "last are the zero-based offsets of the first and last bytes to copy",
                              ArgumentName="x-amz-copy-source-range", ArgumentValue=header)
    return span


async def _commit_part(ctx: RequestContext, upload_id: str, number: int, blob: str, size: int, etag: str,
                       checksum: dict[str, str] | None, *, staged: bytes | None = None) -> float:
    """Like objects.commit_object: the part's row on an I/O thread, then its old blob dropped."""
    modified = ctx.state.clock.time()
    row = {"upload_id": upload_id, "part_number": number, "blob": blob, "size": size, "etag": etag,
           "modified": modified, "checksum": checksum}
    try:
        await runtime(ctx).blobs.commit(ctx.state.db, blob, staged, _write_part_row, row)
    except IntegrityError:
        raise no_such_upload(upload_id) from None
    return modified


def _write_part_row(conn: Connection, row: dict[str, Any]) -> list[str | None]:
    """Reads, then one write (commits.py may batch it with other uploads' rows)."""
    if s3_store.get_upload(conn, row["upload_id"]) is None:
        raise no_such_upload(row["upload_id"])  # completed or aborted while the part arrived
    return [s3_store.put_part(conn, row)]


# --- completion -------------------------------------------------------------------------------


async def complete_multipart_upload(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    upload = _upload(ctx, params)
    with ctx.state.db.read() as conn:
        stored = {p["part_number"]: p for p in s3_store.get_parts(conn, upload["upload_id"])}
    chosen = _chosen_parts(params, stored, upload["upload_id"])
    kind = upload.get("checksum") or {}
    digest = checksums.new_digest(kind["algorithm"]) if kind.get("type") == "FULL_OBJECT" else None
    if params.get("MpuObjectSize") is not None and int(params["MpuObjectSize"]) != sum(p["size"] for p in chosen):
        raise InvalidRequest("The provided 'x-amz-mp-object-size' header value does not match what was computed.")
    written = await runtime(ctx).blobs.compose([Source(p["blob"], 0, p["size"]) for p in chosen],
                                               [digest] if digest else [])
    try:
        etag = multipart_etag([bytes.fromhex(p["etag"].strip('"')) for p in chosen])
        checksum = _object_checksum(kind, chosen, digest, params)
    except BaseException:
        runtime(ctx).blobs.delete([written.blob])
        raise
    row = {"bucket": upload["bucket"], "key": upload["key"], "blob": written.blob, "size": written.size, "etag": etag,
           "modified": ctx.state.clock.time(), "headers": upload["headers"], "metadata": upload["metadata"],
           "checksum": checksum, "parts": [p["size"] for p in chosen], "tags": upload.get("tags")}
    await _finish(ctx, row, upload["upload_id"], params)
    host = ctx.request.header("host") or "localhost"
    return {"Location": f"http://{host}/{upload['bucket']}/{upload['key']}", "Bucket": upload["bucket"],
            "Key": upload["key"], "ETag": etag, "ServerSideEncryption": "AES256", **bodies.checksum_output(checksum)}


def _chosen_parts(params: dict[str, Any], stored: dict[int, dict[str, Any]], upload_id: str) -> list[dict[str, Any]]:
    listed = (params.get("MultipartUpload") or {}).get("Parts") or []
    if not listed:
        raise MalformedXML()
    numbers = [p.get("PartNumber") for p in listed]
    if any(not isinstance(n, int) for n in numbers) or any(a >= b for a, b in zip(numbers, numbers[1:])):
        raise InvalidPartOrder(UploadId=upload_id)
    chosen = []
    for entry in listed:
        part = stored.get(entry["PartNumber"])
        if part is None or (entry.get("ETag") or "").strip('"') != part["etag"].strip('"'):
            raise InvalidPart(UploadId=upload_id, PartNumber=str(entry["PartNumber"]), ETag=entry.get("ETag") or "")
        sent = _part_checksum_claim(entry, part)
        if sent is not None and sent != (part.get("checksum") or {}).get("value"):
            raise InvalidPart(UploadId=upload_id, PartNumber=str(entry["PartNumber"]), ETag=entry.get("ETag") or "")
        chosen.append(part)
    for part in chosen[:-1]:
        if part["size"] < MIN_PART_SIZE:
            raise EntityTooSmall(ProposedSize=str(part["size"]), MinSizeAllowed=str(MIN_PART_SIZE),
                                 PartNumber=str(part["part_number"]), ETag=part["etag"])
    return chosen


def _part_checksum_claim(entry: dict[str, Any], part: dict[str, Any]) -> str | None:
    algorithm = (part.get("checksum") or {}).get("algorithm")
    return entry.get(checksums.member_name(algorithm)) if algorithm else None


def _object_checksum(kind: dict[str, Any], chosen: list[dict[str, Any]], digest: Any,
                     params: dict[str, Any]) -> dict[str, str] | None:
    algorithm = kind.get("algorithm")
    if not algorithm:
        return None
    if kind.get("type") == "FULL_OBJECT":
        value = checksums.encode(digest.digest())
    else:
        raw = [checksums.decode(algorithm, (p.get("checksum") or {}).get("value") or "") for p in chosen]
        value = checksums.composite(algorithm, raw)
    claimed = params.get(checksums.member_name(algorithm))
    if claimed and claimed.split("-")[0] != value.split("-")[0]:
        raise BadDigest(f"The {algorithm} you specified did not match the calculated checksum.")
    return {"algorithm": algorithm, "value": value, "type": kind["type"]}


async def _finish(ctx: RequestContext, row: dict[str, Any], upload_id: str, params: dict[str, Any]) -> None:
    """Commit the object and remove the upload atomically; the parts' blobs and the replaced
    object's are unlinked after the commit (BlobStore.commit removes the new blob on failure)."""
    blobs = runtime(ctx).blobs
    try:
        if params.get("IfMatch") or params.get("IfNoneMatch"):
            precheck_write(ctx, row["bucket"], row["key"], params)
    except BaseException:
        blobs.delete([row["blob"]])
        raise
    await blobs.commit(ctx.state.db, row["blob"], None, _finish_rows, row, upload_id)


def _finish_rows(conn: Connection, row: dict[str, Any], upload_id: str) -> list[str | None]:
    part_blobs = s3_store.delete_upload(conn, upload_id)
    if part_blobs is None:
        raise no_such_upload(upload_id)  # completed or aborted concurrently
    return [*part_blobs, s3_store.put_object(conn, row)]


# --- abort and listings -----------------------------------------------------------------------


def abort_multipart_upload(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    upload = _upload(ctx, params)
    with ctx.state.db.begin(iam=False) as conn:
        blobs = s3_store.delete_upload(conn, upload["upload_id"])
    if blobs is None:
        raise no_such_upload(upload["upload_id"])
    runtime(ctx).blobs.delete(blobs)
    return {}


def list_parts(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    upload = _upload(ctx, params)
    max_parts = min(int(params.get("MaxParts") or 1000), 1000)
    marker = int(params.get("PartNumberMarker") or 0)
    with ctx.state.db.read() as conn:
        rows = s3_store.get_parts(conn, upload["upload_id"], after=marker, limit=max_parts + 1)
    page, truncated = rows[:max_parts], len(rows) > max_parts
    person = _person(ctx, upload["initiator"])
    out: dict[str, Any] = {
        "Bucket": upload["bucket"], "Key": upload["key"], "UploadId": upload["upload_id"],
        "PartNumberMarker": marker, "MaxParts": max_parts, "IsTruncated": truncated,
        "Parts": [_part_entry(p) for p in page], "Initiator": person, "Owner": _owner(ctx),
        "StorageClass": (upload["headers"] or {}).get("StorageClass") or "STANDARD",
    }
    if page:
        out["NextPartNumberMarker"] = page[-1]["part_number"]
    checksum = upload.get("checksum")
    if checksum:
        out.update(ChecksumAlgorithm=checksum["algorithm"], ChecksumType=checksum["type"])
    return out


def _part_entry(part: dict[str, Any]) -> dict[str, Any]:
    entry = {"PartNumber": part["part_number"], "LastModified": bodies.when(part["modified"]), "ETag": part["etag"],
             "Size": part["size"]}
    checksum = part.get("checksum")
    if checksum:
        entry[checksums.member_name(checksum["algorithm"])] = checksum["value"]
    return entry


def _person(ctx: RequestContext, arn: str) -> dict[str, str]:
    return {"ID": arn, "DisplayName": arn.rsplit("/", 1)[-1]}


def _owner(ctx: RequestContext) -> dict[str, str]:
    return owner(ctx.account)


def list_multipart_uploads(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket = access.existing_bucket(ctx, params["Bucket"])
    prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter") or ""
    max_uploads = min(int(params.get("MaxUploads") or 1000), 1000)
    key_marker, id_marker = params.get("KeyMarker") or "", params.get("UploadIdMarker") or ""
    encode = listing.url_encode if params.get("EncodingType") == "url" else (lambda v: v)
    with ctx.state.db.read() as conn:
        rows = s3_store.list_uploads(conn, bucket.name, prefix)
    entries: list[tuple[str, dict[str, Any] | str]] = []  # ("upload", row) | ("prefix", text)
    for row in rows:
        if key_marker and (row["key"] < key_marker or (row["key"] == key_marker and not _after_id(row, id_marker, rows))):
            continue
        group = listing.common_prefix(row["key"], prefix, delimiter)
        if group is not None:
            if not entries or entries[-1] != ("prefix", group):
                if not (key_marker and group <= key_marker and key_marker.startswith(group)):
                    entries.append(("prefix", group))
            continue
        entries.append(("upload", row))
    page, truncated = entries[:max_uploads], len(entries) > max_uploads
    out: dict[str, Any] = {
        "Bucket": bucket.name, "KeyMarker": encode(key_marker), "UploadIdMarker": id_marker, "MaxUploads": max_uploads,
        "IsTruncated": truncated, "Prefix": encode(prefix),
        "Uploads": [_upload_entry(ctx, r, encode) for kind, r in page if kind == "upload" and isinstance(r, dict)],
        "CommonPrefixes": [{"Prefix": encode(r)} for kind, r in page if kind == "prefix" and isinstance(r, str)],
    }
    if delimiter:
        out["Delimiter"] = encode(delimiter)
    if params.get("EncodingType"):
        out["EncodingType"] = params["EncodingType"]
    if truncated and page:
        kind, last = page[-1]
        out["NextKeyMarker"] = encode(last if isinstance(last, str) else last["key"])
        out["NextUploadIdMarker"] = "" if isinstance(last, str) else last["upload_id"]
    return out


def _after_id(row: dict[str, Any], id_marker: str, rows: list[dict[str, Any]]) -> bool:
    """Within the marker key, uploads after the marker upload (in listing order); none without one."""
    if not id_marker:
        return False
    same = [r["upload_id"] for r in rows if r["key"] == row["key"]]
    return id_marker in same and same.index(row["upload_id"]) > same.index(id_marker)


def _upload_entry(ctx: RequestContext, row: dict[str, Any], encode: Any) -> dict[str, Any]:
    entry = {"UploadId": row["upload_id"], "Key": encode(row["key"]), "Initiated": bodies.when(row["initiated"]),
             "StorageClass": (row["headers"] or {}).get("StorageClass") or "STANDARD", "Owner": _owner(ctx),
             "Initiator": _person(ctx, row["initiator"])}
    checksum = row.get("checksum")
    if checksum:
        entry.update(ChecksumAlgorithm=checksum["algorithm"], ChecksumType=checksum["type"])
    return entry
