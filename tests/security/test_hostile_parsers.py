"""Hostile input for every parser behind authentication, through a real server: requests signed by
botocore (so they reach the parsers) carrying broken forms, JSON, XML, policy documents, ARNs and
SigV4 parameters. Each gets a well-formed AWS 4xx error; nothing is logged with a traceback and the
stored state does not change (the `unharmed` fixture)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from security_wire import FORM, HOSTILE_ROLE, Keys, VERSIONS, aws_error, exchange, form, refused_or_closed, signed, wire
from keyless.testing import Server

pytestmark = pytest.mark.usefixtures("unharmed")

CT = {"X-Amz-Target": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
      "Content-Type": "application/x-amz-json-1.1"}
BOMB = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
        b"<CreateBucketConfiguration><LocationConstraint>&d;</LocationConstraint></CreateBucketConfiguration>")
XXE = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       b"<Tagging><TagSet><Tag><Key>&x;</Key><Value>v</Value></Tag></TagSet></Tagging>")
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def send(server: Server, keys: Keys, service: str, method: str, target: str, body: bytes = b"",
         headers: dict[str, str] | None = None) -> str:
    return aws_error(exchange(server.port, signed(server, keys, service, method, target, body=body, headers=headers)), service)


def iam(action: str, **params: str) -> bytes:
    return form(action, VERSIONS["iam"], **params)


# --- query, ec2, json and rest-xml bodies -----------------------------------------------------------

CASES: list[tuple[str, str, str, str, bytes, dict[str, str], set[str]]] = [
    ("query-bad-percent", "iam", "POST", "/", iam("ListUsers") + b"&PathPrefix=%ff%fe", FORM, {"MalformedQueryString"}),
    ("query-deep-keys", "iam", "POST", "/", iam("CreateRole") + b"&" + b"A." * 5000 + b"=1", FORM, {"ValidationError"}),
    ("query-huge-index", "iam", "POST", "/", iam("TagRole", RoleName="r") + b"&Tags.member.99999999999999999999.Key=a",
     FORM, {"ValidationError"}),
    ("query-nul-in-name", "iam", "POST", "/", iam("GetRole", RoleName="a\x00b"), FORM, {"ValidationError", "NoSuchEntity"}),
    ("query-huge-number", "sts", "POST", "/", form("AssumeRole", VERSIONS["sts"], RoleArn="arn:aws:iam::123456789012:role/x",
                                                  RoleSessionName="ss", DurationSeconds="9" * 400), FORM, {"ValidationError"}),
    ("query-unknown-action", "iam", "POST", "/", iam("DeleteEverything"), FORM, {"InvalidAction"}),
    ("ec2-unknown-parameter", "ec2", "POST", "/", form("DescribeInstances", VERSIONS["ec2"], Bogus="1"), FORM, {"UnknownParameter"}),
    ("ec2-bad-numbers", "ec2", "POST", "/", form("RunInstances", VERSIONS["ec2"], ImageId="ami-12345678", MinCount="-1",
                                                MaxCount="1" + "0" * 30), FORM, {"InvalidParameterValue"}),
    ("ec2-filter-nul", "ec2", "POST", "/", form("DescribeInstances", VERSIONS["ec2"], **{"Filter.1.Name": "\x00",
                                                "Filter.1.Value.1": "\x00"}), FORM, {"InvalidParameterValue"}),
    ("json-deep-array", "cloudtrail", "POST", "/", b"[" * 100_000, CT, {"SerializationException"}),
    ("json-deep-object", "cloudtrail", "POST", "/", b'{"a":' * 100_000, CT, {"SerializationException"}),
    ("json-invalid-utf8", "cloudtrail", "POST", "/", b'{"NextToken": "\xff"}', CT, {"SerializationException"}),
    ("json-not-an-object", "cloudtrail", "POST", "/", b'"LookupEvents"', CT, {"SerializationException"}),
    ("json-huge-integer", "cloudtrail", "POST", "/", b'{"MaxResults": 1' + b"0" * 5000 + b"}", CT,
     {"SerializationException", "InvalidMaxResultsException", "ValidationException"}),
    ("json-nan-time", "cloudtrail", "POST", "/", b'{"StartTime": NaN}', CT, {"SerializationException"}),
    ("json-deep-next-token", "cloudtrail", "POST", "/", json.dumps({"NextToken": base64.b64encode(b"[" * 5000).decode()}).encode(),
     CT, {"InvalidNextTokenException"}),
    ("json-unknown-target", "cloudtrail", "POST", "/", b"{}", {**CT, "X-Amz-Target": "CloudTrail_20131101.Nope"},
     {"UnknownOperationException"}),
    ("xml-entity-bomb", "s3", "PUT", "/bomb-bucket", BOMB, {}, {"MalformedXML"}),
    ("xml-external-entity", "s3", "PUT", "/hostile-bucket?tagging", XXE, {}, {"MalformedXML"}),
    ("xml-deep", "s3", "PUT", "/hostile-bucket?tagging", b"<Tagging>" + b"<a>" * 100_000, {}, {"MalformedXML"}),
    ("xml-invalid-utf8", "s3", "PUT", "/hostile-bucket?tagging",
     b"<Tagging><TagSet><Tag><Key>\xff\xfe</Key><Value>v</Value></Tag></TagSet></Tagging>", {}, {"MalformedXML"}),
    ("xml-wrong-root", "s3", "PUT", "/hostile-bucket?tagging", b"<Nope/>", {}, {"MalformedXML"}),
    ("xml-delete-no-md5", "s3", "POST", "/hostile-bucket?delete",
     b"<Delete>" + b"<Object><Key>a</Key></Object>" * 1001 + b"</Delete>", {}, {"MalformedXML", "InvalidRequest"}),
    ("s3-huge-max-keys", "s3", "GET", "/hostile-bucket?list-type=2&max-keys=99999999999999999999&continuation-token=%00",
     b"", {}, {"InvalidArgument"}),
    ("s3-garbage-range", "s3", "GET", "/hostile-bucket/absent", b"", {"Range": "bytes=99999999999999999999999-"}, {"NoSuchKey"}),
    ("s3-key-too-long", "s3", "PUT", "/hostile-bucket/" + "k" * 1100, b"x", {}, {"KeyTooLongError"}),
]


@pytest.mark.parametrize("service,method,target,body,headers,codes", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_body_gets_an_aws_error(secure_server: Server, admin_keys: Keys, service: str, method: str, target: str,
                                        body: bytes, headers: dict[str, str], codes: set[str]) -> None:
    assert send(secure_server, admin_keys, service, method, target, body, headers) in codes


# --- policy documents ---------------------------------------------------------------------------------

POLICIES: list[tuple[str, str, set[str]]] = [
    ("deep-nesting", '{"Version":"2012-10-17","Statement":' + "[" * 3000, {"MalformedPolicyDocument"}),
    ("over-6144", json.dumps({**POLICY, "Statement": [{**POLICY["Statement"][0], "Resource": "a" * 7000}]}), {"LimitExceeded"}),
    ("not-json", "Version: 2012-10-17", {"MalformedPolicyDocument"}),
    ("nul-and-surrogate", '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"\\u0000\\ud800","Resource":"*"}}',
     {"MalformedPolicyDocument", "ValidationError"}),
    ("control-character", '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"\x01"}}',
     {"MalformedPolicyDocument", "ValidationError"}),
    ("empty", "", {"ValidationError", "MalformedPolicyDocument"}),
]


@pytest.mark.parametrize("text,codes", [p[1:] for p in POLICIES], ids=[p[0] for p in POLICIES])
def test_hostile_policy_documents_are_refused_everywhere_they_are_read(secure_server: Server, admin_keys: Keys, text: str,
                                                                      codes: set[str]) -> None:
    role = f"arn:aws:iam::123456789012:role/{HOSTILE_ROLE}"
    places = [
        ("iam", iam("CreatePolicy", PolicyName="hostile", PolicyDocument=text)),
        ("iam", iam("CreateRole", RoleName="hostile", AssumeRolePolicyDocument=text)),
        ("iam", iam("PutUserPolicy", UserName="admin", PolicyName="hostile", PolicyDocument=text)),
        ("iam", iam("SimulateCustomPolicy", **{"PolicyInputList.member.1": text, "ActionNames.member.1": "s3:GetObject"})),
        ("sts", form("AssumeRole", VERSIONS["sts"], RoleArn=role, RoleSessionName="ss", Policy=text)),
    ]
    for service, body in places:
        code = send(secure_server, admin_keys, service, "POST", "/", body, FORM)
        # Where a size quota applies first (a trust policy's 2048, say) it may speak before the syntax.
        assert code in codes | {"ValidationError", "LimitExceeded", "MalformedPolicyDocument"}, (service, code)


def test_hostile_bucket_policies_are_malformed_policy(secure_server: Server, admin_keys: Keys) -> None:
    for text in ("not json", '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*",'
                 '"Resource":"arn:aws:s3:::other-bucket/*"}]}', "{" + " " * 21000 + "}"):
        code = send(secure_server, admin_keys, "s3", "PUT", "/hostile-bucket?policy", text.encode())
        assert code == "MalformedPolicy", text[:40]


# --- ARNs ---------------------------------------------------------------------------------------------

ARNS = ["arn:::::", "arn:aws:iam::123456789012:role", "arn:aws:iam:::role/a:b:c", "not-an-arn", "arn:aws:iam::\x00:role/x",
        "arn:aws:iam::123456789012:policy/" + "/" * 300, "arn:" + ":" * 2000, "arn:aws:iam::123456789012:role/" + "é" * 70]


@pytest.mark.parametrize("arn", ARNS, ids=range(len(ARNS)))
def test_hostile_arns_are_refused_by_every_api_that_reads_one(secure_server: Server, admin_keys: Keys, arn: str) -> None:
    places = [
        ("iam", iam("AttachUserPolicy", UserName="admin", PolicyArn=arn)),
        ("iam", iam("GetPolicy", PolicyArn=arn)),
        ("iam", iam("SimulatePrincipalPolicy", PolicySourceArn=arn, **{"ActionNames.member.1": "s3:GetObject"})),
        ("sts", form("AssumeRole", VERSIONS["sts"], RoleArn=arn, RoleSessionName="ss")),
        ("ec2", form("RunInstances", VERSIONS["ec2"], ImageId="ami-12345678", MinCount="1", MaxCount="1",
                     **{"IamInstanceProfile.Arn": arn})),
    ]
    for service, body in places:
        send(secure_server, admin_keys, service, "POST", "/", body, FORM)  # any well-formed 4xx


# --- SigV4 parameters, unsigned: every shape of garbage is a 4xx, never a way in -------------------

header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=300)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(service=st.sampled_from(["s3", "iam", "sts", "ec2", "cloudtrail"]), credential=header_text, signed_headers=header_text,
       signature=header_text, date=header_text, token=header_text)
@example(service="iam", credential="AKIA/20260101/us-east-1/iam/aws4_request", signed_headers=";;;", signature="",
         date="99991231T235959Z", token="")
def test_garbage_authorization_headers_are_refused(secure_server: Server, service: str, credential: str,
                                                   signed_headers: str, signature: str, date: str, token: str) -> None:
    auth = f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed_headers}, Signature={signature}"
    headers: list[tuple[bytes, bytes]] = [(b"Host", b"127.0.0.1"), (b"Authorization", auth.encode("latin-1")),
                                          (b"X-Amz-Date", date.encode("latin-1"))]
    if token:
        headers.append((b"X-Amz-Security-Token", token.encode("latin-1")))
    body = form("GetCallerIdentity", VERSIONS["sts"]) if service != "s3" else b""
    reply = exchange(secure_server.port, wire("POST" if body else "GET", "/hostile-bucket" if service == "s3" else "/",
                                              headers, body))
    assert refused_or_closed(reply) is not None


query_value = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=120)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(values=st.fixed_dictionaries({name: query_value for name in (
    "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature",
    "X-Amz-Security-Token")}))
@example(values={"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": "AKIA%2F20260101%2Fus-east-1%2Fs3%2Faws4_request",
                 "X-Amz-Date": "20260101T000000Z", "X-Amz-Expires": "9" * 40, "X-Amz-SignedHeaders": "host",
                 "X-Amz-Signature": "0" * 64, "X-Amz-Security-Token": "%00"})
def test_garbage_presigned_queries_are_refused(secure_server: Server, values: dict[str, Any]) -> None:
    query = "&".join(f"{name}={value.replace('&', '%26').replace('#', '%23')}" for name, value in values.items())
    reply = exchange(secure_server.port, wire("GET", f"/hostile-bucket/key?{query}", [("Host", "127.0.0.1")]))
    code = refused_or_closed(reply)
    assert reply.status != 200 and code is not None


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.binary(max_size=400), service=st.sampled_from(["iam", "sts", "ec2", "cloudtrail"]))
def test_random_signed_bodies_get_aws_errors(secure_server: Server, admin_keys: Keys, body: bytes, service: str) -> None:
    prefix = b"" if service == "cloudtrail" else form("GetRole" if service == "iam" else
                                                      "AssumeRole" if service == "sts" else "RunInstances", VERSIONS[service]) + b"&"
    reply = exchange(secure_server.port, signed(secure_server, admin_keys, service, "POST", "/", body=prefix + body,
                                                headers=CT if service == "cloudtrail" else FORM))
    if reply.status != 200:  # random bytes may still spell a valid read (an empty LookupEvents)
        aws_error(reply, service)
