"""S3 access map: each operation -> the IAM action(s), resource ARN(s) and S3 condition keys AWS
evaluates (reference/policy-evaluation.md section 7), with the bucket policy as the resource policy.

Resources: the bucket `arn:aws:s3:::BUCKET`, an object `arn:aws:s3:::BUCKET/KEY` (decoded key).
S3 condition keys set here (absent when the request does not carry the thing they describe):
  every request    s3:authType (REST-HEADER | REST-QUERY-STRING), s3:signatureversion, s3:signatureAge,
                   s3:x-amz-content-sha256, s3:ResourceAccount
  listings         s3:prefix and s3:delimiter when sent (an empty `prefix=` is present as ""),
                   s3:max-keys always (the default 1000 when not sent)
  writes           s3:x-amz-acl, s3:x-amz-server-side-encryption, s3:x-amz-storage-class,
                   s3:RequestObjectTag/<k>, s3:RequestObjectTagKeys; copies add s3:x-amz-copy-source,
                   s3:x-amz-metadata-directive
  existing object  s3:ExistingObjectTag/<k> (only read when some policy in play mentions it)
  CreateBucket     s3:LocationConstraint
A bucket that does not exist answers NoSuchBucket before any policy is consulted, as S3 does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote

from keyless import errors
from keyless.policy import Decision, Request, evaluate
from keyless.services.base import RequestContext, Target
from keyless.services.s3.errors import InvalidArgument, InvalidRequest, no_such_bucket
from keyless.services.s3.runtime import Bucket, runtime
from keyless.store import s3 as s3_store

BUCKET_ACTIONS: dict[str, str] = {
    "CreateBucket": "s3:CreateBucket",
    "DeleteBucket": "s3:DeleteBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "GetBucketLocation": "s3:GetBucketLocation",
    "GetBucketPolicy": "s3:GetBucketPolicy",
    "PutBucketPolicy": "s3:PutBucketPolicy",
    "DeleteBucketPolicy": "s3:DeleteBucketPolicy",
    "GetBucketPolicyStatus": "s3:GetBucketPolicyStatus",
    "GetBucketTagging": "s3:GetBucketTagging",
    "PutBucketTagging": "s3:PutBucketTagging",
    "DeleteBucketTagging": "s3:PutBucketTagging",  # AWS: DeleteBucketTagging is authorized as PutBucketTagging
}

# (action, action when a versionId is given)
OBJECT_ACTIONS: dict[str, tuple[str, str]] = {
    "GetObject": ("s3:GetObject", "s3:GetObjectVersion"),
    "HeadObject": ("s3:GetObject", "s3:GetObjectVersion"),
    "PutObject": ("s3:PutObject", "s3:PutObject"),
    "CreateMultipartUpload": ("s3:PutObject", "s3:PutObject"),
    "UploadPart": ("s3:PutObject", "s3:PutObject"),
    "CompleteMultipartUpload": ("s3:PutObject", "s3:PutObject"),
    "AbortMultipartUpload": ("s3:AbortMultipartUpload", "s3:AbortMultipartUpload"),
    "ListParts": ("s3:ListMultipartUploadParts", "s3:ListMultipartUploadParts"),
    "DeleteObject": ("s3:DeleteObject", "s3:DeleteObjectVersion"),
    "GetObjectTagging": ("s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
    "PutObjectTagging": ("s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
    "DeleteObjectTagging": ("s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
}

COPY_OPERATIONS = ("CopyObject", "UploadPartCopy")  # s3:GetObject on the source, s3:PutObject on the target
LISTINGS = {"ListObjects": "MaxKeys", "ListObjectsV2": "MaxKeys", "ListObjectVersions": "MaxKeys"}
EXISTING_TAG_OPERATIONS = frozenset({"GetObject", "HeadObject", "GetObjectTagging", "PutObjectTagging",
                                     "DeleteObjectTagging"})
WRITE_HEADERS = {"x-amz-acl": "s3:x-amz-acl", "x-amz-server-side-encryption": "s3:x-amz-server-side-encryption",
                 "x-amz-storage-class": "s3:x-amz-storage-class",
                 "x-amz-server-side-encryption-aws-kms-key-id": "s3:x-amz-server-side-encryption-aws-kms-key-id"}
WRITE_OPERATIONS = frozenset({"PutObject", "CreateMultipartUpload", "CopyObject"})


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def access(ctx: RequestContext, params: dict[str, Any]) -> list[Target]:
    op = ctx.operation
    if op == "ListBuckets":
        return [Target("s3:ListAllMyBuckets", "*", request_keys(ctx))]
    name = params.get("Bucket", "")
    if op == "CreateBucket":
        return [_target(ctx, None, "s3:CreateBucket", bucket_arn(name), _create_bucket_keys(params))]
    bucket = existing_bucket(ctx, name)
    if op == "DeleteObjects":
        return []  # decided key by key in the handler; denials are reported per key, as S3 does
    if op in BUCKET_ACTIONS:
        keys = _listing_keys(params) if op in LISTINGS else {}
        return [_target(ctx, bucket, BUCKET_ACTIONS[op], bucket.arn, keys)]
    key = params.get("Key", "")
    if op in COPY_OPERATIONS:
        return _copy_targets(ctx, bucket, key, params)
    if op in OBJECT_ACTIONS:
        plain, versioned = OBJECT_ACTIONS[op]
        action = versioned if params.get("VersionId") else plain
        keys = _write_keys(ctx, params) if op in WRITE_OPERATIONS else {}
        if op == "PutObjectTagging":
            keys.update(tag_keys((params.get("Tagging") or {}).get("TagSet") or []))
        if op in EXISTING_TAG_OPERATIONS and policies_mention(ctx, bucket, "s3:existingobjecttag"):
            keys.update(_existing_tag_keys(ctx, bucket.name, key))
        return [_target(ctx, bucket, action, object_arn(bucket.name, key), keys)]
    return [_target(ctx, bucket, f"s3:{op}", bucket.arn, {})]  # not served: the handler answers NotImplemented


def existing_bucket(ctx: RequestContext, name: str) -> Bucket:
    bucket = runtime(ctx).bucket(name)
    if bucket is None:
        raise no_such_bucket(name)
    return bucket


# --- targets and the engine ---------------------------------------------------------------------


def _target(ctx: RequestContext, bucket: Bucket | None, action: str, resource: str, keys: dict[str, Any]) -> Target:
    context = {**request_keys(ctx), **keys}
    if bucket is None:
        return Target(action, resource, context)
    context["s3:ResourceAccount"] = bucket.account
    return Target(action, resource, context, bucket.policy, bucket.account)


def bucket_target(ctx: RequestContext, bucket: Bucket, action: str) -> Target:
    return _target(ctx, bucket, action, bucket.arn, {})


def object_target(ctx: RequestContext, bucket: Bucket, action: str, key: str) -> Target:
    return _target(ctx, bucket, action, object_arn(bucket.name, key), {})


def decide(ctx: RequestContext, target: Target) -> Decision:
    """The engine's answer for one target, exactly as the pipeline asks it (not recorded)."""
    context = {**ctx.context_keys, **target.context}
    request = Request(target.action, target.resource, ctx.caller.principal, context)
    return evaluate(request, ctx.state.policies.policy_set(ctx.caller), target.resource_policy,
                    resource_account=target.resource_account or ctx.account)


def permitted(ctx: RequestContext, target: Target) -> bool:
    """Would enforcement let this through? (`learn`/`off` modes let everything through.)"""
    return ctx.state.settings.enforce != "on" or decide(ctx, target).allowed


def denied(ctx: RequestContext, decision: Decision, target: Target) -> errors.AwsError:
    """S3's AccessDenied: the long form, resource ARN in double quotes, for signed callers of this
    account; the bare `Access Denied` for anonymous (and other accounts') requests."""
    caller = ctx.caller
    if caller.is_anonymous or caller.account != (target.resource_account or ctx.account):
        return errors.AccessDenied("Access Denied")
    resource = target.resource if target.resource == "*" else f'"{target.resource}"'
    return errors.AccessDenied(decision.aws_message(caller.arn, target.action, resource))


_MENTIONS: dict[tuple[int, str], bool] = {}


def policies_mention(ctx: RequestContext, bucket: Bucket, needle: str) -> bool:
    """Does any policy that could apply name this (lower-case) key prefix? Spares a row read per GET."""
    policy_set = ctx.state.policies.policy_set(ctx.caller)
    candidates = [*policy_set.identity, policy_set.boundary, *(policy_set.session or ()), bucket.policy]
    for policy in candidates:
        if policy is None:
            continue
        memo = (id(policy), needle)
        found = _MENTIONS.get(memo)
        if found is None:
            if len(_MENTIONS) > 10_000:
                _MENTIONS.clear()
            found = _MENTIONS[memo] = needle in policy.text.lower()
        if found:
            return True
    return False


# --- condition keys -----------------------------------------------------------------------------


def request_keys(ctx: RequestContext) -> dict[str, Any]:
    """Keys every S3 request carries: how it was signed and its payload hash."""
    keys: dict[str, Any] = {}
    sha = ctx.request.header("x-amz-content-sha256")
    if sha is not None:
        keys["s3:x-amz-content-sha256"] = sha
    signature = ctx.signature
    if signature is None:  # anonymous
        return keys
    keys["s3:authType"] = "REST-QUERY-STRING" if signature.presigned else "REST-HEADER"
    keys["s3:signatureversion"] = "AWS4-HMAC-SHA256"
    age = ctx.state.clock.time() - signature.amz_date.timestamp()
    keys["s3:signatureAge"] = str(max(0, int(age * 1000)))
    return keys


def _listing_keys(params: dict[str, Any]) -> dict[str, Any]:
    keys: dict[str, Any] = {"s3:max-keys": str(params.get("MaxKeys", 1000))}
    if params.get("Prefix") is not None:
        keys["s3:prefix"] = params["Prefix"]
    if params.get("Delimiter") is not None:
        keys["s3:delimiter"] = params["Delimiter"]
    return keys


def _create_bucket_keys(params: dict[str, Any]) -> dict[str, Any]:
    constraint = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
    keys: dict[str, Any] = {}
    if constraint:
        keys["s3:LocationConstraint"] = constraint
    if params.get("ACL"):
        keys["s3:x-amz-acl"] = params["ACL"]
    if params.get("ObjectOwnership"):
        keys["s3:x-amz-object-ownership"] = params["ObjectOwnership"]
    return keys


def _write_keys(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    keys = {key: ctx.request.header(header) for header, key in WRITE_HEADERS.items() if ctx.request.header(header)}
    if params.get("Tagging"):
        keys.update(tag_keys(parse_tagging_header(params["Tagging"])))
    return keys


def tag_keys(tags: list[dict[str, str]]) -> dict[str, Any]:
    keys: dict[str, Any] = {f"s3:RequestObjectTag/{t['Key']}": t["Value"] for t in tags}
    if tags:
        keys["s3:RequestObjectTagKeys"] = [t["Key"] for t in tags]
    return keys


def _existing_tag_keys(ctx: RequestContext, bucket: str, key: str) -> dict[str, Any]:
    with ctx.state.db.read() as conn:
        row = s3_store.get_object(conn, bucket, key)
    tags = (row or {}).get("tags") or []
    return {f"s3:ExistingObjectTag/{t['Key']}": t["Value"] for t in tags}


def parse_tagging_header(value: str) -> list[dict[str, str]]:
    """x-amz-tagging: `k1=v1&k2=v2`, URL-encoded."""
    return [{"Key": k, "Value": v} for k, v in parse_qsl(value, keep_blank_values=True)]


# --- copies -------------------------------------------------------------------------------------


def parse_copy_source(value: str) -> tuple[str, str, str | None]:
    """x-amz-copy-source: `[/]bucket/key[?versionId=v]`, the key URL-encoded."""
    source, _, query = value.partition("?")
    version = dict(parse_qsl(query)).get("versionId") if query else None
    bucket, _, key = unquote(source).lstrip("/").partition("/")
    if not bucket or not key:
        raise InvalidArgument("Invalid copy source object key", ArgumentName="x-amz-copy-source", ArgumentValue=value)
    return bucket, key, version


def _copy_targets(ctx: RequestContext, bucket: Bucket, key: str, params: dict[str, Any]) -> list[Target]:
    raw = params.get("CopySource") or ""
    if not raw:
        raise InvalidRequest("Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
    source_name, source_key, version = parse_copy_source(raw)
    source_bucket = existing_bucket(ctx, source_name)
    read = _target(ctx, source_bucket, "s3:GetObjectVersion" if version else "s3:GetObject",
                   object_arn(source_name, source_key), {})
    keys = _write_keys(ctx, params) if ctx.operation == "CopyObject" else {}
    keys["s3:x-amz-copy-source"] = raw
    if params.get("MetadataDirective"):
        keys["s3:x-amz-metadata-directive"] = params["MetadataDirective"]
    return [read, _target(ctx, bucket, "s3:PutObject", object_arn(bucket.name, key), keys)]

