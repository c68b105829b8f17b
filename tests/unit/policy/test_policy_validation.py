"""Validation: MalformedPolicyDocument messages, in IAM's order.

Grammar: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
Version: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html
Quotas:  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
The message texts and which error wins are the answers IAM gave for CreatePolicy, as recorded in
moto's tests/test_iam/test_iam_policies.py (facts only; no code taken).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from keyless.policy import PolicyError, PolicyKind, PolicySizeError, parse_policy, policy_size

V = "2012-10-17"
OK_STATEMENT = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::example_bucket"}
SID_MESSAGE = ("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression "
               "[0-9A-Za-z]*")


def stmt(**fields: Any) -> dict[str, Any]:
    return {**OK_STATEMENT, **fields}


def without(*names: str, **fields: Any) -> dict[str, Any]:
    return {k: v for k, v in {**OK_STATEMENT, **fields}.items() if k not in names}


INVALID_MANAGED = [
    ("This is not a json document", "Syntax errors in policy."),
    ({"Statement": OK_STATEMENT}, "Policy document must be version 2012-10-17 or greater."),
    ({"Version": "2008-10-17", "Statement": OK_STATEMENT}, "Policy document must be version 2012-10-17 or greater."),
    ({"Version": "2013-10-17", "Statement": OK_STATEMENT}, "Syntax errors in policy."),
    ({"Version": V}, "Syntax errors in policy."),
    ({"Version": V, "Statement": ["afd"]}, "Syntax errors in policy."),
    ({"Version": V, "Statement": []}, "Syntax errors in policy."),
    ({"Version": V, "Statement": OK_STATEMENT, "Extra field": "value"}, "Syntax errors in policy."),
    ({"Version": V, "Statement": stmt(**{"Extra field": "value"})}, "Syntax errors in policy."),
    ({"Version": V, "Id": ["x"], "Statement": OK_STATEMENT}, "Syntax errors in policy."),
    ({"Version": V, "Statement": stmt(Effect="invalid")}, "Syntax errors in policy."),
    ({"Version": V, "Statement": stmt(Action="invalid")},
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
    ({"Version": V, "Statement": without("Action", NotAction="")},
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
    ({"Version": V, "Statement": stmt(Action="a a:ListBucket")}, "Vendor a a is not valid"),
    ({"Version": V, "Statement": stmt(Action="s3:List:Bucket")}, "Actions/Condition can contain only one colon."),
    ({"Version": V, "Statement": stmt(Resource="invalid resource")}, 'Resource invalid resource must be in ARN format or "*".'),
    ({"Version": V, "Statement": stmt(Resource="")}, 'Resource  must be in ARN format or "*".'),
    ({"Version": V, "Statement": stmt(Resource=["adf"])}, 'Resource adf must be in ARN format or "*".'),
    ({"Version": V, "Statement": without("Action", NotAction="s3s:ListBucket", Resource="a:bsdfdsafsad")},
     'Partition "bsdfdsafsad" is not valid for resource "arn:bsdfdsafsad:*:*:*:*".'),
    ({"Version": V, "Statement": without("Action", NotAction="s3s:ListBucket", Resource="a:b:c:d:e:f:g:h")},
     'Partition "b" is not valid for resource "arn:b:c:d:e:f:g:h".'),
    ({"Version": V, "Statement": stmt(Resource="aws:s3:::example_bucket")},
     'Partition "s3" is not valid for resource "arn:s3:::example_bucket:*".'),
    ({"Version": V, "Statement": stmt(Resource=["arn:error:s3:::example_bucket", "arn:error:s3::example_bucket"])},
     'Partition "error" is not valid for resource "arn:error:s3:::example_bucket".'),
    ({"Version": V, "Statement": without("Resource")}, "Policy statement must contain resources."),
    ({"Version": V, "Statement": stmt(Resource=[])}, "Policy statement must contain resources."),
    ({"Version": V, "Statement": without("Resource", Action="invalid")},
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
    ({"Version": V, "Statement": without("Action")}, "Policy statement must contain actions."),
    ({"Version": V, "Statement": without("Effect")}, "Syntax errors in policy."),
    ({"Version": V, "Statement": {"Effect": "Allow"}}, "Policy statement must contain actions."),
    ({"Version": V, "Statement": stmt(Action=[])}, "Policy statement must contain actions."),
    ({"Version": V, "Statement": [{"Effect": "Deny"}, OK_STATEMENT]}, "Policy statement must contain actions."),
    ({"Version": V, "Statement": stmt(Resource="arn:aws:iam:::example_bucket")},
     'IAM resource path must either be "*", root, or start with user/, federated-user/, role/, group/, '
     "instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, oidc-provider/, report/, "
     "access-report/."),
    ({"Version": V, "Statement": stmt(Resource="arn:aws:s3::example_bucket")}, "The policy failed legacy parsing"),
    ({"Version": V, "Statement": stmt(Resource="arn:aws")},
     "Resource vendor must be fully qualified and cannot contain regexes."),
    ({"Version": V, "Statement": stmt(Resource={"a": "arn:aws:s3:::example_bucket"})}, "Syntax errors in policy."),
    ({"Version": V, "Statement": stmt(Effect="Deny", Resource=["adfdf", {}])}, "Syntax errors in policy."),
    ({"Version": V, "Statement": stmt(NotResource=[])}, "Syntax errors in policy."),
    ({"Version": V, "Statement": stmt(Action=[[]])}, "Syntax errors in policy."),
    ({"Version": V, "Statement": stmt(NotAction="s3s:ListBucket")}, "Syntax errors in policy."),
    ({"Version": V, "Statement": stmt(Condition=[])}, "Syntax errors in policy."),
    ({"Version": V, "Statement": stmt(Condition="a")}, "Syntax errors in policy."),
    ({"Version": V, "Statement": stmt(Condition={"a": "b"})}, "Syntax errors in policy."),
    ({"Version": V, "Statement": stmt(Condition={"DateGreaterThan": {"a": {}}})}, "Syntax errors in policy."),
    # An unknown operator is a syntax error (an empty block of one is tolerated, as IAM does).
    ({"Version": V, "Statement": stmt(Condition={"x": {"a": "1"}})}, "Syntax errors in policy."),
    ({"Version": V, "Statement": stmt(Condition={"StringEqualsish": {"a": "1"}})}, "Syntax errors in policy."),
    ({"Version": V, "Statement": stmt(Condition={"NullIfExists": {"a": "true"}})}, "Syntax errors in policy."),
    ({"Version": V, "Statement": stmt(Condition={"ForAnyValue::StringEqualsIfExists": {"a": "asf"}})},
     "Syntax errors in policy."),
    ({"Version": V, "Statement": stmt(Resource="arn:aws:iam:us-east-1::example_bucket")},
     "IAM resource arn:aws:iam:us-east-1::example_bucket cannot contain region information."),
    ({"Version": V, "Statement": stmt(Resource="arn:aws:s3:us-east-1::example_bucket")},
     "Resource arn:aws:s3:us-east-1::example_bucket can not contain region information."),
    ({"Version": V, "Statement": stmt(Sid={})}, "Syntax errors in policy."),
    ({"Version": V, "Statement": [stmt(Sid="sdf"), {"Sid": "sdf", "Effect": "Allow"}]},
     "Statement IDs (SID) in a single policy must be unique."),
    ({"Statement": [stmt(Sid="sdf"), {"Sid": "sdf", "Effect": "Allow"}]},
     "Policy document must be version 2012-10-17 or greater."),
    ({"Version": V, "Statement": stmt(Effect="denY")}, "The policy failed legacy parsing"),
    ({"Version": V, "Statement": stmt(Condition={"DateGreaterThan": {"a": "sdfdsf"}})}, "The policy failed legacy parsing"),
    ({"Version": V, "Statement": stmt(Condition={"DateLessThanEquals": {"a": "234-13"}})}, "The policy failed legacy parsing"),
    ({"Version": V, "Statement": stmt(Condition={"DateLessThan": {"a": "9223372036854775808"}})},
     "The policy failed legacy parsing"),
    ({"Version": V, "Statement": stmt(Resource="arn:aws::fdsasf")}, "The policy failed legacy parsing"),
    ({"Version": V, "Statement": [stmt(Sid="sdf", Effect="aLLow"), {"Sid": "sdf", "Effect": "Allow"}]},
     "The policy failed legacy parsing"),
    ({"Version": V, "Statement": stmt(Sid="has-dash")}, SID_MESSAGE),
    ({"Version": V, "Statement": stmt(Principal="*")}, "Policy document should not specify a principal."),
    ({"Version": V, "Statement": stmt(NotPrincipal={"AWS": "123456789012"})}, "Policy document should not specify a principal."),
]


@pytest.mark.parametrize(("document", "message"), INVALID_MANAGED)
def test_invalid_managed_policy_gets_iams_message(document: Any, message: str) -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, PolicyKind.IDENTITY, managed=True)
    assert caught.value.message == message
    assert caught.value.code == "MalformedPolicyDocument"


VALID = [
    {"Version": V, "Statement": stmt(Resource=["arn:aws:s3:::example_bucket"])},
    {"Version": V, "Statement": stmt(Action="iam: asdf safdsf af ")},
    {"Version": V, "Statement": stmt(Resource=["arn:aws:s3:::example_bucket", "*"])},
    {"Version": V, "Statement": stmt(Action="*")},
    {"Version": V, "Statement": stmt(Resource="arn:aws:iam:::user/example_bucket")},
    {"Version": V, "Statement": stmt(Resource="arn:aws:fdsasf")},
    {"Version": V, "Statement": stmt(Condition={})},
    {"Version": V, "Statement": stmt(Condition={"ForAllValues:StringEquals": {"aws:TagKeys": "Department"}})},
    {"Version": V, "Statement": stmt(Resource="arn:aws:ec2:us-east-1::example_bucket")},
    {"Version": V, "Statement": stmt(Condition={"DateGreaterThan": {}})},
    {"Version": V, "Statement": stmt(Condition={"DateGreaterThan": {"a": []}})},
    {"Version": V, "Statement": stmt(Condition={"a": {}})},
    {"Version": V, "Statement": stmt(Condition={"DateGreaterThan": {"a": "01T"}})},
    {"Version": V, "Statement": stmt(Condition={"DateLessThanEquals": {"a": "2016-12-13T21:20:37.593194+00:00"}})},
    {"Version": V, "Statement": stmt(Condition={"DateLessThanEquals": {"a": "2016-12-13t2:00:00.593194+23"}})},
    {"Version": V, "Statement": stmt(Condition={"DateLessThan": {"a": "-292275054"}})},
    {"Version": V, "Statement": stmt(Condition={"ForAnyValue:StringEqualsIfExists": {"a": "asf"}})},
    {"Version": V, "Statement": stmt(Condition={"Bool": {"aws:SecureTransport": False}, "NumericLessThan": {"n": 3}})},
    {"Version": V, "Statement": without("Action", NotAction="s3:ListBucket", Resource="*")},
    {"Version": V, "Id": "sdfsdfsdf", "Statement": stmt(Sid="")},
    {"Version": V, "Statement": stmt(Resource="arn:aws:s3:us-west-2:123456789012:accesspoint/my-access-point")},
    {"Version": V, "Statement": stmt(Resource="arn:aws:iam::123456789012:root")},
]


@pytest.mark.parametrize("document", VALID)
def test_valid_managed_policy_compiles(document: Any) -> None:
    compiled = parse_policy(json.dumps(document), PolicyKind.IDENTITY, managed=True)
    assert len(compiled.statements) >= 1


def test_inline_policy_may_use_2008_10_17_or_no_version() -> None:
    # Version page: 2008-10-17 is accepted (and is the default when Version is missing).
    for document in ({"Version": "2008-10-17", "Statement": OK_STATEMENT}, {"Statement": OK_STATEMENT}):
        assert parse_policy(json.dumps(document), PolicyKind.IDENTITY).version == document.get("Version")


TRUST_OK = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}


@pytest.mark.parametrize(("statement", "message"), [
    ({**TRUST_OK, "Resource": "*"}, "Has prohibited field Resource"),
    ({**TRUST_OK, "NotResource": "*"}, "Has prohibited field Resource"),
    ({k: v for k, v in TRUST_OK.items() if k != "Principal"}, "Missing required field Principal"),
    ({**TRUST_OK, "Action": "s3:GetObject"}, "AssumeRole policy may only specify STS AssumeRole actions."),
    ({**TRUST_OK, "Principal": {"AWS": "arn:aws:iam::123456789012:role/*"}},
     'Invalid principal in policy: "AWS":"arn:aws:iam::123456789012:role/*"'),
    ({**TRUST_OK, "Principal": {"Service": ""}}, 'Invalid principal in policy: "SERVICE":""'),
    ({**TRUST_OK, "Principal": "someone"}, "Syntax errors in policy."),
    ({**TRUST_OK, "Sid": "not ok"}, SID_MESSAGE),
])
def test_invalid_trust_policy(statement: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(json.dumps({"Version": V, "Statement": statement}), PolicyKind.TRUST)
    assert caught.value.message == message


def test_trust_policy_accepts_accounts_arns_services_and_session_tags() -> None:
    statement = {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"], "Principal": {
        "AWS": ["123456789012", "arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:user/a/b",
                "arn:aws:sts::123456789012:assumed-role/r/s", "AROAEXAMPLEEXAMPLE123"],
        "Service": "ec2.amazonaws.com", "Federated": "cognito-identity.amazonaws.com"}}
    assert parse_policy(json.dumps({"Version": V, "Statement": statement}), PolicyKind.TRUST).statements


def test_resource_policy_sids_may_hold_any_text() -> None:
    statement = {"Sid": "Public read, please", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                 "Resource": "arn:aws:s3:::b/*"}
    assert parse_policy(json.dumps({"Version": V, "Statement": statement}), PolicyKind.RESOURCE).statements[0].sid


def test_error_detail_names_the_statement_and_element() -> None:
    bad = {"Version": V, "Statement": [OK_STATEMENT, stmt(Action="s3:List:Bucket")]}
    with pytest.raises(PolicyError) as caught:
        parse_policy(json.dumps(bad), PolicyKind.IDENTITY)
    assert caught.value.detail == "Statement[1].Action: 's3:List:Bucket'"


def test_size_ignores_whitespace_and_names_the_quota() -> None:
    # Quotas page: managed policy 6,144 characters, whitespace not counted.
    padded = json.dumps({"Version": V, "Statement": OK_STATEMENT}, indent=40)
    assert policy_size(padded) == len(json.dumps({"Version": V, "Statement": OK_STATEMENT}, separators=(",", ":")))
    parse_policy(padded, PolicyKind.IDENTITY, size_limit=6144)  # long with spaces, short without
    big = json.dumps({"Version": V, "Statement": stmt(Resource=[f"arn:aws:s3:::b{i:04}" for i in range(400)])})
    with pytest.raises(PolicySizeError) as caught:
        parse_policy(big, PolicyKind.IDENTITY, size_limit=6144)
    assert (caught.value.code, caught.value.message) == ("LimitExceeded", "Cannot exceed quota for PolicySize: 6144")
    with pytest.raises(PolicySizeError, match="UserPolicySize: 2048"):
        parse_policy(big, PolicyKind.IDENTITY, size_limit=2048)
    with pytest.raises(PolicySizeError, match="ACLSizePerRole: 10240"):
        parse_policy(big * 3, PolicyKind.IDENTITY, size_limit=10240)
