"""Minting temporary credentials: the one place STS sessions are born (AssumeRole, GetSessionToken,
and the IMDS credential vendor, which issues a session of the instance's role named after it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from keyless.arn import assumed_role_arn
from keyless.credentials import SessionClaims, mint_session, new_access_key

if TYPE_CHECKING:
    from keyless.server.state import AppState


@dataclass(frozen=True)
class IssuedCredentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: float
    issued_at: float
    arn: str  # assumed-role session ARN (or the user ARN for GetSessionToken)
    principal_id: str  # AROA...:session (or the user id)


def issue_role_session(
    state: AppState,
    role: Mapping[str, Any],
    session_name: str,
    *,
    duration: int,
    session_policy: str | None = None,
    policy_arns: tuple[str, ...] = (),
    session_tags: Mapping[str, str] | None = None,
    source_identity: str | None = None,
    ec2: Mapping[str, str] | None = None,
    now: float | None = None,
) -> IssuedCredentials:
    now = state.clock.time() if now is None else now
    access_key_id, secret = new_access_key(temporary=True)
    # Principal tags: the role's tags, overridden by session tags (keys compared case-insensitively).
    tags = {t["Key"]: t["Value"] for t in json.loads(role.get("tags") or "[]")}
    for key, value in (session_tags or {}).items():
        for existing in [k for k in tags if k.lower() == key.lower()]:
            del tags[existing]
        tags[key] = value
    claims = SessionClaims(
        access_key_id=access_key_id,
        secret_access_key=secret,
        expiration=now + duration,
        issued_at=now,
        account=role["account"],
        principal_type="AssumedRole",
        principal_arn=assumed_role_arn(role["account"], role["name"], session_name),
        role_arn=role["arn"],
        role_id=role["id"],
        role_name=role["name"],
        session_name=session_name,
        user_id=None,
        source_identity=source_identity,
        session_tags=tags,
        session_policy=session_policy,
        policy_arns=tuple(policy_arns),
        mfa=False,
        ec2=dict(ec2) if ec2 else None,
    )
    token = mint_session(claims, state.master_key)
    return IssuedCredentials(access_key_id, secret, token, now + duration, now,
                             claims.principal_arn, f"{role['id']}:{session_name}")


def issue_user_session(state: AppState, user: Mapping[str, Any], *, duration: int) -> IssuedCredentials:
    now = state.clock.time()
    access_key_id, secret = new_access_key(temporary=True)
    claims = SessionClaims(
        access_key_id=access_key_id,
        secret_access_key=secret,
        expiration=now + duration,
        issued_at=now,
        account=user["account"],
        principal_type="User",
        principal_arn=user["arn"],
        role_arn=None,
        role_id=None,
        role_name=None,
        session_name=None,
        user_id=user["id"],
        source_identity=None,
        session_tags={},
        session_policy=None,
        policy_arns=(),
        mfa=False,
        ec2=None,
    )
    token = mint_session(claims, state.master_key)
    return IssuedCredentials(access_key_id, secret, token, now + duration, now, user["arn"], user["id"])
