"""Policy generation from synthetic trail records: exact documents, implicit actions, determinism."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyless.policy import PolicyKind, PolicySet, Principal, Request, evaluate, parse_policy
from keyless.policy.lint import lint
from keyless.trail.generate import NothingObserved, generate_policy, key_patterns, policy_json

ACCOUNT = "123456789012"
BUCKET = "arn:aws:s3:::app-data"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app-role"


def rec(source: str, name: str, *decisions: tuple[str, str], code: str | None = None, result: str = "implicitDeny",
        params: dict[str, Any] | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventSource": f"{source}.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
        "requestParameters": params,
        "keyless": {"enforce": "learn", "decisions": [
            {"action": a, "resource": r, "result": result, "reason": "no identity-based policy allows the action"}
            for a, r in decisions]},
    }
    if code:
        record["errorCode"] = code
    return record


def allow(actions: list[str], resources: list[str], **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def statements(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    doc = generate_policy(records)
    assert doc["Version"] == "2012-10-17"
    return list(doc["Statement"])


def test_s3_reads_writes_under_one_prefix_and_a_list() -> None:
    records = [
        rec("s3", "GetObject", ("s3:GetObject", f"{BUCKET}/config/app.json")),
        rec("s3", "GetObject", ("s3:GetObject", f"{BUCKET}/input/a.csv")),
        rec("s3", "GetObject", ("s3:GetObject", f"{BUCKET}/input/b.csv")),
        rec("s3", "PutObject", ("s3:PutObject", f"{BUCKET}/out/run-1/a.json")),
        rec("s3", "PutObject", ("s3:PutObject", f"{BUCKET}/out/run-1/b.json")),
        rec("s3", "PutObject", ("s3:PutObject", f"{BUCKET}/out/run-1/b.json")),
        rec("s3", "ListObjectsV2", ("s3:ListBucket", BUCKET)),
    ]
    assert statements(records) == [
        allow(["s3:GetObject"], [f"{BUCKET}/config/app.json", f"{BUCKET}/input/*"]),
        allow(["s3:ListBucket"], [BUCKET]),
        allow(["s3:PutObject"], [f"{BUCKET}/out/run-1/*"]),
    ]


def test_resources_sharing_actions_share_a_statement() -> None:
    records = [
        rec("s3", "GetObject", ("s3:GetObject", f"{BUCKET}/out/1")),
        rec("s3", "GetObject", ("s3:GetObject", f"{BUCKET}/out/2")),
        rec("s3", "PutObject", ("s3:PutObject", f"{BUCKET}/out/1")),
        rec("s3", "PutObject", ("s3:PutObject", f"{BUCKET}/out/2")),
        rec("s3", "ListBuckets", ("s3:ListAllMyBuckets", "*")),
        rec("ec2", "DescribeInstances", ("ec2:DescribeInstances", "*")),
    ]
    assert statements(records) == [
        allow(["ec2:DescribeInstances", "s3:ListAllMyBuckets"], ["*"]),
        allow(["s3:GetObject", "s3:PutObject"], [f"{BUCKET}/out/*"]),
    ]


@pytest.mark.parametrize("name, code", [("HeadObject", "NoSuchKey"), ("HeadObject", "NotFound"), ("GetObject", "NoSuchKey")])
def test_missing_key_reads_need_list_bucket(name: str, code: str) -> None:
    records = [rec("s3", name, ("s3:GetObject", f"{BUCKET}/cache/missing.bin"), code=code)]
    assert statements(records) == [
        allow(["s3:GetObject"], [f"{BUCKET}/cache/missing.bin"]),
        allow(["s3:ListBucket"], [BUCKET]),
    ]


def test_enforced_missing_key_denial_is_recognised() -> None:
    # Under enforcement S3 answers 403 when GetObject is allowed but ListBucket is not.
    records = [rec("s3", "GetObject", ("s3:GetObject", f"{BUCKET}/k"), code="AccessDenied", result="allowed")]
    assert allow(["s3:ListBucket"], [BUCKET]) in statements(records)


def test_denied_existing_object_does_not_add_list_bucket() -> None:
    records = [rec("s3", "GetObject", ("s3:GetObject", f"{BUCKET}/k"), code="AccessDenied")]
    assert statements(records) == [allow(["s3:GetObject"], [f"{BUCKET}/k"])]


def test_ec2_launch_with_profile_passes_the_role_to_ec2_only() -> None:
    instances = f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/*"
    records = [
        rec("ec2", "RunInstances", ("ec2:RunInstances", instances), ("ec2:RunInstances", "arn:aws:ec2:us-east-1::image/ami-1"),
            ("iam:PassRole", ROLE)),
        rec("ec2", "TerminateInstances", ("ec2:TerminateInstances", f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0123456789abcdef0")),
        rec("ec2", "AssociateIamInstanceProfile", ("ec2:AssociateIamInstanceProfile",
                                                   f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0fedcba9876543210"),
            ("iam:PassRole", ROLE)),
    ]
    assert statements(records) == [
        allow(["ec2:AssociateIamInstanceProfile", "ec2:RunInstances", "ec2:TerminateInstances"], [instances]),
        allow(["ec2:RunInstances"], ["arn:aws:ec2:us-east-1::image/ami-1"]),
        allow(["iam:PassRole"], [ROLE], Condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
    ]


def test_star_covers_specific_resources_of_the_same_action() -> None:
    records = [rec("ec2", "DescribeInstances", ("ec2:DescribeInstances", "*")),
               rec("sts", "AssumeRole", ("sts:AssumeRole", ROLE)),
               rec("sts", "AssumeRole", ("sts:AssumeRole", ROLE))]
    assert statements(records) == [allow(["ec2:DescribeInstances"], ["*"]), allow(["sts:AssumeRole"], [ROLE])]


def test_nothing_observed() -> None:
    with pytest.raises(NothingObserved):
        generate_policy([{"eventSource": "sts.amazonaws.com", "eventName": "GetCallerIdentity", "keyless": {"decisions": []}}])


def test_output_is_deterministic_and_valid() -> None:
    records = [rec("s3", "GetObject", ("s3:GetObject", f"{BUCKET}/d/{i}")) for i in range(20)]
    records += [rec("s3", "PutObject", ("s3:PutObject", f"arn:aws:s3:::other/{i}.txt")) for i in range(3)]
    records += [rec("ec2", "DescribeInstances", ("ec2:DescribeInstances", "*"))]
    shuffled = records[:]
    random.Random(7).shuffle(shuffled)
    text = policy_json(generate_policy(records))
    assert policy_json(generate_policy(shuffled)) == text
    parse_policy(text, PolicyKind.IDENTITY)
    assert lint(text) == ()


def test_generated_policy_allows_every_observed_request() -> None:
    observed = [("s3:GetObject", f"{BUCKET}/in/{i}.csv") for i in range(5)] + [
        ("s3:PutObject", f"{BUCKET}/out/x/{i}") for i in range(3)] + [("s3:ListBucket", BUCKET), ("iam:PassRole", ROLE)]
    records = [rec("s3" if a.startswith("s3") else "ec2", "Op", (a, r)) for a, r in observed]
    policy = parse_policy(policy_json(generate_policy(records)), PolicyKind.IDENTITY)
    principal = Principal(arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/app-role/s", principal_arn=ROLE, account=ACCOUNT,
                          type="AssumedRole")
    for action, resource in observed:
        context = {"iam:PassedToService": "ec2.amazonaws.com"} if action == "iam:PassRole" else {}
        decision = evaluate(Request(action=action, resource=resource, principal=principal, context=context), PolicySet((policy,)))
        assert decision.allowed, (action, resource)
    denied = evaluate(Request(action="s3:PutObject", resource=f"{BUCKET}/in/1.csv", principal=principal, context={}),
                      PolicySet((policy,)))
    assert not denied.allowed


@pytest.mark.parametrize("keys, expected", [
    (["a.txt"], ["a.txt"]),
    (["a.txt", "b.txt"], ["a.txt", "b.txt"]),  # root-level keys have no folder to generalise to
    (["in/a", "in/b"], ["in/*"]),
    (["in/x/a", "in/x/b"], ["in/x/*"]),
    (["in/x/a", "in/y/b"], ["in/*"]),
    (["in/a", "out/b"], ["in/a", "out/b"]),
    (["in/a", "in/b", "out/c", "top"], ["in/*", "out/c", "top"]),
    (["in/ab", "in/ac"], ["in/*"]),  # folders, not character prefixes
])
def test_key_patterns(keys: list[str], expected: list[str]) -> None:
    assert key_patterns(keys) == expected


@given(st.lists(st.from_regex(r"[a-c]{1,2}(/[a-c]{1,2}){0,3}", fullmatch=True), min_size=1, max_size=12))
def test_key_patterns_cover_every_key(keys: list[str]) -> None:
    patterns = key_patterns(keys)
    for key in keys:
        assert any(p == key or (p.endswith("/*") and key.startswith(p[:-1])) for p in patterns), (key, patterns)
    assert len(patterns) <= len(set(keys))


def test_policy_json_is_indented_and_ends_with_newline() -> None:
    text = policy_json(generate_policy([rec("ec2", "DescribeInstances", ("ec2:DescribeInstances", "*"))]))
    assert text.endswith("}\n") and json.loads(text)["Statement"][0]["Resource"] == ["*"]
