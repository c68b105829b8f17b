"""Trail rows: cheap batched inserts, and queries that hand back full CloudTrail records.

API calls are stored compactly (the columns lookups need, plus the call as JSON) and turned into
CloudTrail records when read: recording sits next to the request path, reading does not.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from sqlalchemy import Connection, and_, delete, select

from keyless.ids import event_id as new_event_id
from keyless.store.schema import trail_events, trail_resources
from keyless.trail.events import (
    call_from_json,
    call_to_json,
    category,
    epoch,
    is_read_only,
    record,
    resources_named,
)

_INSERT_EVENT = ("INSERT INTO trail_events (event_id, event_time, event_name, event_source, category, read_only, username, "
                 "access_key_id, principal_arn, denied, shape, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_INSERT_RESOURCE = "INSERT OR IGNORE INTO trail_resources (event_id, resource_type, resource_name) VALUES (?, ?, ?)"


def insert(conn: Connection, items: Iterable[tuple[Any, ...] | dict[str, Any]]) -> int:
    """Store API calls (pending_call() tuples) and ready-made records in one batch; returns how many were stored."""
    events, resources = [], []
    for item in items:
        row, res = _call_row(item) if isinstance(item, tuple) else _record_row(item)
        events.append(row)
        resources.extend((row[0], kind, name) for kind, name in res)
    if events:
        conn.exec_driver_sql(_INSERT_EVENT, events)
    if resources:
        conn.exec_driver_sql(_INSERT_RESOURCE, resources)
    return len(events)


def _call_row(call: tuple[Any, ...]) -> tuple[tuple[Any, ...], list[tuple[str, str]]]:
    when, service, operation, _, account, _, caller, _, _, _, _, error_code, _, decisions, _ = call  # _CALL_FIELDS
    kind, arn, principal_arn, username, access_key_id = caller[0], caller[2], caller[4], caller[5], caller[6]
    if kind == "AssumedRole":
        username = (arn or "").rsplit("/", 1)[-1] or None
    denied = any(d[2] != "allowed" for d in decisions) or error_code in ("AccessDenied", "UnauthorizedOperation")
    event_id = new_event_id(when)
    row = (event_id, when, operation, f"{service}.amazonaws.com", category(service, operation), is_read_only(operation),
           username, access_key_id, principal_arn or arn, denied, "call",
           f'["{event_id}",{call_to_json(call)}]')  # the call's JSON array inline, encoded once
    return row, [(r["type"], r["ARN"]) for r in resources_named([d[1] for d in decisions], account)] if decisions else []


def _record_row(rec: dict[str, Any]) -> tuple[tuple[Any, ...], list[tuple[str, str]]]:
    ident = rec.get("userIdentity") or {}
    issuer = (ident.get("sessionContext") or {}).get("sessionIssuer") or {}
    username = (ident.get("arn") or "").rsplit("/", 1)[-1] if ident.get("type") == "AssumedRole" else ident.get("userName")
    row = (rec["eventID"], epoch(rec["eventTime"]), rec["eventName"], rec["eventSource"], rec.get("eventCategory", "Management"),
           bool(rec.get("readOnly")), username or None, ident.get("accessKeyId") or None, issuer.get("arn") or ident.get("arn"),
           rec.get("errorCode") in ("AccessDenied", "Client.UnauthorizedOperation"), "record", json.dumps(rec, default=str))
    return row, [(r.get("type", ""), r.get("ARN", "")) for r in rec.get("resources") or ()]


def full_record(row: dict[str, Any]) -> dict[str, Any]:
    """The CloudTrail record of a stored row."""
    if row["shape"] == "record":
        return dict(json.loads(row["record"]))
    event_id, call = json.loads(row["record"])
    rec = record(call_from_json(call))
    rec["eventID"] = event_id
    return rec


def delete_before(conn: Connection, epoch: float) -> None:
    conn.execute(delete(trail_events).where(trail_events.c.event_time < epoch))


def query(conn: Connection, *, start: float | None = None, end: float | None = None, categories: tuple[str, ...] = ("Management", "Data"),
          attribute: tuple[str, str] | None = None, principal_arn: str | None = None, denied_only: bool = False,
          before: tuple[float, str] | None = None, after: tuple[float, str] | None = None, limit: int = 50,
          oldest_first: bool = False) -> list[dict[str, Any]]:
    """Events newest first (or oldest first), paged by (event_time, event_id) cursors; each row's
    "record" is the full CloudTrail record as JSON text."""
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
    rows = [dict(r) for r in conn.execute(select(t).where(and_(*where)).order_by(*order).limit(limit)).mappings()]
    for row in rows:
        row["record"] = json.dumps(full_record(row), separators=(",", ":"), default=str)
    return rows


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
