"""IAM rows: the reads the hot path needs (through caches) and the writes IAM handlers make.

Functions take a Connection so callers choose the transaction. Rows come back as plain
mappings; handlers shape them into botocore output dicts. Quotas and name uniqueness are
enforced by the statements themselves (unique indexes, counted inserts), never by a read
followed by a write, so concurrent writers resolve as AWS does.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from sqlalchemy import Connection, and_, delete, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

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


# --- counted inserts: one statement, so a quota holds under concurrent writers -------------------
#
# "INSERT ... SELECT ... WHERE (SELECT count(*) ...) < limit" checks and inserts atomically; the
# caller reads rowcount 0 as "quota reached" (or, for idempotent inserts, "already there").


def _insert_if_fewer(conn: Connection, table: Any, values: dict[str, Any], count_where: Any, limit: int) -> bool:
    columns = list(values)
    source = select(*[literal(values[c]) for c in columns]).where(
        select(func.count()).select_from(table).where(count_where).scalar_subquery() < limit
    )
    return conn.execute(insert(table).from_select(columns, source)).rowcount == 1


def insert_access_key_limited(conn: Connection, limit: int, **values: Any) -> bool:
    """Insert a key unless the user already has `limit`; False when the quota is reached."""
    return _insert_if_fewer(conn, access_keys, values, access_keys.c.user_id == values["user_id"], limit)


def list_users(conn: Connection, account: str, path_prefix: str = "/") -> list[Row]:
    stmt = select(users).where(and_(users.c.account == account, users.c.path.startswith(path_prefix, autoescape=True)))
    return [dict(r) for r in conn.execute(stmt.order_by(users.c.name_lower)).mappings()]


def update_user(conn: Connection, user_id: str, **values: Any) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(**values))


def delete_user(conn: Connection, user_id: str) -> None:
    conn.execute(delete(users).where(users.c.id == user_id))


def list_roles(conn: Connection, account: str, path_prefix: str = "/") -> list[Row]:
    stmt = select(roles).where(and_(roles.c.account == account, roles.c.path.startswith(path_prefix, autoescape=True)))
    return [dict(r) for r in conn.execute(stmt.order_by(roles.c.name_lower)).mappings()]


def update_role(conn: Connection, role_id: str, **values: Any) -> None:
    conn.execute(update(roles).where(roles.c.id == role_id).values(**values))


def delete_role(conn: Connection, role_id: str) -> None:
    conn.execute(delete(roles).where(roles.c.id == role_id))


# --- inline policies ----------------------------------------------------------------------------


def _inline_key(owner_kind: str, owner_id: str) -> Any:
    return and_(inline_policies.c.owner_kind == owner_kind, inline_policies.c.owner_id == owner_id)


def get_inline_policy(conn: Connection, owner_kind: str, owner_id: str, name: str) -> str | None:
    stmt = select(inline_policies.c.document).where(and_(_inline_key(owner_kind, owner_id), inline_policies.c.name == name))
    row = conn.execute(stmt).first()
    return row[0] if row else None


def put_inline_policy(conn: Connection, owner_kind: str, owner_id: str, name: str, document: str) -> None:
    conn.execute(delete(inline_policies).where(and_(_inline_key(owner_kind, owner_id), inline_policies.c.name == name)))
    conn.execute(insert(inline_policies).values(owner_kind=owner_kind, owner_id=owner_id, name=name, document=document))


def delete_inline_policy(conn: Connection, owner_kind: str, owner_id: str, name: str) -> bool:
    stmt = delete(inline_policies).where(and_(_inline_key(owner_kind, owner_id), inline_policies.c.name == name))
    return conn.execute(stmt).rowcount > 0


def delete_inline_policies(conn: Connection, owner_kind: str, owner_id: str) -> None:
    conn.execute(delete(inline_policies).where(_inline_key(owner_kind, owner_id)))


# --- managed policies, versions and attachments --------------------------------------------------


def insert_managed_policy(conn: Connection, **values: Any) -> bool:
    """Insert unless the account already has a policy of that name (any path, any case): False then."""
    name_taken = select(managed_policies.c.id).where(and_(
        managed_policies.c.account == values["account"], func.lower(managed_policies.c.name) == values["name"].lower()))
    columns = list(values)
    source = select(*[literal(values[c]) for c in columns]).where(~name_taken.exists())
    return conn.execute(insert(managed_policies).from_select(columns, source)).rowcount == 1


def list_managed_policies(conn: Connection, account: str) -> list[Row]:
    stmt = select(managed_policies).where(managed_policies.c.account == account).order_by(managed_policies.c.name)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def update_managed_policy(conn: Connection, arn: str, **values: Any) -> None:
    conn.execute(update(managed_policies).where(managed_policies.c.arn == arn).values(**values))


def delete_managed_policy(conn: Connection, arn: str) -> None:
    conn.execute(delete(policy_versions).where(policy_versions.c.policy_arn == arn))
    conn.execute(delete(managed_policies).where(managed_policies.c.arn == arn))


def next_version_id(conn: Connection, arn: str) -> str:
    """Take the policy's next version number (v2, v3, ...); the UPDATE serializes concurrent takers."""
    conn.execute(update(managed_policies).where(managed_policies.c.arn == arn)
                 .values(next_version=managed_policies.c.next_version + 1))
    row = conn.execute(select(managed_policies.c.next_version).where(managed_policies.c.arn == arn)).first()
    return f"v{int(row[0]) - 1}" if row else "v1"


def insert_policy_version_limited(conn: Connection, limit: int, **values: Any) -> bool:
    return _insert_if_fewer(conn, policy_versions, values, policy_versions.c.policy_arn == values["policy_arn"], limit)


def list_policy_versions(conn: Connection, arn: str) -> list[Row]:
    stmt = select(policy_versions).where(policy_versions.c.policy_arn == arn)
    return sorted((dict(r) for r in conn.execute(stmt).mappings()), key=lambda r: int(r["version_id"][1:]))


def get_policy_version(conn: Connection, arn: str, version_id: str) -> Row | None:
    return _one(conn, select(policy_versions).where(and_(policy_versions.c.policy_arn == arn,
                                                         policy_versions.c.version_id == version_id)))


def delete_policy_version(conn: Connection, arn: str, version_id: str) -> bool:
    stmt = delete(policy_versions).where(and_(policy_versions.c.policy_arn == arn, policy_versions.c.version_id == version_id))
    return conn.execute(stmt).rowcount > 0


def attach_policy_limited(conn: Connection, owner_kind: str, owner_id: str, policy_arn: str, limit: int) -> bool:
    """Attach (a repeat is a no-op); False only when the owner already has `limit` other policies."""
    values = {"owner_kind": owner_kind, "owner_id": owner_id, "policy_arn": policy_arn}
    key = and_(attachments.c.owner_kind == owner_kind, attachments.c.owner_id == owner_id)
    if conn.execute(select(attachments.c.policy_arn).where(and_(key, attachments.c.policy_arn == policy_arn))).first():
        return True
    try:
        return _insert_if_fewer(conn, attachments, values, key, limit)
    except IntegrityError:  # a concurrent attach of the same policy won
        return True


def detach_policy(conn: Connection, owner_kind: str, owner_id: str, policy_arn: str) -> bool:
    stmt = delete(attachments).where(and_(attachments.c.owner_kind == owner_kind, attachments.c.owner_id == owner_id,
                                          attachments.c.policy_arn == policy_arn))
    return conn.execute(stmt).rowcount > 0


def detach_all(conn: Connection, owner_kind: str, owner_id: str) -> None:
    conn.execute(delete(attachments).where(and_(attachments.c.owner_kind == owner_kind, attachments.c.owner_id == owner_id)))


def attachment_counts(conn: Connection) -> dict[str, int]:
    stmt = select(attachments.c.policy_arn, func.count()).group_by(attachments.c.policy_arn)
    return {arn: int(n) for arn, n in conn.execute(stmt)}


def boundary_counts(conn: Connection) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in (users, roles):
        stmt = select(table.c.boundary_arn, func.count()).where(table.c.boundary_arn.is_not(None)).group_by(table.c.boundary_arn)
        for arn, n in conn.execute(stmt):
            counts[arn] = counts.get(arn, 0) + int(n)
    return counts


def policy_attachments(conn: Connection, policy_arn: str) -> list[Row]:
    """Users and roles the policy is attached to: rows with kind, id, name, path."""
    out: list[Row] = []
    for kind, table in (("user", users), ("role", roles)):
        stmt = select(table.c.id, table.c.name, table.c.path).join(
            attachments, and_(attachments.c.owner_id == table.c.id, attachments.c.owner_kind == kind)
        ).where(attachments.c.policy_arn == policy_arn).order_by(table.c.name_lower)
        out.extend({"kind": kind, **dict(r)} for r in conn.execute(stmt).mappings())
    return out


def policy_boundary_users(conn: Connection, policy_arn: str) -> list[Row]:
    out: list[Row] = []
    for kind, table in (("user", users), ("role", roles)):
        stmt = select(table.c.id, table.c.name, table.c.path).where(table.c.boundary_arn == policy_arn)
        out.extend({"kind": kind, **dict(r)} for r in conn.execute(stmt.order_by(table.c.name_lower)).mappings())
    return out


# --- instance profiles --------------------------------------------------------------------------


def insert_instance_profile(conn: Connection, **values: Any) -> None:
    conn.execute(insert(instance_profiles).values(name_lower=values["name"].lower(), **values))


def list_instance_profiles(conn: Connection, account: str, path_prefix: str = "/") -> list[Row]:
    stmt = select(instance_profiles).where(and_(instance_profiles.c.account == account,
                                                instance_profiles.c.path.startswith(path_prefix, autoescape=True)))
    return [dict(r) for r in conn.execute(stmt.order_by(instance_profiles.c.name_lower)).mappings()]


def delete_instance_profile(conn: Connection, profile_id: str) -> None:
    conn.execute(delete(instance_profiles).where(instance_profiles.c.id == profile_id))


def add_role_to_instance_profile(conn: Connection, profile_id: str, role_id: str) -> None:
    """Raises IntegrityError when the profile already has a role (its primary key is the profile)."""
    conn.execute(insert(instance_profile_roles).values(profile_id=profile_id, role_id=role_id))


def remove_role_from_instance_profile(conn: Connection, profile_id: str, role_id: str) -> bool:
    stmt = delete(instance_profile_roles).where(and_(instance_profile_roles.c.profile_id == profile_id,
                                                     instance_profile_roles.c.role_id == role_id))
    return conn.execute(stmt).rowcount > 0


def instance_profiles_for_role(conn: Connection, role_id: str) -> list[Row]:
    stmt = select(instance_profiles).join(instance_profile_roles, instance_profile_roles.c.profile_id == instance_profiles.c.id)
    stmt = stmt.where(instance_profile_roles.c.role_id == role_id).order_by(instance_profiles.c.name_lower)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def profile_roles(conn: Connection, profile_ids: list[str]) -> dict[str, Row]:
    """The role of each of these profiles (profiles without one are absent), in one query."""
    if not profile_ids:
        return {}
    stmt = select(instance_profile_roles.c.profile_id, roles).join(roles, roles.c.id == instance_profile_roles.c.role_id)
    stmt = stmt.where(instance_profile_roles.c.profile_id.in_(profile_ids))
    return {r["profile_id"]: {k: v for k, v in r.items() if k != "profile_id"} for r in conn.execute(stmt).mappings()}


def get_user_by_arn(conn: Connection, arn: str) -> Row | None:
    return _one(conn, select(users).where(users.c.arn == arn))
