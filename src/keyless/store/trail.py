"""Trail rows: batched inserts and the queries LookupEvents and `keyless trail` need."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import Connection, and_, delete, insert, select

from keyless.store.schema import trail_events, trail_resources


def _epoch(iso_time: str) -> float:
    return datetime.strptime(iso_time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=__import__("datetime").timezone.utc).timestamp()


def _username(rec: dict[str, Any]) -> str | None:
    ident = rec.get("userIdentity") or {}
    if ident.get("type") == "AssumedRole":
        return (ident.get("arn") or "").rsplit("/", 1)[-1] or None
    return ident.get("userName")


def _principal_arn(rec: dict[str, Any]) -> str | None:
    ident = rec.get("userIdentity") or {}
    issuer = (ident.get("sessionContext") or {}).get("sessionIssuer") or {}
    return issuer.get("arn") or ident.get("arn")


def insert_records(conn: Connection, records: Iterable[dict[str, Any]]) -> None:
    events, resources = [], []
    for rec in records:
        decisions = (rec.get("keyless") or {}).get("decisions") or []
        events.append({
            "event_id": rec["eventID"], "event_time": _epoch(rec["eventTime"]), "event_name": rec["eventName"],
            "event_source": rec["eventSource"], "category": rec.get("eventCategory", "Management"),
            "read_only": bool(rec.get("readOnly")), "username": _username(rec),
            "access_key_id": (rec.get("userIdentity") or {}).get("accessKeyId") or None,
            "principal_arn": _principal_arn(rec),
            "denied": any(d["result"] != "allowed" for d in decisions) or rec.get("errorCode") in ("AccessDenied", "Client.UnauthorizedOperation"),
            "record": json.dumps(rec, separators=(",", ":"), default=str),
        })
        seen = set()
        for res in rec.get("resources") or ():
            key = (res.get("type", ""), res.get("ARN", ""))
            if key not in seen:
                seen.add(key)
                resources.append({"event_id": rec["eventID"], "resource_type": key[0], "resource_name": key[1]})
    if events:
        conn.execute(insert(trail_events), events)
    if resources:
        conn.execute(insert(trail_resources), resources)


def delete_before(conn: Connection, epoch: float) -> None:
    conn.execute(delete(trail_events).where(trail_events.c.event_time < epoch))


def query(conn: Connection, *, start: float | None = None, end: float | None = None, categories: tuple[str, ...] = ("Management", "Data"),
          attribute: tuple[str, str] | None = None, principal_arn: str | None = None, denied_only: bool = False,
          before: tuple[float, str] | None = None, after: tuple[float, str] | None = None, limit: int = 50,
          oldest_first: bool = False) -> list[dict[str, Any]]:
    """Events newest first (or oldest first), paged by (event_time, event_id) cursors."""
    t = trail_events
    where = [t.c.category.in_(categories)]
    if start is not None:
        where.append(t.c.event_time >= start)
    if end is not None:
        where.append(t.c.event_time <= end)
    if principal_arn:
        where.append(t.c.principal_arn == principal_arn)
    if denied_only:
        where.append(t.c.denied.is_(True))
    if before is not None:
        where.append((t.c.event_time < before[0]) | and_(t.c.event_time == before[0], t.c.event_id < before[1]))
    if after is not None:
        where.append((t.c.event_time > after[0]) | and_(t.c.event_time == after[0], t.c.event_id > after[1]))
    if attribute is not None:
        where.append(_attribute_clause(*attribute))
    order = (t.c.event_time.asc(), t.c.event_id.asc()) if oldest_first else (t.c.event_time.desc(), t.c.event_id.desc())
    stmt = select(t).where(and_(*where)).order_by(*order).limit(limit)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def _attribute_clause(key: str, value: str):  # type: ignore[no-untyped-def]
    t = trail_events
    if key == "EventId":
        return t.c.event_id == value
    if key == "EventName":
        return t.c.event_name == value
    if key == "ReadOnly":
        return t.c.read_only.is_(value.lower() == "true")
    if key == "Username":
        return t.c.username == value
    if key == "EventSource":
        return t.c.event_source == value
    if key == "AccessKeyId":
        return t.c.access_key_id == value
    r = trail_resources
    column = r.c.resource_type if key == "ResourceType" else r.c.resource_name
    return t.c.event_id.in_(select(r.c.event_id).where(column == value))
