"""Invariants of the policy engine, over generated policies and requests.

Evaluation logic: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
(explicit deny wins; no allow means implicit deny; boundaries intersect; order is irrelevant),
plus a differential check against a deliberately naive reference evaluator written here.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from keyless.policy import PolicyKind, PolicySet, Principal, Request, evaluate, parse_policy

BOB = Principal(arn="arn:aws:iam::123456789012:user/bob", principal_arn="arn:aws:iam::123456789012:user/bob",
                account="123456789012", type="User")
ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "iam:CreateRole", "ec2:RunInstances"]
ACTION_PATTERNS = ACTIONS + ["s3:*", "s3:Get*", "*", "iam:*Role", "ec2:Run?nstances", "S3:getobject"]
RESOURCES = ["arn:aws:s3:::b/k", "arn:aws:s3:::b/K", "arn:aws:s3:::c/x", "arn:aws:iam::123456789012:role/r", "*"]
RESOURCE_PATTERNS = RESOURCES + ["arn:aws:s3:::b/*", "arn:aws:s3:::*", "arn:aws:iam::*:role/?"]
CONDITIONS: list[dict[str, Any]] = [
    {"StringEquals": {"aws:username": "bob"}},
    {"StringNotEquals": {"aws:username": ["bob", "carol"]}},
    {"StringLike": {"s3:prefix": "home/*"}},
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"Bool": {"aws:SecureTransport": "true"}},
    {"NumericLessThan": {"s3:max-keys": "10"}},
    {"StringEqualsIfExists": {"aws:username": "bob"}},
    {"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}},
    {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}},
    {"Null": {"aws:username": "true"}},
]
CONTEXTS: list[dict[str, Any]] = [
    {},
    {"aws:username": "bob", "aws:SourceIp": "10.1.1.1", "aws:SecureTransport": "true", "aws:TagKeys": ["a"]},
    {"aws:username": "carol", "aws:SourceIp": "192.0.2.1", "s3:prefix": "home/x", "s3:max-keys": "5"},
    {"aws:SecureTransport": "false", "s3:max-keys": "50", "aws:TagKeys": ["a", "c"], "s3:prefix": "etc"},
]


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    action_key = draw(st.sampled_from(["Action", "Action", "NotAction"]))
    statement[action_key] = draw(st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3))
    resource_key = draw(st.sampled_from(["Resource", "Resource", "NotResource"]))
    statement[resource_key] = draw(st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=3))
    conditions = draw(st.lists(st.sampled_from(CONDITIONS), max_size=2))
    if conditions:
        merged: dict[str, Any] = {}
        for condition in conditions:
            for operator, block in condition.items():
                merged.setdefault(operator, {}).update(block)
        statement["Condition"] = merged
    return statement


policies_st = st.lists(st.lists(statements(), min_size=1, max_size=4), min_size=0, max_size=3)
requests_st = st.tuples(st.sampled_from(ACTIONS), st.sampled_from(RESOURCES), st.sampled_from(CONTEXTS))


def compile_all(policies: list[list[dict[str, Any]]]) -> tuple[Any, ...]:
    return tuple(parse_policy(json.dumps({"Version": "2012-10-17", "Statement": s}), PolicyKind.IDENTITY) for s in policies)


def decide(policies: list[list[dict[str, Any]]], request: tuple[str, str, dict[str, Any]],
           boundary: list[dict[str, Any]] | None = None) -> tuple[str, str | None]:
    action, resource, context = request
    bound = None if boundary is None else compile_all([boundary])[0]
    decision = evaluate(Request(action, resource, BOB, context), PolicySet(compile_all(policies), bound))
    return decision.result, decision.denied_by


@settings(max_examples=150, deadline=None)
@given(policies_st, statements(effect="Deny"), requests_st)
def test_an_added_deny_never_widens(policies: list[list[dict[str, Any]]], extra: dict[str, Any], request: Any) -> None:
    before = decide(policies, request)[0]
    after = decide([*policies, [extra]], request)[0]
    assert not (after == "allowed" and before != "allowed")


@settings(max_examples=150, deadline=None)
@given(policies_st, statements(effect="Allow"), requests_st)
def test_an_added_allow_never_narrows(policies: list[list[dict[str, Any]]], extra: dict[str, Any], request: Any) -> None:
    before = decide(policies, request)[0]
    after = decide([*policies, [extra]], request)[0]
    assert not (before == "allowed" and after != "allowed")
    if before == "explicitDeny":
        assert after == "explicitDeny"  # an explicit deny always wins


@settings(max_examples=150, deadline=None)
@given(policies_st, st.lists(statements(), min_size=1, max_size=3), requests_st)
def test_a_boundary_never_widens(policies: list[list[dict[str, Any]]], boundary: list[dict[str, Any]], request: Any) -> None:
    if decide(policies, request, boundary)[0] == "allowed":
        assert decide(policies, request)[0] == "allowed"


@settings(max_examples=150, deadline=None)
@given(policies_st, requests_st, st.randoms(use_true_random=False))
def test_statement_and_policy_order_never_matter(policies: list[list[dict[str, Any]]], request: Any, rng: Any) -> None:
    shuffled = [list(p) for p in policies]
    for statements_of_one in shuffled:
        rng.shuffle(statements_of_one)
    rng.shuffle(shuffled)
    assert decide(policies, request)[0] == decide(shuffled, request)[0]


def recase(rng: Any, text: str) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)


@settings(max_examples=150, deadline=None)
@given(policies_st, requests_st, st.randoms(use_true_random=False))
def test_action_matching_ignores_case(policies: list[list[dict[str, Any]]], request: Any, rng: Any) -> None:
    action, resource, context = request
    assert decide(policies, request)[0] == decide(policies, (recase(rng, action), resource, context))[0]


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="abcXYZ/-_09", min_size=1, max_size=12), st.randoms(use_true_random=False))
@example("key", None)
def test_resource_matching_respects_case(name: str, rng: Any) -> None:
    resource = f"arn:aws:s3:::bucket/{name}"
    other = f"arn:aws:s3:::bucket/{recase(rng, name) if rng else name.upper()}"
    grant = [[{"Effect": "Allow", "Action": "s3:GetObject", "Resource": resource}]]
    assert decide(grant, ("s3:GetObject", resource, {}))[0] == "allowed"
    assert (decide(grant, ("s3:GetObject", other, {}))[0] == "allowed") is (other == resource)


# --- differential check against a naive reference ----------------------------------------------


def _glob(pattern: str, value: str, fold: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL | (re.IGNORECASE if fold else 0)) is not None


def _values(context: dict[str, Any], key: str) -> list[str] | None:
    value = context.get(key)
    return None if value is None else list(value) if isinstance(value, list) else [str(value)]


def _test(operator: str, actual: str, wanted: str) -> bool:
    base = operator.split(":")[-1].replace("IfExists", "").replace("Not", "")
    if base == "IpAddress":
        return ipaddress.ip_address(actual) in ipaddress.ip_network(wanted)
    if base == "NumericLessThan":
        return float(actual) < float(wanted)
    if base == "StringLike":
        return _glob(wanted, actual, False)
    return actual == wanted  # StringEquals, Bool


def _reference_condition(operator: str, key: str, wanted: Any, context: dict[str, Any]) -> bool:
    wanted = wanted if isinstance(wanted, list) else [wanted]
    actual = _values(context, key)
    if operator == "Null":
        return (actual is None) == ("true" in wanted)
    negated = "Not" in operator.split(":")[-1]
    if not actual:
        return operator.endswith("IfExists") or operator.startswith("ForAllValues") or (negated and ":" not in operator)
    hits = [any(_test(operator, a, w) for w in wanted) for a in actual]
    if operator.startswith("ForAllValues"):
        return all(h != negated for h in hits)
    if operator.startswith("ForAnyValue"):
        return any(h != negated for h in hits)
    return not any(hits) if negated else any(hits)


def _reference_applies(statement: dict[str, Any], action: str, resource: str, context: dict[str, Any]) -> bool:
    actions = statement.get("Action", statement.get("NotAction"))
    if any(_glob(a, action, True) for a in actions) == ("NotAction" in statement):
        return False
    resources = statement.get("Resource", statement.get("NotResource"))
    if any(_glob(r, resource, False) for r in resources) == ("NotResource" in statement):
        return False
    return all(_reference_condition(op, key, wanted, context)
               for op, block in statement.get("Condition", {}).items() for key, wanted in block.items())


def reference(policies: list[list[dict[str, Any]]], request: tuple[str, str, dict[str, Any]]) -> str:
    applying = [s for p in policies for s in p if _reference_applies(s, *request)]
    if any(s["Effect"] == "Deny" for s in applying):
        return "explicitDeny"
    return "allowed" if applying else "implicitDeny"


@settings(max_examples=300, deadline=None)
@given(policies_st, requests_st)
def test_agrees_with_a_naive_reference(policies: list[list[dict[str, Any]]], request: Any) -> None:
    assert decide(policies, request)[0] == reference(policies, request)
