"""`keyless policy simulate`: evaluate policy files locally, print the decision and why.

    keyless policy simulate --policy p.json --action s3:GetObject --resource arn:aws:s3:::b/k \\
        --context aws:SourceIp=ip:10.0.0.1 --context aws:TagKeys=stringList:a,b

Exit status 0 when every action is allowed, 1 when any is denied, 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from keyless.policy import PolicyError, PolicyKind, PolicySet, Request, SimulationInputError, evaluate, parse_policy, simulate
from keyless.policy.simulate import account_of, caller_principal, context_from_entries

_LIST_SEPARATOR = ","


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    policy = sub.add_parser("policy", help="work with IAM policy documents locally")
    commands = policy.add_subparsers(dest="policy_command", metavar="COMMAND")
    p = commands.add_parser("simulate", help="evaluate policies for actions on a resource, like iam simulate-custom-policy")
    p.add_argument("--policy", action="append", default=[], type=Path, metavar="FILE", help="identity policy (repeatable)")
    p.add_argument("--action", action="append", required=True, metavar="ACTION", help="e.g. s3:GetObject (repeatable)")
    p.add_argument("--resource", default="*", metavar="ARN", help="resource ARN (default *)")
    p.add_argument("--context", action="append", default=[], metavar="KEY=TYPE:VALUE",
                   help="context entry, e.g. aws:SourceIp=ip:10.0.0.1; list types take comma-separated values")
    p.add_argument("--resource-policy", type=Path, metavar="FILE", help="resource-based policy")
    p.add_argument("--boundary", type=Path, metavar="FILE", help="permissions boundary")
    p.add_argument("--caller", metavar="ARN", help="caller ARN (needed for a resource policy to name the caller)")
    p.add_argument("--resource-owner", metavar="ACCOUNT", help="account owning the resource (default: the caller's)")
    p.add_argument("--json", action="store_true", help="print SimulateCustomPolicy's EvaluationResults")
    p.set_defaults(func=run_simulate)
    policy.set_defaults(func=lambda args: policy.print_help(sys.stderr) or 2)
    _add_tools(commands)


def _add_tools(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """`generate`, `lint`, `unused` live in keyless.cli.policy_tools (audit-trail based)."""
    try:
        from keyless.cli.policy_tools import add_tool_commands
    except ModuleNotFoundError as exc:  # not built yet
        if exc.name != "keyless.cli.policy_tools":
            raise
        return
    add_tool_commands(commands)


def parse_context_entry(text: str) -> dict[str, Any]:
    """`key=type:value` (or `key=value` for a string) -> a botocore ContextEntry."""
    key, equals, rest = text.partition("=")
    if not equals or not key:
        raise SimulationInputError(f"--context wants KEY=TYPE:VALUE, got {text!r}")
    kind, colon, value = rest.partition(":")
    if not colon or kind not in _KNOWN_TYPES:
        kind, value = "string", rest
    values = value.split(_LIST_SEPARATOR) if kind.endswith("List") else [value]
    return {"ContextKeyName": key, "ContextKeyValues": values, "ContextKeyType": kind}


_KNOWN_TYPES = {"string", "stringList", "numeric", "numericList", "boolean", "booleanList", "ip", "ipList",
                "binary", "binaryList", "date", "dateList"}


def run_simulate(args: argparse.Namespace) -> int:
    try:
        entries = [parse_context_entry(c) for c in args.context]
        texts = [path.read_text() for path in args.policy]
        boundary = args.boundary.read_text() if args.boundary else None
        resource_policy = args.resource_policy.read_text() if args.resource_policy else None
        results = simulate(texts, args.action, resource_arns=None if args.resource == "*" else [args.resource],
                           boundary_inputs=[boundary] if boundary else [], resource_policy=resource_policy,
                           resource_owner=args.resource_owner, caller_arn=args.caller, context_entries=entries)
    except (PolicyError, SimulationInputError) as exc:
        print(f"error: {exc.code}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"EvaluationResults": results}, indent=2))
    else:
        _print_explanations(args, texts, boundary, resource_policy, entries)
    return 0 if all(r["EvalDecision"] == "allowed" for r in results) else 1


def _print_explanations(args: argparse.Namespace, texts: list[str], boundary: str | None,
                        resource_policy: str | None, entries: list[dict[str, Any]]) -> None:
    identity = tuple(parse_policy(t, PolicyKind.IDENTITY, name=str(p), policy_id=str(p)) for t, p in zip(texts, args.policy))
    policies = PolicySet(identity, parse_policy(boundary, PolicyKind.BOUNDARY, name=str(args.boundary),
                                                 policy_id=str(args.boundary)) if boundary else None)
    resource = None if resource_policy is None else parse_policy(
        resource_policy, PolicyKind.RESOURCE, name=str(args.resource_policy), policy_id=str(args.resource_policy))
    principal = caller_principal(args.caller, args.resource_owner)
    owner = (account_of(args.resource_owner) or principal.account) if resource is not None else None
    context = context_from_entries(entries)
    for action in args.action:
        decision = evaluate(Request(action, args.resource, principal, context), policies, resource, resource_account=owner)
        print(decision.explanation)
        if not decision.allowed:
            print(f"  AWS would say: {decision.aws_message(args.caller or 'anonymous', action, args.resource)}")
