"""Action, resource, NotAction and NotResource matching.

Action:      https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
NotAction:   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
Resource:    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
NotResource: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html
"""

from __future__ import annotations

import pytest
from policy_helpers import allow, allowed, deny

from keyless.policy.match import compile_globs, glob_to_regex


@pytest.mark.parametrize(("pattern", "action", "expected"), [
    ("s3:GetObject", "s3:getobject", True),  # Action page: "action names are case insensitive"
    ("S3:GETOBJECT", "s3:GetObject", True),
    ("iam:*AccessKey*", "iam:CreateAccessKey", True),  # Action page example
    ("iam:*AccessKey*", "iam:ListAccessKeys", True),
    ("iam:*AccessKey*", "iam:CreateUser", False),
    ("s3:Get*", "s3:GetObjectVersion", True),
    ("s3:Get*", "s3:PutObject", False),
    ("s3:Get?bject", "s3:GetObject", True),
    ("s3:Get?bject", "s3:GetObbject", False),
    ("*", "ec2:RunInstances", True),
    ("s3:*", "s3-object-lambda:GetObject", False),  # the vendor is part of the name
])
def test_action_patterns(pattern: str, action: str, expected: bool) -> None:
    assert allowed([allow(pattern)], action) is expected


@pytest.mark.parametrize(("pattern", "resource", "expected"), [
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b/c", True),
    ("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/a", False),  # resources are case-sensitive
    ("arn:aws:s3:::bucket/*/test/*", "arn:aws:s3:::bucket/1/2/test/x", True),  # Resource page example
    ("arn:aws:s3:::logs*", "arn:aws:s3:::logs/key", True),  # `*` runs across `/`
    ("arn:aws:ec2:*", "arn:aws:ec2:us-east-1:123456789012:instance/i-1", True),  # ... and across `:`
    ("arn:aws:iam::123456789012:user/*", "arn:aws:iam::123456789012:user/division/bob", True),
    ("arn:aws:iam::123456789012:user/b?b", "arn:aws:iam::123456789012:user/bob", True),
    ("arn:aws:iam::123456789012:user/b?b", "arn:aws:iam::123456789012:user/boob", False),
    ("arn:aws:s3:::a.b+c(d)[e]", "arn:aws:s3:::a.b+c(d)[e]", True),  # regex metacharacters are literal
    ("arn:aws:s3:::a.b", "arn:aws:s3:::aXb", False),
    ("arn:aws:s3:::bucket", "arn:aws:s3:::bucket/key", False),
    ("*", "anything at all", True),
])
def test_resource_patterns(pattern: str, resource: str, expected: bool) -> None:
    assert allowed([allow("s3:GetObject", pattern)], "s3:GetObject", resource) is expected


def test_not_action_allow_grants_everything_else_on_the_resources() -> None:
    # NotAction page: Allow with NotAction iam:* allows all other actions.
    statements = [allow(resource="*") | {"NotAction": "iam:*"}]
    del statements[0]["Action"]
    assert allowed(statements, "s3:ListBucket")
    assert not allowed(statements, "iam:CreateUser")


def test_not_action_deny_denies_all_but_listed() -> None:
    statements = [allow("*"), {"Effect": "Deny", "NotAction": ["iam:Get*", "iam:List*"], "Resource": "*"}]
    assert allowed(statements, "iam:GetUser")
    assert not allowed(statements, "iam:CreateUser")
    assert not allowed(statements, "ec2:RunInstances")


def test_not_resource_deny_protects_everything_else() -> None:
    # NotResource page: deny s3:* on everything but the payroll folder.
    statements = [allow("s3:*"), {"Effect": "Deny", "Action": "s3:*",
                                  "NotResource": ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"]}]
    assert allowed(statements, "s3:GetObject", "arn:aws:s3:::HRBucket/Payroll/jan.csv")
    assert not allowed(statements, "s3:GetObject", "arn:aws:s3:::HRBucket/Other/x")


def test_not_resource_star_matches_nothing() -> None:
    assert not allowed([{"Effect": "Allow", "Action": "s3:*", "NotResource": "*"}], "s3:GetObject", "arn:aws:s3:::b")


def test_explicit_deny_beats_allow_with_overlapping_wildcards() -> None:
    statements = [allow("s3:*", "arn:aws:s3:::b/*"), deny("s3:Delete*", "arn:aws:s3:::b/keep/*")]
    assert allowed(statements, "s3:DeleteObject", "arn:aws:s3:::b/tmp/x")
    assert not allowed(statements, "s3:DeleteObject", "arn:aws:s3:::b/keep/x")


def test_glob_fast_paths_agree_with_regex() -> None:
    patterns = ["exact", "pre*", "a?c", "x*y*z"]
    matcher = compile_globs(patterns)
    import re

    combined = re.compile("|".join(glob_to_regex(p) for p in patterns), re.DOTALL)
    for value in ["exact", "prefix", "pre", "abc", "axyz", "xyz", "x1y2z", "exac", "ab", "", "pre\nfix"]:
        assert matcher(value) is (combined.fullmatch(value) is not None), value
