"""Last-accessed data from the trail: IAM's GetServiceLastAccessedDetails report, and the
granted-but-unused actions behind `keyless policy unused`.

    granted = granted_actions(documents)                       # what the entity's policies allow
    services = services_last_accessed(rows, granted, ACTION_LEVEL)
    response = details_response(services, granularity=..., created=..., completed=...)

Like IAM, every attempt counts (denied and would-be denied included), only permissions
policies decide what is "granted" (no boundaries, resource or session policies), services are
listed whether used or not and sorted by namespace. IAM tracks actions for a handful of
services; keyless tracks them for every service it serves. `ActionName` is the bare action
name ("GetObject"), from memory of IAM's output rather than a documented example.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Mapping

from sqlalchemy import Connection

from keyless.policy import catalog
from keyless.store import aws_managed
from keyless.store import iam as iam_store
from keyless.store import trail as trail_store

SERVICE_LEVEL = "SERVICE_LEVEL"
ACTION_LEVEL = "ACTION_LEVEL"
TRACKED_SERVICES = frozenset({"cloudtrail", "ec2", "iam", "s3", "sts"})  # the services keyless serves
DEFAULT_MAX_ITEMS = 100
_PAGE = 5000


@dataclass(frozen=True)
class Access:
    """One attempt: an action (or, with no decision on record, just the service) at a time."""

    service: str
    action: str | None  # "s3:GetObject"
    time: float
    region: str
    entity: str  # the user or role ARN


def accesses(rows: Iterable[Mapping[str, Any]]) -> list[Access]:
    """Attempts in trail rows (store.trail.query rows: event_time, principal_arn, record)."""
    out: list[Access] = []
    for row in rows:
        rec = row["record"] if isinstance(row["record"], Mapping) else json.loads(row["record"])
        entity = row.get("principal_arn") or ""
        region = rec.get("awsRegion", "")
        actions = sorted({d["action"] for d in (rec.get("keyless") or {}).get("decisions") or ()})
        if not actions:
            service = str(rec.get("eventSource", "")).split(".", 1)[0]
            out.append(Access(service, None, row["event_time"], region, entity))
        for action in actions:
            out.append(Access(action.split(":", 1)[0].lower(), action, row["event_time"], region, entity))
    return out


# --- what the policies grant --------------------------------------------------------------------------


def granted_actions(documents: Iterable[str]) -> frozenset[str]:
    """Catalog actions the documents allow somewhere, minus those denied outright (on `*`, unconditionally)."""
    allowed: set[str] = set()
    denied: set[str] = set()
    for text in documents:
        for statement in _statements(text):
            names = _names(statement)
            if statement.get("Effect") == "Allow":
                allowed |= names
            elif _denies_everywhere(statement):
                denied |= names
    return frozenset(allowed - denied)


def _statements(text: str) -> list[Mapping[str, Any]]:
    raw = json.loads(text).get("Statement") or []
    return [raw] if isinstance(raw, dict) else list(raw)


def _strings(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or ())


def _names(statement: Mapping[str, Any]) -> set[str]:
    if "NotAction" in statement:
        excluded = {a for p in _strings(statement["NotAction"]) for a in catalog.expand(p)}
        return set(catalog.expand("*")) - excluded
    return {a for p in _strings(statement.get("Action")) for a in catalog.expand(p)}


def _denies_everywhere(statement: Mapping[str, Any]) -> bool:
    return "*" in _strings(statement.get("Resource")) and not statement.get("Condition") and "NotAction" not in statement


def entity_documents(conn: Connection, arn: str) -> list[tuple[str, str]]:
    """(label, document) of every permissions policy of a role or user: inline, then attached."""
    row = iam_store.get_role_by_arn(conn, arn)
    kind = "role"
    if row is None:
        row, kind = iam_store.get_user_by_arn(conn, arn), "user"
    if row is None:
        return []
    out = [(f"inline:{name}", doc) for name, doc in iam_store.inline_policy_documents(conn, kind, row["id"])]
    for policy_arn in iam_store.attached_policy_arns(conn, kind, row["id"]):
        managed = aws_managed.get(policy_arn)
        doc = managed.document if managed else iam_store.managed_policy_document(conn, policy_arn)
        if doc:
            out.append((policy_arn, doc))
    return out


def principal_rows(conn: Connection, principal_arn: str, start: float | None = None,
                   end: float | None = None) -> Iterator[dict[str, Any]]:
    """Every retained trail row of a user or role (sessions included) in [start, end], oldest first."""
    cursor = None
    while True:
        rows = trail_store.query(conn, start=start, end=end, principal_arn=principal_arn, after=cursor,
                                 limit=_PAGE, oldest_first=True)
        yield from rows
        if len(rows) < _PAGE:
            return
        cursor = (rows[-1]["event_time"], rows[-1]["event_id"])


def report(conn: Connection, arn: str, granularity: str = SERVICE_LEVEL) -> list[dict[str, Any]] | None:
    """ServicesLastAccessed for a role or user ARN from the store (None: no such entity), ready
    for details_response; what GenerateServiceLastAccessedDetails computes."""
    documents = entity_documents(conn, arn)
    if not documents and iam_store.get_role_by_arn(conn, arn) is None and iam_store.get_user_by_arn(conn, arn) is None:
        return None
    granted = granted_actions(text for _, text in documents)
    return services_last_accessed(principal_rows(conn, arn), granted, granularity)


# --- the report --------------------------------------------------------------------------------------


def services_last_accessed(rows: Iterable[Mapping[str, Any]], granted: Iterable[str],
                           granularity: str = SERVICE_LEVEL) -> list[dict[str, Any]]:
    """ServicesLastAccessed: one entry per granted service, sorted by namespace."""
    by_action: dict[str, set[str]] = {}
    for action in granted:
        by_action.setdefault(action.split(":", 1)[0], set()).add(action)
    attempts = accesses(rows)
    return [_service_entry(ns, sorted(by_action[ns]), [a for a in attempts if a.service == ns], granularity)
            for ns in sorted(by_action)]


def _service_entry(namespace: str, granted: list[str], attempts: list[Access], granularity: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"ServiceName": catalog.service_name(namespace) or namespace, "ServiceNamespace": namespace}
    last = max(attempts, key=lambda a: a.time, default=None)
    if last is not None:
        entry.update({"LastAuthenticated": _timestamp(last.time), "LastAuthenticatedEntity": last.entity,
                      "LastAuthenticatedRegion": last.region})
    entry["TotalAuthenticatedEntities"] = len({a.entity for a in attempts})
    if granularity == ACTION_LEVEL and namespace in TRACKED_SERVICES:
        entry["TrackedActionsLastAccessed"] = [_action_entry(action, attempts) for action in granted]
    return entry


def _action_entry(action: str, attempts: list[Access]) -> dict[str, Any]:
    entry: dict[str, Any] = {"ActionName": action.split(":", 1)[1]}
    lowered = action.lower()
    last = max((a for a in attempts if a.action and a.action.lower() == lowered), key=lambda a: a.time, default=None)
    if last is not None:
        entry.update({"LastAccessedEntity": last.entity, "LastAccessedTime": _timestamp(last.time),
                      "LastAccessedRegion": last.region})
    return entry


def details_response(services: list[dict[str, Any]], *, granularity: str, created: float, completed: float,
                     marker: str | None = None, max_items: int | None = None) -> dict[str, Any]:
    """GetServiceLastAccessedDetailsResponse, one page (Marker = index of the next service)."""
    start = int(marker) if marker and marker.isdigit() else 0
    size = max_items or DEFAULT_MAX_ITEMS
    page = services[start:start + size]
    out: dict[str, Any] = {"JobStatus": "COMPLETED", "JobType": granularity, "JobCreationDate": _timestamp(created),
                           "ServicesLastAccessed": page, "JobCompletionDate": _timestamp(completed),
                           "IsTruncated": start + size < len(services)}
    if out["IsTruncated"]:
        out["Marker"] = str(start + size)
    return out


def unused_actions(rows: Iterable[Mapping[str, Any]], granted: Iterable[str]) -> list[str]:
    """Granted actions with no attempt in the rows, sorted."""
    used = {a.action.lower() for a in accesses(rows) if a.action}
    return sorted(a for a in granted if a.lower() not in used)


def _timestamp(epoch: float) -> datetime:
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc)
