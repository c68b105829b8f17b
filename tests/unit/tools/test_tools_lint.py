"""Policy lint: every finding class on a fixture, and a clean least-privilege policy passes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from keyless.policy import PolicyKind
from keyless.policy.lint import FINDING_CLASSES, Finding, Severity, detect_kind, lint, worst

# The article's least-privilege S3 read policy (shared/seed/000_6710bfd102ace05d.txt).
ARTICLE_S3_READ = """{
"Version": "2012-10-17",
"Statement": [
{
"Effect": "Allow",
"Action": [
"s3:GetObject",
"s3:ListBucket"
],
"Resource": [
"arn:aws:s3:::my-specific-bucket",
"arn:aws:s3:::my-specific-bucket/*"
]
}
]
}"""
ROLE = "arn:aws:iam::123456789012:role/app"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def trust(principal: Any, condition: dict[str, Any] | None = None, element: str = "Principal") -> str:
    statement: dict[str, Any] = {"Effect": "Allow", element: principal, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return doc(statement)


def ids(findings: tuple[Finding, ...]) -> list[str]:
    return sorted(f.id for f in findings)


def test_article_policy_is_clean() -> None:
    assert lint(ARTICLE_S3_READ) == ()


@pytest.mark.parametrize("text", [
    doc(allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::app-data/out/*"),
        allow("s3:ListBucket", "arn:aws:s3:::app-data", Condition={"StringLike": {"s3:prefix": ["out/*"]}})),
    doc(allow("iam:PassRole", ROLE, Condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}})),
    doc(allow(["ec2:DescribeInstances", "s3:ListAllMyBuckets"])),
    doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
    doc({"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/*"}, allow("s3:GetObject", "arn:aws:s3:::b/*")),
])
def test_least_privilege_policies_are_clean(text: str) -> None:
    assert lint(text) == ()


# (finding id, severity, document, kind)
FIXTURES: list[tuple[str, Severity, str, PolicyKind]] = [
    ("MALFORMED_POLICY", Severity.ERROR, '{"Version": "2012-10-17", "Statement": []}', PolicyKind.IDENTITY),
    ("ALLOW_ALL_ACTIONS", Severity.SECURITY, doc(allow("*")), PolicyKind.IDENTITY),
    ("SERVICE_WILDCARD_ON_ALL_RESOURCES", Severity.SECURITY, doc(allow("s3:*")), PolicyKind.IDENTITY),
    ("PASS_ROLE_ON_ALL_RESOURCES", Severity.SECURITY, doc(allow("iam:PassRole")), PolicyKind.IDENTITY),
    ("PASS_ROLE_ON_ALL_RESOURCES", Severity.SECURITY,
     doc(allow("iam:PassRole", "arn:aws:iam::123456789012:role/*")), PolicyKind.IDENTITY),
    ("ASSUME_ROLE_ON_ALL_RESOURCES", Severity.SECURITY, doc(allow("sts:AssumeRole")), PolicyKind.IDENTITY),
    ("ALLOW_WITH_NOT_ACTION", Severity.SECURITY,
     doc({"Effect": "Allow", "NotAction": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/*"}), PolicyKind.IDENTITY),
    ("ALLOW_WITH_NOT_RESOURCE", Severity.SECURITY,
     doc({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secret/*"}), PolicyKind.IDENTITY),
    ("UNKNOWN_ACTION", Severity.ERROR, doc(allow("s3:GetObjects", "arn:aws:s3:::b/*")), PolicyKind.IDENTITY),
    ("UNKNOWN_ACTION", Severity.ERROR, doc(allow("nosuchservice:Get")), PolicyKind.IDENTITY),
    ("UNKNOWN_CONDITION_KEY", Severity.ERROR,
     doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Condition={"StringEquals": {"s3:nosuchkey": "x"}})), PolicyKind.IDENTITY),
    ("CONDITION_KEY_NOT_APPLICABLE", Severity.WARNING,
     doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Condition={"StringLike": {"s3:prefix": "x/*"}})), PolicyKind.IDENTITY),
    ("RESOURCE_MISMATCH", Severity.ERROR, doc(allow("s3:GetObject", "arn:aws:s3:::b")), PolicyKind.IDENTITY),
    ("RESOURCE_MISMATCH", Severity.ERROR, doc(allow("s3:ListBucket", "arn:aws:s3:::b/*")), PolicyKind.IDENTITY),
    ("RESOURCE_MISMATCH", Severity.ERROR, doc(allow("s3:ListAllMyBuckets", "arn:aws:s3:::b")), PolicyKind.IDENTITY),
    ("RESOURCE_MISMATCH", Severity.ERROR, doc(allow("iam:PassRole", "arn:aws:iam::123456789012:user/u")), PolicyKind.IDENTITY),
    ("TRUST_ALLOWS_ANYONE", Severity.SECURITY, trust("*"), PolicyKind.TRUST),
    ("TRUST_ALLOWS_ANYONE", Severity.SECURITY, trust({"AWS": "*"}), PolicyKind.TRUST),
    ("TRUST_ALLOWS_WHOLE_ACCOUNT", Severity.WARNING, trust({"AWS": "123456789012"}), PolicyKind.TRUST),
    ("TRUST_ALLOWS_WHOLE_ACCOUNT", Severity.WARNING, trust({"AWS": "arn:aws:iam::123456789012:root"}), PolicyKind.TRUST),
    ("PRIVILEGE_ESCALATION", Severity.SECURITY, doc(allow(["iam:PutRolePolicy", "iam:AttachRolePolicy"])), PolicyKind.IDENTITY),
    ("PRIVILEGE_ESCALATION", Severity.SECURITY,
     doc(allow("iam:CreatePolicyVersion", "arn:aws:iam::123456789012:policy/*")), PolicyKind.IDENTITY),
    ("PRIVILEGE_ESCALATION", Severity.SECURITY, doc(allow("iam:UpdateAssumeRolePolicy")), PolicyKind.IDENTITY),
    ("REDUNDANT_STATEMENT", Severity.SUGGESTION,
     doc(allow("s3:Get*", "arn:aws:s3:::b/*"), allow("s3:GetObject", "arn:aws:s3:::b/in/x.json")), PolicyKind.IDENTITY),
    ("REDUNDANT_STATEMENT", Severity.SUGGESTION,
     doc(allow("s3:GetObject", "arn:aws:s3:::b/*"), allow("s3:GetObject", "arn:aws:s3:::b/*")), PolicyKind.IDENTITY),
    ("SHADOWED_STATEMENT", Severity.WARNING,
     doc(allow("s3:GetObject", "arn:aws:s3:::b/*"), {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}),
     PolicyKind.IDENTITY),
    ("REDUNDANT_ACTION", Severity.SUGGESTION, doc(allow(["s3:GetObject", "s3:Get*"], "arn:aws:s3:::b/*")), PolicyKind.IDENTITY),
    ("REDUNDANT_RESOURCE", Severity.SUGGESTION,
     doc(allow("s3:GetObject", ["arn:aws:s3:::b/*", "arn:aws:s3:::b/in/*"])), PolicyKind.IDENTITY),
]


@pytest.mark.parametrize("finding_id, severity, text, kind", FIXTURES, ids=[f"{f[0]}-{i}" for i, f in enumerate(FIXTURES)])
def test_each_finding_class(finding_id: str, severity: Severity, text: str, kind: PolicyKind) -> None:
    findings = lint(text, kind)
    matching = [f for f in findings if f.id == finding_id]
    assert matching, findings
    assert all(f.severity is severity for f in matching)


def test_every_finding_class_has_a_fixture_with_its_declared_severity() -> None:
    assert set(FINDING_CLASSES) == {f[0] for f in FIXTURES}
    assert all(FINDING_CLASSES[f[0]] is f[1] for f in FIXTURES)


def test_findings_name_statement_sid_and_line() -> None:
    text = doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Sid="Reads"), allow("iam:PassRole", Sid="Pass"))
    (finding,) = lint(text)
    brace = text.rfind("{", 0, text.index('"Pass"'))
    assert (finding.id, finding.statement, finding.sid) == ("PASS_ROLE_ON_ALL_RESOURCES", 1, "Pass")
    assert finding.line == text.count("\n", 0, brace) + 1
    assert finding.to_dict()["severity"] == "security"


def test_malformed_document_gives_one_finding_with_the_aws_message() -> None:
    findings = lint(doc({"Effect": "Allow", "Action": "s3:GetObject"}))
    assert [(f.id, f.statement) for f in findings] == [("MALFORMED_POLICY", None)]
    assert "Policy statement must contain resources." in findings[0].message


def test_trust_policies_with_conditions_or_specific_principals_are_clean() -> None:
    assert lint(trust({"Service": "ec2.amazonaws.com"}), PolicyKind.TRUST) == ()
    assert lint(trust({"AWS": ROLE}), PolicyKind.TRUST) == ()
    assert lint(trust({"AWS": "123456789012"}, {"StringEquals": {"sts:ExternalId": "x"}}), PolicyKind.TRUST) == ()


def test_not_principal_allow_trusts_everyone_else() -> None:
    text = doc({"Effect": "Allow", "NotPrincipal": {"AWS": ROLE}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})
    assert "TRUST_ALLOWS_ANYONE" not in ids(lint(text, PolicyKind.RESOURCE))  # trust checks are for trust policies


def test_conditional_deny_does_not_shadow() -> None:
    text = doc(allow("s3:GetObject", "arn:aws:s3:::b/*"),
               {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    assert lint(text) == ()


def test_different_conditions_are_not_redundant() -> None:
    text = doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
               allow("s3:GetObject", "arn:aws:s3:::b/in/*", Condition={"IpAddress": {"aws:SourceIp": "192.168.0.0/16"}}))
    assert lint(text) == ()


def test_administrator_access_is_flagged_as_a_security_risk() -> None:
    findings = lint(doc(allow("*")))
    assert worst(findings) is Severity.SECURITY
    assert {"ALLOW_ALL_ACTIONS", "PASS_ROLE_ON_ALL_RESOURCES", "PRIVILEGE_ESCALATION"} <= set(ids(findings))


def test_detect_kind() -> None:
    assert detect_kind(ARTICLE_S3_READ) is PolicyKind.IDENTITY
    assert detect_kind(trust({"Service": "ec2.amazonaws.com"})) is PolicyKind.TRUST
    bucket_policy = doc({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})
    assert detect_kind(bucket_policy) is PolicyKind.RESOURCE
    assert detect_kind("not json") is PolicyKind.IDENTITY


def test_severity_order_and_parse() -> None:
    assert Severity.SUGGESTION < Severity.WARNING < Severity.SECURITY < Severity.ERROR
    assert Severity.parse("Security") is Severity.SECURITY
