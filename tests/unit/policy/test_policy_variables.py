"""Policy variables.

Variables: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
Version:   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html
"""

from __future__ import annotations

from policy_helpers import allow, allowed

from keyless.policy.variables import Char, Text, Variable, parse_template

HOME = "arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*"


def test_username_in_resource() -> None:
    # Variables page: each user gets their own home folder.
    statements = [allow("s3:*", HOME)]
    assert allowed(statements, "s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/home/bob/x", {"aws:username": "bob"})
    assert not allowed(statements, "s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/home/alice/x", {"aws:username": "bob"})


def test_unresolvable_variable_in_resource_matches_nothing() -> None:
    # Variables page: role sessions have no aws:username, so the entry matches nothing.
    assert not allowed([allow("s3:*", HOME)], "s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/home//x", {})


def test_variable_values_are_literal_not_wildcards() -> None:
    statements = [allow("s3:*", HOME)]
    assert not allowed(statements, "s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/home/bob/x", {"aws:username": "*"})


def test_principal_tag_in_condition() -> None:
    # Variables page: match a resource tag to the principal's tag.
    statements = [allow("ec2:StartInstances", Condition={"StringEquals": {
        "aws:ResourceTag/project": "${aws:PrincipalTag/project}"}})]
    assert allowed(statements, "ec2:StartInstances", context={"aws:PrincipalTag/project": "blue", "aws:ResourceTag/project": "blue"})
    assert not allowed(statements, "ec2:StartInstances", context={"aws:PrincipalTag/project": "blue", "aws:ResourceTag/project": "red"})
    # Unresolvable: positive operators fail...
    assert not allowed(statements, "ec2:StartInstances", context={"aws:ResourceTag/project": "blue"})
    # ...and negated ones match.
    negated = [allow("ec2:StartInstances", Condition={"StringNotEquals": {"aws:ResourceTag/project": "${aws:PrincipalTag/project}"}})]
    assert allowed(negated, "ec2:StartInstances", context={"aws:ResourceTag/project": "blue"})


def test_s3_prefix_with_like_and_variable() -> None:
    # Variables page example: list only your own folder, with s3:prefix.
    statements = [allow("s3:ListBucket", "arn:aws:s3:::amzn-s3-demo-bucket",
                        Condition={"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}})]
    bucket = "arn:aws:s3:::amzn-s3-demo-bucket"
    assert allowed(statements, "s3:ListBucket", bucket, {"aws:username": "bob", "s3:prefix": "home/bob/photos"})
    assert allowed(statements, "s3:ListBucket", bucket, {"aws:username": "bob", "s3:prefix": ""})
    assert not allowed(statements, "s3:ListBucket", bucket, {"aws:username": "bob", "s3:prefix": "home/alice/"})


def test_escapes_are_literal_characters() -> None:
    # Variables page: ${*}, ${?} and ${$} stand for literal *, ? and $.
    statements = [allow("s3:GetObject", "arn:aws:s3:::b/${*}${?}${$}")]
    assert allowed(statements, "s3:GetObject", "arn:aws:s3:::b/*?$")
    assert not allowed(statements, "s3:GetObject", "arn:aws:s3:::b/ab$")


def test_default_value() -> None:
    # Variables page: ${aws:PrincipalTag/team, 'company-wide'}.
    statements = [allow("s3:GetObject", "arn:aws:s3:::b/${aws:PrincipalTag/team, 'company-wide'}/*")]
    assert allowed(statements, "s3:GetObject", "arn:aws:s3:::b/company-wide/x", {})
    assert allowed(statements, "s3:GetObject", "arn:aws:s3:::b/red/x", {"aws:PrincipalTag/team": "red"})
    assert not allowed(statements, "s3:GetObject", "arn:aws:s3:::b/company-wide/x", {"aws:PrincipalTag/team": "red"})


def test_variable_keys_are_case_insensitive() -> None:
    assert allowed([allow("s3:*", "arn:aws:s3:::b/${AWS:UserName}")], "s3:GetObject", "arn:aws:s3:::b/bob", {"aws:username": "bob"})


def test_no_substitution_under_2008_10_17() -> None:
    # Version page: with 2008-10-17 (or no Version) ${...} is plain text.
    statements = [allow("s3:*", HOME)]
    literal = "arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/x"
    for version in ("2008-10-17", None):
        assert allowed(statements, "s3:GetObject", literal, {"aws:username": "bob"}, version=version)
        assert not allowed(statements, "s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/home/bob/x",
                           {"aws:username": "bob"}, version=version)


def test_template_parts() -> None:
    template = parse_template("a/${aws:userid}/${*}/${x:y, 'd'}/${not valid here}")
    assert template is not None
    assert template.parts == (Text("a/"), Variable("aws:userid", None), Text("/"), Char("*"), Text("/"),
                              Variable("x:y", "d"), Text("/"), Text("${not valid here}"))
    assert parse_template("no variables") is None
