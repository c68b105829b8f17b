"""Managed-policy attachments: Attach/Detach/ListAttached{Role,User}Policies, ListEntitiesForPolicy."""

from __future__ import annotations

from typing import Any

from keyless.services.base import RequestContext
from keyless.services.iam import entities, validate
from keyless.services.iam.errors import LimitExceeded, NoSuchEntity
from keyless.services.iam.inline import OWNERS
from keyless.services.iam.pagination import paginate
from keyless.store import iam as iam_store

__all__ = [
    "attach_role_policy", "detach_role_policy", "list_attached_role_policies",
    "attach_user_policy", "detach_user_policy", "list_attached_user_policies", "list_entities_for_policy",
]

POLICIES_PER_ENTITY = 10
QUOTA_NAME = {"role": "PoliciesPerRole", "user": "PoliciesPerUser"}


def _attach(kind: str, ctx: RequestContext, params: dict[str, Any]) -> None:
    name_member, find = OWNERS[kind]
    with ctx.state.db.begin() as conn:
        owner = find(conn, ctx, params[name_member])
        policy = entities.managed_policy(conn, ctx, params["PolicyArn"], attachable=True)
        if not iam_store.attach_policy_limited(conn, kind, owner["id"], policy["arn"], POLICIES_PER_ENTITY):
            raise LimitExceeded(f"Cannot exceed quota for {QUOTA_NAME[kind]}: {POLICIES_PER_ENTITY}")


def _detach(kind: str, ctx: RequestContext, params: dict[str, Any]) -> None:
    name_member, find = OWNERS[kind]
    arn = params["PolicyArn"]
    validate.policy_arn(arn)
    with ctx.state.db.begin() as conn:
        owner = find(conn, ctx, params[name_member])
        if not iam_store.detach_policy(conn, kind, owner["id"], arn):
            raise NoSuchEntity(f"Policy {arn} was not found.")


def _list_attached(kind: str, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    name_member, find = OWNERS[kind]
    prefix = validate.path_prefix(params)
    with ctx.state.db.read() as conn:
        owner = find(conn, ctx, params[name_member])
        attached = [entities.managed_policy(conn, ctx, arn) for arn in iam_store.attached_policy_arns(conn, kind, owner["id"])]
    attached = sorted((p for p in attached if p["path"].startswith(prefix)), key=lambda p: p["name"].lower())
    page, more = paginate(attached, params)
    return {"AttachedPolicies": [{"PolicyName": p["name"], "PolicyArn": p["arn"]} for p in page], **more}


def attach_role_policy(ctx: RequestContext, params: dict[str, Any]) -> None:
    _attach("role", ctx, params)


def detach_role_policy(ctx: RequestContext, params: dict[str, Any]) -> None:
    _detach("role", ctx, params)


def list_attached_role_policies(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return _list_attached("role", ctx, params)


def attach_user_policy(ctx: RequestContext, params: dict[str, Any]) -> None:
    _attach("user", ctx, params)


def detach_user_policy(ctx: RequestContext, params: dict[str, Any]) -> None:
    _detach("user", ctx, params)


def list_attached_user_policies(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return _list_attached("user", ctx, params)


def list_entities_for_policy(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Users and roles using the policy (no groups in keyless), filtered as the request asks."""
    entity_filter, usage = params.get("EntityFilter"), params.get("PolicyUsageFilter")
    prefix = validate.path_prefix(params)
    with ctx.state.db.read() as conn:
        policy = entities.managed_policy(conn, ctx, params["PolicyArn"])
        found = []
        if usage in (None, "PermissionsPolicy"):
            found += iam_store.policy_attachments(conn, policy["arn"])
        if usage in (None, "PermissionsBoundary"):
            found += iam_store.policy_boundary_users(conn, policy["arn"])
    wanted = {"User": {"user"}, "Role": {"role"}, "Group": set()}.get(entity_filter or "", {"user", "role"})
    unique = {(e["kind"], e["id"]): e for e in found if e["kind"] in wanted and e["path"].startswith(prefix)}
    ordered = sorted(unique.values(), key=lambda e: (e["kind"] != "user", e["name"].lower()))
    page, more = paginate(ordered, params)
    return {
        "PolicyGroups": [],
        "PolicyUsers": [{"UserName": e["name"], "UserId": e["id"]} for e in page if e["kind"] == "user"],
        "PolicyRoles": [{"RoleName": e["name"], "RoleId": e["id"]} for e in page if e["kind"] == "role"],
        **more,
    }
