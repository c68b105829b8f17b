"""Pure IAM helpers: pagination markers, name/path/tag checks, output shapes, document sizes."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyless.errors import ValidationError
from keyless.services.iam import documents, shapes, validate
from keyless.services.iam.errors import InvalidInput, LimitExceeded, MalformedPolicyDocument
from keyless.services.iam.pagination import decode_marker, encode_marker, paginate


@given(st.lists(st.integers(), max_size=60), st.integers(min_value=1, max_value=20))
def test_paginating_with_markers_returns_every_item_once_in_order(items: list[int], size: int) -> None:
    seen: list[int] = []
    params: dict[str, object] = {"MaxItems": size}
    while True:
        page, more = paginate(items, params)
        seen += page
        assert len(page) <= size
        if not more["IsTruncated"]:
            assert "Marker" not in more
            break
        params = {"MaxItems": size, "Marker": more["Marker"]}
    assert seen == items


def test_default_page_is_100_items() -> None:
    page, more = paginate(list(range(150)), {})
    assert len(page) == 100 and more["IsTruncated"] is True
    assert decode_marker(more["Marker"]) == 100


@pytest.mark.parametrize("marker", ["not-base64!!", "a2V5bGVzczotMQ==", encode_marker(3)[:-2] + "zz"])
def test_a_forged_marker_is_a_validation_error(marker: str) -> None:
    with pytest.raises(ValidationError, match="Invalid Marker"):
        decode_marker(marker)


@pytest.mark.parametrize("path", ["/", "/a/", "/team/app/", "/a-b_c.d/e/"])
def test_valid_paths(path: str) -> None:
    validate.check_path(path)


@pytest.mark.parametrize("path", ["", "a", "/a", "a/", "/a b/", "/\u00e9/"])
def test_invalid_paths_get_aws_validation_message(path: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate.check_path(path)
    assert info.value.message == (
        f"1 validation error detected: Value '{path}' at 'path' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)"
    )


def test_names_follow_iam_pattern_and_length() -> None:
    validate.check_name("ec2-s3_access+role=x,y.z@w", "roleName", 64)
    with pytest.raises(ValidationError, match="regular expression pattern"):
        validate.check_name("bad name", "roleName", 64)
    with pytest.raises(ValidationError, match="less than or equal to 64"):
        validate.check_name("r" * 65, "roleName", 64)


def test_tag_keys_are_case_insensitive() -> None:
    with pytest.raises(InvalidInput, match="Duplicate tag keys"):
        validate.tags_from({"Tags": [{"Key": "Team", "Value": "a"}, {"Key": "team", "Value": "b"}]}, "Role")
    merged = validate.merge_tags([{"Key": "Team", "Value": "a"}, {"Key": "x", "Value": "1"}],
                                 [{"Key": "TEAM", "Value": "b"}], "Role")
    assert merged == [{"Key": "x", "Value": "1"}, {"Key": "TEAM", "Value": "b"}]
    assert validate.remove_tags(merged, ["team"]) == [{"Key": "x", "Value": "1"}]


def test_more_than_50_tags_exceed_the_quota() -> None:
    existing = [{"Key": f"k{i}", "Value": ""} for i in range(50)]
    with pytest.raises(LimitExceeded, match="TagsPerRole: 50"):
        validate.merge_tags(existing, [{"Key": "one-more", "Value": ""}], "Role")


@pytest.mark.parametrize("arn", ["nope", "arn:aws:s3:::bucket", "arn:aws:iam::123456789012:role/x", "arn:aws:iam::aws:policy/"])
def test_policy_arns_must_name_a_policy(arn: str) -> None:
    with pytest.raises(InvalidInput, match="is not valid"):
        validate.policy_arn(arn)


def test_role_shapes_encode_the_trust_policy_and_drop_list_only_members() -> None:
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                                 "Action": "sts:AssumeRole"}]})
    row = {"id": "AROAEXAMPLEEXAMPLE123", "name": "r", "path": "/", "arn": "arn:aws:iam::123456789012:role/r",
           "created": 1700000000.75, "trust_policy": trust, "description": None, "max_session_duration": 3600,
           "boundary_arn": None, "tags": json.dumps([{"Key": "a", "Value": "b"}])}
    got = shapes.role(row, "get")
    assert got["CreateDate"] == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    assert "%7B%22Version%22" in got["AssumeRolePolicyDocument"] and json.loads(unquote(got["AssumeRolePolicyDocument"])) == json.loads(trust)
    assert got["Tags"] == [{"Key": "a", "Value": "b"}] and got["RoleLastUsed"] == {} and got["MaxSessionDuration"] == 3600
    listed = shapes.role(row, "list")
    assert "Tags" not in listed and "RoleLastUsed" not in listed
    assert set(shapes.role(row, "profile")) == {"Path", "RoleName", "RoleId", "Arn", "CreateDate", "AssumeRolePolicyDocument"}


def test_inline_totals_ignore_whitespace() -> None:
    doc = '{"Version": "2012-10-17",\n  "Statement": []}'
    compact = len(doc) - sum(c.isspace() for c in doc)
    documents.check_inline_total("user", "bob", [doc] * (2048 // compact))
    with pytest.raises(LimitExceeded, match="Maximum policy size of 2048 bytes exceeded for user bob"):
        documents.check_inline_total("user", "bob", [doc] * (2048 // compact + 1))


def test_managed_documents_over_6144_characters_exceed_policy_size() -> None:
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::" + "b" * 7000}
    with pytest.raises(LimitExceeded, match="Cannot exceed quota for PolicySize: 6144"):
        documents.check_managed(json.dumps({"Version": "2012-10-17", "Statement": [statement]}))


def test_malformed_documents_carry_the_engines_message() -> None:
    with pytest.raises(MalformedPolicyDocument, match="Syntax errors in policy."):
        documents.check_managed("{not json")


def test_trust_policy_naming_a_missing_local_role_is_an_invalid_principal() -> None:
    arn = "arn:aws:iam::123456789012:role/ghost"
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"}]})
    with pytest.raises(MalformedPolicyDocument) as info:
        documents.check_trust(doc, "123456789012", lambda a: False)
    assert info.value.message == f'Invalid principal in policy: "AWS":"{arn}"'
    documents.check_trust(doc, "123456789012", lambda a: a == arn)
    documents.check_trust(doc, "999999999999", lambda a: False)  # other accounts are not checked
