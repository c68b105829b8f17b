"""Look up the entity a request names, or raise AWS's NoSuchEntity with AWS's sentence."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from keyless.errors import AccessDenied, ValidationError
from keyless.services.base import RequestContext
from keyless.services.iam import validate
from keyless.services.iam.errors import InvalidInput, NoSuchEntity
from keyless.store import aws_managed
from keyless.store import iam as iam_store

Row = dict[str, Any]


def user_named(conn: Connection, ctx: RequestContext, name: str) -> Row:
    row = iam_store.get_user(conn, ctx.account, name)
    if row is None:
        raise NoSuchEntity(f"The user with name {name} cannot be found.")
    return dict(row)


def user_or_caller(conn: Connection, ctx: RequestContext, name: str | None) -> Row:
    """The named user, or the calling IAM user when UserName is omitted (GetUser, access keys)."""
    if name:
        return user_named(conn, ctx, name)
    if ctx.caller.owner_kind != "user" or ctx.caller.session is not None:
        raise ValidationError("Must specify userName when calling with non-User credentials")
    row = iam_store.get_user_by_id(conn, ctx.caller.owner_id or "")
    if row is None:
        raise NoSuchEntity(f"The user with name {ctx.caller.username} cannot be found.")
    return dict(row)


def role_named(conn: Connection, ctx: RequestContext, name: str) -> Row:
    row = iam_store.get_role(conn, ctx.account, name)
    if row is None:
        raise NoSuchEntity(f"The role with name {name} cannot be found.")
    return dict(row)


def profile_named(conn: Connection, ctx: RequestContext, name: str) -> Row:
    row = iam_store.get_instance_profile(conn, ctx.account, name)
    if row is None:
        raise NoSuchEntity(f"Instance Profile {name} cannot be found.")
    return dict(row)


def aws_managed_row(arn: str) -> Row | None:
    """A bundled AWS-managed policy in the shape of a customer-managed policy row."""
    entry = aws_managed.get(arn)
    if entry is None:
        return None
    return {"id": entry.policy_id, "account": "aws", "name": entry.name, "path": entry.path, "arn": entry.arn,
            "description": entry.description, "default_version": entry.default_version, "created": entry.created,
            "updated": entry.updated, "tags": "[]", "document": entry.document}


def managed_policy(conn: Connection, ctx: RequestContext, arn: str, *, attachable: bool = False) -> Row:
    """A customer-managed policy of this account or a bundled AWS-managed one."""
    parsed = validate.policy_arn(arn)
    row = aws_managed_row(arn) if parsed.account == "aws" else None
    if row is None and parsed.account == ctx.account:
        found = iam_store.get_managed_policy(conn, arn)
        row = dict(found) if found else None
    if row is None:
        raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable." if attachable else f"Policy {arn} was not found.")
    return row


def boundary_policy(conn: Connection, ctx: RequestContext, arn: str) -> Row:
    """A permissions boundary: a managed policy named by a well-formed ARN."""
    try:
        validate.policy_arn(arn)
    except InvalidInput:
        raise InvalidInput(f"Value ({arn}) for parameter PermissionsBoundary is invalid.") from None
    return managed_policy(conn, ctx, arn, attachable=True)


def customer_policy(conn: Connection, ctx: RequestContext, arn: str, refusal: str) -> Row:
    """A policy this account may change; AWS-managed ones answer AccessDenied with `refusal`."""
    parsed = validate.policy_arn(arn)
    if parsed.account != ctx.account:
        if parsed.account == "aws" and aws_managed.get(arn) is None:
            raise NoSuchEntity(f"Policy {arn} was not found.")
        raise AccessDenied(refusal)
    return managed_policy(conn, ctx, arn)


def policy_document(conn: Connection, row: Row) -> str:
    if "document" in row:
        return str(row["document"])
    version = iam_store.get_policy_version(conn, row["arn"], row["default_version"])
    return str(version["document"]) if version else "{}"
