"""Shared builders for the policy engine's unit tests."""

from __future__ import annotations

import json
from typing import Any

from keyless.policy import Decision, Policy, PolicyKind, PolicySet, Principal, Request, evaluate, parse_policy

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
BOB = Principal(arn=f"arn:aws:iam::{ACCOUNT}:user/bob", principal_arn=f"arn:aws:iam::{ACCOUNT}:user/bob",
                account=ACCOUNT, type="User")
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/app"
SESSION = Principal(arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s1", principal_arn=ROLE_ARN,
                    account=ACCOUNT, type="AssumedRole")
ROOT = Principal(arn=f"arn:aws:iam::{ACCOUNT}:root", principal_arn=f"arn:aws:iam::{ACCOUNT}:root",
                 account=ACCOUNT, type="Root")
STRANGER = Principal(arn=f"arn:aws:iam::{OTHER_ACCOUNT}:user/eve", principal_arn=f"arn:aws:iam::{OTHER_ACCOUNT}:user/eve",
                     account=OTHER_ACCOUNT, type="User")


def doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> str:
    body: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        body = {"Version": version, **body}
    return json.dumps(body)


def allow(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def policy(*statements: dict[str, Any], kind: PolicyKind = PolicyKind.IDENTITY, version: str | None = "2012-10-17",
           policy_id: str = "inline:user/bob/p") -> Policy:
    return parse_policy(doc(*statements, version=version), kind, name=policy_id.rsplit("/", 1)[-1], policy_id=policy_id)


def decide(statements: list[dict[str, Any]], action: str, resource: str = "*", context: dict[str, Any] | None = None,
           principal: Principal = BOB, version: str | None = "2012-10-17") -> Decision:
    return evaluate(Request(action, resource, principal, context or {}), PolicySet((policy(*statements, version=version),)))


def allowed(statements: list[dict[str, Any]], action: str, resource: str = "*", context: dict[str, Any] | None = None,
            principal: Principal = BOB, version: str | None = "2012-10-17") -> bool:
    return decide(statements, action, resource, context, principal, version).allowed
