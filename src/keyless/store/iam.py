"""IAM rows: the reads the hot path needs (through caches) and the writes IAM handlers make.

Functions take a Connection so callers choose the transaction. Rows come back as plain
mappings; handlers shape them into botocore output dicts.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from sqlalchemy import Connection, and_, delete, insert, select, update

from keyless.store.schema import (
    access_keys,
    attachments,
    inline_policies,
    instance_profile_roles,
    instance_profiles,
    managed_policies,
    policy_versions,
    roles,
    users,
)

Row = Mapping[str, Any]


def _one(conn: Connection, stmt: Any) -> Row | None:
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row else None


# --- users and keys ---------------------------------------------------------------------------


def insert_user(conn: Connection, **values: Any) -> None:
    conn.execute(insert(users).values(name_lower=values["name"].lower(), **values))


def get_user(conn: Connection, account: str, name: str) -> Row | None:
    return _one(conn, select(users).where(and_(users.c.account == account, users.c.name_lower == name.lower())))


def get_user_by_id(conn: Connection, user_id: str) -> Row | None:
    return _one(conn, select(users).where(users.c.id == user_id))


def insert_access_key(conn: Connection, **values: Any) -> None:
    conn.execute(insert(access_keys).values(**values))


def get_access_key(conn: Connection, access_key_id: str) -> Row | None:
    return _one(conn, select(access_keys).where(access_keys.c.access_key_id == access_key_id))


def list_access_keys(conn: Connection, user_id: str) -> list[Row]:
    stmt = select(access_keys).where(access_keys.c.user_id == user_id).order_by(access_keys.c.created)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def set_access_key_status(conn: Connection, access_key_id: str, status: str) -> None:
    conn.execute(update(access_keys).where(access_keys.c.access_key_id == access_key_id).values(status=status))


def delete_access_key(conn: Connection, access_key_id: str) -> None:
    conn.execute(delete(access_keys).where(access_keys.c.access_key_id == access_key_id))


# --- roles ------------------------------------------------------------------------------------


def insert_role(conn: Connection, **values: Any) -> None:
    conn.execute(insert(roles).values(name_lower=values["name"].lower(), **values))


def get_role(conn: Connection, account: str, name: str) -> Row | None:
    return _one(conn, select(roles).where(and_(roles.c.account == account, roles.c.name_lower == name.lower())))


def get_role_by_id(conn: Connection, role_id: str) -> Row | None:
    return _one(conn, select(roles).where(roles.c.id == role_id))


def get_role_by_arn(conn: Connection, arn: str) -> Row | None:
    return _one(conn, select(roles).where(roles.c.arn == arn))


# --- policies attached to a user or role -------------------------------------------------------


def inline_policy_documents(conn: Connection, owner_kind: str, owner_id: str) -> list[tuple[str, str]]:
    stmt = (
        select(inline_policies.c.name, inline_policies.c.document)
        .where(and_(inline_policies.c.owner_kind == owner_kind, inline_policies.c.owner_id == owner_id))
        .order_by(inline_policies.c.name)
    )
    return [(r[0], r[1]) for r in conn.execute(stmt)]


def attached_policy_arns(conn: Connection, owner_kind: str, owner_id: str) -> list[str]:
    stmt = (
        select(attachments.c.policy_arn)
        .where(and_(attachments.c.owner_kind == owner_kind, attachments.c.owner_id == owner_id))
        .order_by(attachments.c.policy_arn)
    )
    return [r[0] for r in conn.execute(stmt)]


def attach_policy(conn: Connection, owner_kind: str, owner_id: str, policy_arn: str) -> None:
    stmt = insert(attachments).values(owner_kind=owner_kind, owner_id=owner_id, policy_arn=policy_arn)
    conn.execute(stmt.prefix_with("OR IGNORE"))


def get_managed_policy(conn: Connection, arn: str) -> Row | None:
    return _one(conn, select(managed_policies).where(managed_policies.c.arn == arn))


def managed_policy_document(conn: Connection, arn: str) -> str | None:
    """The default version's document of a customer-managed policy (AWS-managed ones are bundled)."""
    stmt = select(policy_versions.c.document).join(
        managed_policies,
        and_(policy_versions.c.policy_arn == managed_policies.c.arn,
             policy_versions.c.version_id == managed_policies.c.default_version),
    ).where(managed_policies.c.arn == arn)
    row = conn.execute(stmt).first()
    return row[0] if row else None


# --- instance profiles ------------------------------------------------------------------------


def get_instance_profile(conn: Connection, account: str, name: str) -> Row | None:
    stmt = select(instance_profiles).where(
        and_(instance_profiles.c.account == account, instance_profiles.c.name_lower == name.lower())
    )
    return _one(conn, stmt)


def get_instance_profile_by_arn(conn: Connection, arn: str) -> Row | None:
    return _one(conn, select(instance_profiles).where(instance_profiles.c.arn == arn))


def instance_profile_role(conn: Connection, profile_id: str) -> Row | None:
    stmt = select(roles).join(instance_profile_roles, instance_profile_roles.c.role_id == roles.c.id).where(
        instance_profile_roles.c.profile_id == profile_id
    )
    return _one(conn, stmt)


def tags_of(row: Row) -> list[dict[str, str]]:
    return list(json.loads(row.get("tags") or "[]"))
