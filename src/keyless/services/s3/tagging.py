"""Bucket and object tagging: Put/Get/DeleteBucketTagging, Put/Get/DeleteObjectTagging, and the
x-amz-tagging header of PutObject/CopyObject/CreateMultipartUpload. Limits and words are S3's:
10 tags per object, 50 per bucket, keys up to 128 characters, values up to 256."""

from __future__ import annotations

import re
from typing import Any

from keyless.services.base import RequestContext
from keyless.services.s3 import access, bodies
from keyless.services.s3.errors import InvalidTag, NoSuchTagSet, no_such_bucket, no_such_key
from keyless.services.s3.lookup import check_version, read_object
from keyless.services.s3.runtime import runtime
from keyless.store import s3 as s3_store

OBJECT_TAG_LIMIT = 10
BUCKET_TAG_LIMIT = 50
_ALLOWED = re.compile(r"[\w\s+\-=._:/@]*", re.UNICODE)


def validate_tags(tags: list[dict[str, Any]], *, limit: int, bucket: bool = False) -> list[dict[str, str]]:
    if len(tags) > limit:
        raise InvalidTag(f"{'Bucket' if bucket else 'Object'} tags cannot be greater than {limit}")
    seen: set[str] = set()
    clean = []
    for tag in tags:
        key, value = str(tag.get("Key", "")), str(tag.get("Value", ""))
        if not key or len(key) > 128:
            raise InvalidTag("The TagKey you have provided is too long, max 128" if key else
                             "The TagKey you have provided is invalid", TagKey=key)
        if len(value) > 256:
            raise InvalidTag("The TagValue you have provided is too long, max 256", TagKey=key, TagValue=value)
        if not _ALLOWED.fullmatch(key):
            raise InvalidTag("The TagKey you have provided is invalid", TagKey=key)
        if not _ALLOWED.fullmatch(value):
            raise InvalidTag("The TagValue you have provided is invalid", TagKey=key, TagValue=value)
        if key.lower().startswith("aws:"):
            raise InvalidTag("System tags cannot be added/updated by requester" if bucket else
                             "Your TagKey cannot be prefixed with aws:", TagKey=key)
        if key in seen:
            raise InvalidTag("Cannot provide multiple Tags with the same key", TagKey=key)
        seen.add(key)
        clean.append({"Key": key, "Value": value})
    return clean


def object_tags_from_header(value: str | None) -> list[dict[str, str]] | None:
    if not value:
        return None
    return validate_tags(access.parse_tagging_header(value), limit=OBJECT_TAG_LIMIT) or None


def _tag_set(params: dict[str, Any]) -> list[dict[str, Any]]:
    return list((params.get("Tagging") or {}).get("TagSet") or [])


# --- buckets ----------------------------------------------------------------------------------


def put_bucket_tagging(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bodies.verify_small_body(ctx)
    tags = validate_tags(_tag_set(params), limit=BUCKET_TAG_LIMIT, bucket=True)
    _set_bucket_tags(ctx, params["Bucket"], tags)
    return {}


def get_bucket_tagging(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    tags = access.existing_bucket(ctx, params["Bucket"]).tags
    if not tags:
        raise NoSuchTagSet(BucketName=params["Bucket"])
    return {"TagSet": tags}


def delete_bucket_tagging(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    _set_bucket_tags(ctx, params["Bucket"], None)
    return {}


def _set_bucket_tags(ctx: RequestContext, bucket: str, tags: list[dict[str, str]] | None) -> None:
    with ctx.state.db.begin(iam=False) as conn:
        found = s3_store.set_bucket_field(conn, bucket, tags=tags)
    runtime(ctx).forget(bucket)
    if not found:
        raise no_such_bucket(bucket)


# --- objects ----------------------------------------------------------------------------------


def put_object_tagging(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bodies.verify_small_body(ctx)
    check_version(params.get("VersionId"))
    tags = validate_tags(_tag_set(params), limit=OBJECT_TAG_LIMIT)
    _set_object_tags(ctx, params["Bucket"], params["Key"], tags or None)
    return {}


def get_object_tagging(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    row = read_object(ctx, params["Bucket"], params["Key"], params.get("VersionId"))
    return {"TagSet": row.get("tags") or []}


def delete_object_tagging(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    check_version(params.get("VersionId"))
    _set_object_tags(ctx, params["Bucket"], params["Key"], None)
    return {}


def _set_object_tags(ctx: RequestContext, bucket: str, key: str, tags: list[dict[str, str]] | None) -> None:
    with ctx.state.db.begin(iam=False) as conn:
        found = s3_store.set_object_tags(conn, bucket, key, tags)
    if not found:
        raise no_such_key(key)
