"""Reading an object's row the way S3 answers for it: unversioned buckets, and NoSuchKey only for
callers who may list the bucket (others learn nothing: AccessDenied)."""

from __future__ import annotations

from typing import Any

from keyless.services.base import RequestContext
from keyless.services.s3 import access
from keyless.services.s3.errors import InvalidArgument, no_such_key
from keyless.store import s3 as s3_store


def check_version(version_id: str | None) -> None:
    """Buckets are unversioned: the only version is "null"."""
    if version_id and version_id != "null":
        raise InvalidArgument("Invalid version id specified", ArgumentName="versionId", ArgumentValue=version_id)


def read_object(ctx: RequestContext, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any]:
    check_version(version_id)
    with ctx.state.db.read() as conn:
        row = s3_store.get_object(conn, bucket, key)
    if row is not None:
        return row
    the_bucket = access.existing_bucket(ctx, bucket)
    target = access.bucket_target(ctx, the_bucket, "s3:ListBucket")
    if ctx.state.settings.enforce == "on":
        decision = access.decide(ctx, target)
        if not decision.allowed:
            raise access.denied(ctx, decision, target)
    raise no_such_key(key)
