"""LookupEvents, as CloudTrail's event history answers it: management events only (unless the
server was started with --lookup-data-events), newest first, one lookup attribute at most."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from keyless import errors
from keyless.services.base import RequestContext
from keyless.store import trail as trail_store


class InvalidLookupAttributesException(errors.AwsError):
    code = "InvalidLookupAttributesException"
    status = 400


class InvalidTimeRangeException(errors.AwsError):
    code = "InvalidTimeRangeException"
    status = 400


class InvalidMaxResultsException(errors.AwsError):
    code = "InvalidMaxResultsException"
    status = 400


class InvalidNextTokenException(errors.AwsError):
    code = "InvalidNextTokenException"
    status = 400


def lookup_events(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    attributes = params.get("LookupAttributes") or []
    if len(attributes) > 1:
        raise InvalidLookupAttributesException("You cannot specify more than one lookup attribute.")
    attribute = (attributes[0]["AttributeKey"], attributes[0]["AttributeValue"]) if attributes else None
    start, end = _epoch(params.get("StartTime")), _epoch(params.get("EndTime"))
    if start is not None and end is not None and start > end:
        raise InvalidTimeRangeException("Start time must be earlier than end time.")
    limit = params.get("MaxResults", 50)
    if not 1 <= limit <= 50:
        raise InvalidMaxResultsException("Value for parameter MaxResults is not valid. It must be between 1 and 50.")
    fingerprint = _fingerprint(params)
    before = _decode_token(params["NextToken"], fingerprint) if params.get("NextToken") else None
    recorder = ctx.state.components.get("trail")
    if recorder is not None:
        recorder.flush()
    categories = ("Management", "Data") if ctx.state.settings.lookup_data_events else ("Management",)
    with ctx.state.db.read() as conn:
        rows = trail_store.query(conn, start=start, end=end, categories=categories, attribute=attribute,
                                 before=before, limit=limit + 1)
    out: dict[str, Any] = {"Events": [_event(r) for r in rows[:limit]]}
    if len(rows) > limit:
        last = rows[limit - 1]
        out["NextToken"] = _encode_token(last["event_time"], last["event_id"], fingerprint)
    return out


def _event(row: dict[str, Any]) -> dict[str, Any]:
    rec = json.loads(row["record"])
    rec.pop("keyless", None)  # keyless's own annotations stay out of AWS-shaped answers
    event: dict[str, Any] = {
        "EventId": row["event_id"], "EventName": row["event_name"], "ReadOnly": "true" if row["read_only"] else "false",
        "EventTime": datetime.fromtimestamp(row["event_time"], tz=timezone.utc), "EventSource": row["event_source"],
        "Resources": [{"ResourceType": r["type"], "ResourceName": r["ARN"]} for r in rec.get("resources") or ()],
        "CloudTrailEvent": json.dumps(rec),
    }
    if row["access_key_id"]:
        event["AccessKeyId"] = row["access_key_id"]
    if row["username"]:
        event["Username"] = row["username"]
    return event


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp() if value.tzinfo else value.replace(tzinfo=timezone.utc).timestamp()
    return float(value)


def _fingerprint(params: dict[str, Any]) -> str:
    """A NextToken must be replayed with the same parameters; the token carries their digest."""
    same = {k: v for k, v in params.items() if k not in ("NextToken", "MaxResults")}
    return hashlib.sha256(json.dumps(same, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _encode_token(event_time: float, event_id: str, fingerprint: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([event_time, event_id, fingerprint]).encode()).decode()


def _decode_token(token: str, fingerprint: str) -> tuple[float, str]:
    try:
        event_time, event_id, digest = json.loads(base64.urlsafe_b64decode(token.encode()))
        if digest != fingerprint:
            raise ValueError
        return float(event_time), str(event_id)
    except Exception:
        raise InvalidNextTokenException("Invalid NextToken.") from None
