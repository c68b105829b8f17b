"""IAM users: Create/Get/List/Delete, tags and permissions boundaries."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.exc import IntegrityError

from keyless import ids
from keyless.arn import iam_arn
from keyless.services.base import RequestContext
from keyless.services.iam import entities, shapes, validate
from keyless.services.iam.errors import DeleteConflict, EntityAlreadyExists
from keyless.services.iam.pagination import paginate
from keyless.store import iam as iam_store

__all__ = [
    "create_user", "get_user", "list_users", "delete_user", "tag_user", "untag_user", "list_user_tags",
    "put_user_permissions_boundary", "delete_user_permissions_boundary",
]


def create_user(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    name, path = params["UserName"], params.get("Path") or "/"
    validate.check_name(name, "userName", 64)
    validate.check_path(path)
    tags = validate.tags_from(params, "User")
    boundary = params.get("PermissionsBoundary")
    row = {"id": ids.user_id(), "account": ctx.account, "name": name, "path": path,
           "arn": iam_arn(ctx.account, "user", name, path), "created": ctx.state.clock.time(),
           "boundary_arn": boundary, "tags": json.dumps(tags)}
    try:
        with ctx.state.db.begin() as conn:
            if boundary:
                entities.boundary_policy(conn, ctx, boundary)
            iam_store.insert_user(conn, **row)
    except IntegrityError:
        raise EntityAlreadyExists(f"User with name {name} already exists.") from None
    return {"User": shapes.user(row)}


def get_user(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.state.db.read() as conn:
        row = entities.user_or_caller(conn, ctx, params.get("UserName"))
    return {"User": shapes.user(row)}


def list_users(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    prefix = validate.path_prefix(params)
    with ctx.state.db.read() as conn:
        rows = iam_store.list_users(conn, ctx.account, prefix)
    page, more = paginate(rows, params)
    return {"Users": [shapes.user(r, detail=False) for r in page], **more}


def delete_user(ctx: RequestContext, params: dict[str, Any]) -> None:
    with ctx.state.db.begin() as conn:
        row = entities.user_named(conn, ctx, params["UserName"])
        if iam_store.list_access_keys(conn, row["id"]):
            raise DeleteConflict("Cannot delete entity, must delete access keys first.")
        if iam_store.inline_policy_documents(conn, "user", row["id"]):
            raise DeleteConflict("Cannot delete entity, must delete policies first.")
        if iam_store.attached_policy_arns(conn, "user", row["id"]):
            raise DeleteConflict("Cannot delete entity, must detach all policies first.")
        iam_store.delete_user(conn, row["id"])


def tag_user(ctx: RequestContext, params: dict[str, Any]) -> None:
    new = validate.tags_from(params, "User")
    with ctx.state.db.begin() as conn:
        row = entities.user_named(conn, ctx, params["UserName"])
        merged = validate.merge_tags(shapes.tags(row), new, "User")
        iam_store.update_user(conn, row["id"], tags=json.dumps(merged))


def untag_user(ctx: RequestContext, params: dict[str, Any]) -> None:
    with ctx.state.db.begin() as conn:
        row = entities.user_named(conn, ctx, params["UserName"])
        iam_store.update_user(conn, row["id"], tags=json.dumps(validate.remove_tags(shapes.tags(row), params["TagKeys"])))


def list_user_tags(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.state.db.read() as conn:
        row = entities.user_named(conn, ctx, params["UserName"])
    page, more = paginate(shapes.tags(row), params)
    return {"Tags": page, **more}


def put_user_permissions_boundary(ctx: RequestContext, params: dict[str, Any]) -> None:
    with ctx.state.db.begin() as conn:
        row = entities.user_named(conn, ctx, params["UserName"])
        policy = entities.boundary_policy(conn, ctx, params["PermissionsBoundary"])
        iam_store.update_user(conn, row["id"], boundary_arn=policy["arn"])


def delete_user_permissions_boundary(ctx: RequestContext, params: dict[str, Any]) -> None:
    with ctx.state.db.begin() as conn:
        row = entities.user_named(conn, ctx, params["UserName"])
        iam_store.update_user(conn, row["id"], boundary_arn=None)
