"""Instance profiles: Create/Get/List/Delete, Add/RemoveRoleToInstanceProfile, ListInstanceProfilesForRole.

A profile holds at most one role; the store's primary key on the profile makes a concurrent
second Add fail the way AWS's quota does.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.exc import IntegrityError

from keyless import ids
from keyless.arn import iam_arn
from keyless.services.base import RequestContext
from keyless.services.iam import entities, shapes, validate
from keyless.services.iam.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from keyless.services.iam.pagination import paginate
from keyless.store import iam as iam_store

__all__ = [
    "create_instance_profile", "get_instance_profile", "list_instance_profiles", "delete_instance_profile",
    "add_role_to_instance_profile", "remove_role_from_instance_profile", "list_instance_profiles_for_role",
]

ROLES_PER_PROFILE = 1


def create_instance_profile(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    name, path = params["InstanceProfileName"], params.get("Path") or "/"
    validate.check_name(name, "instanceProfileName", 128)
    validate.check_path(path)
    tags = validate.tags_from(params, "InstanceProfile")
    row = {"id": ids.instance_profile_id(), "account": ctx.account, "name": name, "path": path,
           "arn": iam_arn(ctx.account, "instance-profile", name, path), "created": ctx.state.clock.time(),
           "tags": json.dumps(tags)}
    try:
        with ctx.state.db.begin() as conn:
            iam_store.insert_instance_profile(conn, **row)
    except IntegrityError:
        raise EntityAlreadyExists(f"Instance Profile {name} already exists.") from None
    return {"InstanceProfile": shapes.instance_profile(row, None)}


def get_instance_profile(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.state.db.read() as conn:
        row = entities.profile_named(conn, ctx, params["InstanceProfileName"])
        role = iam_store.instance_profile_role(conn, row["id"])
    return {"InstanceProfile": shapes.instance_profile(row, role)}


def list_instance_profiles(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    prefix = validate.path_prefix(params)
    with ctx.state.db.read() as conn:
        page, more = paginate(iam_store.list_instance_profiles(conn, ctx.account, prefix), params)
        roles = iam_store.profile_roles(conn, [p["id"] for p in page])
    return {"InstanceProfiles": [shapes.instance_profile(p, roles.get(p["id"])) for p in page], **more}


def delete_instance_profile(ctx: RequestContext, params: dict[str, Any]) -> None:
    with ctx.state.db.begin() as conn:
        row = entities.profile_named(conn, ctx, params["InstanceProfileName"])
        if iam_store.instance_profile_role(conn, row["id"]) is not None:
            raise DeleteConflict("Cannot delete entity, must remove roles from instance profile first.")
        iam_store.delete_instance_profile(conn, row["id"])


def add_role_to_instance_profile(ctx: RequestContext, params: dict[str, Any]) -> None:
    try:
        with ctx.state.db.begin() as conn:
            profile = entities.profile_named(conn, ctx, params["InstanceProfileName"])
            role = entities.role_named(conn, ctx, params["RoleName"])
            iam_store.add_role_to_instance_profile(conn, profile["id"], role["id"])
    except IntegrityError:
        raise LimitExceeded(f"Cannot exceed quota for InstanceSessionsPerInstanceProfile: {ROLES_PER_PROFILE}") from None


def remove_role_from_instance_profile(ctx: RequestContext, params: dict[str, Any]) -> None:
    with ctx.state.db.begin() as conn:
        profile = entities.profile_named(conn, ctx, params["InstanceProfileName"])
        role = entities.role_named(conn, ctx, params["RoleName"])
        if not iam_store.remove_role_from_instance_profile(conn, profile["id"], role["id"]):
            raise NoSuchEntity(f"The role with name {role['name']} cannot be found in instance profile {profile['name']}.")


def list_instance_profiles_for_role(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.state.db.read() as conn:
        role = entities.role_named(conn, ctx, params["RoleName"])
        profiles = iam_store.instance_profiles_for_role(conn, role["id"])
    page, more = paginate(profiles, params)
    return {"InstanceProfiles": [shapes.instance_profile(p, role) for p in page], **more}
