"""The rest-xml protocol (S3): routing from requestUri templates, input locations, XML safety,
status codes, payloads and S3's error document."""

from __future__ import annotations

from typing import Any, AsyncIterator

import pytest
from botocore.handlers import parse_get_bucket_location

from keyless import errors
from keyless.protocol import protocol_for
from keyless.protocol.errors import InvalidArgument, MalformedXML, MethodNotAllowed, MissingRequestBodyError
from keyless.protocol.http import HttpRequest
from protocol_oracle import botocore_parse, botocore_request, operation

S3 = protocol_for("s3")


def req(method: str, target: str, headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> HttpRequest:
    path, _, query = target.partition("?")
    return HttpRequest(method, path, query, headers or [], body)


def parse(request: HttpRequest) -> dict[str, Any]:
    return S3.parse(S3.match_operation(request), request)


@pytest.mark.parametrize(("method", "target", "headers", "operation_name"), [
    ("GET", "/", [], "ListBuckets"),
    ("GET", "/b", [], "ListObjects"),
    ("GET", "/b/", [], "ListObjects"),
    ("GET", "/b?list-type=2&prefix=a", [], "ListObjectsV2"),
    ("GET", "/b?location", [], "GetBucketLocation"),
    ("GET", "/b?uploads", [], "ListMultipartUploads"),
    ("GET", "/b?lifecycle", [], "GetBucketLifecycleConfiguration"),
    ("GET", "/b?analytics", [], "ListBucketAnalyticsConfigurations"),
    ("GET", "/b?analytics&id=x", [], "GetBucketAnalyticsConfiguration"),
    ("PUT", "/b", [], "CreateBucket"),
    ("HEAD", "/b", [], "HeadBucket"),
    ("DELETE", "/b?policy", [], "DeleteBucketPolicy"),
    ("POST", "/b?delete", [], "DeleteObjects"),
    ("GET", "/b/k", [], "GetObject"),
    ("GET", "/b/a/b/c?uploadId=u", [], "ListParts"),
    ("GET", "/b/k?tagging", [], "GetObjectTagging"),
    ("PUT", "/b/k", [], "PutObject"),
    ("PUT", "/b/k", [("x-amz-copy-source", "s/k")], "CopyObject"),
    ("PUT", "/b/k?partNumber=1&uploadId=u", [], "UploadPart"),
    ("PUT", "/b/k?partNumber=1&uploadId=u", [("x-amz-copy-source", "s/k")], "UploadPartCopy"),
    ("POST", "/b/k?uploads", [], "CreateMultipartUpload"),
    ("POST", "/b/k?uploadId=u", [], "CompleteMultipartUpload"),
    ("DELETE", "/b/k?uploadId=u", [], "AbortMultipartUpload"),
    ("DELETE", "/b/k", [], "DeleteObject"),
    ("HEAD", "/b/k", [], "HeadObject"),
])
def test_most_specific_route_wins(method: str, target: str, headers: list[tuple[str, str]], operation_name: str) -> None:
    assert S3.match_operation(req(method, target, headers)).name == operation_name


def test_labels_are_percent_decoded_and_the_key_is_greedy() -> None:
    params = parse(req("GET", "/my-bucket/dir/a%20b%2Bc%2Fd+e?versionId=v%201"))
    assert params == {"Bucket": "my-bucket", "Key": "dir/a b+c/d+e", "VersionId": "v 1"}


def test_virtual_hosted_bucket_from_the_host_header() -> None:
    request = req("GET", "/dir/key.txt", [("host", "my-bucket.localhost:5397")])
    assert S3.match_operation(request).name == "GetObject"
    assert parse(request) == {"Bucket": "my-bucket", "Key": "dir/key.txt"}
    assert S3.match_operation(req("GET", "/", [("host", "my-bucket.localhost:5397")])).name == "ListObjects"
    assert S3.match_operation(req("GET", "/", [("host", "127.0.0.1:5397")])).name == "ListBuckets"


def test_method_not_allowed_names_method_and_resource() -> None:
    with pytest.raises(MethodNotAllowed) as exc:
        S3.match_operation(req("PATCH", "/b/k"))
    assert exc.value.status == 405
    assert exc.value.fields == {"Method": "PATCH", "ResourceType": "OBJECT"}


def test_unroutable_post_is_not_implemented() -> None:
    with pytest.raises(errors.NotImplementedOperation) as exc:
        S3.match_operation(req("POST", "/b"))
    assert exc.value.status == 501


def test_headers_metadata_and_typed_query_members() -> None:
    request = req("PUT", "/b/k", [("x-amz-meta-color", "blue"), ("x-amz-meta-size", "L"), ("content-type", "text/plain"),
                                 ("expires", "Wed, 21 Oct 2026 07:28:00 GMT"), ("x-amz-object-lock-legal-hold", "ON")])
    params = parse(request)
    assert params["Metadata"] == {"color": "blue", "size": "L"}
    assert params["ContentType"] == "text/plain" and params["ObjectLockLegalHoldStatus"] == "ON"
    assert params["Expires"].isoformat() == "2026-10-21T07:28:00+00:00"
    assert parse(req("GET", "/b?list-type=2&max-keys=7&fetch-owner=true"))["MaxKeys"] == 7


def test_bad_query_integer_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument) as exc:
        parse(req("GET", "/b?list-type=2&max-keys=many"))
    assert exc.value.fields == {"ArgumentName": "max-keys", "ArgumentValue": "many"}


def test_streaming_payload_is_the_unread_request_stream() -> None:
    put = S3.service_model.operation_model("PutObject")
    assert S3.operation_needs_stream(put) and S3.operation_needs_stream(S3.service_model.operation_model("UploadPart"))
    assert not S3.operation_needs_stream(S3.service_model.operation_model("PutBucketTagging"))

    async def chunks() -> AsyncIterator[bytes]:
        yield b"data"

    request = req("PUT", "/b/k")
    request.stream = stream = chunks()
    assert parse(request)["Body"] is stream


def test_xml_payload_with_attributes_and_namespaces() -> None:
    params = {"Bucket": "b", "AccessControlPolicy": {"Owner": {"ID": "o"}, "Grants": [
        {"Grantee": {"Type": "CanonicalUser", "ID": "x"}, "Permission": "READ"}]}}
    request = botocore_request("s3", "PutBucketAcl", params)
    assert b'xsi:type="CanonicalUser"' in request.body
    assert parse(request) == params


@pytest.mark.parametrize("body", [
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><Tagging><TagSet>'
    b"<Tag><Key>&b;</Key><Value>v</Value></Tag></TagSet></Tagging>",
    b'<!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]><Tagging><TagSet><Tag><Key>&x;</Key></Tag></TagSet></Tagging>',
    b"<Tagging><TagSet><Tag><Key>k</Key></TagSet></Tagging>",
    b"<NotTagging><TagSet/></NotTagging>",
    b"\xff\xfe<\x00",
])
def test_unsafe_or_broken_xml_is_malformed_xml(body: bytes) -> None:
    with pytest.raises(MalformedXML) as exc:
        parse(req("PUT", "/b?tagging", body=body))
    assert exc.value.status == 400
    assert exc.value.message == ("The XML you provided was not well-formed or did not validate against our "
                                 "published schema")


def test_bad_value_inside_xml_is_malformed_xml() -> None:
    with pytest.raises(MalformedXML):
        parse(req("POST", "/b?delete", body=b"<Delete><Object><Key>k</Key></Object><Quiet>maybe</Quiet></Delete>"))


def test_missing_required_body() -> None:
    with pytest.raises(MissingRequestBodyError) as exc:
        parse(req("PUT", "/b?tagging"))
    assert (exc.value.status, exc.value.message) == (400, "Request Body is empty")


def test_enums_are_left_to_the_s3_handlers() -> None:
    body = b"<CreateBucketConfiguration><LocationConstraint>mars-north-1</LocationConstraint></CreateBucketConfiguration>"
    assert parse(req("PUT", "/b", body=body))["CreateBucketConfiguration"] == {"LocationConstraint": "mars-north-1"}


# --- responses ------------------------------------------------------------------------------------


def test_list_document_has_s3_root_and_namespace() -> None:
    op = operation("s3", "ListObjectsV2")
    resp = S3.serialize(op, {"Name": "b", "KeyCount": 0, "IsTruncated": False, "Contents": []}, "r-1")
    assert resp.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n'
                                b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">')
    assert ("content-type", "application/xml") in resp.headers and ("x-amz-request-id", "r-1") in resp.headers
    assert botocore_parse("s3", op.output_shape, resp)["Name"] == "b"


def test_delete_answers_204_and_status_can_be_overridden() -> None:
    assert S3.serialize(operation("s3", "DeleteObject"), {}, "r").status == 204
    assert S3.serialize(operation("s3", "GetObject"), {"Body": b"ab", "ResponseMetadata": {"HTTPStatusCode": 206},
                                                       "ContentRange": "bytes 0-1/9"}, "r").status == 206


def test_blob_payload_and_async_iterators_pass_through() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"x"

    body = chunks()
    resp = S3.serialize(operation("s3", "GetObject"), {"Body": body, "ContentLength": 1, "ETag": '"e"'}, "r")
    assert resp.body is body
    assert ("content-length", "1") in resp.headers and ("etag", '"e"') in resp.headers


def test_get_bucket_location_document_is_the_member_itself() -> None:
    op = operation("s3", "GetBucketLocation")
    for region, expected in (("eu-west-1", "eu-west-1"), (None, None)):
        resp = S3.serialize(op, {"LocationConstraint": region}, "r")
        parsed: dict[str, Any] = {}
        http = type("Http", (), {"content": resp.body, "raw": object()})()
        parse_get_bucket_location(parsed, http)  # botocore's own handler, as boto3 runs it
        assert parsed["LocationConstraint"] == expected


def test_error_document_with_fields() -> None:
    error = errors.error_class("NoSuchKey", 404)("The specified key does not exist.", Key="a&b")
    resp = S3.serialize_error(error, "r-2")
    assert resp.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
                                b"<Message>The specified key does not exist.</Message><Key>a&amp;b</Key><RequestId>r-2</RequestId>")
    parsed = botocore_parse("s3", None, resp)
    assert (parsed["Error"]["Code"], parsed["Error"]["Key"], parsed["ResponseMetadata"]["RequestId"]) == ("NoSuchKey", "a&b", "r-2")


def test_head_and_not_modified_errors_have_no_body() -> None:
    assert S3.serialize_error(errors.error_class("NoSuchKey", 404)("gone"), "r", method="HEAD").body == b""
    resp = S3.serialize_error(errors.error_class("NotModified", 304)("Not Modified"), "r")
    assert (resp.status, resp.body) == (304, b"")
