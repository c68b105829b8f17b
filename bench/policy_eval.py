"""Policy evaluation throughput, single core: keyless's compiled engine vs a naive evaluator that
walks the (already JSON-parsed) documents per request, and vs moto's evaluator on the simple
cases moto supports. All in one run, on the same requests.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python -m bench.policy_eval [--seconds 2]

Issue 3's targets: >= 100,000 decisions/s for the realistic principal, >= 10x the naive
baseline, >= 3x moto on moto's cases. Before timing, every evaluator's decisions are checked
against keyless's, so the comparison is between evaluators that agree.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import json
import re
import time
from typing import Any, Callable

from keyless.policy import PolicyKind, PolicySet, Principal, Request, evaluate, parse_policy
from keyless.policy.evaluate import clear_plan_cache

ACCOUNT = "123456789012"
USER = Principal(arn=f"arn:aws:iam::{ACCOUNT}:user/alice", principal_arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
                 account=ACCOUNT, type="User")
CONTEXT = {  # what keyless.auth puts on a request signed with alice's long-term keys
    "aws:CurrentTime": "2026-03-01T12:00:00Z", "aws:EpochTime": "1772366400", "aws:SecureTransport": "true",
    "aws:SourceIp": "10.20.30.40", "aws:RequestedRegion": "us-east-1", "aws:PrincipalType": "User",
    "aws:userid": "AIDAEXAMPLEALICE12345", "aws:username": "alice", "aws:ViaAWSService": "false",
    "aws:PrincipalIsAWSService": "false", "aws:UserAgent": "aws-cli/2.15.0", "aws:PrincipalArn": USER.arn,
    "aws:PrincipalAccount": ACCOUNT, "aws:PrincipalTag/team": "data",
}


def statement(effect: str, action: Any, resource: Any, condition: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    body = {"Effect": effect, "Action": action, "Resource": resource, **extra}
    if condition:
        body["Condition"] = condition
    return body


# Five policies, 40 statements: a developer's managed policies plus guard rails, in the style of
# AWS's documented examples (self-service credentials, home folders, tag- and network-based rules).
REALISTIC: list[list[dict[str, Any]]] = [
    [  # DeveloperS3 (8)
        statement("Allow", ["s3:ListAllMyBuckets", "s3:GetBucketLocation"], "*"),
        statement("Allow", "s3:ListBucket", "arn:aws:s3:::team-data",
                  {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}}),
        statement("Allow", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "arn:aws:s3:::team-data/home/${aws:username}/*"),
        statement("Allow", "s3:GetObject", ["arn:aws:s3:::team-data/shared/*", "arn:aws:s3:::public-assets/*"]),
        statement("Allow", ["s3:Get*", "s3:List*"], "arn:aws:s3:::build-artifacts*"),
        statement("Allow", "s3:PutObject", "arn:aws:s3:::build-artifacts/${aws:PrincipalTag/team}/*",
                  {"StringEquals": {"s3:x-amz-server-side-encryption": "AES256"}}),
        statement("Deny", "s3:DeleteBucket", "*"),
        statement("Deny", "s3:*", "arn:aws:s3:::audit-logs*", {"StringNotEquals": {"aws:PrincipalTag/team": "security"}}),
    ],
    [  # EC2Operator (9)
        statement("Allow", ["ec2:Describe*", "ec2:Get*"], "*"),
        statement("Allow", ["ec2:StartInstances", "ec2:StopInstances", "ec2:RebootInstances"], f"arn:aws:ec2:*:{ACCOUNT}:instance/*",
                  {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}),
        statement("Allow", "ec2:RunInstances", [f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/*", "arn:aws:ec2:us-east-1::image/ami-*",
                                                f"arn:aws:ec2:us-east-1:{ACCOUNT}:subnet/*", f"arn:aws:ec2:us-east-1:{ACCOUNT}:network-interface/*",
                                                f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/*", f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/*"],
                  {"StringEqualsIfExists": {"ec2:InstanceType": ["t3.micro", "t3.small", "t3.medium"]}}),
        statement("Allow", "ec2:CreateTags", f"arn:aws:ec2:*:{ACCOUNT}:*/*",
                  {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env", "owner"]}}),
        statement("Allow", "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/app-*",
                  {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
        statement("Deny", "ec2:TerminateInstances", "*", {"StringNotEquals": {"aws:ResourceTag/env": "dev"}}),
        statement("Deny", ["ec2:*Vpc*", "ec2:*Subnet*", "ec2:*Gateway*"], "*"),
        statement("Deny", "ec2:RunInstances", f"arn:aws:ec2:*:{ACCOUNT}:instance/*",
                  {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}),
        statement("Allow", ["cloudwatch:GetMetric*", "cloudwatch:ListMetrics"], "*"),
    ],
    [  # ManageOwnCredentials (8): the IAM guide's self-service example
        statement("Allow", ["iam:GetAccountPasswordPolicy", "iam:GetAccountSummary", "iam:ListVirtualMFADevices"], "*"),
        statement("Allow", ["iam:ChangePassword", "iam:GetUser"], "arn:aws:iam::*:user/${aws:username}"),
        statement("Allow", ["iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:ListAccessKeys", "iam:UpdateAccessKey"],
                  "arn:aws:iam::*:user/${aws:username}"),
        statement("Allow", ["iam:DeleteSigningCertificate", "iam:ListSigningCertificates", "iam:UploadSigningCertificate"],
                  "arn:aws:iam::*:user/${aws:username}"),
        statement("Allow", ["iam:DeleteSSHPublicKey", "iam:GetSSHPublicKey", "iam:ListSSHPublicKeys", "iam:UploadSSHPublicKey"],
                  "arn:aws:iam::*:user/${aws:username}"),
        statement("Allow", ["iam:CreateVirtualMFADevice", "iam:DeleteVirtualMFADevice"], "arn:aws:iam::*:mfa/${aws:username}"),
        statement("Allow", ["iam:DeactivateMFADevice", "iam:EnableMFADevice", "iam:ListMFADevices", "iam:ResyncMFADevice"],
                  "arn:aws:iam::*:user/${aws:username}"),
        statement("Allow", ["iam:List*", "iam:Get*"], f"arn:aws:iam::{ACCOUNT}:role/app-*"),
    ],
    [  # DataServices (8)
        statement("Allow", ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"], f"arn:aws:dynamodb:*:{ACCOUNT}:table/orders*"),
        statement("Allow", ["dynamodb:PutItem", "dynamodb:UpdateItem"], f"arn:aws:dynamodb:*:{ACCOUNT}:table/orders",
                  {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["${aws:userid}*"]}}),
        statement("Allow", ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"], f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs-*"),
        statement("Allow", "sns:Publish", f"arn:aws:sns:*:{ACCOUNT}:alerts"),
        statement("Allow", ["logs:CreateLogStream", "logs:PutLogEvents"], f"arn:aws:logs:*:{ACCOUNT}:log-group:/app/*"),
        statement("Allow", ["kms:Decrypt", "kms:GenerateDataKey"], f"arn:aws:kms:us-east-1:{ACCOUNT}:key/*",
                  {"StringLike": {"kms:ViaService": ["s3.*.amazonaws.com", "dynamodb.*.amazonaws.com"]}}),
        statement("Allow", "secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:app/*",
                  {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}),
        statement("Deny", "dynamodb:DeleteTable", "*"),
    ],
    [  # Guardrails (7), inline
        statement("Deny", "*", "*", {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]},
                                     "Bool": {"aws:ViaAWSService": "false"}}),
        statement("Deny", "*", "*", {"Bool": {"aws:SecureTransport": "false"}}),
        {"Effect": "Deny", "NotAction": ["iam:*", "sts:*", "s3:*", "ec2:*", "dynamodb:*", "sqs:*", "sns:*", "logs:*",
                                         "kms:*", "secretsmanager:*", "cloudwatch:*"], "Resource": "*"},
        statement("Deny", ["iam:CreateUser", "iam:AttachUserPolicy", "iam:PutUserPolicy", "iam:CreatePolicyVersion"], "*"),
        statement("Deny", "iam:*", f"arn:aws:iam::{ACCOUNT}:role/admin*"),
        statement("Deny", ["kms:ScheduleKeyDeletion", "kms:DisableKey"], "*"),
        statement("Allow", ["sts:GetCallerIdentity", "sts:AssumeRole"], ["*", f"arn:aws:iam::{ACCOUNT}:role/app-*"],
                  {"Null": {"aws:username": "false"}}),
    ],
]

REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("s3:ListAllMyBuckets", "*", {}),
    ("s3:ListBucket", "arn:aws:s3:::team-data", {"s3:prefix": "home/alice/"}),
    ("s3:ListBucket", "arn:aws:s3:::team-data", {"s3:prefix": "home/bob/"}),
    ("s3:GetObject", "arn:aws:s3:::team-data/home/alice/notes.txt", {}),
    ("s3:PutObject", "arn:aws:s3:::team-data/home/bob/notes.txt", {}),
    ("s3:GetObject", "arn:aws:s3:::build-artifacts/data/app.zip", {}),
    ("s3:PutObject", "arn:aws:s3:::build-artifacts/data/app.zip", {"s3:x-amz-server-side-encryption": "AES256"}),
    ("s3:GetObject", "arn:aws:s3:::audit-logs/2026/03/01.log", {}),
    ("ec2:DescribeInstances", "*", {}),
    ("ec2:StartInstances", f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0abc", {"aws:ResourceTag/team": "data"}),
    ("ec2:StopInstances", f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0def", {"aws:ResourceTag/team": "web"}),
    ("ec2:RunInstances", f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/*", {"ec2:InstanceType": "t3.micro"}),
    ("ec2:TerminateInstances", f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0abc", {"aws:ResourceTag/env": "prod"}),
    ("ec2:CreateVpc", f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/*", {}),
    ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/app-web", {"iam:PassedToService": "ec2.amazonaws.com"}),
    ("iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/alice", {}),
    ("iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/bob", {}),
    ("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/mallory", {}),
    ("dynamodb:Query", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders", {}),
    ("dynamodb:PutItem", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders", {"dynamodb:LeadingKeys": ["AIDAEXAMPLEALICE12345#1"]}),
    ("kms:Decrypt", f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234", {"kms:ViaService": "s3.us-east-1.amazonaws.com"}),
    ("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:app/db-AbCdEf", {}),
    ("lambda:InvokeFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f", {}),
    ("sts:GetCallerIdentity", "*", {}),
]


# --- the naive baseline: the same semantics, interpreting the parsed JSON on every request -------


def naive_glob(pattern: str, value: str, fold: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL | (re.IGNORECASE if fold else 0)) is not None


def naive_substitute(text: str, context: dict[str, Any]) -> str | None:
    lowered = {k.lower(): v for k, v in context.items()}
    for match in re.finditer(r"\$\{([^}]*)\}", text):
        value = lowered.get(match.group(1).lower())
        if value is None or isinstance(value, list):
            return None
        text = text.replace(match.group(0), value)
    return text


def naive_test(operator: str, actual: str, wanted: str) -> bool:
    if operator in ("IpAddress", "NotIpAddress"):
        return ipaddress.ip_address(actual) in ipaddress.ip_network(wanted)
    if operator.startswith("Date"):
        from datetime import datetime
        a, w = datetime.fromisoformat(actual).timestamp(), datetime.fromisoformat(wanted).timestamp()
        return {"DateLessThan": a < w, "DateGreaterThan": a > w}.get(operator, a == w)
    if operator in ("StringLike", "StringNotLike"):
        return naive_glob(wanted, actual, False)
    if operator == "Bool":
        return actual.lower() == wanted.lower()
    return actual == wanted


def naive_condition(operator: str, key: str, wanted: Any, context: dict[str, Any]) -> bool:
    lowered = {k.lower(): v for k, v in context.items()}
    raw = lowered.get(key.lower())
    actual = None if raw is None else raw if isinstance(raw, list) else [raw]
    wanted = [w for w in ([naive_substitute(v, context) for v in (wanted if isinstance(wanted, list) else [wanted])]) if w is not None]
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if base == "Null":
        return (actual is None) == ("true" in wanted)
    negated = "Not" in base
    if not actual:
        return if_exists or qualifier == "ForAllValues" or (negated and not qualifier)
    hits = [any(naive_test(base, a, w) for w in wanted) for a in actual]
    if qualifier == "ForAllValues":
        return all(h != negated for h in hits)
    if qualifier == "ForAnyValue":
        return any(h != negated for h in hits)
    return not any(hits) if negated else any(hits)


def naive_applies(statement: dict[str, Any], action: str, resource: str, context: dict[str, Any]) -> bool:
    actions = statement.get("Action", statement.get("NotAction"))
    actions = actions if isinstance(actions, list) else [actions]
    if any(naive_glob(a, action, True) for a in actions) == ("NotAction" in statement):
        return False
    resources = statement.get("Resource", statement.get("NotResource"))
    resources = resources if isinstance(resources, list) else [resources]
    patterns = [p for p in (naive_substitute(r, context) for r in resources) if p is not None]
    if any(naive_glob(r, resource, False) for r in patterns) == ("NotResource" in statement):
        return False
    return all(naive_condition(op, key, wanted, context)
               for op, block in statement.get("Condition", {}).items() for key, wanted in block.items())


def naive_evaluate(documents: list[dict[str, Any]], action: str, resource: str, context: dict[str, Any]) -> str:
    allowed = False
    for document in documents:
        statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
        for statement in statements:
            if naive_applies(statement, action, resource, context):
                if statement["Effect"] == "Deny":
                    return "explicitDeny"
                allowed = True
    return "allowed" if allowed else "implicitDeny"


# --- moto's cases: no conditions, no variables, no resource policies ----------------------------


def simple_policies() -> list[list[dict[str, Any]]]:
    keep = []
    for statements in REALISTIC:
        plain = [s for s in statements if "Condition" not in s and "${" not in json.dumps(s)]
        keep.append(plain)
    return keep


def moto_evaluator() -> tuple[Callable[[list[str], str, str], str], Callable[[list[Any], str, str], str]] | None:
    try:
        from moto.iam.access_control import IAMPolicy, PermissionResult
    except ImportError:
        return None

    def as_moto_runs(texts: list[str], action: str, resource: str) -> str:
        # moto.iam.access_control.IAMRequestBase.check_action_permitted builds IAMPolicy per request.
        permitted = False
        for text in texts:
            result = IAMPolicy(text).is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                return "explicitDeny"
            permitted = permitted or result == PermissionResult.PERMITTED
        return "allowed" if permitted else "implicitDeny"

    def preparsed(policies: list[Any], action: str, resource: str) -> str:
        permitted = False
        for policy in policies:
            result = policy.is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                return "explicitDeny"
            permitted = permitted or result == PermissionResult.PERMITTED
        return "allowed" if permitted else "implicitDeny"

    preparsed.make = IAMPolicy  # type: ignore[attr-defined]
    return as_moto_runs, preparsed


# --- timing ----------------------------------------------------------------------------------------


def rate(run_once: Callable[[], None], per_run: int, seconds: float) -> float:
    """Decisions per second: the best of five rounds of about seconds/5 each."""
    best = 0.0
    for _ in range(5):
        gc.collect()
        runs, start = 0, time.perf_counter()
        deadline = start + seconds / 5
        while time.perf_counter() < deadline:
            run_once()
            runs += 1
        best = max(best, runs * per_run / (time.perf_counter() - start))
    return best


def compile_set(policies: list[list[dict[str, Any]]]) -> tuple[list[str], PolicySet]:
    texts = [json.dumps({"Version": "2012-10-17", "Statement": s}) for s in policies]
    compiled = tuple(parse_policy(t, PolicyKind.IDENTITY, name=f"p{i}", policy_id=f"p{i}") for i, t in enumerate(texts))
    return texts, PolicySet(compiled)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement (default 2)")
    args = parser.parse_args()

    texts, policy_set = compile_set(REALISTIC)
    documents = [json.loads(t) for t in texts]
    requests = [(action, resource, {**CONTEXT, **extra}) for action, resource, extra in REQUESTS]
    engine_requests = [Request(a, r, USER, c) for a, r, c in requests]
    statements = sum(len(p.statements) for p in policy_set.identity)

    decisions = [evaluate(r, policy_set).result for r in engine_requests]
    naive = [naive_evaluate(documents, a, r, c) for a, r, c in requests]
    if decisions != naive:
        raise SystemExit(f"naive baseline disagrees: {list(zip(REQUESTS, decisions, naive))}")

    def keyless_once() -> None:
        for request in engine_requests:
            evaluate(request, policy_set)

    def keyless_with_request_once() -> None:  # as the server calls it: a Request built per decision
        for action, resource, context in requests:
            evaluate(Request(action, resource, USER, context), policy_set)

    def keyless_cold_once() -> None:  # worst case: per-action caches empty on every decision
        for request in engine_requests:
            for p in policy_set.identity:
                p.by_action.clear()
            clear_plan_cache()
            evaluate(request, policy_set)

    def naive_once() -> None:
        for action, resource, context in requests:
            naive_evaluate(documents, action, resource, context)

    n = len(requests)
    results = {
        "keyless": rate(keyless_once, n, args.seconds),
        "keyless, Request built per call": rate(keyless_with_request_once, n, args.seconds),
        "keyless, per-action cache cold": rate(keyless_cold_once, n, args.seconds),
        "naive baseline": rate(naive_once, n, args.seconds),
    }
    allowed = decisions.count("allowed")
    print(f"realistic principal: {len(policy_set.identity)} policies, {statements} statements; "
          f"{n} requests ({allowed} allowed, {decisions.count('explicitDeny')} explicit deny, "
          f"{decisions.count('implicitDeny')} implicit deny)")
    for name, value in results.items():
        print(f"  {name:36s} {value:>12,.0f} decisions/s")
    print(f"  keyless / naive: {results['keyless'] / results['naive baseline']:.1f}x")

    moto = moto_evaluator()
    if moto is None:
        print("moto not installed: pip install -e '.[bench]' for the moto comparison")
        return
    as_moto_runs, preparsed = moto
    simple_texts, simple_set = compile_set(simple_policies())
    moto_policies = [preparsed.make(t) for t in simple_texts]  # type: ignore[attr-defined]
    simple_requests = [(a, r) for a, r, _ in REQUESTS]
    simple_engine = [Request(a, r, USER, CONTEXT) for a, r in simple_requests]
    ours = [evaluate(r, simple_set).result for r in simple_engine]
    theirs = [as_moto_runs(simple_texts, a, r) for a, r in simple_requests]
    if ours != theirs:
        raise SystemExit(f"moto disagrees: {[(q, o, t) for q, o, t in zip(simple_requests, ours, theirs) if o != t]}")

    def keyless_simple_once() -> None:
        for request in simple_engine:
            evaluate(request, simple_set)

    def moto_once() -> None:
        for action, resource in simple_requests:
            as_moto_runs(simple_texts, action, resource)

    def moto_preparsed_once() -> None:
        for action, resource in simple_requests:
            preparsed(moto_policies, action, resource)

    m = len(simple_requests)
    simple = {
        "keyless": rate(keyless_simple_once, m, args.seconds),
        "moto (IAMPolicy per request, as moto does)": rate(moto_once, m, args.seconds),
        "moto (IAMPolicy parsed once)": rate(moto_preparsed_once, m, args.seconds),
    }
    statements = sum(len(p.statements) for p in simple_set.identity)
    print(f"moto's cases (same policies without conditions/variables: {statements} statements; {m} requests)")
    for name, value in simple.items():
        print(f"  {name:44s} {value:>12,.0f} decisions/s")
    print(f"  keyless / moto: {simple['keyless'] / simple['moto (IAMPolicy per request, as moto does)']:.1f}x, "
          f"keyless / moto parsed once: {simple['keyless'] / simple['moto (IAMPolicy parsed once)']:.1f}x")


if __name__ == "__main__":
    main()
