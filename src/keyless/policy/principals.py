"""Who is calling, and how a policy's Principal / NotPrincipal element names them [pr, np].

A resource policy can name the caller in three ways, and AWS treats them differently [eval]:
  EXACT    the user ARN, the role-session ARN, a federated-user ARN, a service, or "*":
           within the account this grants on its own
  ROLE     the role ARN of a role session: still cut by a boundary or session policy
  ACCOUNT  the account (`"123456789012"` or `arn:aws:iam::123456789012:root`): only delegates,
           the caller's identity policies must allow too
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

EXACT, ROLE, ACCOUNT = "exact", "role", "account"
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")

_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_ROOT_ARN = re.compile(r"arn:[a-z-]+:iam::([0-9]{12}):root")
_AWS_ARN = re.compile(
    r"arn:[a-z-]+:(?:iam::[0-9]{12}:(?:user|role|group)/\S+|sts::[0-9]{12}:(?:assumed-role/[^/\s]+/\S+|federated-user/\S+))"
)
_UNIQUE_ID = re.compile(r"A[A-Z0-9]{15,127}")  # trust policies keep ids of deleted principals [pr]


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller as the engine sees it (see keyless.auth for how it is built)."""

    arn: str | None  # user ARN, role-session ARN, root ARN; None when anonymous
    principal_arn: str | None = None  # aws:PrincipalArn: the role ARN for role sessions
    account: str | None = None
    type: str = "User"  # User | AssumedRole | Root | FederatedUser | Anonymous | Service
    service: str | None = None  # "ec2.amazonaws.com" for Service principals

    @property
    def is_anonymous(self) -> bool:
        return self.type == "Anonymous" or (self.arn is None and self.type != "Service")


ANONYMOUS = Principal(arn=None, type="Anonymous")


@dataclass(frozen=True, slots=True)
class PrincipalSpec:
    everyone: bool
    aws: frozenset[str]
    accounts: frozenset[str]
    services: frozenset[str]  # lower-case
    federated: frozenset[str]
    canonical: frozenset[str]

    @classmethod
    def from_element(cls, element: Any) -> PrincipalSpec:
        """From a validated Principal/NotPrincipal value: "*" or {"AWS": ..., "Service": ...}."""
        if element == "*":
            return cls(True, frozenset(), frozenset(), frozenset(), frozenset(), frozenset())
        values = {kind: _strings(element.get(kind)) for kind in PRINCIPAL_TYPES}
        aws = values["AWS"]
        accounts = {_account_of(value) for value in aws} - {None}
        return cls(
            everyone="*" in aws,
            aws=frozenset(aws),
            accounts=frozenset(a for a in accounts if a),
            services=frozenset(v.lower() for v in values["Service"]),
            federated=frozenset(values["Federated"]),
            canonical=frozenset(values["CanonicalUser"]),
        )

    def grant(self, principal: Principal) -> str | None:
        """How this element names the caller: EXACT, ROLE, ACCOUNT, or None."""
        if self.everyone:
            return EXACT
        if principal.type == "Service" or principal.type == "Federated":
            names = self.services if principal.type == "Service" else self.federated
            service = principal.service or ""
            return EXACT if (service.lower() if principal.type == "Service" else service) in names else None
        if principal.arn is None:
            return None
        if principal.arn in self.aws:
            return EXACT
        if principal.principal_arn and principal.principal_arn != principal.arn and principal.principal_arn in self.aws:
            return ROLE
        if principal.account and principal.account in self.accounts:
            return ACCOUNT
        return None

    def names_every_identity(self, principal: Principal) -> bool:
        """For NotPrincipal: a caller escapes only if the session, its role and its account are
        all listed (a role session has all three identities) [np]."""
        if self.everyone:
            return True
        if principal.type == "Service":
            return (principal.service or "").lower() in self.services
        if principal.arn is None:
            return False
        identities_listed = [principal.arn in self.aws or principal.type == "Root" and principal.account in self.accounts]
        if principal.principal_arn and principal.principal_arn != principal.arn:
            identities_listed.append(principal.principal_arn in self.aws)
        identities_listed.append(bool(principal.account) and principal.account in self.accounts)
        return all(identities_listed)


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _account_of(value: str) -> str | None:
    if _ACCOUNT_ID.fullmatch(value):
        return value
    match = _ROOT_ARN.fullmatch(value)
    return match.group(1) if match else None


def invalid_principal(kind: str, values: Iterable[str]) -> str | None:
    """AWS's message for the first principal value it would refuse, if any."""
    for value in values:
        if kind == "AWS":
            ok = value == "*" or bool(
                _ACCOUNT_ID.fullmatch(value) or _ROOT_ARN.fullmatch(value) or _AWS_ARN.fullmatch(value)
                or _UNIQUE_ID.fullmatch(value)
            ) and "*" not in value
        else:
            ok = bool(value.strip()) and " " not in value
        if not ok:
            return f'Invalid principal in policy: "{kind.upper()}":"{value}"'
    return None
