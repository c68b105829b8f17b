"""Bucket handlers: ListBuckets, CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation, and the
key listings ListObjects (v1) and ListObjectsV2."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sqlalchemy.exc import IntegrityError

from keyless.services.base import RequestContext
from keyless.services.s3 import access, listing
from keyless.services.s3.bodies import when
from keyless.services.s3.errors import (
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    IllegalLocationConstraintException,
    InvalidArgument,
    InvalidBucketName,
    InvalidLocationConstraint,
    no_such_bucket,
)
from keyless.services.s3.runtime import runtime
from keyless.store import s3 as s3_store

GLOBAL_REGION = "us-east-1"  # its buckets have no LocationConstraint; its endpoint accepts any
_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def valid_bucket_name(name: str) -> bool:
    """S3's general-purpose bucket naming rules."""
    return bool(_NAME.fullmatch(name)) and ".." not in name and not _IP.fullmatch(name) \
        and not name.startswith(_RESERVED_PREFIXES) and not name.endswith(_RESERVED_SUFFIXES)


def owner(account: str) -> dict[str, str]:
    """The canonical user: a stable 64-hex id derived from the account."""
    return {"ID": hashlib.sha256(f"keyless-canonical-user:{account}".encode()).hexdigest(), "DisplayName": "keyless"}


# --- buckets ----------------------------------------------------------------------------------


def list_buckets(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    limit = int(params.get("MaxBuckets") or 10000)
    if not 1 <= limit <= 10000:
        raise InvalidArgument("Argument max-buckets must be an integer between 1 and 10000",
                              ArgumentName="max-buckets", ArgumentValue=limit)
    after = listing.decode_token(params["ContinuationToken"]) if params.get("ContinuationToken") else ""
    prefix = params.get("Prefix") or ""
    with ctx.state.db.read() as conn:
        rows = s3_store.list_buckets(conn, ctx.account, prefix=prefix, after=after, limit=limit + 1)
    region_filter = params.get("BucketRegion")
    if region_filter:
        rows = [r for r in rows if r["region"] == region_filter]
    out: dict[str, Any] = {
        "Buckets": [{"Name": r["name"], "CreationDate": when(r["created"]), "BucketRegion": r["region"]}
                    for r in rows[:limit]],
        "Owner": owner(ctx.account),
    }
    if len(rows) > limit:
        out["ContinuationToken"] = listing.encode_token(rows[limit - 1]["name"])
    if prefix:
        out["Prefix"] = prefix
    return out


def create_bucket(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    name = params["Bucket"]
    if not valid_bucket_name(name):
        raise InvalidBucketName(BucketName=name)
    region = _location(ctx, params)
    try:
        with ctx.state.db.begin(iam=False) as conn:
            s3_store.insert_bucket(conn, name=name, account=ctx.account, region=region, created=ctx.state.clock.time())
    except IntegrityError:
        existing = runtime(ctx).bucket(name)
        if existing is None:  # deleted again in between: let the client retry
            raise
        if existing.account != ctx.account:
            raise BucketAlreadyExists(BucketName=name) from None
        if not (existing.region == GLOBAL_REGION and region == GLOBAL_REGION):
            raise BucketAlreadyOwnedByYou(BucketName=name) from None
        # us-east-1 keeps its legacy answer: re-creating your own bucket there succeeds.
    runtime(ctx).forget(name)
    return {"Location": f"/{name}", "BucketArn": access.bucket_arn(name)}


def _location(ctx: RequestContext, params: dict[str, Any]) -> str:
    """The bucket's region: its LocationConstraint, checked against the endpoint's region as S3 does."""
    constraint = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
    endpoint_region = signing_region(ctx) or ctx.region
    if constraint == GLOBAL_REGION:
        raise InvalidLocationConstraint(LocationConstraint=constraint)
    if constraint == "EU":
        constraint = "eu-west-1"
    if endpoint_region != GLOBAL_REGION and (constraint or GLOBAL_REGION) != endpoint_region:
        said = "unspecified" if not constraint else constraint
        raise IllegalLocationConstraintException(
            f"The {said} location constraint is incompatible for the region specific endpoint this request was sent to.")
    return constraint or GLOBAL_REGION


def signing_region(ctx: RequestContext) -> str | None:
    """The region in the request's credential scope (the endpoint the client meant)."""
    credential = ctx.request.query_param("X-Amz-Credential")
    if credential is None:
        auth = ctx.request.header("authorization") or ""
        if "Credential=" not in auth:
            return None
        credential = auth.split("Credential=", 1)[1].split(",", 1)[0]
    parts = credential.strip().split("/")
    return parts[2] if len(parts) >= 5 else None


def delete_bucket(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    name = params["Bucket"]
    with ctx.state.db.begin(iam=False) as conn:
        if s3_store.get_bucket(conn, name) is None:
            raise no_such_bucket(name)
        if not s3_store.bucket_is_empty(conn, name):
            raise BucketNotEmpty(BucketName=name)
        orphans = s3_store.delete_bucket(conn, name)
    runtime(ctx).forget(name)
    runtime(ctx).blobs.delete(orphans)
    return {}


def head_bucket(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket = access.existing_bucket(ctx, params["Bucket"])
    return {"BucketRegion": bucket.region, "AccessPointAlias": False, "BucketArn": bucket.arn}


def get_bucket_location(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket = access.existing_bucket(ctx, params["Bucket"])
    return {"LocationConstraint": None if bucket.region == GLOBAL_REGION else bucket.region}


# --- listings ---------------------------------------------------------------------------------


def list_objects_v2(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    name, prefix, delimiter, max_keys, encode = _listing_params(params)
    token = params.get("ContinuationToken")
    after = listing.decode_token(token) if token else params.get("StartAfter")
    page = _page(ctx, name, prefix, delimiter, max_keys, after)
    out: dict[str, Any] = {
        "Name": name, "Prefix": encode(prefix), "MaxKeys": max_keys, "IsTruncated": page.truncated,
        "KeyCount": len(page.contents) + len(page.common_prefixes),
        "Contents": [_entry(ctx, row, encode, with_owner=bool(params.get("FetchOwner"))) for row in page.contents],
        "CommonPrefixes": [{"Prefix": encode(p)} for p in page.common_prefixes],
    }
    _optional(out, Delimiter=encode(delimiter) if delimiter else None, ContinuationToken=token,
              StartAfter=encode(params["StartAfter"]) if params.get("StartAfter") else None,
              EncodingType=params.get("EncodingType"),
              NextContinuationToken=listing.encode_token(page.last) if page.truncated and page.last else None)
    return out


def list_objects(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    name, prefix, delimiter, max_keys, encode = _listing_params(params)
    marker = params.get("Marker") or ""
    page = _page(ctx, name, prefix, delimiter, max_keys, marker or None)
    out: dict[str, Any] = {
        "Name": name, "Prefix": encode(prefix), "Marker": encode(marker), "MaxKeys": max_keys,
        "IsTruncated": page.truncated,
        "Contents": [_entry(ctx, row, encode, with_owner=True) for row in page.contents],
        "CommonPrefixes": [{"Prefix": encode(p)} for p in page.common_prefixes],
    }
    # S3 sends NextMarker only with a delimiter; without one, clients continue from the last key.
    _optional(out, Delimiter=encode(delimiter) if delimiter else None, EncodingType=params.get("EncodingType"),
              NextMarker=encode(page.last) if page.truncated and delimiter and page.last else None)
    return out


def _listing_params(params: dict[str, Any]) -> tuple[str, str, str, int, Any]:
    max_keys = params.get("MaxKeys")
    max_keys = 1000 if max_keys is None else int(max_keys)
    if max_keys < 0:
        raise InvalidArgument("max-keys cannot be negative", ArgumentName="max-keys", ArgumentValue=max_keys)
    encoding = params.get("EncodingType")
    if encoding not in (None, "", "url"):
        raise InvalidArgument("Invalid Encoding Method specified in Request", ArgumentName="encoding-type",
                              ArgumentValue=encoding)
    encode = listing.url_encode if encoding == "url" else (lambda value: value)
    return params["Bucket"], params.get("Prefix") or "", params.get("Delimiter") or "", min(max_keys, 1000), encode


def _page(ctx: RequestContext, bucket: str, prefix: str, delimiter: str, max_keys: int, after: str | None) -> listing.Page:
    access.existing_bucket(ctx, bucket)
    with ctx.state.db.read() as conn:
        def fetch(start: str, inclusive: bool, limit: int) -> list[dict[str, Any]]:
            return s3_store.scan_objects(conn, bucket, start, inclusive, limit)

        return listing.list_page(fetch, prefix=prefix, delimiter=delimiter, max_keys=max_keys, after=after)


def _entry(ctx: RequestContext, row: dict[str, Any], encode: Any, *, with_owner: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "Key": encode(row["key"]), "LastModified": when(row["modified"]), "ETag": row["etag"], "Size": row["size"],
        "StorageClass": (row.get("headers") or {}).get("StorageClass") or "STANDARD",
    }
    checksum = row.get("checksum")
    if checksum:
        entry["ChecksumAlgorithm"] = [checksum["algorithm"]]
        entry["ChecksumType"] = checksum.get("type") or "FULL_OBJECT"
    if with_owner:
        entry["Owner"] = owner(ctx.account)
    return entry


def _optional(out: dict[str, Any], **members: Any) -> None:
    out.update({k: v for k, v in members.items() if v is not None and v != ""})
