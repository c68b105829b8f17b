"""Whatever arrives on the wire, the protocol layer answers with an AwsError the client can read
(4xx; S3's 501 NotImplemented for unroutable requests) and never lets another exception out.

Inputs are garbage in the shape of each protocol: form bodies with member-like keys, JSON of the
wrong types, XML with the right element names in the wrong places, random paths and headers.
"""

from __future__ import annotations

import json
import string
from typing import Any

from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from keyless.errors import AwsError
from keyless.protocol import protocol_for
from keyless.protocol.http import HttpRequest

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(service: str, req: HttpRequest) -> Any:
    """Match and parse; an AwsError must be a client error (S3 may say 405/501 for a bad route)."""
    proto = protocol_for(service)
    try:
        op = proto.match_operation(req)
        return proto.parse(op, req)
    except AwsError as exc:
        note(f"{exc.code} {exc.status} {exc.message}")
        assert 400 <= exc.status < 500 or (service == "s3" and exc.status == 501), exc
        assert exc.message
        return exc


# --- form bodies (query, ec2) -------------------------------------------------------------------

NAMES = st.sampled_from(["Tags", "member", "entry", "key", "value", "Key", "Value", "Filter", "Name", "1", "2", "0",
                         "-1", "x", "", "RoleName", "DurationSeconds", "PolicyArns", "arn", "InstanceId",
                         "MaxResults", "DryRun", "Values", "99999999999999999999", "TagSpecification"])
KEYS = st.lists(NAMES, min_size=1, max_size=5).map(".".join)
VALUES = st.one_of(st.text(max_size=10), st.sampled_from(["true", "abc", "1e9", "-5", "", "%zz", "2026-13-45"]))


@st.composite
def form_requests(draw: st.DrawFn, service: str) -> HttpRequest:
    ops = {"iam": ["CreateRole", "TagRole", "ListRoles", "GetRole"], "sts": ["AssumeRole", "GetSessionToken"],
           "ec2": ["DescribeInstances", "RunInstances", "ModifyInstanceMetadataOptions"]}[service]
    pairs = draw(st.lists(st.tuples(KEYS, VALUES), max_size=8))
    body = "&".join(f"{k}={v}" for k, v in pairs)
    action = draw(st.one_of(st.sampled_from(ops), st.text(max_size=8)))
    raw = draw(st.one_of(st.just(f"Action={action}&Version=x&{body}".encode("utf-8", "surrogatepass")),
                         st.binary(max_size=60)))
    return HttpRequest("POST", "/", draw(st.sampled_from(["", "Action=GetRole", "%ff=%fe"])),
                       [("content-type", "application/x-www-form-urlencoded")], raw)


@SETTINGS
@given(st.sampled_from(["iam", "sts", "ec2"]).flatmap(lambda s: st.tuples(st.just(s), form_requests(s))))
@example(("sts", HttpRequest("POST", "/", "", [], b"Action=AssumeRole&RoleArn=%ff%fe")))
@example(("iam", HttpRequest("POST", "/", "", [], b"Action=TagRole&RoleName=r&Tags.member.1=x&Tags=")))
@example(("ec2", HttpRequest("POST", "/", "", [], b"Action=DescribeInstances&Filter.x.Name=a&MaxResults=abc")))
def test_garbage_forms_get_client_errors(case: tuple[str, HttpRequest]) -> None:
    outcome(*case)


# --- json -----------------------------------------------------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["LookupAttributes", "AttributeKey", "AttributeValue", "StartTime",
                                         "MaxResults", "NextToken", "Name", "TrailName", "x"]), inner, max_size=4),
                    max_leaves=12)


@SETTINGS
@given(target=st.sampled_from(["LookupEvents", "GetTrail", "CreateTrail", "PutEventSelectors", "Nope", ""]),
       body=st.one_of(JSON.map(lambda v: json.dumps(v).encode()), st.binary(max_size=40)))
@example(target="LookupEvents", body=b"[" * 100_000)
@example(target="LookupEvents", body=b'{"StartTime": "yesterday", "MaxResults": true}')
def test_garbage_json_gets_client_errors(target: str, body: bytes) -> None:
    headers = [("x-amz-target", f"com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.{target}"),
               ("content-type", "application/x-amz-json-1.1")]
    outcome("cloudtrail", HttpRequest("POST", "/", "", headers, body))


# --- rest-xml -------------------------------------------------------------------------------------

TAGS = st.sampled_from(["Tagging", "TagSet", "Tag", "Key", "Value", "Delete", "Object", "Quiet", "VersionId",
                        "CompleteMultipartUpload", "Part", "PartNumber", "ETag", "CreateBucketConfiguration",
                        "LocationConstraint", "x"])
XML = st.recursive(st.text(string.ascii_letters + "&<>;' ", max_size=6),
                   lambda inner: st.tuples(TAGS, st.lists(inner, max_size=3)).map(
                       lambda t: f"<{t[0]}>{''.join(t[1])}</{t[0]}>"), max_leaves=10)
S3_WRITES = [("PUT", "/b?tagging"), ("POST", "/b?delete"), ("POST", "/b/k?uploadId=u"), ("PUT", "/b"),
             ("PUT", "/b/k?tagging"), ("PUT", "/b?policy")]


@SETTINGS
@given(route=st.sampled_from(S3_WRITES), body=st.one_of(XML.map(str.encode), st.binary(max_size=60)))
@example(route=("PUT", "/b?tagging"), body=b'<!DOCTYPE t [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><Tagging>&b;</Tagging>')
@example(route=("POST", "/b?delete"), body=b"<Delete><Object><Key>k</Key></Object><Quiet>maybe</Quiet></Delete>")
@example(route=("PUT", "/b?policy"), body=b"\xff\xfe")
def test_garbage_xml_gets_client_errors(route: tuple[str, str], body: bytes) -> None:
    method, target = route
    path, _, query = target.partition("?")
    outcome("s3", HttpRequest(method, path, query, [("content-type", "application/xml")], body))


@SETTINGS
@given(method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "OPTIONS", "get"]),
       path=st.text(string.ascii_letters + "/%.~-_ 0123456789", max_size=20).map(lambda p: "/" + p),
       query=st.lists(st.tuples(st.sampled_from(["uploads", "uploadId", "partNumber", "max-keys", "list-type",
                                                 "tagging", "acl", "versionId", "x", "%ff"]),
                                st.text(string.printable, max_size=6)), max_size=4),
       headers=st.lists(st.tuples(st.sampled_from(["x-amz-copy-source", "if-modified-since", "x-amz-meta-a",
                                                   "x-amz-mp-parts-count", "content-length", "x-amz-bypass-governance-retention",
                                                   "host"]),
                                  st.text(string.printable, max_size=10)), max_size=4))
@example(method="GET", path="/b", query=[("max-keys", "abc")], headers=[])
@example(method="PUT", path="/b/k", query=[], headers=[("if-modified-since", "yesterday")])
def test_garbage_rest_requests_get_client_errors(method: str, path: str, query: list[tuple[str, str]],
                                                 headers: list[tuple[str, str]]) -> None:
    query_string = "&".join(f"{k}={v}" for k, v in query)
    outcome("s3", HttpRequest(method.upper(), path, query_string, headers, b""))
