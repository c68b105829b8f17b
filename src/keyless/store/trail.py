"""Trail segments: one row per batch of events, and queries that hand back full CloudTrail records.

The writer stores each batch as one segment: the events as one JSON array (API calls in their
queued form, redacted; ready-made records as they are) and its time span, and indexes the values
a lookup can filter on ("lookup keys": a kind letter, then the value) in trail_segment_keys. A
query picks the segments whose span and keys can match, newest (or oldest) first, decodes them and filters
their events exactly. Event ids are not stored: an event's id is made from its time, its segment
and its position (ids.event_id), and the CloudTrail record is built when it is read.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Iterator

import orjson
from sqlalchemy import Connection

from keyless.ids import event_id, event_place
from keyless.trail.events import call_from_json, category, epoch, is_read_only, plain, record, resources_named, to_json

# Lookup key kinds: the LookupEvents attribute (or keyless filter) each one serves.
_KINDS = {"EventName": "N", "EventSource": "S", "Username": "U", "AccessKeyId": "K", "ResourceName": "R",
          "ResourceType": "T", "EventId": "E", "ReadOnly": "O", "Principal": "P", "Denied": "D"}
_DENIED_ERRORS = frozenset({"AccessDenied", "UnauthorizedOperation", "Client.UnauthorizedOperation"})
_INSERT = "INSERT INTO trail_segments (first_time, last_time, count, events) VALUES (?, ?, ?, ?)"
_INSERT_KEYS = "INSERT INTO trail_segment_keys (lookup_key, segment_id) VALUES (?, ?)"


# --- writing ----------------------------------------------------------------------------------

def insert(conn: Connection, items: Iterable[tuple[Any, ...] | dict[str, Any]]) -> int:
    """Store pending_call() tuples and ready-made records as one segment; returns how many were stored."""
    shared: tuple[dict[Any, int], ...] = tuple({} for _ in _SHARED)
    events: list[Any] = []
    calls: list[list[Any]] = []
    records: list[dict[str, Any]] = []
    times = []
    for item in items:
        if isinstance(item, dict):
            events.append(item)
            records.append(item)
            times.append(epoch(item["eventTime"]))
            continue
        call = _stored(item)
        for table, field in zip(shared, _SHARED):  # the same caller, client and decisions, call after call
            call[field] = table.setdefault(call[field], len(table))
        events.append(call)
        calls.append(call)
        times.append(call[0])
    if not events:
        return 0
    callers, _, _, decisions = shared
    keys = _call_keys(calls, list(callers), list(decisions)) | _record_keys(records)
    document = {"shared": [list(table) for table in shared], "events": events}
    segment_id = conn.exec_driver_sql(_INSERT, (min(times), max(times), len(events), to_json(document))).lastrowid
    conn.exec_driver_sql(_INSERT_KEYS, [(key, segment_id) for key in sorted(keys)])
    return len(events)


# Fields of a call stored once per segment and referred to by position: a caller snapshot, source
# IP, user agent and decisions repeat call after call, and were most of a stored event's bytes.
_SHARED = (6, 7, 8, 13)


def _stored(call: tuple[Any, ...]) -> list[Any]:
    """A pending call as stored: params and output reduced to plain, secret-free data."""
    values = list(call)
    if values[9]:
        values[9] = plain(values[9])
    if values[10] is not None:
        values[10] = plain(values[10])
    return values


def _key(kind: str, value: object = "") -> str:
    """A lookup key: the kind's letter, then the value."""
    return _KINDS[kind] + ("" if value is None else str(value))


def _call_keys(calls: list[Any], callers: list[Any], decisions: list[Any]) -> set[str]:
    """A batch's lookup keys, from its distinct values (a batch has few distinct callers and operations)."""
    operations = {c[2] for c in calls}
    keys = {_key("EventName", op) for op in operations} | {_key("ReadOnly", is_read_only(op)) for op in operations}
    keys |= {_key("EventSource", f"{service}.amazonaws.com") for service in {c[1] for c in calls}}
    for caller in callers:
        keys |= {_key("Principal", caller[4] or caller[2]), _key("Username", _username(caller)), _key("AccessKeyId", caller[6])}
    accounts = {c[4] for c in calls}
    for _, resource, result, _ in {d for decided in decisions for d in decided}:
        if result != "allowed":
            keys.add(_key("Denied"))
        for account in accounts:
            keys |= _resource_keys(resources_named([resource], account))
    if any(c[11] in _DENIED_ERRORS for c in calls):
        keys.add(_key("Denied"))
    return keys


def _record_keys(records: list[dict[str, Any]]) -> set[str]:
    keys: set[str] = set()
    for rec in records:
        meta = _record_meta(rec)
        keys |= {_key("EventName", meta["event_name"]), _key("EventSource", meta["event_source"]),
                 _key("ReadOnly", meta["read_only"]), _key("EventId", meta["event_id"]),
                 _key("Principal", meta["principal_arn"]), _key("Username", meta["username"]),
                 _key("AccessKeyId", meta["access_key_id"])} | _resource_keys(meta["resources"])
        if meta["denied"]:
            keys.add(_key("Denied"))
    return keys


def _resource_keys(resources: list[dict[str, str]]) -> set[str]:
    return {k for r in resources for k in (_key("ResourceName", r["ARN"]), _key("ResourceType", r["type"]))}


def delete_before(conn: Connection, epoch_seconds: float) -> None:
    """Retention: whole segments whose newest event is older than the cut-off (their keys go with
    them: ON DELETE CASCADE)."""
    conn.exec_driver_sql("DELETE FROM trail_segments WHERE last_time < ?", (epoch_seconds,))


# --- reading ----------------------------------------------------------------------------------

def query(conn: Connection, *, start: float | None = None, end: float | None = None, categories: tuple[str, ...] = ("Management", "Data"),
          attribute: tuple[str, str] | None = None, principal_arn: str | None = None, denied_only: bool = False,
          before: tuple[float, str] | None = None, after: tuple[float, str] | None = None, limit: int = 50,
          oldest_first: bool = False) -> list[dict[str, Any]]:
    """Events newest first (or oldest first), paged by (event_time, event_id) cursors; each row has
    the lookup fields, and "record", the full CloudTrail record as JSON text."""
    low = max(x for x in (start, after[0] if after else None, float("-inf")) if x is not None)
    high = min(x for x in (end, before[0] if before else None, float("inf")) if x is not None)
    wanted = _required_keys(attribute, principal_arn, denied_only)

    def matches(row: dict[str, Any]) -> bool:
        key = (row["event_time"], row["event_id"])
        return (low <= row["event_time"] <= high and row["category"] in categories
                and (before is None or key < before) and (after is None or key > after)
                and (not principal_arn or row["principal_arn"] == principal_arn)
                and (not denied_only or row["denied"]) and (attribute is None or _has(row, *attribute)))

    found: list[dict[str, Any]] = []
    for segment_start, segment_end, rows in _segments(conn, low, high, wanted, attribute, oldest_first):
        # Spans may overlap, so stop only when no later segment can hold a better event than the last kept.
        if len(found) >= limit and (segment_start > found[-1]["event_time"] if oldest_first else segment_end < found[-1]["event_time"]):
            break
        found.extend(row for row in rows if matches(row))
        found.sort(key=lambda r: (r["event_time"], r["event_id"]), reverse=not oldest_first)
        del found[limit:]
    for row in found:
        row["record"] = json.dumps(row.pop("item_record")(), separators=(",", ":"), default=str)
    return found


def _required_keys(attribute: tuple[str, str] | None, principal_arn: str | None, denied_only: bool) -> list[str]:
    """The lookup keys a matching segment must hold (an EventId is found by its place instead)."""
    out = []
    if attribute is not None and attribute[0] == "ReadOnly":
        out.append(_key("ReadOnly", attribute[1].lower() == "true"))
    elif attribute is not None and attribute[0] in _KINDS and attribute[0] != "EventId":
        out.append(_key(*attribute))
    if principal_arn:
        out.append(_key("Principal", principal_arn))
    if denied_only:
        out.append(_key("Denied"))
    return out


def _segments(conn: Connection, low: float, high: float, wanted: list[str], attribute: tuple[str, str] | None,
              oldest_first: bool) -> Iterator[tuple[float, float, list[dict[str, Any]]]]:
    where, params = [f"segment_id IN ({_HOLDING})"] * len(wanted), list(wanted)
    if low > float("-inf"):
        where.append("last_time >= ?")
        params.append(low)
    if high < float("inf"):
        where.append("first_time <= ?")
        params.append(high)
    if attribute is not None and attribute[0] == "EventId":
        place = event_place(attribute[1])
        where.append(f"(segment_id = ? OR segment_id IN ({_HOLDING}))")
        params += [place[0] if place else -1, _key("EventId", attribute[1])]
    order = "first_time ASC, segment_id ASC" if oldest_first else "last_time DESC, segment_id DESC"
    sql = (f"SELECT segment_id, first_time, last_time, events FROM trail_segments "
           f"WHERE {' AND '.join(where) or '1'} ORDER BY {order}")
    for segment_id, first, last, text in conn.exec_driver_sql(sql, tuple(params)):
        yield first, last, [_row(segment_id, position, item) for position, item in enumerate(_events(text))]


_HOLDING = "SELECT segment_id FROM trail_segment_keys WHERE lookup_key = ?"


def _events(text: str) -> list[Any]:
    """A segment's events, with the shared values put back in place."""
    document = orjson.loads(text)
    if isinstance(document, list):  # the first segments kept every value in every event
        return document
    shared = document["shared"]
    events = document["events"]
    for event in events:
        if isinstance(event, list):
            for table, field in zip(shared, _SHARED):
                event[field] = table[event[field]]
    return events


def _has(row: dict[str, Any], key: str, value: str) -> bool:
    if key == "EventId":
        return bool(row["event_id"] == value)
    if key == "ReadOnly":
        return bool(row["read_only"] == (value.lower() == "true"))
    if key in ("ResourceName", "ResourceType"):
        field = "ARN" if key == "ResourceName" else "type"
        return any(r[field] == value for r in row["resources"])
    column = {"EventName": "event_name", "EventSource": "event_source", "Username": "username", "AccessKeyId": "access_key_id"}
    return key in column and row[column[key]] == value


def _row(segment_id: int, position: int, item: list[Any] | dict[str, Any]) -> dict[str, Any]:
    """An event's lookup fields, and how to build its record (only kept rows are built)."""
    if isinstance(item, dict):
        meta = _record_meta(item)
        meta["item_record"] = lambda: item
        return meta
    when, service, operation, caller, decisions, error_code = item[0], item[1], item[2], item[6], item[13], item[11]
    eid = event_id(when, segment_id, position)

    def full() -> dict[str, Any]:
        rec = record(call_from_json(item))
        rec["eventID"] = eid
        return rec

    return {"event_id": eid, "event_time": when, "event_name": operation, "event_source": f"{service}.amazonaws.com",
            "category": category(service, operation), "read_only": is_read_only(operation), "username": _username(caller),
            "access_key_id": caller[6] or None, "principal_arn": caller[4] or caller[2],
            "denied": any(d[2] != "allowed" for d in decisions) or error_code in _DENIED_ERRORS,
            "resources": resources_named([d[1] for d in decisions], item[4]), "item_record": full}


def _username(caller: list[Any] | tuple[Any, ...]) -> str | None:
    """CloudTrail's username: the session name for an assumed role, else the user's name."""
    if caller[0] == "AssumedRole":
        return (caller[2] or "").rsplit("/", 1)[-1] or None
    return caller[5] or None


def _record_meta(rec: dict[str, Any]) -> dict[str, Any]:
    ident = rec.get("userIdentity") or {}
    issuer = (ident.get("sessionContext") or {}).get("sessionIssuer") or {}
    username = (ident.get("arn") or "").rsplit("/", 1)[-1] if ident.get("type") == "AssumedRole" else ident.get("userName")
    return {"event_id": rec["eventID"], "event_time": epoch(rec["eventTime"]), "event_name": rec["eventName"],
            "event_source": rec["eventSource"], "category": rec.get("eventCategory", "Management"),
            "read_only": bool(rec.get("readOnly")), "username": username or None,
            "access_key_id": ident.get("accessKeyId") or None, "principal_arn": issuer.get("arn") or ident.get("arn"),
            "denied": rec.get("errorCode") in _DENIED_ERRORS,
            "resources": [{"type": r.get("type", ""), "ARN": r.get("ARN", "")} for r in rec.get("resources") or ()]}
