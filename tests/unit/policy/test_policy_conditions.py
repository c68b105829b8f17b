"""Condition operators, missing keys, IfExists, set qualifiers.

Operators:   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
Condition:   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html
Multivalued: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
"""

from __future__ import annotations

from typing import Any

import pytest
from policy_helpers import allow, allowed

from keyless.policy import PolicyError


def when(condition: dict[str, Any], context: dict[str, Any] | None) -> bool:
    return allowed([allow("s3:GetObject", Condition=condition)], "s3:GetObject", context=context)


@pytest.mark.parametrize(("operator", "policy_value", "request_value", "expected"), [
    ("StringEquals", "Data", "Data", True),
    ("StringEquals", "Data", "data", False),
    ("StringEquals", ["A", "B"], "B", True),  # values are OR-ed
    ("StringNotEquals", ["A", "B"], "C", True),
    ("StringNotEquals", ["A", "B"], "B", False),  # negated: must differ from all
    ("StringEqualsIgnoreCase", "DATA", "data", True),
    ("StringNotEqualsIgnoreCase", "DATA", "data", False),
    ("StringLike", "home/*", "home/bob/x", True),
    ("StringLike", "home/?", "home/ab", False),
    ("StringLike", "", "", True),  # AWS examples allow s3:prefix "" for the bucket root
    ("StringNotLike", ["a*", "b*"], "cab", True),
    ("StringNotLike", ["a*", "b*"], "bca", False),
    ("NumericEquals", "10", "10.0", True),
    ("NumericNotEquals", "10", "11", True),
    ("NumericLessThan", "3600", "3599", True),
    ("NumericLessThan", 3600, "3600", False),  # JSON numbers are accepted as values
    ("NumericLessThanEquals", "3600", "3600", True),
    ("NumericGreaterThan", "1.5", "2", True),
    ("NumericGreaterThanEquals", "2", "2", True),
    ("NumericEquals", "10", "ten", False),
    ("DateGreaterThan", "2020-01-01T00:00:00Z", "2021-06-01T12:00:00Z", True),
    ("DateLessThan", "2020-01-01T00:00:00Z", "2021-06-01T12:00:00Z", False),
    ("DateEquals", "2020-01-01T00:00:00Z", "1577836800", True),  # ISO 8601 and epoch compare
    ("DateNotEquals", "2020-01-01T00:00:00Z", "2020-01-01T01:00:00+01:00", False),
    ("DateLessThanEquals", "2020-01-01", "2020-01-01T00:00:00Z", True),
    ("DateGreaterThanEquals", "1577836800", "2020-01-01T00:00:01Z", True),
    ("Bool", "true", "true", True),
    ("Bool", True, "TRUE", True),
    ("Bool", "false", "true", False),
    ("BinaryEquals", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", True),
    ("BinaryEquals", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", "b3RoZXI=", False),
    ("IpAddress", "203.0.113.0/24", "203.0.113.7", True),  # Operators page example
    ("IpAddress", "203.0.113.0/24", "203.0.114.7", False),
    ("IpAddress", "203.0.113.5", "203.0.113.5", True),  # a bare address is a /32
    ("IpAddress", "2001:DB8:1234:5678::/64", "2001:db8:1234:5678::abcd", True),
    ("IpAddress", "2001:DB8:1234:5678::/64", "203.0.113.7", False),
    ("NotIpAddress", ["203.0.113.0/24", "10.0.0.0/8"], "192.0.2.1", True),
    ("NotIpAddress", ["203.0.113.0/24", "10.0.0.0/8"], "10.1.1.1", False),
    ("ArnLike", "arn:aws:iam::*:role/app-*", "arn:aws:iam::123456789012:role/app-web", True),
    ("ArnLike", "arn:aws:sns:*:123456789012:*", "arn:aws:sns:us-east-1:123456789012:topic:extra", True),
    ("ArnEquals", "arn:aws:iam::*:role/app", "arn:aws:iam::123456789012:role/app", True),
    ("ArnLike", "arn:aws:*", "arn:aws:iam::123456789012:role/app", False),  # `*` stays in its own part
    ("ArnLike", "arn:aws:iam::123456789012:role/*", "not-an-arn", False),
    ("ArnNotLike", "arn:aws:iam::*:role/admin*", "arn:aws:iam::123456789012:role/app", True),
    ("ArnNotEquals", "arn:aws:iam::123456789012:role/app", "arn:aws:iam::123456789012:role/app", False),
])
def test_operator(operator: str, policy_value: Any, request_value: str, expected: bool) -> None:
    assert when({operator: {"k:key": policy_value}}, {"k:key": request_value}) is expected


@pytest.mark.parametrize(("operator", "expected"), [
    ("StringEquals", False), ("StringNotEquals", True), ("StringLike", False), ("StringNotLike", True),
    ("StringEqualsIgnoreCase", False), ("StringNotEqualsIgnoreCase", True),
    ("NumericLessThan", False), ("NumericNotEquals", True), ("DateLessThan", False), ("DateNotEquals", True),
    ("Bool", False), ("BinaryEquals", False), ("IpAddress", False), ("NotIpAddress", True),
    ("ArnLike", False), ("ArnNotLike", True), ("ArnEquals", False), ("ArnNotEquals", True),
    ("StringEqualsIfExists", True), ("NumericLessThanIfExists", True), ("BoolIfExists", True),
    ("ForAllValues:StringEquals", True), ("ForAnyValue:StringEquals", False),
    ("ForAnyValue:StringEqualsIfExists", True), ("ForAllValues:StringNotEquals", True),
])
def test_missing_key(operator: str, expected: bool) -> None:
    # Condition page: a missing key makes positive operators false and negated ones true;
    # IfExists makes it true; ForAllValues is true and ForAnyValue false on a missing key.
    value = {"Bool": "true", "BinaryEquals": "YQ==", "IpAddress": "10.0.0.0/8", "NotIpAddress": "10.0.0.0/8"}
    policy_value = value.get(operator, "arn:aws:iam::1:role/x" if "Arn" in operator else
                             "2020-01-01T00:00:00Z" if "Date" in operator else "1" if "Numeric" in operator else "x")
    assert when({operator: {"k:absent": policy_value}}, {"k:other": "x"}) is expected


def test_if_exists_still_tests_a_present_key() -> None:
    # Operators page: "...IfExists: if the key is present, evaluate the condition as specified".
    condition = {"StringEqualsIfExists": {"ec2:InstanceType": ["t2.micro", "t2.small"]}}
    assert when(condition, {"ec2:InstanceType": "t2.micro"})
    assert not when(condition, {"ec2:InstanceType": "m5.large"})
    assert when(condition, {})


def test_mfa_bool_if_exists_deny_example() -> None:
    # Condition-keys page (aws:MultiFactorAuthPresent): with BoolIfExists the Deny also catches
    # long-term keys, whose requests carry no such key; plain Bool would let them through.
    def statements(operator: str) -> list[dict[str, Any]]:
        return [allow("*"), {"Effect": "Deny", "Action": "*", "Resource": "*",
                             "Condition": {operator: {"aws:MultiFactorAuthPresent": "false"}}}]

    assert not allowed(statements("BoolIfExists"), "ec2:StopInstances", context={"aws:MultiFactorAuthPresent": "false"})
    assert allowed(statements("BoolIfExists"), "ec2:StopInstances", context={"aws:MultiFactorAuthPresent": "true"})
    assert not allowed(statements("BoolIfExists"), "ec2:StopInstances", context={})
    assert allowed(statements("Bool"), "ec2:StopInstances", context={})


@pytest.mark.parametrize(("value", "context", "expected"), [
    ("true", {}, True), ("true", {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}, False),
    ("false", {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}, True), ("false", {}, False),
    (True, {}, True), (["true", "false"], {}, True),
])
def test_null(value: Any, context: dict[str, Any], expected: bool) -> None:
    # Operators page: Null "true" means the key is absent, "false" that it is present.
    assert when({"Null": {"aws:TokenIssueTime": value}}, context) is expected


def test_key_names_are_case_insensitive() -> None:
    # Condition page: aws:SourceIP is the same key as AWS:sourceip.
    assert when({"IpAddress": {"aws:SourceIP": "10.0.0.0/8"}}, {"AWS:sourceip": "10.2.3.4"})
    assert when({"StringEquals": {"aws:PrincipalTag/Team": "blue"}}, {"aws:principaltag/team": "blue"})


def test_operators_and_keys_are_and_ed() -> None:
    condition = {"StringEquals": {"a:x": "1", "a:y": "2"}, "NumericLessThan": {"a:n": "5"}}
    assert when(condition, {"a:x": "1", "a:y": "2", "a:n": "4"})
    assert not when(condition, {"a:x": "1", "a:y": "3", "a:n": "4"})
    assert not when(condition, {"a:x": "1", "a:y": "2", "a:n": "6"})


@pytest.mark.parametrize(("qualifier", "tag_keys", "expected"), [
    ("ForAllValues:StringEquals", ["environment", "cost-center"], True),
    ("ForAllValues:StringEquals", ["environment", "owner"], False),
    ("ForAllValues:StringEquals", [], True),  # empty set: true
    ("ForAnyValue:StringEquals", ["owner", "cost-center"], True),
    ("ForAnyValue:StringEquals", ["owner"], False),
    ("ForAnyValue:StringEquals", [], False),
    ("ForAllValues:StringNotEquals", ["owner", "team"], True),
    ("ForAllValues:StringNotEquals", ["owner", "environment"], False),
    ("ForAnyValue:StringNotEquals", ["environment", "owner"], True),
    ("ForAnyValue:StringNotEquals", ["environment"], False),
    ("ForAllValues:StringLike", ["env-1", "env-2"], True),
])
def test_set_qualifiers(qualifier: str, tag_keys: list[str], expected: bool) -> None:
    # Multivalued-keys page: aws:TagKeys with ForAllValues / ForAnyValue.
    values = ["env-*"] if "Like" in qualifier else ["environment", "cost-center"]
    assert when({qualifier: {"aws:TagKeys": values}}, {"aws:TagKeys": tag_keys}) is expected


def test_single_valued_operator_on_a_list_matches_any_member() -> None:
    assert when({"StringEquals": {"aws:CalledVia": "cloudformation.amazonaws.com"}},
                {"aws:CalledVia": ["athena.amazonaws.com", "cloudformation.amazonaws.com"]})
    assert not when({"StringNotEquals": {"aws:CalledVia": "cloudformation.amazonaws.com"}},
                    {"aws:CalledVia": ["athena.amazonaws.com", "cloudformation.amazonaws.com"]})


def test_context_values_may_be_booleans_and_numbers() -> None:
    assert when({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": True})
    assert when({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": 5})


def test_unknown_operator_is_a_validation_error() -> None:
    with pytest.raises(PolicyError, match="Syntax errors in policy"):
        when({"StringSortOf": {"a:b": "c"}}, {})
