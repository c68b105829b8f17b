"""Who is calling: the Caller an authenticated request resolves to, and the policies that bind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from keyless.policy import Principal


@dataclass(frozen=True, slots=True)
class Caller:
    type: str  # "User" | "AssumedRole" | "Root" | "Anonymous" | "FederatedUser"
    account: str
    arn: str | None  # as AWS shows it: user ARN, assumed-role session ARN; None for anonymous
    user_id: str  # aws:userid: AIDA..., AROA...:session, account id for root, "anonymous"
    principal_arn: str | None = None  # aws:PrincipalArn: the role ARN for sessions
    username: str | None = None  # IAM users only
    access_key_id: str | None = None
    owner_kind: str | None = None  # "user" | "role": whose IAM policies apply
    owner_id: str | None = None
    session: Any = None  # keyless.credentials SessionClaims for temporary credentials
    tags: tuple[tuple[str, str], ...] = ()
    extra_context: tuple[tuple[str, Any], ...] = field(default=())
    # The caller as the policy engine sees it: built once, as every authorized request asks for it.
    principal: Principal = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "principal", Principal(
            arn=self.arn, principal_arn=self.principal_arn or self.arn, account=self.account, type=self.type))

    @property
    def is_anonymous(self) -> bool:
        return self.type == "Anonymous"


def anonymous(account: str) -> Caller:
    return Caller(type="Anonymous", account=account, arn=None, user_id="anonymous")
