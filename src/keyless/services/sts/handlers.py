"""STS handlers: one function per operation, returning dicts shaped like botocore's output shapes."""

from __future__ import annotations

import json
import zlib
from datetime import datetime, timezone
from typing import Any

from keyless import errors
from keyless.arn import Arn
from keyless.auth.policies import compiled
from keyless.policy import PolicyError, PolicyKind, Request, evaluate_trust, parse_policy
from keyless.services.base import RequestContext, Target, access_denied, enforce
from keyless.services.sts.sessions import IssuedCredentials, issue_role_session, issue_user_session
from keyless.store import aws_managed
from keyless.store import iam as iam_store


class MalformedPolicyDocument(errors.AwsError):
    code = "MalformedPolicyDocument"
    status = 400


class InvalidAuthorizationMessageException(errors.AwsError):
    code = "InvalidAuthorizationMessageException"
    status = 400


class PackedPolicyTooLarge(errors.AwsError):
    code = "PackedPolicyTooLarge"
    status = 400


SESSION_POLICY_LIMIT = 2048  # plaintext of the inline session policy plus managed ARNs
PACKED_LIMIT = 2048  # compressed bytes of session policies and tags (see _packed_size)


def get_caller_identity(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    caller = ctx.caller
    return {"UserId": caller.user_id, "Account": caller.account, "Arn": caller.arn}


def get_session_token(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    caller = ctx.caller
    if caller.session is not None:
        raise errors.AccessDenied("Cannot call GetSessionToken with session credentials")
    duration = params.get("DurationSeconds", 43200)
    with ctx.state.db.read() as conn:
        user = iam_store.get_user_by_id(conn, caller.owner_id or "")
    if user is None:
        raise errors.InvalidClientTokenId("The security token included in the request is invalid.")
    return {"Credentials": _credentials(issue_user_session(ctx.state, user, duration=duration))}


def assume_role(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    role_arn, session_name = params["RoleArn"], params["RoleSessionName"]
    session_policy = params.get("Policy")
    policy_arns = tuple(p["arn"] for p in params.get("PolicyArns") or ())
    tags = {t["Key"]: t["Value"] for t in params.get("Tags") or ()}
    packed_percent = _packed_size(session_policy, policy_arns, tags)
    role = _trusting_role(ctx, role_arn, params)
    duration = _duration(ctx, role, params.get("DurationSeconds"))
    _check_session_policies(ctx, session_policy, policy_arns)
    source_identity = params.get("SourceIdentity")
    if ctx.caller.session is not None and getattr(ctx.caller.session, "source_identity", None):
        source_identity = ctx.caller.session.source_identity  # sticks across role chaining
    issued = issue_role_session(
        ctx.state, role, session_name, duration=duration, session_policy=session_policy,
        policy_arns=policy_arns, session_tags=tags, source_identity=source_identity,
    )
    out: dict[str, Any] = {
        "Credentials": _credentials(issued),
        "AssumedRoleUser": {"AssumedRoleId": issued.principal_id, "Arn": issued.arn},
    }
    if session_policy or policy_arns or tags:
        out["PackedPolicySize"] = packed_percent
    if source_identity:
        out["SourceIdentity"] = source_identity
    return out


def _trusting_role(ctx: RequestContext, role_arn: str, params: dict[str, Any]) -> dict[str, Any]:
    """The role, if its trust policy (and, where needed, the caller's own policies) let the caller in."""
    with ctx.state.db.read() as conn:
        role = iam_store.get_role_by_arn(conn, role_arn)
    if role is None:  # AWS does not reveal whether the role exists
        raise errors.AccessDenied(f"User: {ctx.caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}")
    context = dict(ctx.context_keys)
    context["sts:RoleSessionName"] = params["RoleSessionName"]
    if params.get("ExternalId") is not None:
        context["sts:ExternalId"] = params["ExternalId"]
    if params.get("SourceIdentity") is not None:
        context["sts:SourceIdentity"] = params["SourceIdentity"]
    tags = params.get("Tags") or ()
    for tag in tags:
        context[f"aws:RequestTag/{tag['Key']}"] = tag["Value"]
    if tags:
        context["aws:TagKeys"] = [t["Key"] for t in tags]
    trust = compiled(role["trust_policy"], PolicyKind.TRUST, "trust", role_arn)
    policies = ctx.state.policies.policy_set(ctx.caller)
    # Passing session tags is its own permission: the trust policy must also allow sts:TagSession.
    for action in ("sts:AssumeRole", "sts:TagSession") if tags else ("sts:AssumeRole",):
        request = Request(action=action, resource=role_arn, principal=ctx.caller.principal, context=context)
        decision = evaluate_trust(request, trust, policies, role_account=role["account"])
        enforce(ctx, access_denied, decision, Target(action, role_arn))
    return role


def _packed_size(policy: str | None, arns: tuple[str, ...], tags: dict[str, str]) -> int:
    """PackedPolicySize: how full, in percent, the compressed session policies and tags are.

    AWS packs them into the session token and refuses what does not fit (PackedPolicyTooLarge);
    its budget is undocumented. keyless's is PACKED_LIMIT compressed bytes, which keeps every
    token it issues well inside the 8 KiB a request header line may carry.
    """
    packed = zlib.compress(json.dumps([policy or "", arns, sorted(tags.items())]).encode(), 9)
    percent = -(-len(packed) * 100 // PACKED_LIMIT)
    if percent > 100:
        raise PackedPolicyTooLarge(f"Packed size of session policies and tags ({percent}% of the limit) exceeds the limit.")
    return percent


def _duration(ctx: RequestContext, role: dict[str, Any], requested: int | None) -> int:
    duration = 3600 if requested is None else requested
    if duration > role["max_session_duration"]:
        raise errors.ValidationError("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    if ctx.caller.type == "AssumedRole" and duration > 3600:
        raise errors.ValidationError("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
    return duration


def _check_session_policies(ctx: RequestContext, policy: str | None, arns: tuple[str, ...]) -> None:
    if policy is not None:
        try:
            parse_policy(policy, PolicyKind.SESSION)
        except PolicyError as exc:
            raise MalformedPolicyDocument(exc.message) from None
        if len("".join(policy.split())) + sum(len(a) for a in arns) > SESSION_POLICY_LIMIT:
            raise PackedPolicyTooLarge("Packed size of session policies and tags exceeds the limit.")
    with ctx.state.db.read() as conn:
        for arn in arns:
            try:
                Arn.parse(arn)
            except ValueError:
                raise errors.InvalidParameterValue(f"Invalid policy ARN: {arn}") from None
            if aws_managed.get(arn) is None and iam_store.get_managed_policy(conn, arn) is None:
                raise errors.InvalidParameterValue(f"Policy {arn} does not exist or is not attachable.")


def _credentials(issued: IssuedCredentials) -> dict[str, Any]:
    return {
        "AccessKeyId": issued.access_key_id,
        "SecretAccessKey": issued.secret_access_key,
        "SessionToken": issued.session_token,
        "Expiration": datetime.fromtimestamp(issued.expiration, tz=timezone.utc),
    }


def decode_authorization_message(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """The decision behind an EC2 UnauthorizedOperation's "Encoded authorization failure message"."""
    from keyless.services.ec2.authorization import decode_authorization_message as decode

    try:
        document = decode(params["EncodedMessage"], ctx.state.master_key)
    except Exception:  # anything not sealed by this server's key
        raise InvalidAuthorizationMessageException("The encoded authorization message is invalid.") from None
    return {"DecodedMessage": json.dumps(document)}
