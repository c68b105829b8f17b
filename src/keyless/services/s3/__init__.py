"""S3 (rest-xml): buckets, objects, multipart uploads, listings, bucket policies and tagging.

    buckets.py    ListBuckets, CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation, ListObjects(V2)
    objects.py    PutObject, GetObject, HeadObject, DeleteObject(s), CopyObject
    multipart.py  Create/Complete/Abort MultipartUpload, UploadPart(Copy), ListParts, ListMultipartUploads
    policy.py     Put/Get/DeleteBucketPolicy, GetBucketPolicyStatus
    tagging.py    Put/Get/DeleteBucketTagging, Put/Get/DeleteObjectTagging
    access.py     operation -> actions, resources, S3 condition keys; the bucket policy; AccessDenied
    storage.py    object bytes on disk (blobs); runtime.py the blob store and bucket cache

S3 serves anonymous requests: they reach the access map like any other and the bucket policy
decides (keyless.policy gives an anonymous caller only what a policy grants to "*").
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from botocore import xform_name

from keyless.auth import sigv4
from keyless.services.base import Handler, RequestContext, Service, call_handler
from keyless.services.s3 import access, buckets, multipart, objects, policy, tagging
from keyless.services.s3.runtime import S3Runtime

if TYPE_CHECKING:
    from keyless.server.state import AppState

OPERATIONS = {
    buckets: ["ListBuckets", "CreateBucket", "DeleteBucket", "HeadBucket", "GetBucketLocation", "ListObjects",
              "ListObjectsV2"],
    objects: ["PutObject", "GetObject", "HeadObject", "DeleteObject", "DeleteObjects", "CopyObject"],
    multipart: ["CreateMultipartUpload", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload",
                "AbortMultipartUpload", "ListParts", "ListMultipartUploads"],
    policy: ["PutBucketPolicy", "GetBucketPolicy", "DeleteBucketPolicy", "GetBucketPolicyStatus"],
    tagging: ["PutBucketTagging", "GetBucketTagging", "DeleteBucketTagging", "PutObjectTagging", "GetObjectTagging",
              "DeleteObjectTagging"],
}


def handlers() -> dict[str, Handler]:
    return {op: _payload_checked(getattr(module, xform_name(op))) for module, ops in OPERATIONS.items() for op in ops}


def _payload_checked(handler: Handler) -> Handler:
    """Bodies read whole (XML configurations) must match a hex x-amz-content-sha256 before a handler
    acts on them; streamed bodies are checked as they stream (bodies.request_body)."""

    @functools.wraps(handler)
    async def checked(ctx: RequestContext, params: dict[str, Any]) -> Any:
        if ctx.request.stream is None and ctx.request.body:
            hasher = sigv4.PayloadHasher.for_request(ctx.request)
            if hasher is not None:
                hasher.check(ctx.request.body)
        return await call_handler(handler, ctx, params)

    return checked


def service(state: AppState) -> Service:
    state.components["s3"] = S3Runtime(state)
    everything = frozenset(op for ops in OPERATIONS.values() for op in ops)
    return Service(name="s3", handlers=handlers(), access=access.access, denied=access.denied,
                   allow_anonymous=everything)
