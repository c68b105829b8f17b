"""Policy documents on their way into IAM: the engine's grammar check, then IAM's size quotas.

Sizes are counted as IAM counts them: characters, whitespace not included
(IAM User Guide, reference_iam-quotas.html).
"""

from __future__ import annotations

import json
from typing import Callable

from keyless.policy import PolicyError, PolicyKind, PolicySizeError, parse_policy, policy_size
from keyless.services.iam.errors import LimitExceeded, MalformedPolicyDocument

MANAGED_POLICY_SIZE = 6144
TRUST_POLICY_SIZE = 2048
INLINE_TOTAL = {"role": 10240, "user": 2048}


def check_grammar(document: str, kind: PolicyKind, *, size_limit: int | None = None, quota: str | None = None,
                  managed: bool = False) -> None:
    """The engine's validation (size first, then grammar, in IAM's order) with AWS's messages."""
    try:
        parse_policy(document, kind, size_limit=size_limit, quota=quota, managed=managed)
    except PolicySizeError as exc:
        raise LimitExceeded(exc.message) from None
    except PolicyError as exc:
        raise MalformedPolicyDocument(exc.message) from None


def check_managed(document: str) -> None:
    check_grammar(document, PolicyKind.IDENTITY, size_limit=MANAGED_POLICY_SIZE, quota="PolicySize", managed=True)


def check_trust(document: str, account: str, principal_exists: Callable[[str], bool]) -> None:
    """A role's trust policy: size, grammar, and principals of this account that must exist."""
    check_grammar(document, PolicyKind.TRUST, size_limit=TRUST_POLICY_SIZE, quota="ACLSizePerRole")
    for arn in _aws_principals(document):
        if _names_local_entity(arn, account) and not principal_exists(arn):
            raise MalformedPolicyDocument(f'Invalid principal in policy: "AWS":"{arn}"')


def check_inline_total(kind: str, owner_name: str, documents: list[str]) -> None:
    limit = INLINE_TOTAL[kind]
    if sum(policy_size(d) for d in documents) > limit:
        raise LimitExceeded(f"Maximum policy size of {limit} bytes exceeded for {kind} {owner_name}")


def _aws_principals(document: str) -> list[str]:
    statements = json.loads(document).get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    found: list[str] = []
    for statement in statements:
        principal = statement.get("Principal") if isinstance(statement, dict) else None
        if isinstance(principal, dict):
            values = principal.get("AWS", [])
            found.extend([values] if isinstance(values, str) else [v for v in values if isinstance(v, str)])
    return found


def _names_local_entity(arn: str, account: str) -> bool:
    """User and role ARNs of this account (IAM resolves them to unique ids when the policy is saved)."""
    return arn.startswith(f"arn:aws:iam::{account}:user/") or arn.startswith(f"arn:aws:iam::{account}:role/")
