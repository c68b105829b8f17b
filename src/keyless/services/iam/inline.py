"""Inline policies of roles and users: Put/Get/List/Delete{Role,User}Policy.

A role's inline policies may total 10,240 characters, a user's 2,048 (whitespace not counted);
the total is computed inside the write transaction, so two concurrent Puts cannot both fit.
"""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import Connection

from keyless.policy import PolicyKind
from keyless.services.base import RequestContext
from keyless.services.iam import documents, entities, shapes, validate
from keyless.services.iam.errors import NoSuchEntity
from keyless.services.iam.pagination import paginate
from keyless.store import iam as iam_store

__all__ = [
    "put_role_policy", "get_role_policy", "list_role_policies", "delete_role_policy",
    "put_user_policy", "get_user_policy", "list_user_policies", "delete_user_policy",
]

Finder = Callable[[Connection, RequestContext, str], dict[str, Any]]
OWNERS: dict[str, tuple[str, Finder]] = {"role": ("RoleName", entities.role_named), "user": ("UserName", entities.user_named)}


def _put(kind: str, ctx: RequestContext, params: dict[str, Any]) -> None:
    name_member, find = OWNERS[kind]
    policy_name, document = params["PolicyName"], params["PolicyDocument"]
    validate.check_name(policy_name, "policyName", 128)
    documents.check_grammar(document, PolicyKind.IDENTITY)
    with ctx.state.db.begin() as conn:
        owner = find(conn, ctx, params[name_member])
        others = [d for n, d in iam_store.inline_policy_documents(conn, kind, owner["id"]) if n != policy_name]
        documents.check_inline_total(kind, owner["name"], [*others, document])
        iam_store.put_inline_policy(conn, kind, owner["id"], policy_name, document)


def _get(kind: str, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    name_member, find = OWNERS[kind]
    with ctx.state.db.read() as conn:
        owner = find(conn, ctx, params[name_member])
        document = iam_store.get_inline_policy(conn, kind, owner["id"], params["PolicyName"])
    if document is None:
        raise NoSuchEntity(f"The {kind} policy with name {params['PolicyName']} cannot be found.")
    return {name_member: owner["name"], "PolicyName": params["PolicyName"],
            "PolicyDocument": shapes.encode_document(document)}


def _list(kind: str, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    name_member, find = OWNERS[kind]
    with ctx.state.db.read() as conn:
        owner = find(conn, ctx, params[name_member])
        names = [n for n, _ in iam_store.inline_policy_documents(conn, kind, owner["id"])]
    page, more = paginate(names, params)
    return {"PolicyNames": page, **more}


def _delete(kind: str, ctx: RequestContext, params: dict[str, Any]) -> None:
    name_member, find = OWNERS[kind]
    with ctx.state.db.begin() as conn:
        owner = find(conn, ctx, params[name_member])
        if not iam_store.delete_inline_policy(conn, kind, owner["id"], params["PolicyName"]):
            raise NoSuchEntity(f"The {kind} policy with name {params['PolicyName']} cannot be found.")


def put_role_policy(ctx: RequestContext, params: dict[str, Any]) -> None:
    _put("role", ctx, params)


def get_role_policy(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return _get("role", ctx, params)


def list_role_policies(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return _list("role", ctx, params)


def delete_role_policy(ctx: RequestContext, params: dict[str, Any]) -> None:
    _delete("role", ctx, params)


def put_user_policy(ctx: RequestContext, params: dict[str, Any]) -> None:
    _put("user", ctx, params)


def get_user_policy(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return _get("user", ctx, params)


def list_user_policies(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return _list("user", ctx, params)


def delete_user_policy(ctx: RequestContext, params: dict[str, Any]) -> None:
    _delete("user", ctx, params)
