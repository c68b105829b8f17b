"""The pure Simulate* implementation, checked against botocore's EvaluationResult shape.

SimulateCustomPolicy: https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulateCustomPolicy.html
EvaluationResult:     https://docs.aws.amazon.com/IAM/latest/APIReference/API_EvaluationResult.html
Examples: the aws CLI's own examples/iam/simulate-custom-policy.rst (shipped with awscli).
"""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from policy_helpers import ACCOUNT, BOB, OTHER_ACCOUNT, allow, deny, doc

from keyless.policy import PolicyError, PolicyInput, SimulationInputError, simulate

DYNAMO = ('{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*",'
          '"Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}')


def current_time(value: str) -> list[dict[str, Any]]:
    return [{"ContextKeyName": "aws:CurrentTime", "ContextKeyValues": [value], "ContextKeyType": "date"}]


def assert_botocore_shape(results: list[dict[str, Any]]) -> None:
    model = botocore.session.get_session().get_service_model("iam")
    output = model.operation_model("SimulateCustomPolicy").output_shape
    report = ParamValidator().validate({"EvaluationResults": results, "IsTruncated": False}, output)
    assert not report.has_errors(), report.generate_report()


def test_cli_example_allowed_after_date() -> None:
    results = simulate([DYNAMO], ["dynamodb:CreateBackup"], context_entries=current_time("2019-04-25T11:00:00Z"))
    assert results == [{
        "EvalActionName": "dynamodb:CreateBackup",
        "EvalResourceName": "*",
        "EvalDecision": "allowed",
        "MatchedStatements": [{"SourcePolicyId": "PolicyInputList.1", "SourcePolicyType": "IAM Policy",
                               "StartPosition": {"Line": 1, "Column": 38}, "EndPosition": {"Line": 1, "Column": 167}}],
        "MissingContextValues": [],
    }]
    assert_botocore_shape(results)


def test_cli_example_denied_before_date() -> None:
    results = simulate([DYNAMO], ["dynamodb:CreateBackup"], context_entries=current_time("2014-04-25T11:00:00Z"))
    assert results == [{"EvalActionName": "dynamodb:CreateBackup", "EvalResourceName": "*",
                        "EvalDecision": "implicitDeny", "MatchedStatements": [], "MissingContextValues": []}]


def test_missing_context_is_reported_and_nothing_is_filled_in() -> None:
    # Like AWS, no aws:CurrentTime is invented: the condition fails and the key is reported missing.
    results = simulate([DYNAMO], ["dynamodb:CreateBackup"])
    assert results[0]["EvalDecision"] == "implicitDeny"
    assert results[0]["MissingContextValues"] == ["aws:CurrentTime"]


@pytest.mark.parametrize(("text", "column"), [
    # Responses seen from IAM: a statement list's `{` is reported at its own column.
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}', 41),
    ('{"Statement":[{"Action":["s3:GetObject"],"Effect":"Allow","Resource":"*"}],"Version":"2012-10-17"}', 15),
])
def test_positions_seen_in_iam_responses(text: str, column: int) -> None:
    assert simulate([text], ["s3:GetObject"])[0]["MatchedStatements"][0]["StartPosition"] == {"Line": 1, "Column": column}


def test_positions_in_a_pretty_printed_policy() -> None:
    text = json.dumps({"Version": "2012-10-17", "Statement": [allow("s3:ListBucket"), allow("s3:GetObject")]}, indent=4)
    matched = simulate([text], ["s3:GetObject"])[0]["MatchedStatements"]
    # The second statement's braces sit at column 9 of lines 9 and 13; the end is reported one after.
    lines = text.splitlines()
    assert lines[8].strip() == "{" and lines[12].strip() == "}"
    assert matched[0]["StartPosition"] == {"Line": 9, "Column": 9}
    assert matched[0]["EndPosition"] == {"Line": 13, "Column": 10}


def test_actions_times_resources_with_resource_specific_results() -> None:
    text = doc(allow("s3:GetObject", "arn:aws:s3:::b/*"), deny("s3:GetObject", "arn:aws:s3:::b/secret"))
    results = simulate([text], ["s3:GetObject", "s3:PutObject"], resource_arns=["arn:aws:s3:::b/a", "arn:aws:s3:::b/secret"])
    assert [(r["EvalActionName"], r["EvalResourceName"], r["EvalDecision"]) for r in results] == [
        ("s3:GetObject", "arn:aws:s3:::b/a", "allowed"),
        ("s3:GetObject", "arn:aws:s3:::b/secret", "explicitDeny"),
        ("s3:PutObject", "arn:aws:s3:::b/a", "implicitDeny"),
        ("s3:PutObject", "arn:aws:s3:::b/secret", "implicitDeny"),
    ]
    denied = results[1]
    # Only the deny statement is reported for an explicit deny.
    assert [m["StartPosition"]["Column"] for m in denied["MatchedStatements"]] == [text.index('{"Effect": "Deny"') + 1]
    assert denied["ResourceSpecificResults"] == [{
        "EvalResourceName": "arn:aws:s3:::b/secret", "EvalResourceDecision": "explicitDeny",
        "MatchedStatements": denied["MatchedStatements"], "MissingContextValues": []}]
    assert denied["EvalDecisionDetails"] == {}  # same account with a resource ARN: present but empty
    assert_botocore_shape(results)


def test_boundary_detail() -> None:
    results = simulate([doc(allow("*"))], ["s3:GetObject", "ec2:RunInstances"],
                       boundary_inputs=[doc(allow("s3:*"))])
    assert [(r["EvalDecision"], r["PermissionsBoundaryDecisionDetail"]) for r in results] == [
        ("allowed", {"AllowedByPermissionsBoundary": True}),
        ("implicitDeny", {"AllowedByPermissionsBoundary": False}),
    ]
    assert_botocore_shape(results)


def test_resource_policy_with_caller_and_owner() -> None:
    bucket = doc({"Effect": "Allow", "Principal": {"AWS": BOB.arn}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})
    same = simulate([], ["s3:GetObject"], resource_arns=["arn:aws:s3:::b/k"], resource_policy=bucket, caller_arn=BOB.arn)
    assert same[0]["EvalDecision"] == "allowed"
    assert same[0]["MatchedStatements"][0]["SourcePolicyId"] == "ResourcePolicy"
    other = simulate([], ["s3:GetObject"], resource_arns=["arn:aws:s3:::b/k"], resource_policy=bucket, caller_arn=BOB.arn,
                     resource_owner=f"arn:aws:iam::{OTHER_ACCOUNT}:root")
    assert other[0]["EvalDecision"] == "implicitDeny"  # cross-account: the caller's own policies must allow too
    assert other[0]["EvalDecisionDetails"] == {"IAM Policy": "implicitDeny", "Resource Policy": "allowed"}
    assert_botocore_shape(other)


def test_context_entry_types() -> None:
    text = doc(allow("ec2:CreateTags", Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]},
                                                  "Bool": {"aws:SecureTransport": "true"},
                                                  "NumericLessThan": {"ec2:Count": "5"},
                                                  "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    entries = [{"ContextKeyName": "aws:TagKeys", "ContextKeyValues": ["a"], "ContextKeyType": "stringList"},
               {"ContextKeyName": "aws:SecureTransport", "ContextKeyValues": ["TRUE"], "ContextKeyType": "boolean"},
               {"ContextKeyName": "ec2:Count", "ContextKeyValues": ["4"], "ContextKeyType": "numeric"},
               {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.9.9.9"], "ContextKeyType": "ip"}]
    assert simulate([text], ["ec2:CreateTags"], context_entries=entries)[0]["EvalDecision"] == "allowed"
    entries[0]["ContextKeyValues"] = ["a", "c"]
    assert simulate([text], ["ec2:CreateTags"], context_entries=entries)[0]["EvalDecision"] == "implicitDeny"


def test_principal_policy_inputs_carry_their_names_and_types() -> None:
    inputs = [PolicyInput(doc(allow("iam:GetUser")), "ReadSelf", "user"),
              PolicyInput(doc(allow("iam:*")), f"arn:aws:iam::{ACCOUNT}:policy/Admin", "user-managed")]
    matched = simulate(inputs, ["iam:GetUser"])[0]["MatchedStatements"]
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in matched] == [
        ("ReadSelf", "user"), (f"arn:aws:iam::{ACCOUNT}:policy/Admin", "user-managed")]


def test_bad_inputs() -> None:
    with pytest.raises(PolicyError):
        simulate(['{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}'], ["s3:GetObject"])
    with pytest.raises(SimulationInputError):
        simulate([doc(allow())], ["s3:GetObject"], context_entries=[{"ContextKeyName": "k", "ContextKeyValues": ["v"], "ContextKeyType": "text"}])
    with pytest.raises(SimulationInputError):
        simulate([doc(allow())], ["s3:GetObject"], boundary_inputs=[doc(allow()), doc(allow())])


def test_positions_ignore_carriage_returns() -> None:
    unix = json.dumps({"Version": "2012-10-17", "Statement": [allow("s3:GetObject")]}, indent=2)
    windows = unix.replace("\n", "\r\n")
    spots = [simulate([text], ["s3:GetObject"])[0]["MatchedStatements"][0] for text in (unix, windows)]
    assert spots[0]["StartPosition"] == spots[1]["StartPosition"] == {"Line": 4, "Column": 5}
    assert spots[0]["EndPosition"]["Line"] == spots[1]["EndPosition"]["Line"] == 8
