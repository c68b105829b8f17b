"""IAM access map: operation + input -> the action and resource ARN AWS authorizes.

Resources follow the IAM Service Authorization Reference: user operations act on the user's ARN,
role operations on the role's, policy operations on the policy ARN, instance-profile operations
on the profile's; account-level List* and SimulateCustomPolicy on "*". An existing entity's ARN
includes its path, so names resolve through a cache that lives until the next IAM write (the hot
path, e.g. GetRole, reads no row twice). iam:PassRole is not an API and is checked by EC2.

Condition keys set here: iam:PolicyARN (attach/detach), iam:PermissionsBoundary,
aws:RequestTag/K and aws:TagKeys (create/tag/untag), aws:ResourceTag/K and iam:ResourceTag/K
(existing users and roles).
"""

from __future__ import annotations

import json
from typing import Any, Callable

from keyless.arn import iam_arn
from keyless.services.base import AccessMap, RequestContext, Target
from keyless.store import iam as iam_store
from keyless.store.db import Database

USER_OPS = frozenset({
    "GetUser", "DeleteUser", "TagUser", "UntagUser", "ListUserTags", "PutUserPermissionsBoundary",
    "DeleteUserPermissionsBoundary", "PutUserPolicy", "GetUserPolicy", "ListUserPolicies", "DeleteUserPolicy",
    "AttachUserPolicy", "DetachUserPolicy", "ListAttachedUserPolicies", "CreateAccessKey", "ListAccessKeys",
    "UpdateAccessKey", "DeleteAccessKey", "UpdateUser",
})
ROLE_OPS = frozenset({
    "GetRole", "DeleteRole", "UpdateRole", "UpdateRoleDescription", "UpdateAssumeRolePolicy", "TagRole", "UntagRole",
    "ListRoleTags", "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary", "PutRolePolicy", "GetRolePolicy",
    "ListRolePolicies", "DeleteRolePolicy", "AttachRolePolicy", "DetachRolePolicy", "ListAttachedRolePolicies",
    "ListInstanceProfilesForRole",
})
POLICY_OPS = frozenset({
    "GetPolicy", "DeletePolicy", "CreatePolicyVersion", "GetPolicyVersion", "ListPolicyVersions",
    "DeletePolicyVersion", "SetDefaultPolicyVersion", "ListEntitiesForPolicy",
})
PROFILE_OPS = frozenset({
    "GetInstanceProfile", "DeleteInstanceProfile", "AddRoleToInstanceProfile", "RemoveRoleFromInstanceProfile",
})
CREATES = {"CreateUser": ("user", "UserName"), "CreateRole": ("role", "RoleName"),
           "CreatePolicy": ("policy", "PolicyName"), "CreateInstanceProfile": ("instance-profile", "InstanceProfileName")}

Entity = tuple[str, list[dict[str, str]]]  # (ARN, tags)


class EntityArns:
    """Name -> (ARN with path, tags) for users, roles and profiles, valid until the next IAM write."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._generation = -1
        self._cache: dict[tuple[str, str, str], Entity] = {}

    def lookup(self, kind: str, account: str, name: str) -> Entity:
        if self._generation != self._db.generation or len(self._cache) > 10_000:
            self._cache, self._generation = {}, self._db.generation
        key = (kind, account, name.lower())
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._load(kind, account, name)
        return hit

    def _load(self, kind: str, account: str, name: str) -> Entity:
        finders: dict[str, Callable[..., Any]] = {
            "user": iam_store.get_user, "role": iam_store.get_role, "instance-profile": iam_store.get_instance_profile}
        with self._db.read() as conn:
            row = finders[kind](conn, account, name)
        if row is None:  # AWS names a missing entity by its name at the root path
            return iam_arn(account, kind, name), []
        return row["arn"], list(json.loads(row.get("tags") or "[]"))


def access_map(db: Database) -> AccessMap:
    arns = EntityArns(db)

    def access(ctx: RequestContext, params: dict[str, Any]) -> list[Target]:
        action = f"iam:{ctx.operation}"
        resource, tags = _resource(ctx, params, arns)
        return [Target(action, resource, _context(ctx.operation, params, tags))]

    return access


def _resource(ctx: RequestContext, params: dict[str, Any], arns: EntityArns) -> Entity:
    op, account = ctx.operation, ctx.account
    if op in CREATES:
        kind, member = CREATES[op]
        return iam_arn(account, kind, params.get(member, ""), params.get("Path") or "/"), []
    if op in USER_OPS:
        name = params.get("UserName")
        if not name:  # the caller's own user
            return ctx.caller.arn or "*", list({"Key": k, "Value": v} for k, v in ctx.caller.tags)
        return arns.lookup("user", account, name)
    if op in ROLE_OPS:
        return arns.lookup("role", account, params.get("RoleName", ""))
    if op in PROFILE_OPS:
        return arns.lookup("instance-profile", account, params.get("InstanceProfileName", ""))
    if op in POLICY_OPS:
        return params.get("PolicyArn") or "*", []
    if op == "SimulatePrincipalPolicy":
        return params.get("PolicySourceArn") or "*", []
    if op == "GenerateServiceLastAccessedDetails":
        return params.get("Arn") or "*", []
    return "*", []


def _context(op: str, params: dict[str, Any], resource_tags: list[dict[str, str]]) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if op in ("AttachRolePolicy", "AttachUserPolicy", "DetachRolePolicy", "DetachUserPolicy"):
        context["iam:PolicyARN"] = params.get("PolicyArn")
    if params.get("PermissionsBoundary") and op not in ("CreatePolicy",):
        context["iam:PermissionsBoundary"] = params["PermissionsBoundary"]
    request_tags = params.get("Tags") or ()
    for tag in request_tags:
        context[f"aws:RequestTag/{tag['Key']}"] = tag.get("Value", "")
    if request_tags:
        context["aws:TagKeys"] = [t["Key"] for t in request_tags]
    if params.get("TagKeys"):
        context["aws:TagKeys"] = list(params["TagKeys"])
    for tag in resource_tags:
        context[f"aws:ResourceTag/{tag['Key']}"] = tag["Value"]
        context[f"iam:ResourceTag/{tag['Key']}"] = tag["Value"]
    return context
