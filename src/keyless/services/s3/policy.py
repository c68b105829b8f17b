"""Bucket policies: Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus.

A bucket policy is the resource-based policy of every request on the bucket and its objects
(access.py hands the compiled document to the engine). S3 checks a few things IAM's grammar does
not, with its own words (MalformedPolicy): a Principal in every statement, S3 actions only, and
resources inside this bucket; the engine's validation then applies as for any resource policy.
Writes go through `db.begin()` (not iam=False): they change who may do what.
"""

from __future__ import annotations

import json
import re
from typing import Any

from keyless.policy import PolicyError, PolicyKind, parse_policy
from keyless.services.base import RequestContext
from keyless.services.s3 import access, bodies
from keyless.services.s3.errors import MalformedPolicy, NoSuchBucketPolicy, no_such_bucket
from keyless.services.s3.runtime import runtime
from keyless.store import s3 as s3_store

MAX_POLICY_BYTES = 20 * 1024
_S3_ACTION = re.compile(r"s3:[A-Za-z0-9*?]+", re.IGNORECASE)


def put_bucket_policy(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bodies.verify_small_body(ctx)
    name = params["Bucket"]
    text = params.get("Policy") or ""
    validate_bucket_policy(text, name)
    _store_policy(ctx, name, text)
    return {}


def get_bucket_policy(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket = access.existing_bucket(ctx, params["Bucket"])
    if bucket.policy_text is None:
        raise NoSuchBucketPolicy(BucketName=bucket.name)
    return {"Policy": bucket.policy_text}


def delete_bucket_policy(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    _store_policy(ctx, params["Bucket"], None)
    return {}


def get_bucket_policy_status(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    bucket = access.existing_bucket(ctx, params["Bucket"])
    if bucket.policy_text is None:
        raise NoSuchBucketPolicy(BucketName=bucket.name)
    return {"PolicyStatus": {"IsPublic": is_public(bucket.policy_text)}}


def _store_policy(ctx: RequestContext, name: str, text: str | None) -> None:
    with ctx.state.db.begin() as conn:
        found = s3_store.set_bucket_field(conn, name, policy=text)
    runtime(ctx).forget(name)
    if not found:
        raise no_such_bucket(name)


# --- validation -------------------------------------------------------------------------------


def validate_bucket_policy(text: str, bucket: str) -> None:
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise MalformedPolicy("Policies must be less than 20 KB in size")
    if not text.lstrip().startswith("{"):
        raise MalformedPolicy("Policies must be valid JSON and the first byte must be '{'")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):  # nesting deeper than the parser's stack is not a policy either
        raise MalformedPolicy("This policy contains invalid Json") from None
    for statement in _statements(document):
        _check_statement(statement, bucket)
    try:
        parse_policy(text, PolicyKind.RESOURCE, name="bucket policy", policy_id=access.bucket_arn(bucket))
    except PolicyError as exc:
        raise MalformedPolicy(exc.message) from None


def _statements(document: Any) -> list[Any]:
    raw = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(raw, dict):
        return [raw]
    if not isinstance(raw, list) or not raw:
        raise MalformedPolicy("Missing required field Statement")
    return raw


def _check_statement(statement: Any, bucket: str) -> None:
    if not isinstance(statement, dict):
        raise MalformedPolicy("This policy contains invalid Json")
    if "Principal" not in statement and "NotPrincipal" not in statement:
        raise MalformedPolicy("Missing required field Principal")
    for action in _strings(statement.get("Action", statement.get("NotAction"))):
        if action != "*" and not _S3_ACTION.fullmatch(action):
            raise MalformedPolicy("Policy has invalid action")
    arn = access.bucket_arn(bucket)
    for resource in _strings(statement.get("Resource", statement.get("NotResource"))):
        if resource != arn and not resource.startswith(arn + "/"):
            raise MalformedPolicy("Policy has invalid resource")


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise MalformedPolicy("This policy contains invalid Json")


def is_public(text: str) -> bool:
    """S3's notion, simplified: an unconditional Allow to every principal makes a bucket public."""
    try:
        statements = _statements(json.loads(text))
    except (ValueError, RecursionError, MalformedPolicy):
        return False
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow" or statement.get("Condition"):
            continue
        principal = statement.get("Principal")
        if principal == "*" or (isinstance(principal, dict) and "*" in _strings(principal.get("AWS"))):
            return True
    return False
