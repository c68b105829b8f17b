"""IAM roles: Create/Get/List/Delete, updates, trust policy, tags and permissions boundaries."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from keyless import ids
from keyless.arn import iam_arn
from keyless.services.base import RequestContext
from keyless.services.iam import documents, entities, shapes, validate
from keyless.services.iam.errors import DeleteConflict, EntityAlreadyExists
from keyless.services.iam.pagination import paginate
from keyless.store import iam as iam_store

__all__ = [
    "create_role", "get_role", "list_roles", "delete_role", "update_role", "update_role_description",
    "update_assume_role_policy", "tag_role", "untag_role", "list_role_tags",
    "put_role_permissions_boundary", "delete_role_permissions_boundary",
]

DEFAULT_MAX_SESSION = 3600


def create_role(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    name, path = params["RoleName"], params.get("Path") or "/"
    validate.check_name(name, "roleName", 64)
    validate.check_path(path)
    tags = validate.tags_from(params, "Role")
    trust, boundary = params["AssumeRolePolicyDocument"], params.get("PermissionsBoundary")
    row = {"id": ids.role_id(), "account": ctx.account, "name": name, "path": path,
           "arn": iam_arn(ctx.account, "role", name, path), "created": ctx.state.clock.time(),
           "trust_policy": trust, "description": params.get("Description"),
           "max_session_duration": params.get("MaxSessionDuration") or DEFAULT_MAX_SESSION,
           "boundary_arn": boundary, "tags": json.dumps(tags)}
    try:
        with ctx.state.db.begin() as conn:
            _check_trust(conn, ctx, trust)
            if boundary:
                entities.boundary_policy(conn, ctx, boundary)
            iam_store.insert_role(conn, **row)
    except IntegrityError:
        raise EntityAlreadyExists(f"Role with name {name} already exists.") from None
    return {"Role": shapes.role(row, "create")}


def get_role(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.state.db.read() as conn:
        row = entities.role_named(conn, ctx, params["RoleName"])
    return {"Role": shapes.role(row, "get")}


def list_roles(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    prefix = validate.path_prefix(params)
    with ctx.state.db.read() as conn:
        rows = iam_store.list_roles(conn, ctx.account, prefix)
    page, more = paginate(rows, params)
    return {"Roles": [shapes.role(r, "list") for r in page], **more}


def delete_role(ctx: RequestContext, params: dict[str, Any]) -> None:
    with ctx.state.db.begin() as conn:
        row = entities.role_named(conn, ctx, params["RoleName"])
        if iam_store.instance_profiles_for_role(conn, row["id"]):
            raise DeleteConflict("Cannot delete entity, must remove roles from instance profile first.")
        if iam_store.attached_policy_arns(conn, "role", row["id"]):
            raise DeleteConflict("Cannot delete entity, must detach all policies first.")
        if iam_store.inline_policy_documents(conn, "role", row["id"]):
            raise DeleteConflict("Cannot delete entity, must delete policies first.")
        iam_store.delete_role(conn, row["id"])


def update_role(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    changes = {}
    if "Description" in params:
        changes["description"] = params["Description"]
    if params.get("MaxSessionDuration") is not None:
        changes["max_session_duration"] = params["MaxSessionDuration"]
    with ctx.state.db.begin() as conn:
        row = entities.role_named(conn, ctx, params["RoleName"])
        if changes:
            iam_store.update_role(conn, row["id"], **changes)
    return {}


def update_role_description(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.state.db.begin() as conn:
        row = entities.role_named(conn, ctx, params["RoleName"])
        iam_store.update_role(conn, row["id"], description=params["Description"])
    return {"Role": shapes.role({**row, "description": params["Description"]}, "get")}


def update_assume_role_policy(ctx: RequestContext, params: dict[str, Any]) -> None:
    with ctx.state.db.begin() as conn:
        row = entities.role_named(conn, ctx, params["RoleName"])
        _check_trust(conn, ctx, params["PolicyDocument"])
        iam_store.update_role(conn, row["id"], trust_policy=params["PolicyDocument"])


def tag_role(ctx: RequestContext, params: dict[str, Any]) -> None:
    new = validate.tags_from(params, "Role")
    with ctx.state.db.begin() as conn:
        row = entities.role_named(conn, ctx, params["RoleName"])
        iam_store.update_role(conn, row["id"], tags=json.dumps(validate.merge_tags(shapes.tags(row), new, "Role")))


def untag_role(ctx: RequestContext, params: dict[str, Any]) -> None:
    with ctx.state.db.begin() as conn:
        row = entities.role_named(conn, ctx, params["RoleName"])
        iam_store.update_role(conn, row["id"], tags=json.dumps(validate.remove_tags(shapes.tags(row), params["TagKeys"])))


def list_role_tags(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.state.db.read() as conn:
        row = entities.role_named(conn, ctx, params["RoleName"])
    page, more = paginate(shapes.tags(row), params)
    return {"Tags": page, **more}


def put_role_permissions_boundary(ctx: RequestContext, params: dict[str, Any]) -> None:
    with ctx.state.db.begin() as conn:
        row = entities.role_named(conn, ctx, params["RoleName"])
        policy = entities.boundary_policy(conn, ctx, params["PermissionsBoundary"])
        iam_store.update_role(conn, row["id"], boundary_arn=policy["arn"])


def delete_role_permissions_boundary(ctx: RequestContext, params: dict[str, Any]) -> None:
    with ctx.state.db.begin() as conn:
        row = entities.role_named(conn, ctx, params["RoleName"])
        iam_store.update_role(conn, row["id"], boundary_arn=None)


def _check_trust(conn: Connection, ctx: RequestContext, document: str) -> None:
    def exists(arn: str) -> bool:
        return iam_store.get_role_by_arn(conn, arn) is not None or iam_store.get_user_by_arn(conn, arn) is not None

    documents.check_trust(document, ctx.account, exists)
