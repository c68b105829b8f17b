"""Access keys: Create/List/Update/Delete. Two per user; secrets stored encrypted with the master key."""

from __future__ import annotations

from typing import Any

from keyless.credentials import encrypt_secret, new_access_key
from keyless.services.base import RequestContext
from keyless.services.iam import entities, shapes
from keyless.services.iam.errors import LimitExceeded, NoSuchEntity
from keyless.services.iam.pagination import paginate
from keyless.store import iam as iam_store

__all__ = ["create_access_key", "list_access_keys", "update_access_key", "delete_access_key"]

KEYS_PER_USER = 2


def create_access_key(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    key_id, secret = new_access_key()
    created = ctx.state.clock.time()
    with ctx.state.db.begin() as conn:
        user = entities.user_or_caller(conn, ctx, params.get("UserName"))
        stored = iam_store.insert_access_key_limited(
            conn, KEYS_PER_USER, access_key_id=key_id, user_id=user["id"],
            secret=encrypt_secret(secret, ctx.state.master_key), status="Active", created=created,
        )
    if not stored:
        raise LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {KEYS_PER_USER}")
    return {"AccessKey": {"UserName": user["name"], "AccessKeyId": key_id, "Status": "Active",
                          "SecretAccessKey": secret, "CreateDate": shapes.timestamp(created)}}


def list_access_keys(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.state.db.read() as conn:
        user = entities.user_or_caller(conn, ctx, params.get("UserName"))
        keys = iam_store.list_access_keys(conn, user["id"])
    page, more = paginate(keys, params)
    return {"AccessKeyMetadata": [shapes.access_key_metadata(k, user["name"]) for k in page], **more}


def update_access_key(ctx: RequestContext, params: dict[str, Any]) -> None:
    with ctx.state.db.begin() as conn:
        _users_key(conn, ctx, params)
        iam_store.set_access_key_status(conn, params["AccessKeyId"], params["Status"])


def delete_access_key(ctx: RequestContext, params: dict[str, Any]) -> None:
    with ctx.state.db.begin() as conn:
        _users_key(conn, ctx, params)
        iam_store.delete_access_key(conn, params["AccessKeyId"])


def _users_key(conn: Any, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    user = entities.user_or_caller(conn, ctx, params.get("UserName"))
    key = iam_store.get_access_key(conn, params["AccessKeyId"])
    if key is None or key["user_id"] != user["id"]:
        raise NoSuchEntity(f"The Access Key with id {params['AccessKeyId']} cannot be found.")
    return dict(key)
