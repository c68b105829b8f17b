"""EC2 rows: instances and their instance-profile associations.

Functions take a Connection so callers choose the transaction (EC2 writers use
`db.begin(iam=False)`: nothing here changes who may do what). Rows come back as plain dicts.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from sqlalchemy import Connection, and_, insert, select, update

from keyless.store.schema import ec2_iip_associations as associations
from keyless.store.schema import ec2_instances as instances

Row = dict[str, Any]

ACTIVE_ASSOCIATION_STATES = ("associating", "associated")


def _rows(conn: Connection, stmt: Any) -> list[Row]:
    return [dict(r) for r in conn.execute(stmt).mappings()]


def _one(conn: Connection, stmt: Any) -> Row | None:
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row else None


# --- instances --------------------------------------------------------------------------------


def insert_instance(conn: Connection, **values: Any) -> None:
    conn.execute(insert(instances).values(**values))


def get_instance(conn: Connection, account: str, instance_id: str) -> Row | None:
    return _one(conn, select(instances).where(and_(instances.c.account == account, instances.c.id == instance_id)))


def list_instances(conn: Connection, account: str, *, ids: Iterable[str] | None = None,
                   states: Iterable[str] | None = None) -> list[Row]:
    """Instances in launch order (reservation by reservation, as DescribeInstances groups them)."""
    stmt = select(instances).where(instances.c.account == account)
    if ids is not None:
        stmt = stmt.where(instances.c.id.in_(list(ids)))
    if states is not None:
        stmt = stmt.where(instances.c.state.in_(list(states)))
    return _rows(conn, stmt.order_by(instances.c.created, instances.c.ami_launch_index, instances.c.id))


def instances_in_states(conn: Connection, states: Iterable[str]) -> list[Row]:
    """Every account's instances in these states (the IMDS manager starts listeners for them)."""
    return _rows(conn, select(instances).where(instances.c.state.in_(list(states))).order_by(instances.c.created))


def update_instance(conn: Connection, instance_id: str, **values: Any) -> None:
    conn.execute(update(instances).where(instances.c.id == instance_id).values(**values))


def used_imds_ports(conn: Connection) -> set[int]:
    return {r[0] for r in conn.execute(select(instances.c.imds_port).where(instances.c.imds_port.is_not(None)))}


def used_private_ips(conn: Connection, account: str, vpc_id: str) -> set[str]:
    stmt = select(instances.c.private_ip).where(and_(
        instances.c.account == account, instances.c.vpc_id == vpc_id, instances.c.state != "terminated"))
    return {r[0] for r in conn.execute(stmt)}


def find_by_client_token(conn: Connection, account: str, token: str) -> list[Row]:
    stmt = select(instances).where(and_(instances.c.account == account, instances.c.client_token == token))
    return _rows(conn, stmt.order_by(instances.c.ami_launch_index))


def tags(row: Mapping[str, Any]) -> list[dict[str, str]]:
    return list(json.loads(row.get("tags") or "[]"))


def metadata_options(row: Mapping[str, Any]) -> dict[str, Any]:
    return dict(json.loads(row["metadata_options"]))


# --- instance-profile associations ------------------------------------------------------------


def insert_association(conn: Connection, **values: Any) -> None:
    conn.execute(insert(associations).values(**values))


def get_association(conn: Connection, account: str, association_id: str) -> Row | None:
    stmt = (select(associations).join(instances, instances.c.id == associations.c.instance_id)
            .where(and_(instances.c.account == account, associations.c.association_id == association_id)))
    return _one(conn, stmt)


def current_association(conn: Connection, instance_id: str) -> Row | None:
    stmt = select(associations).where(and_(
        associations.c.instance_id == instance_id, associations.c.state.in_(ACTIVE_ASSOCIATION_STATES)))
    return _one(conn, stmt)


def current_associations(conn: Connection, instance_ids: Iterable[str]) -> dict[str, Row]:
    stmt = select(associations).where(and_(
        associations.c.instance_id.in_(list(instance_ids)), associations.c.state.in_(ACTIVE_ASSOCIATION_STATES)))
    return {r["instance_id"]: r for r in _rows(conn, stmt)}


def list_associations(conn: Connection, account: str, *, ids: Iterable[str] | None = None) -> list[Row]:
    stmt = (select(associations).join(instances, instances.c.id == associations.c.instance_id)
            .where(instances.c.account == account))
    if ids is not None:
        stmt = stmt.where(associations.c.association_id.in_(list(ids)))
    return _rows(conn, stmt.order_by(associations.c.created, associations.c.association_id))


def set_association_state(conn: Connection, association_id: str, state: str, now: float) -> None:
    conn.execute(update(associations).where(associations.c.association_id == association_id)
                 .values(state=state, updated=now))
