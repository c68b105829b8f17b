"""The S3 access map: operation -> actions, resources, condition keys and bucket policy, and the
decisions the engine then takes with them (anonymous callers, Principal "*", explicit Deny)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from keyless.auth.principals import Caller, anonymous
from keyless.auth.sigv4 import SigV4Params
from keyless.clock import Clock
from keyless.config import Settings
from keyless.policy import PolicyKind, PolicySet, parse_policy
from keyless.protocol.http import HttpRequest
from keyless.services.base import RequestContext
from keyless.services.s3 import access
from keyless.services.s3.errors import NoSuchBucket
from keyless.services.s3.runtime import S3Runtime
from keyless.store import s3 as s3_store
from keyless.store.db import Database

ACCOUNT = "123456789012"
ROLE_SESSION = Caller(type="AssumedRole", account=ACCOUNT, arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/i-0abc",
                      user_id="AROAEXAMPLE:i-0abc", principal_arn=f"arn:aws:iam::{ACCOUNT}:role/reader",
                      owner_kind="role", owner_id="AROAEXAMPLE")
ADMIN = Caller(type="User", account=ACCOUNT, arn=f"arn:aws:iam::{ACCOUNT}:user/admin", user_id="AIDAADMIN",
               principal_arn=f"arn:aws:iam::{ACCOUNT}:user/admin", username="admin", owner_kind="user", owner_id="AIDAADMIN")
READER_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
    "Resource": ["arn:aws:s3:::my-specific-bucket", "arn:aws:s3:::my-specific-bucket/*"]}]})
ADMIN_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


class Resolver:
    def __init__(self) -> None:
        self.by_owner = {
            "AROAEXAMPLE": PolicySet(identity=(parse_policy(READER_POLICY, PolicyKind.IDENTITY, name="s3-read"),)),
            "AIDAADMIN": PolicySet(identity=(parse_policy(ADMIN_POLICY, PolicyKind.IDENTITY, name="admin"),)),
        }

    def policy_set(self, caller: Caller) -> PolicySet:
        return self.by_owner.get(caller.owner_id or "", PolicySet())


@pytest.fixture()
def state(tmp_path: Path) -> Any:
    db = Database.open(tmp_path)
    st = SimpleNamespace(settings=Settings(data_dir=tmp_path, account_id=ACCOUNT), db=db, clock=Clock(),
                         policies=Resolver(), components={})
    st.components["s3"] = S3Runtime(st)  # type: ignore[arg-type]
    for name in ("my-specific-bucket", "other-bucket"):
        with db.begin(iam=False) as conn:
            s3_store.insert_bucket(conn, name=name, account=ACCOUNT, region="us-east-1", created=0.0)
    yield st
    db.close()


def signature(presigned: bool = False) -> SigV4Params:
    signed_at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return SigV4Params.of(access_key_id="AKIAEXAMPLE", date="20260101", region="us-east-1", service="s3",
                          signed_headers=("host",), signature="0" * 64, amz_date=signed_at,
                          timestamp="20260101T000000Z", presigned=presigned)


def context(state: Any, operation: str, caller: Caller = ROLE_SESSION, *, presigned: bool = False) -> RequestContext:
    req = HttpRequest(method="GET", raw_path="/", query_string="", headers=[])
    return RequestContext(state=state, caller=caller, request=req, operation=operation, request_id="r",
                          region="us-east-1", service="s3", context_keys={},
                          signature=None if caller.is_anonymous else signature(presigned))


def set_policy(state: Any, bucket: str, document: dict[str, Any]) -> None:
    with state.db.begin() as conn:
        s3_store.set_bucket_field(conn, bucket, policy=json.dumps(document))
    state.components["s3"].forget(bucket)


def allowed(state: Any, operation: str, params: dict[str, Any], caller: Caller = ROLE_SESSION) -> list[bool]:
    ctx = context(state, operation, caller)
    return [access.decide(ctx, t).allowed for t in access.access(ctx, params)]


def test_list_objects_v2_is_list_bucket_with_prefix_delimiter_and_max_keys(state: Any) -> None:
    params = {"Bucket": "my-specific-bucket", "Prefix": "home/", "Delimiter": "/"}
    [target] = access.access(context(state, "ListObjectsV2"), params)
    assert (target.action, target.resource) == ("s3:ListBucket", "arn:aws:s3:::my-specific-bucket")
    assert target.context["s3:prefix"] == "home/" and target.context["s3:delimiter"] == "/"
    assert target.context["s3:max-keys"] == "1000" and target.context["s3:authType"] == "REST-HEADER"
    [bare] = access.access(context(state, "ListObjectsV2"), {"Bucket": "my-specific-bucket", "MaxKeys": 7})
    assert "s3:prefix" not in bare.context and bare.context["s3:max-keys"] == "7"


@pytest.mark.parametrize("operation, params, action, resource", [
    ("HeadObject", {"Key": "a/b"}, "s3:GetObject", "arn:aws:s3:::my-specific-bucket/a/b"),
    ("GetObject", {"Key": "k", "VersionId": "v1"}, "s3:GetObjectVersion", "arn:aws:s3:::my-specific-bucket/k"),
    ("UploadPart", {"Key": "k"}, "s3:PutObject", "arn:aws:s3:::my-specific-bucket/k"),
    ("CompleteMultipartUpload", {"Key": "k"}, "s3:PutObject", "arn:aws:s3:::my-specific-bucket/k"),
    ("AbortMultipartUpload", {"Key": "k"}, "s3:AbortMultipartUpload", "arn:aws:s3:::my-specific-bucket/k"),
    ("ListParts", {"Key": "k"}, "s3:ListMultipartUploadParts", "arn:aws:s3:::my-specific-bucket/k"),
    ("ListMultipartUploads", {}, "s3:ListBucketMultipartUploads", "arn:aws:s3:::my-specific-bucket"),
    ("DeleteBucketTagging", {}, "s3:PutBucketTagging", "arn:aws:s3:::my-specific-bucket"),
    ("HeadBucket", {}, "s3:ListBucket", "arn:aws:s3:::my-specific-bucket"),
    ("GetBucketPolicyStatus", {}, "s3:GetBucketPolicyStatus", "arn:aws:s3:::my-specific-bucket"),
    ("DeleteObject", {"Key": "ü/../x"}, "s3:DeleteObject", "arn:aws:s3:::my-specific-bucket/ü/../x"),
])
def test_operation_maps_to_action_and_resource(state: Any, operation: str, params: dict[str, Any], action: str,
                                               resource: str) -> None:
    [target] = access.access(context(state, operation), {"Bucket": "my-specific-bucket", **params})
    assert (target.action, target.resource, target.resource_account) == (action, resource, ACCOUNT)


def test_copy_needs_get_on_the_source_and_put_on_the_target(state: Any) -> None:
    params = {"Bucket": "other-bucket", "Key": "dst", "CopySource": "/my-specific-bucket/src%20key?versionId=null",
              "MetadataDirective": "REPLACE"}
    read, write = access.access(context(state, "CopyObject"), params)
    assert (read.action, read.resource) == ("s3:GetObjectVersion", "arn:aws:s3:::my-specific-bucket/src key")
    assert (write.action, write.resource) == ("s3:PutObject", "arn:aws:s3:::other-bucket/dst")
    assert write.context["s3:x-amz-metadata-directive"] == "REPLACE"
    assert allowed(state, "CopyObject", params) == [False, False]  # a versionId needs s3:GetObjectVersion
    assert allowed(state, "CopyObject", {**params, "CopySource": "my-specific-bucket/src"}) == [True, False]


def test_missing_bucket_is_no_such_bucket_before_any_policy(state: Any) -> None:
    with pytest.raises(NoSuchBucket):
        access.access(context(state, "GetObject", anonymous(ACCOUNT)), {"Bucket": "nope", "Key": "k"})


def test_article_role_reads_and_lists_its_bucket_only(state: Any) -> None:
    assert allowed(state, "GetObject", {"Bucket": "my-specific-bucket", "Key": "data.json"}) == [True]
    assert allowed(state, "ListObjectsV2", {"Bucket": "my-specific-bucket"}) == [True]
    assert allowed(state, "PutObject", {"Bucket": "my-specific-bucket", "Key": "x"}) == [False]
    assert allowed(state, "GetObject", {"Bucket": "other-bucket", "Key": "data.json"}) == [False]


def test_bucket_policy_is_the_resource_policy(state: Any) -> None:
    set_policy(state, "other-bucket", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other-bucket/public/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::other-bucket/secret/*"},
        {"Effect": "Allow", "Principal": {"AWS": ROLE_SESSION.principal_arn}, "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::other-bucket/drop/*"}]})
    nobody = anonymous(ACCOUNT)
    assert allowed(state, "GetObject", {"Bucket": "other-bucket", "Key": "public/a"}, nobody) == [True]
    assert allowed(state, "GetObject", {"Bucket": "other-bucket", "Key": "private/a"}, nobody) == [False]
    assert allowed(state, "GetObject", {"Bucket": "other-bucket", "Key": "secret/a"}, ADMIN) == [False]
    assert allowed(state, "GetObject", {"Bucket": "other-bucket", "Key": "private/a"}, ADMIN) == [True]
    assert allowed(state, "PutObject", {"Bucket": "other-bucket", "Key": "drop/x"}) == [True]


def test_prefix_condition_limits_listing(state: Any) -> None:
    set_policy(state, "other-bucket", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ROLE_SESSION.arn}, "Action": "s3:ListBucket",
         "Resource": "arn:aws:s3:::other-bucket", "Condition": {"StringLike": {"s3:prefix": "home/*"}}}]})
    assert allowed(state, "ListObjectsV2", {"Bucket": "other-bucket", "Prefix": "home/me/"}) == [True]
    assert allowed(state, "ListObjectsV2", {"Bucket": "other-bucket", "Prefix": "etc/"}) == [False]
    assert allowed(state, "ListObjectsV2", {"Bucket": "other-bucket"}) == [False]


def test_existing_object_tags_are_read_only_when_a_policy_mentions_them(state: Any) -> None:
    with state.db.begin(iam=False) as conn:
        s3_store.put_object(conn, {"bucket": "other-bucket", "key": "k", "blob": "0" * 32, "size": 0, "etag": '""',
                                   "modified": 0.0, "headers": {}, "metadata": {}, "checksum": None, "parts": None,
                                   "tags": [{"Key": "team", "Value": "blue"}]})
    [plain] = access.access(context(state, "GetObject"), {"Bucket": "other-bucket", "Key": "k"})
    assert not any(k.startswith("s3:ExistingObjectTag") for k in plain.context)
    set_policy(state, "other-bucket", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other-bucket/*",
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/team": "blue"}}}]})
    [tagged] = access.access(context(state, "GetObject"), {"Bucket": "other-bucket", "Key": "k"})
    assert tagged.context["s3:ExistingObjectTag/team"] == "blue"
    assert allowed(state, "GetObject", {"Bucket": "other-bucket", "Key": "k"}, anonymous(ACCOUNT)) == [True]


def test_presigned_requests_are_query_string_auth(state: Any) -> None:
    ctx = context(state, "GetObject", presigned=True)
    [target] = access.access(ctx, {"Bucket": "my-specific-bucket", "Key": "k"})
    assert target.context["s3:authType"] == "REST-QUERY-STRING"
    assert target.context["s3:signatureversion"] == "AWS4-HMAC-SHA256"
    assert int(target.context["s3:signatureAge"]) > 0


def test_denials_use_s3s_long_message_with_a_quoted_resource(state: Any) -> None:
    ctx = context(state, "PutObject")
    [target] = access.access(ctx, {"Bucket": "my-specific-bucket", "Key": "x"})
    error = access.denied(ctx, access.decide(ctx, target), target)
    assert (error.code, error.status) == ("AccessDenied", 403)
    assert error.message == (f"User: {ROLE_SESSION.arn} is not authorized to perform: s3:PutObject on resource: "
                             '"arn:aws:s3:::my-specific-bucket/x" because no identity-based policy allows the '
                             "s3:PutObject action")
    nobody = context(state, "GetObject", anonymous(ACCOUNT))
    [target] = access.access(nobody, {"Bucket": "my-specific-bucket", "Key": "x"})
    assert access.denied(nobody, access.decide(nobody, target), target).message == "Access Denied"
